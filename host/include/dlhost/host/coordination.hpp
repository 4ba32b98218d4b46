// Coordination: who may download which file, what is done, what to skip.
//
// The job asks a Coordinator before it hands a file to a plugin, so that two
// workers (threads today, hosts sharing a Redis job later) never download the
// same file at once. A lease on a file key (the destination path relative to
// the output directory) carries a random token; only the holder of the token
// can renew or release it, and a lease that is not renewed expires so that a
// dead worker's files are taken over. Completion records say a file is done;
// the skip cache remembers files (by URL) that timed out so a job does not
// hammer them again within PROXY_SKIP_CACHE_TTL.
//
// Every method works on a batch of keys: a network implementation (Redis)
// turns a batch into one pipelined round trip, and the in-process one just
// loops. The job calls these methods from its own threads (claims from its
// feeding thread, apply() from its recording thread, renewals from its renew
// thread), never from inside a plugin callback, so an implementation may
// block on I/O, and must take calls from several threads at once. Any method
// may throw CoordinationError when the backend is lost.
//
// The ordering guarantee (apply()): what a settled file leaves to record is
// applied completion record first, then its skip mark, then its lease
// release, then the shared totals, all sent before apply() returns; the job
// acknowledges a work queue's entries only after that. So no other worker
// can lease a file whose completion is not recorded yet (it would download it
// again), and no acknowledged entry is ever unrecorded.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "dlhost/host/counts.hpp"
#include "dlhost/util/state_dir.h"

namespace dlhost {

struct Lease {
  std::string key;
  std::string token;
};

// The coordination backend failed (e.g. Redis unreachable). what() is one
// line naming the backend without credentials. The job then stops handing
// out new files, lets running ones finish, and exits with status 1.
struct CoordinationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SkipMark {
  std::string key;
  std::string reason;  // one line, shown when the key is skipped later
};

// What settled files leave to record, as one batch for Coordinator::apply().
struct Record {
  std::vector<std::string> completed;  // file keys to record complete
  std::vector<SkipMark> skipped;       // URLs for the skip cache
  std::vector<Lease> released;         // leases to give back
  Counts totals;                       // to add to the job's shared totals
  bool empty() const {
    return completed.empty() && skipped.empty() && released.empty() && totals == Counts{};
  }
};

class Coordinator {
 public:
  using Millis = std::chrono::milliseconds;
  using Seconds = std::chrono::seconds;
  virtual ~Coordinator() = default;

  // Applies `record` in the order the top of this file states: completion
  // records, skip marks (kept `skip_ttl`), lease releases, shared totals,
  // then flush(); returns once all of it is sent. Not virtual: a backend
  // implements the steps, the order is the interface's. Calls from two
  // threads do not interleave. Throws CoordinationError (then any part may
  // be missing: the caller acknowledges nothing).
  void apply(const Record &record, Seconds skip_ttl);

  // One result per key, in order: a lease, or nullopt when another worker
  // holds the key.
  virtual std::vector<std::optional<Lease>> take_leases(std::span<const std::string> keys,
                                                        Millis ttl) = 0;
  // One result per lease: true if still ours (extended), false if lost.
  virtual std::vector<bool> renew_leases(std::span<const Lease> leases, Millis ttl) = 0;
  // Releases leases we hold; a lease held by someone else is left alone.
  virtual void release_leases(std::span<const Lease> leases) = 0;

  virtual void record_completed(std::span<const std::string> keys) = 0;
  // One result per key: true if a completion was recorded.
  virtual std::vector<bool> completed(std::span<const std::string> keys) = 0;

  virtual void mark_skipped(std::span<const SkipMark> marks, Seconds ttl) = 0;
  // One result per key: the reason when the key is in the skip cache.
  virtual std::vector<std::optional<std::string>> skipped(std::span<const std::string> keys) = 0;

  // What claim() found for one file.
  struct Claim {
    enum class Kind { kLeased, kDone, kSkipped, kHeld } kind = Kind::kHeld;
    Lease lease;         // kLeased: ours now
    std::string reason;  // kSkipped: why the skip cache holds it
  };
  // For each key, in order: recorded complete, in the skip cache (looked up
  // by skip_keys[i]; pass no skip_keys to leave the skip cache out), leased
  // to us now, or held by another worker. It answers what completed(),
  // skipped() and take_leases() answer together, and the job asks it before
  // handing a batch of files to the plugin. This default calls those three;
  // Redis answers it all in one round trip.
  virtual std::vector<Claim> claim(std::span<const std::string> keys,
                                   std::span<const std::string> skip_keys, Millis ttl);
  // Adds this worker's counts to the job's shared totals (completed, failed,
  // skipped, deferred, bytes; the rest is per host); totals() reads them back
  // (nullopt when the backend keeps none, as in-process does).
  virtual void add_totals(const Counts &delta) { (void)delta; }
  virtual std::optional<Counts> totals() { return std::nullopt; }

  // Persist whatever must outlive the process, send whatever is queued
  // (called at the end of a job, and before work-queue acknowledgements).
  virtual void flush() {}
  // True when other workers see what this one records (Redis): the job then
  // also records the files it finds complete on disk, so that the job's
  // records count every file even after a run that could not record some.
  virtual bool shares_state() const { return false; }
  // How the coordinator is described in logs ("in-process", "redis://...").
  virtual std::string describe() const = 0;

 private:
  std::mutex apply_mutex_;
};

// The default: a mutex-protected table of leases in memory, for as long as the
// process lives, holding only the files leased now (a released lease is
// forgotten). It keeps no completion records: one process settles each file
// of a validated manifest once (its repeated lines are known before the job
// starts), and a file already complete is found on disk by the job's local
// check, which a rerun or a revisited line goes through first. So its memory
// does not grow with the manifest. The skip cache is persisted in a small
// text file (`<out>/.dlhost/skip-cache`) so its TTL holds across runs,
// opened by the rules of the output directory (dlhost/util/state_dir.h).
class InProcessCoordinator final : public Coordinator {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // The skip cache is kept in <out_dir>/.dlhost/skip-cache; `out_dir` empty =
  // not persisted. `clock` is injectable for tests.
  explicit InProcessCoordinator(std::filesystem::path out_dir = {}, Clock clock = {});

  // The skip cache's files in the state directory, for StateDir::check().
  static constexpr const char *kSkipCache = "skip-cache";
  static constexpr const char *kSkipCacheTmp = "skip-cache.tmp";

  std::vector<std::optional<Lease>> take_leases(std::span<const std::string> keys,
                                                Millis ttl) override;
  std::vector<bool> renew_leases(std::span<const Lease> leases, Millis ttl) override;
  void release_leases(std::span<const Lease> leases) override;
  void record_completed(std::span<const std::string> keys) override;
  std::vector<bool> completed(std::span<const std::string> keys) override;
  void mark_skipped(std::span<const SkipMark> marks, Seconds ttl) override;
  std::vector<std::optional<std::string>> skipped(std::span<const std::string> keys) override;
  void flush() override;
  std::string describe() const override { return "in-process"; }

 private:
  using TimePoint = std::chrono::system_clock::time_point;
  struct Held {
    std::string token;
    TimePoint expires;
  };
  struct Skip {
    TimePoint expires;
    std::string reason;
  };
  void load_skip_cache();
  std::string new_token();

  util::StateDir state_;  // <out>/.dlhost, for the skip cache
  Clock clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, Held> leases_;
  std::unordered_map<std::string, Skip> skips_;
  bool skips_dirty_ = false;
  std::uint64_t token_prefix_;
  std::uint64_t token_counter_ = 0;
};

}  // namespace dlhost
