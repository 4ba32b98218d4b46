// Coordination outside feeding and recording; see job_state.hpp.
//
// The coordinator is called by feeding (claims), the Recorder (apply) and the
// renew thread, never by the plugin's event thread: a coordinator may do
// network I/O. The first CoordinationError, from any of them, stops new
// submissions for the rest of the run; running transfers finish and their
// leases simply expire.
//
// The renew thread wakes every third of the lease TTL (at least every
// 100 ms) and extends the leases of the files in flight and of those leased
// but not yet submitted.
#include "job_state.hpp"

#include <pthread.h>

#include <algorithm>

namespace dlhost {

// From now on no new file is handed out; running transfers finish.
void Job::State::note_coordination_failure(const CoordinationError &e) {
  {
    std::lock_guard lock(mutex);
    if (coordination_failure.empty()) coordination_failure = e.what();
    coordination_lost = true;
  }
  terminal_cv.notify_all();
}

// Recording runs from the Job's construction (a --follow reader may report
// bad lines before run()) to the end of run().
void Job::State::start_recording() {
  Recorder::Options o;
  o.skip_ttl = options.skip_cache_ttl;
  o.max_failure_messages = options.max_failure_messages;
  recorder = std::make_unique<Recorder>(
      *coordinator, o,
      Recorder::Hooks{[this] { return counts(); },
                      [this](const CoordinationError &e) { note_coordination_failure(e); },
                      [this] { return coordination_lost.load(); }});
}

// The whole job's counters, when the coordinator shares them (Redis).
std::optional<Counts> Job::State::shared_totals() {
  if (coordination_lost) return std::nullopt;
  try {
    return coordinator->totals();
  } catch (const CoordinationError &e) {
    note_coordination_failure(e);
    return std::nullopt;
  }
}

void Job::State::renew_loop() {
  pthread_setname_np(pthread_self(), "dlhost-leases");  // top -H, perf
  const auto period = std::max(options.lease_ttl / 3, std::chrono::milliseconds(100));
  std::unique_lock lock(renew_mutex);
  while (!renew_cv.wait_for(lock, period, [this] { return renew_stop; })) {
    lock.unlock();
    renew_running_leases();
    lock.lock();
  }
}

void Job::State::renew_running_leases() {
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

void Job::State::start_renewing() {
  renew_thread = std::thread([this] { renew_loop(); });
}

void Job::State::stop_renewing() {
  {
    std::lock_guard lock(renew_mutex);
    renew_stop = true;
  }
  renew_cv.notify_all();
  if (renew_thread.joinable()) renew_thread.join();
}

}  // namespace dlhost
