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
// KEYS: the done hash, n lease keys, then n skip keys when ARGV[3] == "1".
// ARGV: n, ttl, skip?, then n file keys (the done hash's fields), then n
// tokens. One answer per file: "d" done, "s<reason>" in the skip cache, "l"
// leased with its token, "h" held by another worker. The done check and the
// SET NX run as one step, so a file another host finishes meanwhile is seen
// as done (it records completion before it releases its lease). A lease key
// with no TTL (left by another client, or by hand) would be held forever:
// the script gives it ours, so it counts as expired DOWNLOAD_LEASE_TTL later.
constexpr const char *kClaimScript =
    "local n = tonumber(ARGV[1]) local ttl = ARGV[2] local skip = ARGV[3] == '1' "
    "local out = {} "
    "for i = 1, n do "
    "if redis.call('hexists', KEYS[1], ARGV[3 + i]) == 1 then out[i] = 'd' "
    "else "
    "local r = skip and redis.call('get', KEYS[1 + n + i]) "
    "if r then out[i] = 's' .. r "
    "elseif redis.call('set', KEYS[1 + i], ARGV[3 + n + i], 'NX', 'PX', ttl) then out[i] = 'l' "
    "else "
    "if redis.call('pttl', KEYS[1 + i]) == -1 then redis.call('pexpire', KEYS[1 + i], ttl) end "
    "out[i] = 'h' end end end return out";
constexpr std::size_t kChunk = 1000;           // fields per HSET / HMGET / MGET, leases per EVAL
constexpr std::size_t kMaxPendingWrites = 16;  // commands queued before they go out anyway

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
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return this_host_name() + " " + std::to_string(getpid()) + " " + std::to_string(now);
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

std::string redis_job_prefix(const std::string &job) {
  return "dlhost:{" + job + "}:";
}

RedisCoordinator::RedisCoordinator(const RedisAddress &address, std::string job)
    : job_(std::move(job)), prefix_(redis_job_prefix(job_)), redis_(address) {}

std::string RedisCoordinator::describe() const {
  return redis_.address().redacted + " job " + job_;
}

std::string RedisCoordinator::key(const char *kind, const std::string &name) const {
  return prefix_ + kind + name;
}

// claim() without the skip cache: a file recorded done is not leased (the
// script checks and leases in one step), it is reported like a held one.
std::vector<std::optional<Lease>> RedisCoordinator::take_leases(std::span<const std::string> keys,
                                                                Millis ttl) {
  std::vector<std::optional<Lease>> out;
  for (auto &c : claim(keys, {}, ttl)) {
    if (c.kind == Claim::Kind::kLeased) {
      out.emplace_back(std::move(c.lease));
    } else {
      out.emplace_back(std::nullopt);
    }
  }
  return out;
}

// One EVAL of kClaimScript per chunk of files, all in one pipeline.
std::vector<Coordinator::Claim> RedisCoordinator::claim(std::span<const std::string> keys,
                                                        std::span<const std::string> skip_keys,
                                                        Millis ttl) {
  if (keys.empty()) return {};
  const bool skip = !skip_keys.empty();
  const auto px = std::to_string(ttl.count());
  std::vector<std::string> tokens;
  tokens.reserve(keys.size());
  Commands commands;
  for (std::size_t i = 0; i < keys.size(); i += kChunk) {
    const std::size_t n = std::min(kChunk, keys.size() - i);
    RedisConnection::Command c{"EVAL", kClaimScript, std::to_string(1 + n * (skip ? 2 : 1)),
                               key("done")};
    c.reserve(4 + 5 * n + 3);
    for (std::size_t j = i; j < i + n; j++) c.push_back(key("lease:", keys[j]));
    if (skip)
      for (std::size_t j = i; j < i + n; j++) c.push_back(key("skip:", skip_keys[j]));
    c.insert(c.end(), {std::to_string(n), px, skip ? "1" : "0"});
    for (std::size_t j = i; j < i + n; j++) c.push_back(keys[j]);
    for (std::size_t j = i; j < i + n; j++) {
      tokens.push_back(random_token());
      c.push_back(tokens.back());
    }
    commands.push_back(std::move(c));
  }
  std::vector<Claim> out;
  out.reserve(keys.size());
  for (const auto &r : send(std::move(commands))) {
    redis_.check(r, "claim files");
    for (std::size_t j = 0; r->type == REDIS_REPLY_ARRAY && j < r->elements; j++) {
      const auto *e = r->element[j];
      const std::string_view answer =
          e->type == REDIS_REPLY_STRING ? std::string_view(e->str, e->len) : "h";
      Claim c;
      const std::size_t at = out.size();
      switch (answer.empty() ? 'h' : answer[0]) {
        case 'd':
          c.kind = Claim::Kind::kDone;
          break;
        case 's':
          c.kind = Claim::Kind::kSkipped;
          c.reason = answer.substr(1);
          break;
        case 'l':
          c.kind = Claim::Kind::kLeased;
          c.lease = Lease{keys[at], tokens[at]};
          break;
        default:
          c.kind = Claim::Kind::kHeld;
      }
      out.push_back(std::move(c));
    }
  }
  if (out.size() != keys.size())
    throw CoordinationError("Redis " + redis_.address().redacted +
                            ": claim files: unexpected reply");
  return out;
}

