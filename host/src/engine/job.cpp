// The job engine; see job.hpp for the design.
//
// Its state is one Job::State (job_state.hpp), whose work is split by
// concern: job_events.cpp handles what the plugin reports on its event
// thread, job_submit.cpp feeds the plugin from the work source, and
// job_coordination.cpp talks to the coordinator and runs the renew thread.
// This file holds the public Job methods and the end of a run: waiting until
// the plugin is idle and, after an interrupt, cancelling what still runs.
#include "job_state.hpp"

#include <cstdio>

#include "dlhost/host/coordination.hpp"
#include "dlhost/host/settings.hpp"
#include "dlhost/util/state_dir.h"

namespace fs = std::filesystem;

namespace dlhost {
namespace {

// <out>/.dlhost holds only what dlhost put there. A link, FIFO, device or
// directory where its state belongs is refused before anything runs (the
// temporary files are replaced instead: see util/state_dir.h).
void check_state_dir(const std::string &out_dir) {
  util::StateDir state(out_dir);
  const std::string problem =
      state.check({VerifiedFiles::kTable, VerifiedFiles::kJournal, VerifiedFiles::kLock,
                   VerifiedFiles::kKey, InProcessCoordinator::kSkipCache});
  if (!problem.empty()) throw ConfigError(problem);
}

}  // namespace

Counts Job::State::counts() const {
  Counts c;
  c.total = total;
  c.completed = completed;
  c.skipped = skipped;
  c.failed = failed;
  c.deferred = deferred;
  c.bytes = bytes_finished;
  c.bytes_in_flight = bytes_in_flight;
  return c;
}

ProgressSnapshot Job::State::sample() const {
  ProgressSnapshot s;
  s.counts = counts();
  s.elapsed_s = elapsed_seconds();
  s.waiting = waiting;
  if (s.waiting) {
    std::lock_guard lock(waiting_mutex);
    s.waiting_for = waiting_for;
  }
  return s;
}

double Job::State::elapsed_seconds() const {
  const SteadyClock::time_point started{SteadyClock::duration{started_ticks.load()}};
  return std::chrono::duration<double>(SteadyClock::now() - started).count();
}

bool Job::State::cancel_due() const {
  if (cancel_now) return true;
  return interrupted && SteadyClock::now().time_since_epoch().count() >= drain_deadline;
}

// The plugin's stats() or health() JSON from any thread; empty once the
// instance is gone.
std::string Job::State::plugin_json(bool health) {
  std::lock_guard lock(instance_mutex);
  if (!instance) return {};
  std::string error;
  return health ? instance->health_json(error) : instance->stats_json(error);
}

void Job::State::destroy_instance() {
  std::lock_guard lock(instance_mutex);
  instance.reset();  // destroy(): no callback runs after this
}

// After interrupt(): files the plugin holds but has not started are
// cancelled at once (no new file); started ones run on until the deadline.
void Job::State::cancel_not_started() {
  std::vector<std::uint64_t> ids;
  {
    std::lock_guard lock(mutex);
    for (const auto &[id, task] : in_flight) {
      if (!task.started) ids.push_back(id);
    }
  }
  for (const auto id : ids) instance->cancel(id);
}

void Job::State::wait_until_idle() {
  bool queue_cancelled = false;
  while (!cancel_due()) {
    if (interrupted && !queue_cancelled) {
      cancel_not_started();
      queue_cancelled = true;
    }
    if (wait_slice()) return;
  }
}

void Job::State::cancel_and_wait() {
  instance->cancel(DLHOST_TASK_ALL);
  const auto deadline = SteadyClock::now() + options.cancel_grace;
  while (SteadyClock::now() < deadline) {
    if (wait_slice()) break;
  }
}

// One wait() slice; true when idle. A broken wait() (it threw, or returned
// a status other than OK/TIMEOUT) must neither spin nor hang the job: the
// host's own count of tasks without a terminal event decides instead.
bool Job::State::wait_slice() {
  const auto status = instance->wait(kWaitSliceMs);
  if (status == DLHOST_OK) return true;
  if (status == DLHOST_E_TIMEOUT) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(kWaitSliceMs));
  std::lock_guard lock(mutex);
  return in_flight.empty();
}

