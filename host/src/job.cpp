// The job engine; see job.hpp for the design.
//
// Duplicate destinations are found with a set of 64-bit FNV-1a hashes of the
// relative path (8 bytes per file instead of the whole string). Two different
// paths with the same hash would make the second one be skipped as a
// duplicate; with 64-bit hashes the chance is about n^2 / 2^65 (about 3 in 10^8
// for a million files), which we accept for the memory it saves.
#include "dlhost/host/job.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "dlhost/host/settings.hpp"
#include "local_files.hpp"

namespace fs = std::filesystem;

namespace dlhost {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::int32_t kWaitSliceMs = 200;  // how often the waiting thread looks for interrupts
constexpr auto kAgainRecheck = std::chrono::seconds(1);

struct Task {
  std::string key;  // relative destination path
  std::string url;
  Lease lease;
  std::uint64_t bytes_done = 0;
  std::string receipt;   // the work source's, acknowledged once settled
  bool started = false;  // the plugin said so (STARTED, PROGRESS, RETRYING)
};

const char *failure_text(dlhost_failure failure) {
  switch (failure) {
    case DLHOST_FAILURE_HTTP:
      return "HTTP error";
    case DLHOST_FAILURE_TIMEOUT:
      return "timed out";
    case DLHOST_FAILURE_TRANSPORT:
      return "transport error";
    case DLHOST_FAILURE_VERIFY:
      return "verification failed";
    case DLHOST_FAILURE_IO:
      return "I/O error";
    case DLHOST_FAILURE_PROXY:
      return "proxy error";
    case DLHOST_FAILURE_PROXY_AUTH:
      return "proxy authentication failed";
    default:
      return "failed";
  }
}

std::string one_line(std::string s) {
  for (auto &c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

struct Job::State {
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
  std::atomic<bool> coordination_lost{false};
  std::atomic<std::uint64_t> total{0}, completed{0}, skipped{0}, failed{0}, deferred{0};
  std::atomic<std::uint64_t> bytes_finished{0}, bytes_in_flight{0};

  std::mutex mutex;  // guards everything below
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
  std::vector<Lease> to_release;
  std::vector<std::string> to_complete;
  std::vector<SkipMark> to_skip;
  std::vector<std::string> to_ack;  // receipts of settled entries
  WorkSource *source = nullptr;
  std::vector<std::string> failures;
  std::uint64_t failures_not_kept = 0;
  std::uint64_t next_id = 0;
  std::string coordination_failure;  // the first CoordinationError

  std::mutex renew_mutex;
  std::condition_variable renew_cv;
  bool renew_stop = false;
  std::thread renew_thread;

  std::unordered_set<std::uint64_t> seen_paths;
  std::uint64_t duplicates = 0;
  // Files another worker held a lease on when we reached them: revisited at
  // the end, so a file of a worker that died is taken over once its lease
  // expires. Bounded by what other workers have in flight at once.
  std::vector<ManifestEntry> held_elsewhere;
  JobTotals published;  // what add_totals() has already been told

  // --- called on the plugin's event thread -------------------------------
  static void on_event_thunk(void *user, const dlhost_event *event) noexcept {
    if (!event) return;
    try {
      dlhost_event e{};
      std::memcpy(&e, event, std::min<std::size_t>(event->struct_size, sizeof e));
      static_cast<State *>(user)->on_event(e);
    } catch (...) {
      // An event we cannot handle must not unwind into the plugin.
    }
  }

  void on_event(const dlhost_event &e) {
    switch (e.type) {
      case DLHOST_EVENT_LOG:
        return on_log(e);
      case DLHOST_EVENT_COMPLETED:
      case DLHOST_EVENT_FAILED:
      case DLHOST_EVENT_CANCELLED:
        return on_terminal(e);
      default:
        return on_update(e);  // STARTED, PROGRESS, RETRYING; unknown types too
    }
  }

  void on_update(const dlhost_event &e) {
    std::string key;
    {
      std::lock_guard lock(mutex);
      auto it = in_flight.find(e.task_id);
      if (it == in_flight.end()) return;
      update_bytes_locked(it->second, e.bytes_done);
      it->second.started = true;
      if (e.type == DLHOST_EVENT_RETRYING && options.verbose) key = it->second.key;
    }
    if (key.empty()) return;
    progress->file_finished(key, "retrying",
                            e.message ? one_line(e.message) : failure_text(e.failure));
  }

  void on_terminal(const dlhost_event &e) {
    std::string key, outcome, detail;
    bool wake = false;
    {
      std::lock_guard lock(mutex);
      auto it = in_flight.find(e.task_id);
      if (it == in_flight.end()) return;  // not ours, or already terminal
      Task &task = it->second;
      update_bytes_locked(task, e.bytes_done);
      if (e.type == DLHOST_EVENT_COMPLETED) {
        outcome = "completed";
        on_completed_locked(task, e);
      } else if (e.type == DLHOST_EVENT_FAILED) {
        outcome = "failed";
        detail = on_failed_locked(task, e);
      } else {
        outcome = "cancelled";
        on_cancelled_locked(task);
      }
      key = task.key;
      finish_locked(it);
      wake = terminal_events >= submitter_wake_at;
    }
    if (wake) terminal_cv.notify_all();
    progress->file_finished(key, outcome, detail);
  }

  void on_log(const dlhost_event &e) {
    if (!e.message || (e.level < DLHOST_LOG_WARN && !options.verbose)) return;
    progress->message("plugin: " + one_line(e.message));
  }

  void update_bytes_locked(Task &task, std::uint64_t bytes_done) {
    if (bytes_done == task.bytes_done) return;
    bytes_in_flight += bytes_done - task.bytes_done;  // wraps correctly if it shrinks
    task.bytes_done = bytes_done;
  }

  void on_completed_locked(Task &task, const dlhost_event &e) {
    settle_locked(task.receipt);
    completed++;
    bytes_finished += e.bytes_done ? e.bytes_done : e.bytes_total;
    to_complete.push_back(task.key);
  }

  std::string on_failed_locked(Task &task, const dlhost_event &e) {
    settle_locked(task.receipt);
    failed++;
    std::string message = e.message && *e.message ? one_line(e.message) : failure_text(e.failure);
    if (e.failure == DLHOST_FAILURE_TIMEOUT) to_skip.push_back({task.url, message});
    remember_failure_locked(task.key, message);
    return message;
  }

  void on_cancelled_locked(Task &task) {
    // A cancel we did not ask for leaves the file undone: count it as failed.
    if (interrupted) return;
    settle_locked(task.receipt);
    failed++;
    remember_failure_locked(task.key, "cancelled by the plugin");
  }

  void settle_locked(const std::string &receipt) {
    if (!receipt.empty()) to_ack.push_back(receipt);
  }

  void settle(const ManifestEntry &entry) {
    std::lock_guard lock(mutex);
    settle_locked(entry.receipt);
  }

  void remember_failure_locked(const std::string &key, const std::string &message) {
    if (failures.size() < options.max_failure_messages) {
      failures.push_back(key + ": " + message);
    } else {
      ++failures_not_kept;
    }
  }

  void finish_locked(std::unordered_map<std::uint64_t, Task>::iterator it) {
    bytes_in_flight -= it->second.bytes_done;
    to_release.push_back(std::move(it->second.lease));
    in_flight.erase(it);
    ++terminal_events;
  }

  // --- the caller's thread ----------------------------------------------
  ProgressSnapshot sample() const {
    ProgressSnapshot s;
    s.total = total;
    s.completed = completed;
    s.skipped = skipped;
    s.failed = failed;
    s.deferred = deferred;
    s.bytes = bytes_finished + bytes_in_flight;
    s.elapsed_s = elapsed_seconds();
    return s;
  }

  double elapsed_seconds() const {
    const SteadyClock::time_point started{SteadyClock::duration{started_ticks.load()}};
    return std::chrono::duration<double>(SteadyClock::now() - started).count();
  }

  // Hands queued lease releases, completions and skip marks to the
  // coordinator in batches, outside our lock.
  void drain_coordinator_work() {
    std::vector<Lease> release;
    std::vector<std::string> complete;
    std::vector<SkipMark> skip;
    std::vector<std::string> ack;
    {
      std::lock_guard lock(mutex);
      release.swap(to_release);
      complete.swap(to_complete);
      skip.swap(to_skip);
      ack.swap(to_ack);
    }
    if (coordination_lost) return;  // leases expire on their own
    try {
      if (!complete.empty()) coordinator->record_completed(complete);
      if (!skip.empty()) coordinator->mark_skipped(skip, options.skip_cache_ttl);
      if (!release.empty()) coordinator->release_leases(release);
      // After the completion records (sent, not just queued): an entry
      // acknowledged is never handed out again, so its file must be
      // recorded first.
      if (!ack.empty() && source) {
        coordinator->flush();
        source->acknowledge(ack);
      }
      publish_totals();
    } catch (const CoordinationError &e) {
      note_coordination_failure(e);
    }
  }

  // Adds what changed since the last call to the job's shared counters, so
  // any host's stats can show the whole job while it runs.
  void publish_totals() {
    const JobTotals now{completed, failed, skipped, bytes_finished};
    const JobTotals delta{now.completed - published.completed, now.failed - published.failed,
                          now.skipped - published.skipped, now.bytes - published.bytes};
    if (!delta.completed && !delta.failed && !delta.skipped && !delta.bytes) return;
    coordinator->add_totals(delta);
    published = now;
  }

  // From now on no new file is handed out; running transfers finish.
  void note_coordination_failure(const CoordinationError &e) {
    {
      std::lock_guard lock(mutex);
      if (coordination_failure.empty()) coordination_failure = e.what();
      coordination_lost = true;
    }
    terminal_cv.notify_all();
  }

  void count_skip(const ManifestEntry &entry, const std::string &reason) {
    settle(entry);
    skipped++;
    progress->file_finished(entry.path, "skipped", reason);
  }

  void count_deferred(const ManifestEntry &entry, const std::string &reason) {
    settle(entry);
    deferred++;
    progress->file_finished(entry.path, "deferred",
                            "timed out in an earlier run, not retried before PROXY_SKIP_CACHE_TTL "
                            "runs out: " +
                                reason);
  }

  void fail_before_submit(const ManifestEntry &entry, const Lease &lease, const std::string &why) {
    failed++;
    {
      std::lock_guard lock(mutex);
      settle_locked(entry.receipt);
      remember_failure_locked(entry.path, why);
      to_release.push_back(lease);
    }
    progress->file_finished(entry.path, "failed", why);
  }

  // Removes duplicates and files already on disk; returns what still needs work.
  std::vector<ManifestEntry> filter_local(std::vector<ManifestEntry> &batch) {
    std::vector<ManifestEntry> rest;
    local->forget();  // directories may have been made since the last batch
    for (auto &entry : batch) {
      if (!seen_paths.insert(path_hash(entry.path)).second) {
        ++duplicates;
        settle(entry);
        continue;
      }
      if (local->present(entry.path, entry.size)) {
        count_skip(entry, "already present");
        continue;
      }
      rest.push_back(std::move(entry));
    }
    return rest;
  }

  // Asks the coordinator about completion and the skip cache and takes
  // leases, in one call; returns the entries we may download, with their
  // leases.
  std::vector<std::pair<ManifestEntry, Lease>> filter_coordinated(
      std::vector<ManifestEntry> batch) {
    std::vector<std::string> keys, urls;
    keys.reserve(batch.size());
    for (const auto &e : batch) keys.push_back(e.path);
    // PROXY_SKIP_CACHE_TTL=0 turns the skip cache off, old entries included.
    if (options.skip_cache_ttl.count() > 0) {
      urls.reserve(batch.size());
      for (const auto &e : batch) urls.push_back(e.url);
    }
    auto claims = coordinator->claim(keys, urls, options.lease_ttl);
    std::vector<std::pair<ManifestEntry, Lease>> out;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      switch (claims[i].kind) {
        case Coordinator::Claim::Kind::kDone:
          count_skip(batch[i], "recorded complete (by this job, on any host)");
          break;
        case Coordinator::Claim::Kind::kSkipped:
          count_deferred(batch[i], claims[i].reason);
          break;
        case Coordinator::Claim::Kind::kHeld:
          held_elsewhere.push_back(std::move(batch[i]));
          break;
        case Coordinator::Claim::Kind::kLeased:
          out.emplace_back(std::move(batch[i]), std::move(claims[i].lease));
          break;
      }
    }
    return out;
  }

  void process_batch(std::vector<ManifestEntry> &batch) {
    lease_and_submit(filter_local(batch));
    batch.clear();
  }

  // Leases only as many files as the outstanding window has room for, so a
  // host never sits on leases for files its plugin has merely queued: other
  // hosts sharing the job take those instead.
  void lease_and_submit(std::vector<ManifestEntry> entries) {
    std::size_t next = 0;
    while (next < entries.size() && !stopping()) {
      const std::size_t room = wait_for_room();
      if (room == 0) break;  // stopping
      const std::size_t n = std::min(room, entries.size() - next);
      std::vector<ManifestEntry> chunk(std::make_move_iterator(entries.begin() + next),
                                       std::make_move_iterator(entries.begin() + next + n));
      next += n;
      submit_leased(filter_coordinated(std::move(chunk)));
      // Only now the bookkeeping: the plugin has its next files first.
      drain_coordinator_work();
    }
  }

  // Blocks until at least a quarter of the window is free (so leases are
  // taken in batches, not one round trip per file); returns the free room.
  std::size_t wait_for_room() {
    const std::size_t window = std::max<std::size_t>(options.max_outstanding, 1);
    const std::size_t refill = std::max<std::size_t>(window / 4, 1);
    while (true) {
      std::size_t room;
      {
        std::unique_lock lock(mutex);
        const auto free_room = [&] { return window - std::min(window, in_flight.size()); };
        // Each terminal event frees one slot: be woken once, at the refill.
        submitter_wake_at = terminal_events + (refill - std::min(refill, free_room()));
        terminal_cv.wait_for(lock, std::chrono::milliseconds(kWaitSliceMs),
                             [&] { return free_room() >= refill || stopping(); });
        submitter_wake_at = UINT64_MAX;
        if (stopping()) return 0;
        room = free_room();
      }
      if (room >= refill) return room;
      drain_coordinator_work();  // a slow stretch: record what has finished meanwhile
    }
  }

  // Waits for the files other workers held: each ends recorded complete by
  // them, or we take it over when their lease expires (a worker that died).
  // The pause starts short (the other worker is usually about to finish
  // the file) and doubles up to revisit_pause().
  void revisit_held_elsewhere() {
    auto pause = std::chrono::milliseconds(20);
    while (!held_elsewhere.empty() && !stopping()) {
      revisit_once();
      if (held_elsewhere.empty()) break;
      std::unique_lock lock(mutex);
      terminal_cv.wait_for(lock, pause, [&] { return stopping(); });
      pause = std::min(pause * 2, revisit_pause());
    }
  }

  void revisit_once() {
    std::vector<ManifestEntry> batch;
    batch.swap(held_elsewhere);
    lease_and_submit(std::move(batch));
    drain_coordinator_work();
  }

  std::chrono::milliseconds revisit_pause() const {
    return std::clamp(options.lease_ttl / 4, std::chrono::milliseconds(50),
                      std::chrono::milliseconds(2000));
  }

  void submit_leased(std::vector<std::pair<ManifestEntry, Lease>> work) {
    {
      std::lock_guard lock(mutex);
      for (const auto &item : work) queued_leases.push_back(item.second);
    }
    for (auto &[entry, lease] : work) {
      {
        std::lock_guard lock(mutex);
        queued_leases.pop_front();
      }
      if (stopping()) {
        std::lock_guard lock(mutex);
        to_release.push_back(lease);
        continue;
      }
      const std::string dest = local->dest(entry.path);
      std::error_code ec;
      if (!local->make_parent(dest, ec)) {
        fail_before_submit(
            entry, lease,
            "cannot create " + fs::path(dest).parent_path().string() + ": " + ec.message());
        continue;
      }
      submit_with_backpressure(entry, lease, dest);
    }
  }

  void submit_with_backpressure(const ManifestEntry &entry, const Lease &lease,
                                const std::string &dest) {
    std::uint64_t id;
    {
      // Registered before submit(): the plugin may deliver events for the
      // task before submit() returns.
      std::lock_guard lock(mutex);
      id = ++next_id;
      in_flight[id] = Task{entry.path, entry.url, lease, 0, entry.receipt};
    }
    dlhost_task task{};
    task.struct_size = sizeof task;
    task.id = id;
    task.url = entry.url.c_str();
    task.dest_path = dest.c_str();
    task.group = entry.group.c_str();
    task.sha256 = entry.sha256.empty() ? nullptr : entry.sha256.c_str();
    task.size = entry.size;
    while (true) {
      std::uint64_t generation;
      {
        std::lock_guard lock(mutex);
        generation = terminal_events;
      }
      std::string error;
      const auto status = instance->submit(task, error);
      if (status == DLHOST_OK) return;
      if (status != DLHOST_E_AGAIN || stopping()) {
        if (status == DLHOST_E_AGAIN) error = "stopped";
        withdraw(id, entry, error);
        return;
      }
      wait_for_terminal_event(generation);
      drain_coordinator_work();
    }
  }

  // Back-pressure: the plugin's queue is full. Sleep until a quarter of the
  // files in flight (at least one) have finished since `generation`, then
  // refill in one burst: waking this thread for every finished file costs two
  // context switches per file, a large share of a small file's time.
  void wait_for_terminal_event(std::uint64_t generation) {
    std::unique_lock lock(mutex);
    submitter_wake_at = generation + std::max<std::uint64_t>(1, in_flight.size() / 4);
    terminal_cv.wait_for(lock, kAgainRecheck,
                         [&] { return terminal_events >= submitter_wake_at || stopping(); });
    submitter_wake_at = UINT64_MAX;
  }

  // A task the plugin did not take: forget it and count it (unless we are
  // stopping, when it simply stays undone).
  void withdraw(std::uint64_t id, const ManifestEntry &entry, const std::string &error) {
    Lease lease;
    {
      std::lock_guard lock(mutex);
      auto it = in_flight.find(id);
      if (it == in_flight.end()) return;
      lease = std::move(it->second.lease);
      in_flight.erase(it);
    }
    if (stopping()) {
      std::lock_guard lock(mutex);
      to_release.push_back(std::move(lease));
      return;
    }
    fail_before_submit(entry, lease, "rejected by the plugin: " + one_line(error));
  }

  // Feeds the plugin from the source; files other workers hold are looked at
  // again now and then, and once more until settled when the source ends.
  void pump(WorkSource &work) {
    std::vector<ManifestEntry> batch;
    auto last_revisit = SteadyClock::now();
    try {
      while (!stopping()) {
        batch.clear();
        if (!work.next_batch(options.batch_size, batch)) break;
        if (!work.known_total()) total += batch.size();
        process_batch(batch);
        drain_coordinator_work();
        if (!held_elsewhere.empty() && SteadyClock::now() - last_revisit > revisit_pause()) {
          revisit_once();
          last_revisit = SteadyClock::now();
        }
      }
      revisit_held_elsewhere();
    } catch (const CoordinationError &e) {
      note_coordination_failure(e);
    }
  }

  bool stopping() const { return interrupted || coordination_lost; }

  bool cancel_due() const {
    if (cancel_now) return true;
    return interrupted && SteadyClock::now().time_since_epoch().count() >= drain_deadline;
  }

  // The plugin's stats() or health() JSON from any thread; empty once the
  // instance is gone.
  std::string plugin_json(bool health) {
    std::lock_guard lock(instance_mutex);
    if (!instance) return {};
    std::string error;
    return health ? instance->health_json(error) : instance->stats_json(error);
  }

  void destroy_instance() {
    std::lock_guard lock(instance_mutex);
    instance.reset();  // destroy(): no callback runs after this
  }

  // After interrupt(): files the plugin holds but has not started are
  // cancelled at once (no new file); started ones run on until the deadline.
  void cancel_not_started() {
    std::vector<std::uint64_t> ids;
    {
      std::lock_guard lock(mutex);
      for (const auto &[id, task] : in_flight) {
        if (!task.started) ids.push_back(id);
      }
    }
    for (const auto id : ids) instance->cancel(id);
  }

  void wait_until_idle() {
    bool queue_cancelled = false;
    while (!cancel_due()) {
      if (interrupted && !queue_cancelled) {
        cancel_not_started();
        queue_cancelled = true;
      }
      drain_coordinator_work();
      if (wait_slice()) return;
    }
  }

  void cancel_and_wait() {
    instance->cancel(DLHOST_TASK_ALL);
    const auto deadline = SteadyClock::now() + options.cancel_grace;
    while (SteadyClock::now() < deadline) {
      if (wait_slice()) break;
    }
  }

  // One wait() slice; true when idle. A broken wait() (it threw, or returned
  // a status other than OK/TIMEOUT) must neither spin nor hang the job: the
  // host's own count of tasks without a terminal event decides instead.
  bool wait_slice() {
    const auto status = instance->wait(kWaitSliceMs);
    if (status == DLHOST_OK) return true;
    if (status == DLHOST_E_TIMEOUT) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(kWaitSliceMs));
    std::lock_guard lock(mutex);
    return in_flight.empty();
  }

  // --- the renew thread -------------------------------------------------
  void renew_loop() {
    pthread_setname_np(pthread_self(), "dlhost-leases");  // top -H, perf
    const auto period = std::max(options.lease_ttl / 3, std::chrono::milliseconds(100));
    std::unique_lock lock(renew_mutex);
    while (!renew_cv.wait_for(lock, period, [this] { return renew_stop; })) {
      lock.unlock();
      renew_running_leases();
      lock.lock();
    }
  }

  void renew_running_leases() {
    std::vector<Lease> leases;
    {
      std::lock_guard lock(mutex);
      for (const auto &[id, task] : in_flight) leases.push_back(task.lease);
      leases.insert(leases.end(), queued_leases.begin(), queued_leases.end());
    }
    if (leases.empty() || coordination_lost) return;
    std::vector<bool> ok;
    try {
      ok = coordinator->renew_leases(leases, options.lease_ttl);
    } catch (const CoordinationError &e) {
      return note_coordination_failure(e);
    }
    for (std::size_t i = 0; i < ok.size(); ++i) {
      if (!ok[i]) progress->message("warning: lost the lease on " + leases[i].key);
    }
  }

  void publish_totals_and_flush() {
    if (coordination_lost) return;
    try {
      publish_totals();
      coordinator->flush();
    } catch (const CoordinationError &e) {
      note_coordination_failure(e);
    }
  }

  // The whole job's counters, when the coordinator shares them (Redis).
  std::optional<JobTotals> shared_totals() {
    if (coordination_lost) return std::nullopt;
    try {
      return coordinator->totals();
    } catch (const CoordinationError &e) {
      note_coordination_failure(e);
      return std::nullopt;
    }
  }

  void start_renewing() {
    renew_thread = std::thread([this] { renew_loop(); });
  }

  void stop_renewing() {
    {
      std::lock_guard lock(renew_mutex);
      renew_stop = true;
    }
    renew_cv.notify_all();
    if (renew_thread.joinable()) renew_thread.join();
  }
};

Job::Job(JobOptions options, std::shared_ptr<LoadedPlugin> plugin,
         std::shared_ptr<Coordinator> coordinator)
    : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->plugin = std::move(plugin);
  state_->coordinator = std::move(coordinator);
  state_->progress = std::make_unique<Progress>(state_->options.progress, state_->options.verbose);
}

