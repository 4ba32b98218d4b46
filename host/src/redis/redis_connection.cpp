// One Redis connection; see redis_connection.hpp.
#include "dlhost/host/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <chrono>

namespace dlhost {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kCommandTimeout = std::chrono::seconds(30);

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
  if (reply->type == REDIS_REPLY_ERROR) fail(what + ": " + std::string(reply->str, reply->len));
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

std::vector<RedisConnection::Reply> RedisConnection::pipeline(
    const std::vector<Command> &commands) {
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  std::lock_guard lock(mutex_);
  for (const auto &c : commands) append(ctx_.get(), c);
  for (std::size_t i = 0; i < commands.size(); i++) {
    void *raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) fail("connection lost");
    replies.emplace_back(static_cast<redisReply *>(raw), freeReplyObject);
  }
  return replies;
}

RedisConnection::Reply RedisConnection::command(const Command &command) {
  return std::move(pipeline({command}).front());
}

}  // namespace dlhost
