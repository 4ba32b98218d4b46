// The Redis Coordinator; see redis_coordinator.hpp for the key layout.
//
// Renew and release are Lua scripts so that "is this still my token?" and the
// write happen atomically. They are sent with EVAL: Redis caches a compiled
// script by its sha, so repeating it costs only its hundred bytes, and a
// server that restarted or flushed its scripts needs no NOSCRIPT dance.
#include "dlhost/host/redis_coordinator.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <chrono>
#include <random>

namespace dlhost {
namespace {

constexpr const char *kRenewScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
constexpr const char *kReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end";
constexpr std::size_t kChunk = 1000;  // fields per HSET / HMGET

using Commands = std::vector<RedisConnection::Command>;

std::string random_token() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 4; i++) {
    auto word = rd();
    for (int j = 0; j < 8; j++, word >>= 4) token.push_back(kHex[word & 15]);
  }
  return token;
}

std::string completion_record() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return std::string(host) + " " + std::to_string(getpid()) + " " + std::to_string(now);
}

// Commands over `keys` in chunks: head... k1 v1 k2 v2 (or head... k1 k2).
template <class Add>
Commands chunked(std::span<const std::string> keys, const RedisConnection::Command &head,
                 Add add_key) {
  Commands commands;
  for (std::size_t i = 0; i < keys.size(); i += kChunk) {
    auto c = head;
    for (std::size_t j = i; j < std::min(keys.size(), i + kChunk); j++) add_key(c, keys[j]);
    commands.push_back(std::move(c));
  }
  return commands;
}

std::uint64_t integer_field(const redisReply *r) {
  return r->type == REDIS_REPLY_STRING ? std::stoull(std::string(r->str, r->len)) : 0;
}

}  // namespace

std::string redis_job_prefix(const std::string &job) { return "dlhost:{" + job + "}:"; }

RedisCoordinator::RedisCoordinator(const RedisAddress &address, std::string job)
    : job_(std::move(job)), prefix_(redis_job_prefix(job_)), redis_(address) {}

std::string RedisCoordinator::describe() const {
  return redis_.address().redacted + " job " + job_;
}

std::string RedisCoordinator::key(const char *kind, const std::string &name) const {
  return prefix_ + kind + name;
}

std::vector<std::optional<Lease>> RedisCoordinator::take_leases(std::span<const std::string> keys,
                                                                Millis ttl) {
  Commands commands;
  std::vector<std::string> tokens;
  for (const auto &k : keys) {
    tokens.push_back(random_token());
    commands.push_back(
        {"SET", key("lease:", k), tokens.back(), "NX", "PX", std::to_string(ttl.count())});
  }
  const auto replies = redis_.pipeline(commands);
  std::vector<std::optional<Lease>> out;
  for (std::size_t i = 0; i < keys.size(); i++) {
    redis_.check(replies[i], "SET lease");
    if (replies[i]->type == REDIS_REPLY_STATUS)
      out.emplace_back(Lease{keys[i], tokens[i]});
    else
      out.emplace_back(std::nullopt);  // nil: another worker holds it
  }
  return out;
}

std::vector<bool> RedisCoordinator::renew_leases(std::span<const Lease> leases, Millis ttl) {
  Commands commands;
  for (const auto &l : leases)
    commands.push_back(
        {"EVAL", kRenewScript, "1", key("lease:", l.key), l.token, std::to_string(ttl.count())});
  std::vector<bool> out;
  for (const auto &r : redis_.pipeline(commands)) {
    redis_.check(r, "renew lease");
    out.push_back(r->type == REDIS_REPLY_INTEGER && r->integer == 1);
  }
  return out;
}

void RedisCoordinator::release_leases(std::span<const Lease> leases) {
  Commands commands;
  for (const auto &l : leases)
    commands.push_back({"EVAL", kReleaseScript, "1", key("lease:", l.key), l.token});
  for (const auto &r : redis_.pipeline(commands)) redis_.check(r, "release lease");
}

void RedisCoordinator::record_completed(std::span<const std::string> keys) {
  const auto record = completion_record();
  const auto commands = chunked(keys, {"HSET", key("done")}, [&](auto &c, const auto &k) {
    c.push_back(k);
    c.push_back(record);
  });
  for (const auto &r : redis_.pipeline(commands)) redis_.check(r, "HSET done");
}

std::vector<bool> RedisCoordinator::completed(std::span<const std::string> keys) {
  const auto commands =
      chunked(keys, {"HMGET", key("done")}, [](auto &c, const auto &k) { c.push_back(k); });
  std::vector<bool> out;
  for (const auto &r : redis_.pipeline(commands)) {
    redis_.check(r, "HMGET done");
    for (std::size_t j = 0; j < r->elements; j++)
      out.push_back(r->element[j]->type == REDIS_REPLY_STRING);
  }
  return out;
}

void RedisCoordinator::mark_skipped(std::span<const SkipMark> marks, Seconds ttl) {
  if (ttl.count() <= 0) return;
  Commands commands;
  for (const auto &m : marks)
    commands.push_back({"SET", key("skip:", m.key), m.reason, "EX", std::to_string(ttl.count())});
  for (const auto &r : redis_.pipeline(commands)) redis_.check(r, "SET skip");
}

std::vector<std::optional<std::string>> RedisCoordinator::skipped(
    std::span<const std::string> keys) {
  Commands commands;
  for (const auto &k : keys) commands.push_back({"GET", key("skip:", k)});
  std::vector<std::optional<std::string>> out;
  for (const auto &r : redis_.pipeline(commands)) {
    redis_.check(r, "GET skip");
    if (r->type == REDIS_REPLY_STRING)
      out.emplace_back(std::string(r->str, r->len));
    else
      out.emplace_back(std::nullopt);
  }
  return out;
}

void RedisCoordinator::add_totals(const JobTotals &delta) {
  Commands commands;
  const auto add = [&](const char *field, std::uint64_t n) {
    if (n) commands.push_back({"HINCRBY", key("totals"), field, std::to_string(n)});
  };
  add("completed", delta.completed);
  add("failed", delta.failed);
  add("skipped", delta.skipped);
  add("bytes", delta.bytes);
  for (const auto &r : redis_.pipeline(commands)) redis_.check(r, "HINCRBY totals");
}

// "completed" is the number of completion records (each file once, whoever
// did it); the other counters are summed over every host's runs.
std::optional<JobTotals> RedisCoordinator::totals() {
  const auto replies = redis_.pipeline(
      {{"HLEN", key("done")}, {"HMGET", key("totals"), "failed", "skipped", "bytes"}});
  redis_.check(replies[0], "HLEN done");
  redis_.check(replies[1], "HMGET totals");
  const auto *counters = replies[1].get();
  if (counters->type != REDIS_REPLY_ARRAY || counters->elements != 3) return std::nullopt;
  return JobTotals{static_cast<std::uint64_t>(replies[0]->integer),
                   integer_field(counters->element[0]), integer_field(counters->element[1]),
                   integer_field(counters->element[2])};
}

}  // namespace dlhost