Job::~Job() {
  // On an exception out of run(), stop every thread that could touch the
  // state before its members are destroyed: destroy() guarantees no more
  // plugin callbacks.
  state_->stop_renewing();
  state_->destroy_instance();
}

void Job::interrupt() {
  {
    // Set under the lock so a submitter between its predicate check and its
    // sleep cannot miss the wake-up.
    std::lock_guard lock(state_->mutex);
    if (!state_->interrupted) {
      const auto deadline = SteadyClock::now() + state_->options.interrupt_grace;
      state_->drain_deadline = deadline.time_since_epoch().count();
    }
    state_->interrupted = true;
  }
  state_->terminal_cv.notify_all();
}

void Job::stop_now() {
  state_->cancel_now = true;
  interrupt();
}

nlohmann::ordered_json Job::stats_now() {
  State &s = *state_;
  RunTotals totals;
  totals.plugin = s.plugin->id();
  totals.plugin_version = s.plugin->version();
  const auto snap = s.sample();
  totals.elapsed_s = snap.elapsed_s;
  totals.files = {snap.total, snap.completed, snap.skipped, snap.failed, snap.deferred};
  totals.bytes = snap.bytes;
  totals.interrupted = s.interrupted;
  return build_stats_document(totals, s.plugin_json(false), "");
}

