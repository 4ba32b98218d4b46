// Redis coordination: many hosts, one job, no duplicates.
//
// Every key of a job carries the job id as a Redis Cluster hash tag, so all of
// a job's keys live in one slot and its scripts run on a cluster too:
//
//   dlhost:{JOB}:lease:<file key>   string, a random token; SET NX PX, renewed
//                                    while the transfer runs, deleted by a
//                                    compare-and-delete script on release
//   dlhost:{JOB}:done               hash, file key -> completion record
//   dlhost:{JOB}:skip:<url>         string with a TTL (PROXY_SKIP_CACHE_TTL)
//   dlhost:{JOB}:totals             hash of shared counters (completed,
//                                    failed, skipped, bytes)
//
// Every batch method is one pipelined round trip: the commands for all keys
// are appended, then the replies read in order. One connection serves the
// process, guarded by a mutex (calls come from the job's own threads, never
// from a plugin callback). A lost connection raises CoordinationError; the job
// then stops handing out files.
#pragma once

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "dlhost/host/coordination.hpp"

struct redisContext;
struct redisReply;

namespace dlhost {

// A parsed REDIS_URL: redis://[user:pass@]host[:port][/db] or
// unix:///path/to.sock[?db=N]. `redacted` is safe to print.
struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string socket_path;  // set for unix sockets
  std::string user;
  std::string password;
  int db = 0;
  std::string redacted;
};

// Throws std::invalid_argument with a one-line message naming REDIS_URL.
RedisAddress parse_redis_url(const std::string &url);

// Replaces the password of a redis:// URL with "***" (for messages).
std::string redact_redis_url(const std::string &url);

class RedisCoordinator final : public Coordinator {
 public:
  // Connects, authenticates and selects the database. Throws
  // CoordinationError ("REDIS_URL redis://***@h:p/0: Connection refused").
  RedisCoordinator(const RedisAddress &address, std::string job);
  ~RedisCoordinator() override;

  std::vector<std::optional<Lease>> take_leases(std::span<const std::string> keys,
                                                Millis ttl) override;
  std::vector<bool> renew_leases(std::span<const Lease> leases, Millis ttl) override;
  void release_leases(std::span<const Lease> leases) override;
  void record_completed(std::span<const std::string> keys) override;
  std::vector<bool> completed(std::span<const std::string> keys) override;
  void mark_skipped(std::span<const SkipMark> marks, Seconds ttl) override;
  std::vector<std::optional<std::string>> skipped(std::span<const std::string> keys) override;
  void add_totals(const JobTotals &delta) override;
  std::optional<JobTotals> totals() override;
  std::string describe() const override;

  const std::string &job() const { return job_; }

 private:
  using Reply = std::unique_ptr<redisReply, void (*)(void *)>;
  using Commands = std::vector<std::vector<std::string>>;
  // Sends every command, then reads every reply in order: one round trip.
  // Throws CoordinationError when the connection fails.
  std::vector<Reply> pipeline(const Commands &commands);
  std::string key(const char *kind, const std::string &name) const;
  void connect();
  void fail(const std::string &what);

  RedisAddress address_;
  std::string job_;
  std::string prefix_;  // "dlhost:{JOB}:"
  std::mutex mutex_;
  redisContext *ctx_ = nullptr;
};

}  // namespace dlhost
