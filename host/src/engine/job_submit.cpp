// Feeding the plugin from the work source, on the caller's thread; see
// job_state.hpp. Feeding records nothing itself: a file it settles (already
// present, recorded complete, refused) goes to the Recorder like one the
// plugin settled.
//
// For each batch of entries, in order: skip files already complete on disk
// (their size and sha256 match; no request at all); then ask the coordinator,
// in one call, which files are done, which are in the skip cache and which
// another worker holds, taking leases on the rest; then create their parent
// directories and submit them. Leases are taken only for as many files as the
// outstanding window has room for. On DLHOST_E_AGAIN the submitter sleeps
// until enough files have finished for a burst of new submissions.
//
// Identity: a file is its destination path, as text. The job keeps no set of
// the paths it has seen (that would grow with the manifest):
//  - A manifest is validated first (manifest.hpp): a path given to two URLs
//    stops the job before it starts, and the lines repeating an earlier line
//    are left out by the work source. So here every path comes once.
//  - A stream (a Redis Stream in `dlhost work`; later `--follow`) has no
//    validating pass. A line whose path comes again is caught by the checks
//    every line goes through: if the first one is complete, the local check
//    finds the file (or the coordinator its completion record) and the line
//    is skipped; while the first is in flight, its lease (keyed by the path
//    text) is held, the line waits in held_elsewhere and is looked at again
//    later, through the local check first. A stream cannot tell a repeated
//    line from another URL for the same path: the first one wins.
#include "job_state.hpp"

#include <algorithm>
#include <iterator>

namespace fs = std::filesystem;

