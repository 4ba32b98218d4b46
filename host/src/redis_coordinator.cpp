// The Redis Coordinator; see redis_coordinator.hpp for the key layout.
//
// Renew and release are Lua scripts so that "is this still my token?" and the
// write happen atomically. One EVAL covers a whole chunk of leases (KEYS[i]
// with token ARGV[i]; every key of a job shares one hash slot, so this holds
// on Redis Cluster too): a batch is one command, not one per file. They are
// sent with EVAL: Redis caches a compiled script by its sha, so repeating it
// costs only its text, and a server that restarted or flushed its scripts
// needs no NOSCRIPT dance.
#include "dlhost/host/redis_coordinator.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <chrono>
#include <random>

namespace dlhost {
namespace {

// ARGV: token 1 .. token n, then the ttl. Returns one 0/1 per key.
constexpr const char *kRenewScript =
    "local ttl = ARGV[#KEYS + 1] local out = {} "
    "for i, k in ipairs(KEYS) do "
    "if redis.call('get', k) == ARGV[i] then out[i] = redis.call('pexpire', k, ttl) "
    "else out[i] = 0 end end return out";
// ARGV: token 1 .. token n. Returns how many were ours and are now deleted.
constexpr const char *kReleaseScript =
    "local n = 0 for i, k in ipairs(KEYS) do "
    "if redis.call('get', k) == ARGV[i] then n = n + redis.call('del', k) end end return n";
constexpr std::size_t kChunk = 1000;  // fields per HSET / HMGET / MGET, leases per EVAL

using Commands = std::vector<RedisConnection::Command>;

// 128 random bits as hex. A token only has to differ from every other
// holder's, so a generator seeded once per thread from the system's entropy
// does (std::random_device per token cost a system call per 32 bits).
std::string random_token() {
  thread_local std::mt19937_64 engine([] {
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seed);
  }());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(32);
  for (int i = 0; i < 2; i++) {
    auto word = engine();
    for (int j = 0; j < 16; j++, word >>= 4) token.push_back(kHex[word & 15]);
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

// SET NX for every key, then (same pipeline, so after the SETs) HMGET of
// their completion records. The job asks completed() before take_leases(),
// but another host may finish a file between the two calls: it records the
// completion and then releases its lease, and our SET NX would succeed on a
// file that is already done. A completion recorded before our SET is seen
// by the HMGET that follows it; one recorded after it must come from a host
// whose lease had expired (a takeover, which is allowed). Such leases are
// given back at once and reported as held elsewhere: the job looks at the
// file again later, finds it complete and skips it.
std::vector<std::optional<Lease>> RedisCoordinator::take_leases(std::span<const std::string> keys,
                                                                Millis ttl) {
  if (keys.empty()) return {};
  Commands commands;
  std::vector<std::string> tokens;
  const auto px = std::to_string(ttl.count());
  for (const auto &k : keys) {
    tokens.push_back(random_token());
    commands.push_back({"SET", key("lease:", k), tokens.back(), "NX", "PX", px});
  }
  const auto done_checks =
      chunked(keys, {"HMGET", key("done")}, [](auto &c, const auto &k) { c.push_back(k); });
  commands.insert(commands.end(), done_checks.begin(), done_checks.end());
  const auto replies = send(std::move(commands));
  std::vector<bool> done;
  for (std::size_t i = keys.size(); i < replies.size(); i++) {
    redis_.check(replies[i], "HMGET done");
    for (std::size_t j = 0; j < replies[i]->elements; j++)
      done.push_back(replies[i]->element[j]->type == REDIS_REPLY_STRING);
  }
  done.resize(keys.size(), false);
  std::vector<std::optional<Lease>> out;
  std::vector<Lease> give_back;
  for (std::size_t i = 0; i < keys.size(); i++) {
    redis_.check(replies[i], "SET lease");
    if (replies[i]->type != REDIS_REPLY_STATUS) {
      out.emplace_back(std::nullopt);  // nil: another worker holds it
    } else if (done[i]) {
      give_back.push_back(Lease{keys[i], tokens[i]});
      out.emplace_back(std::nullopt);  // finished by another worker just now
    } else {
      out.emplace_back(Lease{keys[i], tokens[i]});
    }
  }
  release_leases(give_back);
  return out;
}

// EVAL script n key1..keyn token1..tokenn [extra]: one per chunk of leases.
std::vector<RedisConnection::Command> RedisCoordinator::lease_script(const char *script,
                                                        std::span<const Lease> leases,
                                                        const std::string &extra) const {
  Commands commands;
  for (std::size_t i = 0; i < leases.size(); i += kChunk) {
    const auto chunk = leases.subspan(i, std::min(kChunk, leases.size() - i));
    RedisConnection::Command c{"EVAL", script, std::to_string(chunk.size())};
    c.reserve(3 + 2 * chunk.size() + 1);
    for (const auto &l : chunk) c.push_back(key("lease:", l.key));
    for (const auto &l : chunk) c.push_back(l.token);
    if (!extra.empty()) c.push_back(extra);
    commands.push_back(std::move(c));
  }
  return commands;
}

std::vector<bool> RedisCoordinator::renew_leases(std::span<const Lease> leases, Millis ttl) {
  std::vector<bool> out;
  for (const auto &r :
       redis_.pipeline(lease_script(kRenewScript, leases, std::to_string(ttl.count())))) {
    redis_.check(r, "renew leases");
    for (std::size_t j = 0; r->type == REDIS_REPLY_ARRAY && j < r->elements; j++)
      out.push_back(r->element[j]->type == REDIS_REPLY_INTEGER && r->element[j]->integer == 1);
  }
  out.resize(leases.size(), false);
  return out;
}

void RedisCoordinator::release_leases(std::span<const Lease> leases) {
  if (leases.empty()) return;
  for (const auto &r : send(lease_script(kReleaseScript, leases, {})))
    redis_.check(r, "release leases");
}

void RedisCoordinator::record_completed(std::span<const std::string> keys) {
  const auto record = completion_record();
  const auto commands = chunked(keys, {"HSET", key("done")}, [&](auto &c, const auto &k) {
    c.push_back(k);
    c.push_back(record);
  });
  for (const auto &r : send(commands)) redis_.check(r, "HSET done");
}

std::vector<bool> RedisCoordinator::completed(std::span<const std::string> keys) {
  const auto commands =
      chunked(keys, {"HMGET", key("done")}, [](auto &c, const auto &k) { c.push_back(k); });
  std::vector<bool> out;
  for (const auto &r : send(commands)) {
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
  const auto commands =
      chunked(keys, {"MGET"}, [&](auto &c, const auto &k) { c.push_back(key("skip:", k)); });
  std::vector<std::optional<std::string>> out;
  for (const auto &r : redis_.pipeline(commands)) {
    redis_.check(r, "MGET skip");
    for (std::size_t j = 0; r->type == REDIS_REPLY_ARRAY && j < r->elements; j++) {
      const auto *e = r->element[j];
      if (e->type == REDIS_REPLY_STRING)
        out.emplace_back(std::string(e->str, e->len));
      else
        out.emplace_back(std::nullopt);
    }
  }
  out.resize(keys.size());
  return out;
}

// The counters ride along with the next batch this coordinator sends (or
// flush() / totals()), instead of costing a round trip of their own after
// every batch of completions. They are statistics: a host killed before its
// next batch loses at most that last delta, as it would lose its final one.
void RedisCoordinator::add_totals(const JobTotals &delta) {
  std::lock_guard lock(totals_mutex_);
  pending_totals_.completed += delta.completed;
  pending_totals_.failed += delta.failed;
  pending_totals_.skipped += delta.skipped;
  pending_totals_.bytes += delta.bytes;
}

// Appends HINCRBYs for the pending counters to `commands`; returns how many.
std::size_t RedisCoordinator::take_pending_totals(Commands &commands) {
  JobTotals delta;
  {
    std::lock_guard lock(totals_mutex_);
    std::swap(delta, pending_totals_);
  }
  const auto before = commands.size();
  const auto add = [&](const char *field, std::uint64_t n) {
    if (n) commands.push_back({"HINCRBY", key("totals"), field, std::to_string(n)});
  };
  add("completed", delta.completed);
  add("failed", delta.failed);
  add("skipped", delta.skipped);
  add("bytes", delta.bytes);
  return commands.size() - before;
}

// pipeline() plus the pending counters at the end; their replies are checked
// and dropped, so the caller sees one reply per command of its own.
std::vector<RedisConnection::Reply> RedisCoordinator::send(Commands commands) {
  const auto own = commands.size();
  if (own == 0) return {};
  const auto extra = take_pending_totals(commands);
  auto replies = redis_.pipeline(commands);
  for (std::size_t i = own; i < own + extra; i++) redis_.check(replies[i], "HINCRBY totals");
  replies.erase(replies.begin() + static_cast<std::ptrdiff_t>(own), replies.end());
  return replies;
}

void RedisCoordinator::flush() {
  Commands commands;
  if (take_pending_totals(commands) == 0) return;
  for (const auto &r : redis_.pipeline(commands)) redis_.check(r, "HINCRBY totals");
}

// "completed" is the number of completion records (each file once, whoever
// did it); the other counters are summed over every host's runs.
std::optional<JobTotals> RedisCoordinator::totals() {
  flush();
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
