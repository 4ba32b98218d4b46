// The Redis Coordinator; see redis_coordinator.hpp for the key layout.
//
// A batch is written with redisAppendCommandArgv (binary-safe, no format
// string parsing) and its replies read back in order, so a batch of a
// thousand leases costs one round trip. Renew and release are Lua scripts so
// that "is this still my token?" and the write happen atomically; they are
// loaded once with SCRIPT LOAD and called by sha, with a plain EVAL when the
// server has forgotten them (NOSCRIPT after a restart or SCRIPT FLUSH).
#include "dlhost/host/redis_coordinator.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <charconv>
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
constexpr std::size_t kChunk = 1000;  // keys per HMGET
constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kCommandTimeout = std::chrono::seconds(30);

using Reply = std::unique_ptr<redisReply, void (*)(void *)>;

int parse_int(std::string_view text, const std::string &what) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(what);
  return value;
}

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

timeval to_timeval(std::chrono::seconds s) { return timeval{static_cast<time_t>(s.count()), 0}; }

}  // namespace

std::string redact_redis_url(const std::string &url) {
  const auto scheme = url.find("://");
  const auto at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const auto colon = url.find(':', scheme + 3);
  const auto userinfo_end = (colon != std::string::npos && colon < at) ? colon : at;
  // redis://user:pass@ -> redis://user:***@ ; redis://pass@ (no user) -> redis://***@
  if (userinfo_end == at) return url.substr(0, scheme + 3) + "***" + url.substr(at);
  return url.substr(0, userinfo_end + 1) + "***" + url.substr(at);
}

RedisAddress parse_redis_url(const std::string &url) {
  RedisAddress a;
  a.redacted = redact_redis_url(url);
  const auto bad = [&](const std::string &why) {
    return std::invalid_argument("REDIS_URL " + a.redacted + ": " + why);
  };
  std::string_view rest(url);
  if (rest.starts_with("unix://")) {
    rest.remove_prefix(7);
    const auto q = rest.find('?');
    a.socket_path = std::string(rest.substr(0, q));
    if (a.socket_path.empty() || a.socket_path[0] != '/')
      throw bad("a unix socket URL is unix:///absolute/path.sock[?db=N]");
    if (q != std::string_view::npos) {
      auto query = rest.substr(q + 1);
      if (!query.starts_with("db=")) throw bad("the only query parameter is db=N");
      a.db = parse_int(query.substr(3), "REDIS_URL " + a.redacted + ": db must be a number");
    }
    return a;
  }
  if (!rest.starts_with("redis://"))
    throw bad("must start with redis:// or unix:// (rediss:// is not supported)");
  rest.remove_prefix(8);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      a.user = std::string(userinfo.substr(0, colon));
      a.password = std::string(userinfo.substr(colon + 1));
    } else {
      a.password = std::string(userinfo);
    }
  }
  std::string_view hostport = rest.substr(0, rest.find('/'));
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    if (!db.empty()) a.db = parse_int(db, "REDIS_URL " + a.redacted + ": db must be a number");
  }
  if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    a.port = parse_int(hostport.substr(colon + 1),
                       "REDIS_URL " + a.redacted + ": port must be a number");
    hostport = hostport.substr(0, colon);
  }
  a.host = std::string(hostport);
  if (a.host.empty()) throw bad("no host");
  if (a.port <= 0 || a.port > 65535) throw bad("port must be 1..65535");
  return a;
}

RedisCoordinator::RedisCoordinator(const RedisAddress &address, std::string job)
    : address_(address), job_(std::move(job)), prefix_("dlhost:{" + job_ + "}:") {
  connect();
}

RedisCoordinator::~RedisCoordinator() {
  if (ctx_) redisFree(ctx_);
}

std::string RedisCoordinator::describe() const { return address_.redacted + " job " + job_; }

std::string RedisCoordinator::key(const char *kind, const std::string &name) const {
  return prefix_ + kind + name;
}

void RedisCoordinator::fail(const std::string &what) {
  std::string why = ctx_ && ctx_->err ? ctx_->errstr : what;
  throw CoordinationError("REDIS_URL " + address_.redacted + ": " + why);
}

namespace {

// Sends one command and returns its reply; nullptr on a connection error.
Reply command(redisContext *ctx, std::initializer_list<std::string> args) {
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  for (const auto &a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply *>(redisCommandArgv(ctx, static_cast<int>(argv.size()),
                                                          argv.data(), lens.data())),
               freeReplyObject);
}

}  // namespace

void RedisCoordinator::connect() {
  const auto timeout = to_timeval(kConnectTimeout);
  ctx_ = address_.socket_path.empty()
             ? redisConnectWithTimeout(address_.host.c_str(), address_.port, timeout)
             : redisConnectUnixWithTimeout(address_.socket_path.c_str(), timeout);
  if (!ctx_) throw CoordinationError("REDIS_URL " + address_.redacted + ": out of memory");
  if (ctx_->err) fail("cannot connect");
  const auto command_timeout = to_timeval(kCommandTimeout);
  redisSetTimeout(ctx_, command_timeout);
  redisEnableKeepAlive(ctx_);
  if (!address_.password.empty()) {
    auto r = address_.user.empty() ? command(ctx_, {"AUTH", address_.password})
                                   : command(ctx_, {"AUTH", address_.user, address_.password});
    if (!r) fail("AUTH failed");
    if (r->type == REDIS_REPLY_ERROR) fail(std::string("authentication failed: ") + r->str);
  }
  if (address_.db != 0) {
    auto r = command(ctx_, {"SELECT", std::to_string(address_.db)});
    if (!r) fail("SELECT failed");
    if (r->type == REDIS_REPLY_ERROR) fail(std::string("SELECT failed: ") + r->str);
  }
  auto r = command(ctx_, {"PING"});
  if (!r) fail("PING failed");
  if (r->type == REDIS_REPLY_ERROR) fail(r->str);
}

