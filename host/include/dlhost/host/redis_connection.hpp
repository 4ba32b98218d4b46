// One connection to Redis: connect + AUTH + SELECT (to a REDIS_URL parsed by
// redis_url.hpp), and pipelined commands.
//
// A pipeline appends every command with redisAppendCommandArgv (binary-safe,
// no format strings) and then reads the replies in order, so a batch of a
// thousand commands costs one round trip. A transaction is a pipeline inside
// MULTI/EXEC: Redis runs all of its commands or, when it refuses one as it is
// queued (OOM, READONLY, MISCONF: it refuses writes), none of them; that is
// how a completion record and the lease release behind it stay in order
// even when Redis stops taking writes. A connection error throws
// CoordinationError naming REDIS_URL with the password redacted; after one,
// the connection is dead and the caller stops using Redis. Calls are
// serialised by a mutex, so threads may share a connection, but a blocking
// command (XREADGROUP BLOCK) holds it: give such a user its own connection.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "dlhost/host/coordination.hpp"
#include "dlhost/host/redis_url.hpp"

struct redisContext;
struct redisReply;

namespace dlhost {

// This machine's host name: how completion records and consumer names say
// who wrote them.
std::string this_host_name();

class RedisConnection {
 public:
  using Reply = std::unique_ptr<redisReply, void (*)(void *)>;
  using Command = std::vector<std::string>;

  // Connects, authenticates, selects the database and PINGs. Throws
  // CoordinationError ("REDIS_URL redis://u:***@h:p/0: Connection refused").
  explicit RedisConnection(const RedisAddress &address);
  ~RedisConnection();
  RedisConnection(const RedisConnection &) = delete;
  RedisConnection &operator=(const RedisConnection &) = delete;

  // Sends every command, then reads every reply in order: one round trip.
  // Error replies are returned as they are; a connection error throws.
  std::vector<Reply> pipeline(const std::vector<Command> &commands);
  // The same inside MULTI/EXEC: one reply per command, or CoordinationError
  // naming what[i] (when given) of the first command Redis refused, and why.
  std::vector<Reply> transaction(const std::vector<Command> &commands,
                                 std::span<const std::string> what);
  Reply command(const Command &command);
  // Throws CoordinationError for an error reply, naming `what`; when the
  // error is Redis refusing writes (OOM, READONLY, MISCONF), it says so and
  // what to do.
  void check(const Reply &reply, const std::string &what) const;

  const RedisAddress &address() const { return address_; }
  [[noreturn]] void fail(const std::string &what) const;

 private:
  void connect();
  Reply read_reply();  // under mutex_

  RedisAddress address_;
  std::mutex mutex_;
  // Freed by its deleter also when connect() throws out of the constructor.
  std::unique_ptr<redisContext, void (*)(redisContext *)> ctx_;
};

}  // namespace dlhost