Job::Job(JobOptions options, std::shared_ptr<LoadedPlugin> plugin,
         std::shared_ptr<Coordinator> coordinator)
    : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->plugin = std::move(plugin);
  state_->coordinator = std::move(coordinator);
  state_->progress = std::make_unique<Progress>(state_->options.progress, state_->options.verbose);
  state_->start_recording();
}

Job::~Job() {
  // On an exception out of run(), stop every thread that could touch the
  // state before its members are destroyed: destroy() guarantees no more
  // plugin callbacks.
  state_->stop_renewing();
  state_->stop_proxy_watch();
  state_->destroy_instance();
  state_->recorder->stop();  // after the plugin: nothing is handed over any more
}

void Job::interrupt() {
  interrupt(state_->options.interrupt_grace);
}

void Job::interrupt(std::chrono::milliseconds grace) {
  {
    // Set under the lock so a submitter between its predicate check and its
    // sleep cannot miss the wake-up.
    std::lock_guard lock(state_->mutex);
    if (!state_->interrupted) {
      const auto deadline = State::SteadyClock::now() + grace;
      state_->drain_deadline = deadline.time_since_epoch().count();
    }
    state_->interrupted = true;
  }
  state_->terminal_cv.notify_all();
}

bool Job::cancel(const std::string &path) {
  State &s = *state_;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(s.mutex);
    for (auto &[task_id, task] : s.in_flight) {
      if (task.key != path) continue;
      task.cancel_asked = true;
      id = task_id;
      break;
    }
  }
  if (id == 0) return false;
  std::lock_guard lock(s.instance_mutex);
  if (!s.instance) return false;
  s.instance->cancel(id);  // its CANCELLED (or its end, if it was faster) follows
  return true;
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
  totals.elapsed_s = s.elapsed_seconds();
  totals.counts = s.counts();
  totals.interrupted = s.interrupted;
  return build_stats_document(totals, s.plugin_json(false), "");
}

void Job::notice(std::string_view line) {
  state_->progress->message(line);
}

std::string Job::health_now() {
  return state_->plugin_json(true);
}

bool Job::wait_running(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->instance_mutex);
  return state_->instance_started_cv.wait_for(lock, timeout,
                                              [&] { return state_->instance_started; });
}

dlhost_status Job::set_proxies(const std::string &proxy_list_json, std::string &error) {
  std::lock_guard lock(state_->instance_mutex);
  if (!state_->instance) {
    error = "no job is running: proxies cannot change now";
    return DLHOST_E_UNSUPPORTED;
  }
  return state_->instance->set_proxies(proxy_list_json, error);
}

void Job::report_bad_line(std::uint64_t line, const std::string &message) {
  State &s = *state_;
  s.total++;
  s.failed++;
  s.recorder->add(Settled::report("line " + std::to_string(line) + ": " + message));
  s.progress->message("dlhost: " + State::one_line(message) + " (line skipped)");
  ManifestEntry unread;  // no path, URL or post: only where it was
  unread.line = line;
  s.publish_failure(unread, "manifest", util::echo(message));
}

JobResult Job::run(const ManifestSource &manifest) {
  // Pass 1: the whole manifest must be valid before any byte is fetched.
  ManifestWorkSource source(manifest, validate_manifest(manifest));
  return run(source);
}

