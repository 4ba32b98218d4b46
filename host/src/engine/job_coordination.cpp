// Talking to the coordinator; see job_state.hpp.
//
// Only the caller's thread and the renew thread call the coordinator, never
// the plugin's event thread: a coordinator may do network I/O. Work the
// events queue up (lease releases, completion records, skip marks,
// acknowledgements) is handed over in batches, outside our lock. The first
// CoordinationError stops new submissions for the rest of the run; running
// transfers finish and their leases simply expire.
//
// The renew thread wakes every third of the lease TTL (at least every
// 100 ms) and extends the leases of the files in flight and of those leased
// but not yet submitted.
#include "job_state.hpp"

#include <pthread.h>

#include <algorithm>

namespace dlhost {

// Hands queued lease releases, completions and skip marks to the
// coordinator in batches, outside our lock.
void Job::State::drain_coordinator_work() {
  std::vector<Lease> release;
  std::vector<std::string> complete;
  std::vector<SkipMark> skip;
  std::vector<std::string> ack;
  std::vector<std::pair<std::string, std::string>> verified;
  {
    std::lock_guard lock(mutex);
    release.swap(to_release);
    complete.swap(to_complete);
    skip.swap(to_skip);
    ack.swap(to_ack);
    verified.swap(to_remember);
  }
  // Local, not the coordinator's: the output directory's own memory of
  // checked files (this thread is the only one that uses `local`).
  for (const auto &[key, sha256] : verified) local->remember_verified(key, sha256);
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
void Job::State::publish_totals() {
  Counts now = counts();
  now.total = now.cancelled = now.bytes_in_flight = 0;  // this host's own view, not shared
  const Counts delta = now.since(published);
  if (delta == Counts{}) return;
  coordinator->add_totals(delta);
  published = now;
}

// From now on no new file is handed out; running transfers finish.
void Job::State::note_coordination_failure(const CoordinationError &e) {
  {
    std::lock_guard lock(mutex);
    if (coordination_failure.empty()) coordination_failure = e.what();
    coordination_lost = true;
  }
  terminal_cv.notify_all();
}

void Job::State::publish_totals_and_flush() {
  if (coordination_lost) return;
  try {
    publish_totals();
    coordinator->flush();
  } catch (const CoordinationError &e) {
    note_coordination_failure(e);
  }
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
