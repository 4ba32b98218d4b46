// The one thread that moves every byte.
//
// One std::thread runs one libcurl multi handle. Each turn it
//   1. takes what host threads left in the Inbox (new tasks, cancels, stop),
//   2. asks the Scheduler what may start and adds those transfers,
//   3. lets libcurl do the I/O that is ready (curl_multi_perform),
//   4. puts a transfer whose request needs another hop (a redirect followed
//      by hand, a fresh connection: common's Request) straight back into
//      the multi handle, settles every failed transfer (verdict, events,
//      stats) and hands every complete one (and, at launch, a .part found
//      whole) to the CommitWorker (plugins/common): hashing what is
//      buffered, writing, verifying and renaming a small file would otherwise
//      stall every other transfer on this thread,
//   5. settles the transfers whose commit has come back (a verify mismatch is
//      a retryable result like any other), refilling the freed slots at once;
//      with nothing else to do and half the slots waiting on commits, it runs
//      a queued commit itself rather than sleep while the worker is starved
//      of CPU,
//   6. sleeps in curl_multi_poll until a socket is ready, libcurl's own timer
//      fires, the scheduler's next deadline (a retry falling due, a cooldown
//      or rate brake ending) comes, or a host thread or the CommitWorker calls
//      curl_multi_wakeup.
// So there is no thread per connection and no fixed poll interval: the loop
// sleeps exactly until something can happen. Events are delivered from this
// thread only, one at a time. A file keeps its slot while it is committed.
// Cancelling removes the handle from the multi handle (the transfer stops at
// once, the .part stays); a file already being committed has all its bytes:
// it completes if the commit succeeds, else it ends CANCELLED (no retry).
// Destroying stops the thread first, waits for the commits in progress, then
// frees handles, so no callback can follow.
//
// set_paths() replaces the path list while the loop runs: the list goes
// through the Inbox and is applied in step 1 of the next turn (so before any
// dispatch), by the Scheduler (the diff by id and its rules: scheduler.h),
// the TransferPool (new credentials for the next attempts) and Stats (new
// rows; a removed path shows state "removed"). libcurl's connection caps grow
// with the number of paths. Transfers already in the multi handle are not
// touched: a file in flight on a removed path finishes there.
#pragma once

#include <curl/curl.h>
#include <dlhost/transport/commit_worker.h>
#include <dlhost/transport/events.h>
#include <dlhost/transport/transport_config.h>

#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "inbox.h"
#include "scheduler.h"
#include "stats.h"
#include "transfer.h"

namespace dlhost::mp {

class EventLoop {
 public:
  EventLoop(transport::TransportConfig cfg, std::vector<transport::ProxySpec> paths,
            SchedulerConfig scfg, dlhost_event_fn on_event, void *user);
  ~EventLoop();  // stops and joins; no callback afterwards
  EventLoop(const EventLoop &) = delete;
  EventLoop &operator=(const EventLoop &) = delete;

  dlhost_status submit(TaskSpec task, std::string *error);
  dlhost_status start();
  dlhost_status cancel(uint64_t task_id);
  // The new path list, already parsed and checked (at least one path).
  // Returns once it is in force: applied by the loop, or (before start())
  // applied here, as no loop thread runs yet. Thread: a host thread, not the
  // loop's (from an event callback it would only be queued: the callback
  // must not call into the plugin anyway); not concurrently with itself.
  void set_paths(std::vector<transport::ProxySpec> paths);
  dlhost_status wait(int32_t timeout_ms) {
    return inbox_.wait_idle(timeout_ms) ? DLHOST_OK : DLHOST_E_TIMEOUT;
  }
  // dlhost.capacity/1: listed paths x post limit x attachment limit, as of
  // the last path change (any thread).
  uint32_t running_capacity() const { return running_capacity_.load(); }
  nlohmann::json stats_json() const;
  nlohmann::json health_json() const { return stats_.health_json(Clock::now()); }

 private:
  void run();
  bool take_requests();
  void apply_paths(std::vector<transport::ProxySpec> paths, bool log);
  void resize_limits();
  void dispatch();
  void launch(const Dispatch &d, TimePoint now);
  void harvest();
  void collect_commits();
  void settle(std::unique_ptr<Transfer> t, const AttemptResult &r);
  void deliver(uint64_t id, const Verdict &v, Transfer &t, int status);
  void log_health_change(size_t path, HealthState before, bool died);
  void fail_doomed();
  void cancel_task(uint64_t id);
  void finish_task(uint64_t id);
  void sleep();
  int poll_timeout_ms() const;
  void drop_all();

  transport::TransportConfig cfg_;
  std::vector<transport::ProxySpec> paths_;  // by scheduler slot, removed ones too
  SchedulerConfig scfg_;
  transport::EventEmitter emit_;
  Inbox inbox_;
  Stats stats_;
  std::mt19937_64 rng_;
  Scheduler sched_;
  TransferPool pool_;
  CURLM *multi_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> running_;
  // A Transfer being committed is owned by its CommitJob (released from its
  // unique_ptr when posted, taken back in collect_commits()).
  // True while the loop is in (or about to enter) curl_multi_poll: only then
  // does a finished commit need to wake it (see sleep()).
  std::atomic<bool> sleeping_{false};
  transport::CommitWorker committer_;
  size_t commit_backlog_to_help_ = 1;          // see sleep(); resize_limits() sets it
  std::atomic<uint32_t> running_capacity_{1};  // resize_limits() sets it
  std::vector<transport::CommitJob *> to_commit_, committed_;
  std::unordered_set<uint64_t> cancelled_in_commit_;
  std::thread thread_;
  std::atomic<bool> started_{false};
  std::atomic<std::thread::id> loop_thread_{};  // set by run(): set_paths() must not wait on itself
};

// Queue capacity for back-pressure: a few times the concurrency, so the
// scheduler always has work to pick from, bounded however long the manifest.
size_t queue_capacity(const SchedulerConfig &cfg, size_t paths);

}  // namespace dlhost::mp