JobResult Job::run(WorkSource &source) {
  State &s = *state_;
  s.started_ticks = State::SteadyClock::now().time_since_epoch().count();
  s.recorder->set_source(&source);
  // Added, not set: a streamed input's reader may have reported bad lines
  // (report_bad_line counts them in total) before run() began. Setting it
  // lost them, 1 run in ~10 under TSan (test_follow_keeps_the_batch_rules).
  s.total += source.known_total().value_or(0);

  std::error_code ec;
  const fs::path out_dir = fs::absolute(s.options.out_dir, ec);
  fs::create_directories(out_dir, ec);
  if (ec)
    throw ConfigError("DOWNLOAD_DIR: cannot create " + out_dir.string() + ": " + ec.message());
  check_state_dir(out_dir.string());
  s.local.emplace(out_dir.string(), s.options.follow_symlinks);

  auto instance = std::make_unique<PluginInstance>(s.plugin, s.options.plugin_config_json,
                                                   &State::on_event_thunk, &s);
  {
    // The status server's threads may be reading it already (plugin_json).
    std::lock_guard lock(s.instance_mutex);
    s.instance = std::move(instance);
  }
  if (const auto st = s.instance->start(); st != DLHOST_OK) {
    throw PluginError("plugin " + s.plugin->path().string() +
                      ": start() failed: " + status_text(st));
  }
  {
    std::lock_guard lock(s.instance_mutex);
    s.instance_started = true;
  }
  s.instance_started_cv.notify_all();
  s.progress->start([&s] { return s.sample(); }, [&s] { return s.plugin_json(false); });
  s.start_renewing();
  s.start_proxy_watch();

  s.pump(source);
  s.wait_until_idle();
  if (s.interrupted) s.cancel_and_wait();

  s.progress->stop();  // idle now: the final frame, with the plugin's last stats
  s.stop_renewing();
  s.stop_proxy_watch();
  std::string stats_error;
  const std::string plugin_stats = s.instance->stats_json(stats_error);
  s.destroy_instance();
  s.recorder->stop();  // the last drain: everything recorded, released, acknowledged
  s.remember_verified();
  s.local->close();

  JobResult result;
  result.totals.plugin = s.plugin->id();
  result.totals.plugin_version = s.plugin->version();
  result.totals.elapsed_s = s.elapsed_seconds();
  result.totals.counts = s.counts();
  result.totals.counts.cancelled = result.totals.counts.unsettled();
  result.totals.counts.bytes_in_flight = 0;  // what the cancelled received stays in .part
  result.totals.interrupted = s.interrupted;
  result.failures = s.recorder->take_failures();
  result.failures_not_kept = s.recorder->failures_not_kept();
  // stats() not existing is normal; only a failing one is worth reporting.
  if (!s.plugin->descriptor().stats) stats_error.clear();
  result.stats = build_stats_document(result.totals, plugin_stats, stats_error);
  if (const auto job_totals = s.shared_totals()) add_job_totals(result.stats, *job_totals);
  if (s.options.events) {
    result.events_dropped = s.options.events->dropped();
    auto &dropped = result.stats["events_dropped"] = nlohmann::ordered_json::object();
    for (const auto &[sink, n] : result.events_dropped) dropped[sink] = n;
  }
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
  result.duplicates = source.duplicates_skipped();
  s.publish_summary(result);
  return result;
}

std::string summary_line(const JobResult &r) {
  const auto &f = r.totals.counts;
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f", r.totals.elapsed_s);
  std::string line = std::string(r.totals.interrupted ? "interrupted: " : "") +
                     std::to_string(f.total) + " files: " + std::to_string(f.completed) +
                     " completed, " + std::to_string(f.skipped) + " skipped, " +
                     std::to_string(f.failed) + " failed";
  if (f.deferred) line += ", " + std::to_string(f.deferred) + " deferred (skip cache)";
  if (f.cancelled) line += ", " + std::to_string(f.cancelled) + " cancelled";
  if (r.duplicates) line += ", " + std::to_string(r.duplicates) + " duplicate lines ignored";
  line += "; " + format_bytes(static_cast<double>(f.bytes)) + " in " + elapsed + " s";
  return line;
}

}  // namespace dlhost
