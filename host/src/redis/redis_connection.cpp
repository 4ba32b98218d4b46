// One Redis connection; see redis_connection.hpp.
#include "dlhost/host/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <chrono>
#include <utility>

namespace dlhost {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kCommandTimeout = std::chrono::seconds(30);

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
