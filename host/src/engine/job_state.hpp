// The job engine's state: one Job::State per Job. docs/ARCHITECTURE.md draws
// the data path; in short, it runs one way:
//
//   feeding (the caller's thread, inside Job::run; job_submit.cpp):
//     work source -> local check -> Coordinator::claim -> plugin submit()
//   the plugin's event thread (job_events.cpp): updates the task and the
//     counters, and hands each settled file to the Recorder
//   recording (the Recorder's own thread; recorder.hpp): one drain,
//     Coordinator::apply (record, release, totals) -> acknowledge
//
// Feeding and recording share only the counters (atomics, below) and the
// Recorder's hand-offs (Settled in; the verified files back out). The renew
// thread extends the leases of the files in flight (job_coordination.cpp);
// the watch thread publishes proxy.state (job_stream.cpp).
//
// The member functions live in one file per concern:
//   job_events.cpp        what the plugin reports (its event thread)
//   job_submit.cpp        feeding the plugin from the work source
//   job_coordination.cpp  coordination failures; the renew thread
//   job_stream.cpp        the event stream: file events, proxy.state, summary
//   job.cpp               the public Job methods and the end of a run
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dlhost/host/job.hpp"
#include "dlhost/util/text.h"
#include "local_files.hpp"
#include "recorder.hpp"

namespace dlhost {

// The event stream's class of a plugin failure code ("http", "timeout", ...).
const char *failure_class(dlhost_failure failure);

struct Job::State {
  using SteadyClock = std::chrono::steady_clock;

  // How often the waiting thread looks for interrupts.
  static constexpr std::int32_t kWaitSliceMs = 200;

  struct Task {
    std::string key;  // relative destination path
    std::string url;
    std::string sha256;  // the manifest's, or empty
    Lease lease;
    std::uint64_t bytes_done = 0;
    std::string receipt;        // the work source's, acknowledged once settled
    bool started = false;       // the plugin said so (STARTED, PROGRESS, RETRYING)
    bool cancel_asked = false;  // Job::cancel(): its CANCELLED is not a failure
    // For the event stream only (filled when it is active).
    std::string group;
    std::uint64_t line = 0;
    std::int64_t total = -1;  // the manifest's size, or the plugin's total
    std::string proxy;
    int attempt = 0, http_status = 0;
    SteadyClock::time_point last_progress{};
  };

  static std::string one_line(std::string s) { return util::one_line(std::move(s)); }

  JobOptions options;
  std::shared_ptr<LoadedPlugin> plugin;
  std::shared_ptr<Coordinator> coordinator;
  std::unique_ptr<PluginInstance> instance;
  std::unique_ptr<Progress> progress;
  std::optional<LocalFiles> local;  // the output directory, set by run()
  // Atomic: the status server's thread reads it (elapsed time) while run()
  // may be setting it.
  std::atomic<SteadyClock::rep> started_ticks{SteadyClock::now().time_since_epoch().count()};

  std::atomic<bool> interrupted{false};
  // After interrupt(), running transfers may finish until this deadline
  // (steady clock ticks); stop_now() or the deadline cancels them.
  std::atomic<SteadyClock::rep> drain_deadline{0};
  std::atomic<bool> cancel_now{false};
  // Held to call into the instance from other threads (progress, status
  // server) and to destroy it, so neither outlives the other.
  std::mutex instance_mutex;
  std::condition_variable instance_started_cv;  // with instance_mutex: see wait_running()
  bool instance_started = false;                // guarded by instance_mutex
  std::atomic<bool> coordination_lost{false};
  // The counters: written by feeding and by the event thread, read anywhere
  // (counts()).
  std::atomic<std::uint64_t> total{0}, completed{0}, skipped{0}, failed{0}, deferred{0};
  std::atomic<std::uint64_t> bytes_finished{0}, bytes_in_flight{0};
  // Recording; made by the constructor (report_bad_line() may come before
  // run()), stopped by run() once the plugin is gone.
  std::unique_ptr<Recorder> recorder;

  // The files with the plugin, and what the submitter waits on. Guarded by
  // `mutex`, which is never held across a call into the plugin or the
  // coordinator; the recorder's mutex may be taken under it, never the
  // other way round.
  std::mutex mutex;
  std::condition_variable terminal_cv;
  std::uint64_t terminal_events = 0;
  // The submitter (waiting for room in the window, or held back by
  // DLHOST_E_AGAIN) sleeps until terminal_events reaches this: on_terminal
  // wakes it once per batch, not once per file (two context switches a file).
  std::uint64_t submitter_wake_at = UINT64_MAX;
  std::unordered_map<std::uint64_t, Task> in_flight;
  // Leases taken for a batch but not yet submitted; renewed like running ones
  // because back-pressure may keep them waiting for a while.
  std::deque<Lease> queued_leases;
  std::uint64_t next_id = 0;
  std::string coordination_failure;  // the first CoordinationError

  std::mutex renew_mutex;
  std::condition_variable renew_cv;
  bool renew_stop = false;
  std::thread renew_thread;