void Job::notice(std::string_view line) {
  state_->progress->message(line);
}

std::string Job::health_now() {
  return state_->plugin_json(true);
}

JobResult Job::run(const ManifestSource &manifest) {
  // Pass 1: the whole manifest must be valid before any byte is fetched.
  const auto summary = validate_manifest(manifest);
  ManifestWorkSource source(manifest, summary.unique_entries);
  return run(source);
}

JobResult Job::run(WorkSource &source) {
  State &s = *state_;
  s.started_ticks = SteadyClock::now().time_since_epoch().count();
  s.source = &source;
  s.total = source.known_total().value_or(0);

  std::error_code ec;
  const fs::path out_dir = fs::absolute(s.options.out_dir, ec);
  fs::create_directories(out_dir, ec);
  if (ec)
    throw ConfigError("DOWNLOAD_DIR: cannot create " + out_dir.string() + ": " + ec.message());
  s.local.emplace(out_dir.string());

  s.instance = std::make_unique<PluginInstance>(s.plugin, s.options.plugin_config_json,
                                                &State::on_event_thunk, &s);
  if (const auto st = s.instance->start(); st != DLHOST_OK) {
    throw PluginError("plugin " + s.plugin->path().string() +
                      ": start() failed: " + status_text(st));
  }
  s.progress->start([&s] { return s.sample(); }, [&s] { return s.plugin_json(false); });
  s.start_renewing();

  s.pump(source);
  s.wait_until_idle();
  if (s.interrupted) s.cancel_and_wait();

  s.progress->stop();  // idle now: the final frame, with the plugin's last stats
  s.stop_renewing();
  std::string stats_error;
  const std::string plugin_stats = s.instance->stats_json(stats_error);
  s.destroy_instance();
  s.drain_coordinator_work();
  s.publish_totals_and_flush();

  JobResult result;
  result.totals.plugin = s.plugin->id();
  result.totals.plugin_version = s.plugin->version();
  result.totals.elapsed_s = s.elapsed_seconds();
  result.totals.files = {s.total, s.completed, s.skipped, s.failed, s.deferred};
  result.totals.bytes = s.bytes_finished;
  result.totals.interrupted = s.interrupted;
  result.duplicates = s.duplicates;
  result.failures = std::move(s.failures);
  result.failures_not_kept = s.failures_not_kept;
  // stats() not existing is normal; only a failing one is worth reporting.
  if (!s.plugin->descriptor().stats) stats_error.clear();
  result.stats = build_stats_document(result.totals, plugin_stats, stats_error);
  if (const auto job_totals = s.shared_totals()) add_job_totals(result.stats, *job_totals);
  if (s.options.stats_json) {
    try {
      write_stats_file(*s.options.stats_json, result.stats);
    } catch (const std::exception &e) {
      result.stats_write_error = e.what();  // the files are fine; say so, don't fail
    }
  }

  result.coordination_error = s.coordination_failure;
  if (s.interrupted) {
    result.exit_code = kExitInterrupted;
  } else if (s.failed > 0 || s.deferred > 0 || s.coordination_lost) {
    result.exit_code = kExitSomeFailed;
  } else {
    result.exit_code = kExitOk;
  }
  return result;
}

std::string summary_line(const JobResult &r) {
  const auto &f = r.totals.files;
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f", r.totals.elapsed_s);
  std::string line = std::string(r.totals.interrupted ? "interrupted: " : "") +
                     std::to_string(f.total) + " files: " + std::to_string(f.completed) +
                     " completed, " + std::to_string(f.skipped) + " skipped, " +
                     std::to_string(f.failed) + " failed";
  if (f.deferred) line += ", " + std::to_string(f.deferred) + " deferred (skip cache)";
  if (r.duplicates) line += ", " + std::to_string(r.duplicates) + " duplicate lines ignored";
  line += "; " + format_bytes(static_cast<double>(r.totals.bytes)) + " in " + elapsed + " s";
  return line;
}

}  // namespace dlhost
