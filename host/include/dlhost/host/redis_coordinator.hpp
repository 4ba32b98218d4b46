// Redis coordination: many hosts, one job, no duplicates.
//
// Every key of a job carries the job id as a Redis Cluster hash tag, so all of
// a job's keys live in one slot and its scripts run on a cluster too:
//
//   dlhost:{JOB}:lease:<file key>   string, a random token; SET NX PX, renewed
//                                    while the transfer runs, deleted by a
//                                    compare-and-delete script on release
//                                    (one script call per batch of leases)
//   dlhost:{JOB}:done               hash, file key -> "host pid unix-time"
//   dlhost:{JOB}:skip:<url>         string with a TTL (PROXY_SKIP_CACHE_TTL)
//   dlhost:{JOB}:totals             hash of shared counters (completed,
//                                    failed, skipped, bytes), summed over hosts;
//                                    sent along with the next batch, flush()
//                                    or totals()
//
// The file key is the destination path relative to the output directory, so
// hosts with different output directories still share one job. claim() asks
// "done? skipped? free?" and takes the lease for a whole batch of files in
// one script call; completion records and skip marks ride in front of the
// next pipeline (the lease releases that follow them), in one MULTI/EXEC
// transaction with it; every other batch method is one pipelined round trip.
// A lost connection, or Redis refusing writes (OOM, READONLY, MISCONF), raises
// CoordinationError; the job then stops handing out files.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "dlhost/host/coordination.hpp"
#include "dlhost/host/redis_connection.hpp"

namespace dlhost {

// "dlhost:{JOB}:" — the prefix of every key of a job.
std::string redis_job_prefix(const std::string &job);

class RedisCoordinator final : public Coordinator {
 public:
  // Connects (see RedisConnection); throws CoordinationError.
  RedisCoordinator(const RedisAddress &address, std::string job);

  std::vector<std::optional<Lease>> take_leases(std::span<const std::string> keys,
                                                Millis ttl) override;
  std::vector<Claim> claim(std::span<const std::string> keys,
                           std::span<const std::string> skip_keys, Millis ttl) override;
  std::vector<bool> renew_leases(std::span<const Lease> leases, Millis ttl) override;
  void release_leases(std::span<const Lease> leases) override;
  void record_completed(std::span<const std::string> keys) override;
  std::vector<bool> completed(std::span<const std::string> keys) override;
  void mark_skipped(std::span<const SkipMark> marks, Seconds ttl) override;
  std::vector<std::optional<std::string>> skipped(std::span<const std::string> keys) override;
  void add_totals(const Counts &delta) override;
  std::optional<Counts> totals() override;
  void flush() override;  // sends the queued writes and counters
  bool shares_state() const override { return true; }
  std::string describe() const override;

  const std::string &job() const { return job_; }

 private:
  std::string key(const char *kind, const std::string &name = {}) const;
  // EVAL of a lease script over chunks of leases: keys, then their tokens,
  // then `extra` (when not empty) as the last argument.
  std::vector<RedisConnection::Command> lease_script(const char *script,
                                                     std::span<const Lease> leases,
                                                     const std::string &extra) const;

  using Commands = std::vector<RedisConnection::Command>;
  std::size_t take_pending_totals(Commands &commands);
  void queue_writes(Commands commands, const char *what);
  std::vector<RedisConnection::Reply> send(Commands commands);
  std::vector<RedisConnection::Reply> send_with_pending(Commands own);

  std::string job_;
  std::string prefix_;
  RedisConnection redis_;
  std::mutex send_mutex_;     // held through send_with_pending(): see there
  std::mutex pending_mutex_;  // guards the three below
  Counts pending_totals_;     // added by add_totals(), not yet sent
  Commands pending_writes_;   // completion records and skip marks, see send()
  std::vector<const char *> pending_what_;
};

}  // namespace dlhost