// EVAL script n key1..keyn token1..tokenn [extra]: one per chunk of leases.
std::vector<RedisConnection::Command> RedisCoordinator::lease_script(
    const char *script, std::span<const Lease> leases, const std::string &extra) const {
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

// Completion records and skip marks go out at the front of the next
// pipeline this coordinator sends (the lease releases that follow them in the
// job, at the latest flush()), in one transaction with it: a completion is
// applied before the lease of its file is released, or neither is, and the
// batch costs no round trip of its own.
void RedisCoordinator::record_completed(std::span<const std::string> keys) {
  if (keys.empty()) return;
  const auto record = completion_record();
  auto commands = chunked(keys, {"HSET", key("done")}, [&](auto &c, const auto &k) {
    c.push_back(k);
    c.push_back(record);
  });
  queue_writes(std::move(commands), "HSET done");
}

// A rerun that finds a large job on disk records its files without sending
// anything else: past kMaxPendingWrites the queue goes out on its own.
void RedisCoordinator::queue_writes(Commands commands, const char *what) {
  bool full;
  {
    std::lock_guard lock(pending_mutex_);
    for (auto &c : commands) {
      pending_writes_.push_back(std::move(c));
      pending_what_.push_back(what);
    }
    full = pending_writes_.size() >= kMaxPendingWrites;
  }
  if (full) flush();
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
  if (ttl.count() <= 0 || marks.empty()) return;
  Commands commands;
  for (const auto &m : marks)
    commands.push_back({"SET", key("skip:", m.key), m.reason, "EX", std::to_string(ttl.count())});
  queue_writes(std::move(commands), "SET skip");
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
void RedisCoordinator::add_totals(const Counts &delta) {
  std::lock_guard lock(pending_mutex_);
  pending_totals_ += delta;
}

// Appends HINCRBYs for the pending counters to `commands`; returns how many.
std::size_t RedisCoordinator::take_pending_totals(Commands &commands) {
  Counts delta;
  {
    std::lock_guard lock(pending_mutex_);
    std::swap(delta, pending_totals_);
  }
  const auto before = commands.size();
  const auto add = [&](const char *field, std::uint64_t n) {
    if (n) commands.push_back({"HINCRBY", key("totals"), field, std::to_string(n)});
  };
  add("completed", delta.completed);
  add("failed", delta.failed);
  add("skipped", delta.skipped);
  add("deferred", delta.deferred);
  add("bytes", delta.bytes);
  return commands.size() - before;
}

// The queued writes in front, the caller's commands, the pending counters at
// the end; the replies of the writes and counters are checked and dropped,
// so the caller sees one reply per command of its own. With writes queued it
// is one MULTI/EXEC transaction: Redis applies a completion record and the
// lease release behind it together or not at all, so when it refuses writes
// (OOM, READONLY, MISCONF) no lease of an unrecorded file is released, and
// the refusal raises CoordinationError naming it.
std::vector<RedisConnection::Reply> RedisCoordinator::send(Commands commands) {
  if (commands.empty()) return {};
  return send_with_pending(std::move(commands));
}

// One sender at a time, from taking the queued writes to their replies: a
// thread whose commands went out behind another's queued completion records
// (the renew thread's, say) could otherwise reach Redis first, and a lease
// release overtake the completion record queued before it.
std::vector<RedisConnection::Reply> RedisCoordinator::send_with_pending(Commands own) {
  std::lock_guard sending(send_mutex_);
  Commands all;
  std::vector<const char *> what;
  {
    std::lock_guard lock(pending_mutex_);
    all.swap(pending_writes_);
    what.swap(pending_what_);
  }
  const auto writes = all.size();
  all.insert(all.end(), std::make_move_iterator(own.begin()), std::make_move_iterator(own.end()));
  const auto mine = all.size() - writes;
  const auto extra = take_pending_totals(all);
  if (all.empty()) return {};
  std::vector<std::string> labels(what.begin(), what.end());
  auto replies = writes ? redis_.transaction(all, labels) : redis_.pipeline(all);
  for (std::size_t i = 0; i < writes; i++) redis_.check(replies[i], what[i]);
  for (std::size_t i = writes + mine; i < writes + mine + extra; i++)
    redis_.check(replies[i], "HINCRBY totals");
  replies.erase(replies.begin() + static_cast<std::ptrdiff_t>(writes + mine), replies.end());
  replies.erase(replies.begin(), replies.begin() + static_cast<std::ptrdiff_t>(writes));
  return replies;
}

void RedisCoordinator::flush() {
  send_with_pending({});
}

// "completed" is the number of completion records (each file once, whoever
// did it); the other counters are summed over every host's runs.
std::optional<Counts> RedisCoordinator::totals() {
  flush();
  const auto replies = redis_.pipeline(
      {{"HLEN", key("done")}, {"HMGET", key("totals"), "failed", "skipped", "deferred", "bytes"}});
  redis_.check(replies[0], "HLEN done");
  redis_.check(replies[1], "HMGET totals");
  const auto *counters = replies[1].get();
  if (counters->type != REDIS_REPLY_ARRAY || counters->elements != 4) return std::nullopt;
  Counts c;
  c.completed = static_cast<std::uint64_t>(replies[0]->integer);
  c.failed = integer_field(counters->element[0]);
  c.skipped = integer_field(counters->element[1]);
  c.deferred = integer_field(counters->element[2]);
  c.bytes = integer_field(counters->element[3]);
  return c;
}

}  // namespace dlhost
