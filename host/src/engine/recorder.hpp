// Recording: what a job does once a file is settled, on a thread of its own.
//
// The data path runs one way. Feeding (feeder side of Job::State:
// job_submit.cpp) takes the work source's entries through the local check
// and the coordinator's claim to the plugin; the plugin's terminal events
// (job_events.cpp), and the files feeding settles itself (present on disk,
// recorded complete, refused), come here as Settled hand-offs, and this
// component alone turns them into coordinator work:
//
//   hand-off (any thread) -> drain (the recorder's thread):
//     Coordinator::apply(): completion records, skip marks, lease releases,
//                           shared totals, all sent
//     -> WorkSource::acknowledge() of the settled entries' receipts
//
// so the order "completion before release before acknowledgement" holds by
// construction (Coordinator's ordering guarantee, then the acknowledgement
// after apply() returned). drain() has one caller: the recorder's loop, which
// runs it every kPeriod, sooner when kWakeAt hand-offs are waiting, and a
// last time when stop() is called.
//
// Its state is its own (the pending batch, the failure messages, the verified
// files), under its own mutex, which is never held across a call into the
// coordinator or the work source. What it needs from the job comes through
// Hooks: the counts (for the shared totals) and where a CoordinationError
// goes. One thing flows back: the files the plugin verified as it wrote them,
// for the feeder's LocalFiles (take_verified()), which only the feeding
// thread touches.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dlhost/host/coordination.hpp"
#include "dlhost/host/work_source.hpp"

namespace dlhost {

// One settled file's (or line's) part of the record; every field optional.
struct Settled {
  std::string completed_key;     // record this file complete
  std::optional<Lease> lease;    // give its lease back
  std::optional<SkipMark> skip;  // keep its URL off for PROXY_SKIP_CACHE_TTL
  std::string receipt;           // acknowledge the work source's entry
  std::string verified_sha256;   // the plugin verified completed_key as this
  std::string failure;           // "path: message" for the final report

  static Settled release(Lease lease) {
    Settled s;
    s.lease = std::move(lease);
    return s;
  }
  static Settled acknowledge(std::string receipt) {
    Settled s;
    s.receipt = std::move(receipt);
    return s;
  }
  static Settled record_complete(std::string key) {
    Settled s;
    s.completed_key = std::move(key);
    return s;
  }
  static Settled report(std::string failure) {
    Settled s;
    s.failure = std::move(failure);
    return s;
  }
};

class Recorder {
 public:
  struct Hooks {
    std::function<Counts()> counts;  // the job's counters now (any thread)
    // The backend failed: the job stops handing out files. Called on the
    // recorder's thread; nothing is recorded after it.
    std::function<void(const CoordinationError &)> lost;
    std::function<bool()> is_lost;  // lost already (any worker thread's error)
  };
  struct Options {
    std::chrono::seconds skip_ttl{3600};
    std::size_t max_failure_messages = 1000;
  };
  static constexpr auto kPeriod = std::chrono::milliseconds(50);
  static constexpr std::size_t kWakeAt = 256;

  // Starts the thread. Nothing is acknowledged until set_source().
  Recorder(Coordinator &coordinator, Options options, Hooks hooks);
  ~Recorder();  // stop()
  Recorder(const Recorder &) = delete;
  Recorder &operator=(const Recorder &) = delete;

  // The work source whose entries are acknowledged (Job::run(), before any
  // entry is read; any thread).
  void set_source(WorkSource *source);
  // Any thread; cheap (a push under the recorder's mutex).
  void add(Settled settled);
  // The last drain, then the thread ends (the caller's thread, once; the
  // plugin must be gone so that nothing is added after).
  void stop();
  // The feeder's thread: the files verified since the last call.
  std::vector<std::pair<std::string, std::string>> take_verified();
  // After stop(): the report's failure messages, and how many were not kept.
  std::vector<std::string> take_failures();
  std::uint64_t failures_not_kept() const { return failures_not_kept_; }

 private:
  struct Pending {
    Record record;
    std::vector<std::string> receipts;
    std::size_t size() const {
      return record.completed.size() + record.released.size() + receipts.size();
    }
  };
  void loop();
  void drain(bool last);

  Coordinator &coordinator_;
  Options options_;
  Hooks hooks_;

  std::mutex mutex_;  // guards everything down to thread_
  std::condition_variable wake_;
  bool stopping_ = false;
  WorkSource *source_ = nullptr;
  Pending pending_;
  bool wake_sent_ = false;  // since the last drain took pending_
  std::vector<std::pair<std::string, std::string>> verified_;
  std::vector<std::string> failures_;
  std::uint64_t failures_not_kept_ = 0;

  Counts published_;  // the recorder's thread only: shared totals sent so far
  std::thread thread_;
};

}  // namespace dlhost