namespace dlhost {
namespace {

constexpr auto kAgainRecheck = std::chrono::seconds(1);

}  // namespace

// Feeds the plugin from the source; files other workers hold are looked at
// again now and then, and once more until settled when the source ends.
void Job::State::pump(WorkSource &work) {
  std::vector<ManifestEntry> batch;
  auto last_revisit = SteadyClock::now();
  try {
    while (!stopping()) {
      batch.clear();
      if (!work.next_batch(batch_size(), batch)) break;
      if (!work.known_total())  // duplicate lines are their first line's file
        total += static_cast<std::uint64_t>(std::count_if(
            batch.begin(), batch.end(), [](const ManifestEntry &e) { return !e.duplicate; }));
      process_batch(batch);
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

// Asked at every refill: the plugin's capacity changes with its proxies.
std::size_t Job::State::outstanding_window() const {
  return dlhost::outstanding_window(instance->running_capacity(), coordinator->shares_state());
}

std::size_t Job::State::batch_size() const {
  if (options.batch_size > 0) return options.batch_size;
  return std::max<std::size_t>(8, outstanding_window() / 4);
}

void Job::State::process_batch(std::vector<ManifestEntry> &batch) {
  skip_duplicates(batch);
  lease_and_submit(filter_local(batch));
  batch.clear();
}

// Lines repeating an earlier line (path and URL) are the earlier line's
// file: no count of their own, only their line's terminal event.
void Job::State::skip_duplicates(std::vector<ManifestEntry> &batch) {
  const auto first = std::remove_if(batch.begin(), batch.end(), [&](const ManifestEntry &entry) {
    if (!entry.duplicate) return false;
    settle(entry);  // acknowledged: a worker's stream entry is done with too
    publish_skip(entry, "duplicate", "the same path and URL as an earlier line");
    return true;
  });
  batch.erase(first, batch.end());
}

// Removes files already on disk; returns what still needs work.
std::vector<ManifestEntry> Job::State::filter_local(std::vector<ManifestEntry> &batch) {
  std::vector<ManifestEntry> rest;
  remember_verified();
  local->forget();  // directories may have been made since the last batch
  for (auto &entry : batch) {
    if (local->present(entry.path, entry.size, entry.sha256)) {
      // Recorded too when the records are shared: an earlier run may have
      // finished the file and lost its record (Redis refusing writes).
      if (coordinator->shares_state()) recorder->add(Settled::record_complete(entry.path));
      count_skip(entry, "present", "already present");
      continue;
    }
    rest.push_back(std::move(entry));
  }
  return rest;
}

// Asks the coordinator about completion and the skip cache and takes
// leases, in one call; returns the entries we may download, with their
// leases.
std::vector<std::pair<ManifestEntry, Lease>> Job::State::filter_coordinated(
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
        count_skip(batch[i], "recorded", "recorded complete (by this job, on any host)");
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

// Leases only as many files as the outstanding window has room for, so a
// host never sits on leases for files its plugin has merely queued: other
// hosts sharing the job take those instead.
void Job::State::lease_and_submit(std::vector<ManifestEntry> entries) {
  std::size_t next = 0;
  while (next < entries.size() && !stopping()) {
    const std::size_t room = wait_for_room();
    if (room == 0) break;  // stopping
    const std::size_t n = std::min(room, entries.size() - next);
    std::vector<ManifestEntry> chunk(std::make_move_iterator(entries.begin() + next),
                                     std::make_move_iterator(entries.begin() + next + n));
    next += n;
    submit_leased(filter_coordinated(std::move(chunk)));
  }
}

// Blocks until at least a quarter of the window is free (so leases are
// taken in batches, not one round trip per file); returns the free room.
std::size_t Job::State::wait_for_room() {
  const std::size_t window = outstanding_window();
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
  }
}

// Waits for the files other workers held: each ends recorded complete by
// them, or we take it over when their lease expires (a worker that died).
// The pause starts short (the other worker is usually about to finish
// the file) and doubles up to revisit_pause().
void Job::State::revisit_held_elsewhere() {
  auto pause = std::chrono::milliseconds(20);
  while (!held_elsewhere.empty() && !stopping()) {
    revisit_once();
    if (held_elsewhere.empty()) break;
    std::unique_lock lock(mutex);
    terminal_cv.wait_for(lock, pause, [&] { return stopping(); });
    pause = std::min(pause * 2, revisit_pause());
  }
}

// Through the local check again: the file may be complete on disk by now
// (the in-process coordinator keeps no completion records).
void Job::State::revisit_once() {
  std::vector<ManifestEntry> batch;
  batch.swap(held_elsewhere);
  process_batch(batch);
  note_waiting();
}

// Progress names the files this job waits for (and -v says so when their
// number changes, at most every few seconds): a lease that never expires
// would otherwise look like a job stuck with a rising ETA.
void Job::State::note_waiting() {
  constexpr std::size_t kNamed = 3;
  constexpr auto kSayEvery = std::chrono::seconds(5);
  {
    std::lock_guard lock(waiting_mutex);
    waiting_for.clear();
    for (std::size_t i = 0; i < std::min(kNamed, held_elsewhere.size()); ++i)
      waiting_for.push_back(held_elsewhere[i].path);
  }
  waiting = held_elsewhere.size();
  const auto now = SteadyClock::now();
  if (!options.verbose || waiting == waiting_said || waiting == 0 ||
      now - waiting_said_at < kSayEvery)
    return;
  waiting_said = waiting;
  waiting_said_at = now;
  progress->message(format_waiting(sample()));
}

std::chrono::milliseconds Job::State::revisit_pause() const {
  return std::clamp(options.lease_ttl / 4, std::chrono::milliseconds(50),
                    std::chrono::milliseconds(2000));
}

void Job::State::submit_leased(std::vector<std::pair<ManifestEntry, Lease>> work) {
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
      recorder->add(Settled::release(lease));
      continue;
    }
    const std::string dest = local->dest(entry.path);
    std::string error;
    if (!local->make_parent(dest, &error)) {
      fail_before_submit(entry, lease, "io", error);
      continue;
    }
    submit_with_backpressure(entry, lease, dest);
  }
}

void Job::State::submit_with_backpressure(const ManifestEntry &entry, const Lease &lease,
                                          const std::string &dest) {
  std::uint64_t id;
  {
    // Registered before submit(): the plugin may deliver events for the
    // task before submit() returns.
    std::lock_guard lock(mutex);
    id = ++next_id;
    Task &t = in_flight[id];
    t.key = entry.path;
    t.url = entry.url;
    t.sha256 = entry.sha256;
    t.lease = lease;
    t.receipt = entry.receipt;
    if (streaming()) {
      t.group = entry.group;
      t.line = entry.line;
      t.total = entry.size;
    }
  }
  dlhost_task task{};
  task.struct_size = sizeof task;
  task.id = id;
  task.url = entry.url.c_str();
  task.dest_path = dest.c_str();
  task.group = entry.group.c_str();
  task.sha256 = entry.sha256.empty() ? nullptr : entry.sha256.c_str();
  task.size = entry.size;
  task.proxy_id = entry.proxy.empty() ? nullptr : entry.proxy.c_str();
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
  }
}

// Back-pressure: the plugin's queue is full. Sleep until a quarter of the
// files in flight (at least one) have finished since `generation`, then
// refill in one burst: waking this thread for every finished file costs two
// context switches per file, a large share of a small file's time.
void Job::State::wait_for_terminal_event(std::uint64_t generation) {
  std::unique_lock lock(mutex);
  submitter_wake_at = generation + std::max<std::uint64_t>(1, in_flight.size() / 4);
  terminal_cv.wait_for(lock, kAgainRecheck,
                       [&] { return terminal_events >= submitter_wake_at || stopping(); });
  submitter_wake_at = UINT64_MAX;
}

// A task the plugin did not take: forget it and count it (unless we are
// stopping, when it simply stays undone).
void Job::State::withdraw(std::uint64_t id, const ManifestEntry &entry, const std::string &error) {
  Lease lease;
  {
    std::lock_guard lock(mutex);
    auto it = in_flight.find(id);
    if (it == in_flight.end()) return;
    lease = std::move(it->second.lease);
    in_flight.erase(it);
  }
  if (stopping()) {
    recorder->add(Settled::release(std::move(lease)));
    return;
  }
  fail_before_submit(entry, lease, "rejected", "rejected by the plugin: " + one_line(error));
}

void Job::State::fail_before_submit(const ManifestEntry &entry, const Lease &lease,
                                    const char *failure, const std::string &why) {
  failed++;
  Settled settled = Settled::release(lease);
  settled.receipt = entry.receipt;
  settled.failure = entry.path + ": " + why;
  recorder->add(std::move(settled));
  progress->file_finished(entry.path, "failed", why);
  publish_failure(entry, failure, why);
}

void Job::State::settle(const ManifestEntry &entry) {
  if (!entry.receipt.empty()) recorder->add(Settled::acknowledge(entry.receipt));
}

// The files the plugin verified as it wrote them, handed back by the
// Recorder: LocalFiles remembers them (the feeding thread is its only user).
void Job::State::remember_verified() {
  for (const auto &[key, sha256] : recorder->take_verified()) local->remember_verified(key, sha256);
}

void Job::State::count_skip(const ManifestEntry &entry, const char *reason,
                            const std::string &message) {
  settle(entry);
  skipped++;
  progress->file_finished(entry.path, "skipped", message);
  publish_skip(entry, reason, message);
}

void Job::State::count_deferred(const ManifestEntry &entry, const std::string &reason) {
  settle(entry);
  deferred++;
  const std::string message =
      "timed out in an earlier run, not retried before PROXY_SKIP_CACHE_TTL runs out: " + reason;
  progress->file_finished(entry.path, "deferred", message);
  publish_failure(entry, "deferred", message);
}

std::size_t outstanding_window(std::uint32_t running_capacity, bool shared) {
  const std::size_t capacity = std::max<std::uint32_t>(running_capacity, 1);
  if (shared) return std::max<std::size_t>(8, 4 * capacity);
  return std::max<std::size_t>(64, 2 * capacity);
}

}  // namespace dlhost
