// Worker mode: one job on a Redis Stream, any number of workers.
//
// `dlhost enqueue` validates a manifest and appends each entry to the job's
// stream; `dlhost work` takes entries through a consumer group. Keys (all
// under the job's hash tag, beside the coordinator's):
//
//   dlhost:{JOB}:queue   stream; field "e" holds the entry as a JSON line
//   dlhost:{JOB}:meta    hash: "enqueued" (count), "sealed" (1 once the whole
//                         manifest is in), "manifest" (its name, for people)
//   group "workers"      the consumer group every worker joins
//
// A worker acknowledges (XACK) an entry once it is settled: downloaded,
// already present, recorded complete by someone else, or failed. The entries
// of a worker that died stay pending; after DOWNLOAD_LEASE_TTL x 2 without
// delivery another worker claims them (XAUTOCLAIM). A claimed entry whose file
// a live worker is still downloading meets that worker's lease and waits,
// so the per-file lease, not the stream, is what prevents a duplicate.
// The job is over for a worker when the stream is sealed, nothing is left to
// deliver, and nothing is pending for anyone.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "dlhost/host/redis_connection.hpp"
#include "dlhost/host/work_source.hpp"

namespace dlhost {

struct EnqueueResult {
  std::uint64_t added = 0;
  bool already_sealed = false;  // the job was enqueued before; nothing added
  std::uint64_t enqueued = 0;   // the job's entries in all
};

// Appends every entry of a validated manifest, pipelined in batches, then
// seals the job. Enqueueing a sealed job again adds nothing. Each stream
// entry carries its manifest line ("l") and, for a line that repeats an
// earlier one (`duplicate_lines`, sorted, from validate_manifest), "d", so
// workers report and count it as `run` does.
EnqueueResult enqueue_manifest(RedisConnection &redis, const std::string &job,
                               const ManifestSource &manifest,
                               const std::vector<std::uint64_t> &duplicate_lines = {});

// True when the job has a queue (someone ran enqueue for it).
bool job_queue_exists(RedisConnection &redis, const std::string &job);

class RedisStreamSource final : public WorkSource {
 public:
  // Opens its own connection: a blocking read must not hold up the
  // coordinator's lease renewals.
  RedisStreamSource(const RedisAddress &address, std::string job,
                    std::chrono::milliseconds claim_idle);
  bool next_batch(std::size_t max, std::vector<ManifestEntry> &out) override;
  void acknowledge(std::span<const std::string> receipts) override;
  std::uint64_t duplicates_skipped() const override { return duplicates_; }

  const std::string &consumer() const { return consumer_; }

 private:
  void claim_idle_entries(std::size_t max, std::vector<ManifestEntry> &out);
  void read_new_entries(std::size_t max, std::vector<ManifestEntry> &out);
  bool job_is_over();
  void add_entry(const redisReply *entry, std::vector<ManifestEntry> &out) const;

  RedisConnection redis_;
  std::string job_;
  std::string queue_, meta_;
  std::string consumer_;
  std::chrono::milliseconds claim_idle_;
  std::chrono::steady_clock::time_point last_claim_{};
  mutable std::uint64_t duplicates_ = 0;  // entries marked duplicate handed out
};

}  // namespace dlhost