  // Feeding's own (the caller's thread only, no lock): files another worker
  // held a lease on when we reached them, revisited at the end, so a file of
  // a worker that died is taken over once its lease expires. Bounded by what
  // other workers have in flight at once.
  std::vector<ManifestEntry> held_elsewhere;
  // What progress shows of it (sample() runs on the display's thread).
  mutable std::mutex waiting_mutex;
  std::vector<std::string> waiting_for;  // the first few paths of held_elsewhere
  std::atomic<std::uint64_t> waiting{0};
  std::uint64_t waiting_said = 0;  // the count -v last printed (feeding's)
  SteadyClock::time_point waiting_said_at{};

  // --- called on the plugin's event thread (job_events.cpp) ---------------
  static void on_event_thunk(void *user, const dlhost_event *event) noexcept;
  void on_event(const dlhost_event &e);
  void on_update(const dlhost_event &e);
  void on_terminal(const dlhost_event &e);
  void on_log(const dlhost_event &e);
  std::optional<EventType> update_event_type(Task &task, const dlhost_event &e);
  JobEvent terminal_event_locked(Task &task, const dlhost_event &e);
  // Bookkeeping under `mutex`: counters, and what the Recorder gets.
  void update_bytes_locked(Task &task, std::uint64_t bytes_done);
  void on_completed_locked(Task &task, const dlhost_event &e, Settled &out);
  std::string on_failed_locked(Task &task, const dlhost_event &e, Settled &out);
  void on_cancelled_locked(Task &task, Settled &out);
  void finish_locked(std::unordered_map<std::uint64_t, Task>::iterator it, Settled &out);

  // --- the caller's thread: feeding the plugin (job_submit.cpp) -----------
  void pump(WorkSource &work);
  std::size_t outstanding_window() const;
  std::size_t batch_size() const;
  void process_batch(std::vector<ManifestEntry> &batch);
  std::vector<ManifestEntry> filter_local(std::vector<ManifestEntry> &batch);
  std::vector<std::pair<ManifestEntry, Lease>> filter_coordinated(std::vector<ManifestEntry> batch);
  void lease_and_submit(std::vector<ManifestEntry> entries);
  std::size_t wait_for_room();
  void revisit_held_elsewhere();
  void revisit_once();
  void note_waiting();
  std::chrono::milliseconds revisit_pause() const;
  void submit_leased(std::vector<std::pair<ManifestEntry, Lease>> work);
  void submit_with_backpressure(const ManifestEntry &entry, const Lease &lease,
                                const std::string &dest);
  void wait_for_terminal_event(std::uint64_t generation);
  void withdraw(std::uint64_t id, const ManifestEntry &entry, const std::string &error);
  void skip_duplicates(std::vector<ManifestEntry> &batch);
  // `failure` is the event's failure class ("io", "rejected").
  void fail_before_submit(const ManifestEntry &entry, const Lease &lease, const char *failure,
                          const std::string &why);
  void settle(const ManifestEntry &entry);
  void remember_verified();
  // `reason` is the event's ("present", "recorded"), `message` the human line.
  void count_skip(const ManifestEntry &entry, const char *reason, const std::string &message);
  void count_deferred(const ManifestEntry &entry, const std::string &reason);

  // --- coordination failures, any thread (job_coordination.cpp) ---------
  void note_coordination_failure(const CoordinationError &e);
  std::optional<Counts> shared_totals();
  void start_recording();

  // --- the renew thread, and starting and stopping it (job_coordination.cpp)
  void renew_loop();
  void renew_running_leases();
  void start_renewing();
  void stop_renewing();

  // --- the event stream (job_stream.cpp); publish() from any thread, never
  // under `mutex` ---------------------------------------------------------
  bool streaming() const { return options.events != nullptr; }
  void publish(JobEvent event);
  JobEvent entry_event(EventType type, const ManifestEntry &entry) const;
  // Under `mutex`: the task's event for what the plugin reported (`e`
  // updates the task's attempt, status, proxy first).
  JobEvent task_event_locked(EventType type, Task &task, const dlhost_event &e);
  void publish_skip(const ManifestEntry &entry, const char *reason, const std::string &message);
  void publish_failure(const ManifestEntry &entry, const char *failure, const std::string &message);
  void publish_summary(const JobResult &result);
  // proxy.state: a thread compares health() every proxy_watch_interval.
  std::mutex watch_mutex;
  std::condition_variable watch_cv;
  bool watch_stop = false;
  std::thread watch_thread;
  std::unordered_map<std::string, std::string> proxy_states;  // the watch thread's only
  void start_proxy_watch();
  void stop_proxy_watch();
  void watch_proxies_once();

  // --- the caller's thread: waiting and cancelling; any thread (job.cpp) --
  Counts counts() const;  // a snapshot of the counters above
  ProgressSnapshot sample() const;
  double elapsed_seconds() const;
  bool stopping() const { return interrupted || coordination_lost; }
  bool cancel_due() const;
  std::string plugin_json(bool health);
  void destroy_instance();
  void cancel_not_started();
  void wait_until_idle();
  void cancel_and_wait();
  bool wait_slice();
};

}  // namespace dlhost
