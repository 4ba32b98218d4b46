// One Redis connection; see redis_connection.hpp.
#include "dlhost/host/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <utility>

namespace dlhost {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kCommandTimeout = std::chrono::seconds(30);

int parse_int(std::string_view text, const std::string &what) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw std::invalid_argument(what);
  return value;
}

// What to do about the errors with which Redis refuses every write. The
// reply names the condition; this says what it means for the job.
std::string refusal_hint(std::string_view error) {
  const auto has = [&](std::string_view code) {
    return error.starts_with(code) ||
           error.find(std::string(" ") + std::string(code) + " ") != std::string_view::npos;
  };
  if (has("OOM"))
    return " (Redis refuses writes: it is at maxmemory and its policy evicts nothing; free "
           "memory or raise maxmemory, then rerun: the rerun records the files already on disk)";
  if (has("READONLY"))
    return " (Redis refuses writes: REDIS_URL names a read-only replica; point it at the "
           "primary, then rerun)";
  if (has("MISCONF"))
    return " (Redis refuses writes: it cannot save its snapshot (stop-writes-on-bgsave-error); "
           "fix its disk or configuration, then rerun)";
  return {};
}

timeval to_timeval(std::chrono::seconds s) {
  return timeval{static_cast<time_t>(s.count()), 0};
}

void append(redisContext *ctx, const RedisConnection::Command &args) {
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

std::string this_host_name() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return host;
}

std::string redact_redis_url(const std::string &url) {
  const auto scheme = url.find("://");
  const auto at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const auto colon = url.find(':', scheme + 3);
  // redis://user:pass@ -> redis://user:***@ ; redis://pass@ (no user) -> redis://***@
  if (colon == std::string::npos || colon > at)
    return url.substr(0, scheme + 3) + "***" + url.substr(at);
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

RedisAddress parse_redis_url(const std::string &url) {
  RedisAddress a;
  a.redacted = redact_redis_url(url);
  const auto bad = [&](const std::string &why) {
    return std::invalid_argument("REDIS_URL " + a.redacted + ": " + why);
  };
  std::string_view rest(url);
  const auto take_userinfo = [&](std::string_view &text, std::size_t at) {
    auto userinfo = text.substr(0, at);
    text.remove_prefix(at + 1);
    if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      a.user = std::string(userinfo.substr(0, colon));
      a.password = std::string(userinfo.substr(colon + 1));
    } else {
      a.password = std::string(userinfo);
    }
  };
  if (rest.starts_with("unix://")) {
    rest.remove_prefix(7);
    // unix://[user:pass@]/path.sock: credentials end at the '@' before the path
    if (const auto at = rest.find("@/"); at != std::string_view::npos) take_userinfo(rest, at);
    const auto q = rest.find('?');
    a.socket_path = std::string(rest.substr(0, q));
    if (a.socket_path.empty() || a.socket_path[0] != '/')
      throw bad("a unix socket URL is unix://[user:pass@]/absolute/path.sock[?db=N]");
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
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) take_userinfo(rest, at);
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

RedisConnection::RedisConnection(const RedisAddress &address)
    : address_(address), ctx_(nullptr, redisFree) {
  connect();
}

RedisConnection::~RedisConnection() = default;

void RedisConnection::fail(const std::string &what) const {
  const std::string why = ctx_ && ctx_->err ? ctx_->errstr : what;
  throw CoordinationError("REDIS_URL " + address_.redacted + ": " + why);
}

void RedisConnection::check(const Reply &reply, const std::string &what) const {
  if (reply->type != REDIS_REPLY_ERROR) return;
  const std::string error(reply->str, reply->len);
  fail(what + ": " + error + refusal_hint(error));
}

void RedisConnection::connect() {
  const auto timeout = to_timeval(kConnectTimeout);
  ctx_.reset(address_.socket_path.empty()
                 ? redisConnectWithTimeout(address_.host.c_str(), address_.port, timeout)
                 : redisConnectUnixWithTimeout(address_.socket_path.c_str(), timeout));
  if (!ctx_) throw CoordinationError("REDIS_URL " + address_.redacted + ": out of memory");
  if (ctx_->err) fail("cannot connect");
  redisSetTimeout(ctx_.get(), to_timeval(kCommandTimeout));
  if (address_.socket_path.empty()) redisEnableKeepAlive(ctx_.get());  // notice a dead peer
  if (!address_.password.empty()) {
    const auto r = address_.user.empty() ? command({"AUTH", address_.password})
                                         : command({"AUTH", address_.user, address_.password});
    check(r, "authentication failed");
  }
  if (address_.db != 0) check(command({"SELECT", std::to_string(address_.db)}), "SELECT");
  check(command({"PING"}), "PING");
}

RedisConnection::Reply RedisConnection::read_reply() {
  void *raw = nullptr;
  if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) fail("connection lost");
  return Reply(static_cast<redisReply *>(raw), freeReplyObject);
}

std::vector<RedisConnection::Reply> RedisConnection::pipeline(
    const std::vector<Command> &commands) {
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  std::lock_guard lock(mutex_);
  for (const auto &c : commands) append(ctx_.get(), c);
  for (std::size_t i = 0; i < commands.size(); i++) replies.push_back(read_reply());
  return replies;
}

// MULTI, +OK; each command, +QUEUED or its refusal; EXEC, an array of the
// commands' replies, or EXECABORT when one was refused. The replies inside
// EXEC's array are taken out of it (freeReplyObject skips the NULLs left
// behind), so the caller gets one Reply per command as from pipeline().
std::vector<RedisConnection::Reply> RedisConnection::transaction(
    const std::vector<Command> &commands, std::span<const std::string> what) {
  std::vector<Reply> queued;
  queued.reserve(commands.size());
  Reply exec(nullptr, freeReplyObject);
  {
    std::lock_guard lock(mutex_);
    append(ctx_.get(), {"MULTI"});
    for (const auto &c : commands) append(ctx_.get(), c);
    append(ctx_.get(), {"EXEC"});
    const auto multi = read_reply();
    for (std::size_t i = 0; i < commands.size(); i++) queued.push_back(read_reply());
    exec = read_reply();
    check(multi, "MULTI");
  }
  for (std::size_t i = 0; i < queued.size(); i++)
    check(queued[i], i < what.size() ? what[i] : std::string("write"));
  check(exec, "EXEC");
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements != commands.size())
    fail("EXEC: unexpected reply");
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < exec->elements; i++)
    replies.emplace_back(std::exchange(exec->element[i], nullptr), freeReplyObject);
  return replies;
}

RedisConnection::Reply RedisConnection::command(const Command &command) {
  return std::move(pipeline({command}).front());
}

}  // namespace dlhost