namespace {

// Appends one command of a pipeline.
void append(redisContext *ctx, const std::vector<std::string> &args) {
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto &a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data());
}

}  // namespace

std::vector<RedisCoordinator::Reply> RedisCoordinator::pipeline(const Commands &commands) {
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  std::lock_guard lock(mutex_);
  for (const auto &c : commands) append(ctx_, c);
  for (std::size_t i = 0; i < commands.size(); i++) {
    void *raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) fail("connection lost");
    replies.emplace_back(static_cast<redisReply *>(raw), freeReplyObject);
  }
  return replies;
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
  const auto replies = pipeline(commands);
  std::vector<std::optional<Lease>> out;
  for (std::size_t i = 0; i < keys.size(); i++) {
    const auto *r = replies[i].get();
    if (r->type == REDIS_REPLY_ERROR) fail(r->str);
    if (r->type == REDIS_REPLY_STATUS)
      out.emplace_back(Lease{keys[i], tokens[i]});
    else
      out.emplace_back(std::nullopt);
  }
  return out;
}

std::vector<bool> RedisCoordinator::renew_leases(std::span<const Lease> leases, Millis ttl) {
  Commands commands;
  for (const auto &l : leases)
    commands.push_back(
        {"EVAL", kRenewScript, "1", key("lease:", l.key), l.token, std::to_string(ttl.count())});
  const auto replies = pipeline(commands);
  std::vector<bool> out;
  for (const auto &r : replies) {
    if (r->type == REDIS_REPLY_ERROR) fail(r->str);
    out.push_back(r->type == REDIS_REPLY_INTEGER && r->integer == 1);
  }
  return out;
}

void RedisCoordinator::release_leases(std::span<const Lease> leases) {
  Commands commands;
  for (const auto &l : leases)
    commands.push_back({"EVAL", kReleaseScript, "1", key("lease:", l.key), l.token});
  const auto replies = pipeline(commands);
}

void RedisCoordinator::record_completed(std::span<const std::string> keys) {
  if (keys.empty()) return;
  const auto record = completion_record();
  Commands commands;
  for (std::size_t i = 0; i < keys.size(); i += kChunk) {
    std::vector<std::string> hset{"HSET", key("done", "")};
    for (std::size_t j = i; j < std::min(keys.size(), i + kChunk); j++) {
      hset.push_back(keys[j]);
      hset.push_back(record);
    }
    commands.push_back(std::move(hset));
  }
  const auto replies = pipeline(commands);
  for (const auto &r : replies)
    if (r->type == REDIS_REPLY_ERROR) fail(r->str);
}

std::vector<bool> RedisCoordinator::completed(std::span<const std::string> keys) {
  std::vector<bool> out;
  if (keys.empty()) return out;
  Commands commands;
  for (std::size_t i = 0; i < keys.size(); i += kChunk) {
    std::vector<std::string> hmget{"HMGET", key("done", "")};
    hmget.insert(hmget.end(), keys.begin() + i, keys.begin() + std::min(keys.size(), i + kChunk));
    commands.push_back(std::move(hmget));
  }
  const auto replies = pipeline(commands);
  for (const auto &r : replies) {
    if (r->type != REDIS_REPLY_ARRAY) fail(r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
    for (std::size_t j = 0; j < r->elements; j++)
      out.push_back(r->element[j]->type == REDIS_REPLY_STRING);
  }
  return out;
}

void RedisCoordinator::mark_skipped(std::span<const SkipMark> marks, Seconds ttl) {
  if (marks.empty() || ttl.count() <= 0) return;
  Commands commands;
  for (const auto &m : marks)
    commands.push_back({"SET", key("skip:", m.key), m.reason, "EX", std::to_string(ttl.count())});
  const auto replies = pipeline(commands);
}

std::vector<std::optional<std::string>> RedisCoordinator::skipped(
    std::span<const std::string> keys) {
  Commands commands;
  for (const auto &k : keys) commands.push_back({"GET", key("skip:", k)});
  const auto replies = pipeline(commands);
  std::vector<std::optional<std::string>> out;
  for (const auto &r : replies) {
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
    if (n) commands.push_back({"HINCRBY", key("totals", ""), field, std::to_string(n)});
  };
  add("completed", delta.completed);
  add("failed", delta.failed);
  add("skipped", delta.skipped);
  add("bytes", delta.bytes);
  if (commands.empty()) return;
  const auto replies = pipeline(commands);
}

std::optional<JobTotals> RedisCoordinator::totals() {
  Commands commands{
      {"HMGET", key("totals", ""), "completed", "failed", "skipped", "bytes"}};
  const auto replies = pipeline(commands);
  const auto *r = replies[0].get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) return std::nullopt;
  const auto field = [&](std::size_t i) -> std::uint64_t {
    return r->element[i]->type == REDIS_REPLY_STRING ? std::stoull(r->element[i]->str) : 0;
  };
  return JobTotals{field(0), field(1), field(2), field(3)};
}

}  // namespace dlhost
