// What the plugin reports, on its event thread; see job_state.hpp.
//
// An event callback must return quickly, and a coordinator may do network
// I/O: so an event only updates counters and the task's entry in `in_flight`,
// and hands what a settled file leaves to record (completion record, skip
// mark, lease release, acknowledgement, failure message) to the Recorder,
// whose own thread does it in batches. A terminal event wakes the submitter
// only once enough files have finished for a burst of new submissions.
#include "job_state.hpp"

#include <algorithm>
#include <cstring>

namespace dlhost {
namespace {

// The plugin's failure codes: the event stream's class and the human text.
struct FailureName {
  dlhost_failure code;
  const char *event_class, *text;
};
constexpr FailureName kFailureNames[] = {
    {DLHOST_FAILURE_HTTP, "http", "HTTP error"},
    {DLHOST_FAILURE_TIMEOUT, "timeout", "timed out"},
    {DLHOST_FAILURE_TRANSPORT, "transport", "transport error"},
    {DLHOST_FAILURE_VERIFY, "verify", "verification failed"},
    {DLHOST_FAILURE_IO, "io", "I/O error"},
    {DLHOST_FAILURE_PROXY, "proxy", "proxy error"},
    {DLHOST_FAILURE_PROXY_AUTH, "proxy_auth", "proxy authentication failed"},
};
constexpr FailureName kOtherFailure{DLHOST_FAILURE_OTHER, "other", "failed"};

const FailureName &failure_name(dlhost_failure failure) {
  for (const auto &name : kFailureNames) {
    if (name.code == failure) return name;
  }
  return kOtherFailure;
}

const char *failure_text(dlhost_failure failure) {
  return failure_name(failure).text;
}

}  // namespace

const char *failure_class(dlhost_failure failure) {
  return failure_name(failure).event_class;
}

void Job::State::on_event_thunk(void *user, const dlhost_event *event) noexcept {
  if (!event) return;
  try {
    dlhost_event e{};
    std::memcpy(&e, event, std::min<std::size_t>(event->struct_size, sizeof e));
    static_cast<State *>(user)->on_event(e);
  } catch (...) {
    // An event we cannot handle must not unwind into the plugin.
  }
}

void Job::State::on_event(const dlhost_event &e) {
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

// The stream's name for an update the plugin reported, or nullopt for one
// it does not carry (a PROGRESS sooner than kProgressInterval after the last).
std::optional<EventType> Job::State::update_event_type(Task &task, const dlhost_event &e) {
  switch (e.type) {
    case DLHOST_EVENT_STARTED:
      task.last_progress = SteadyClock::now();
      return EventType::kFileStarted;
    case DLHOST_EVENT_RETRYING:
      return EventType::kFileRetrying;
    case DLHOST_EVENT_PROGRESS:
      if (progress_due(task.last_progress, SteadyClock::now())) return EventType::kFileProgress;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

void Job::State::on_update(const dlhost_event &e) {
  std::string key;
  std::optional<JobEvent> event;
  {
    std::lock_guard lock(mutex);
    auto it = in_flight.find(e.task_id);
    if (it == in_flight.end()) return;
    update_bytes_locked(it->second, e.bytes_done);
    it->second.started = true;
    if (e.type == DLHOST_EVENT_RETRYING && options.verbose) key = it->second.key;
    if (streaming()) {
      if (const auto type = update_event_type(it->second, e))
        event = task_event_locked(*type, it->second, e);
    }
  }
  if (event) publish(std::move(*event));
  if (key.empty()) return;
  progress->file_finished(key, "retrying",
                          e.message ? one_line(e.message) : failure_text(e.failure));
}

void Job::State::on_terminal(const dlhost_event &e) {
  std::string key, outcome, detail;
  bool wake = false;
  std::optional<JobEvent> event;
  Settled settled;
  {
    std::lock_guard lock(mutex);
    auto it = in_flight.find(e.task_id);
    if (it == in_flight.end()) return;  // not ours, or already terminal
    Task &task = it->second;
    update_bytes_locked(task, e.bytes_done);
    if (e.type == DLHOST_EVENT_COMPLETED) {
      outcome = "completed";
      on_completed_locked(task, e, settled);
    } else if (e.type == DLHOST_EVENT_FAILED) {
      outcome = "failed";
      detail = on_failed_locked(task, e, settled);
    } else {
      outcome = "cancelled";
      on_cancelled_locked(task, settled);
    }
    if (streaming()) event = terminal_event_locked(task, e);
    key = task.key;
    finish_locked(it, settled);
    wake = terminal_events >= submitter_wake_at;
  }
  recorder->add(std::move(settled));
  if (wake) terminal_cv.notify_all();
  if (event) publish(std::move(*event));
  progress->file_finished(key, outcome, detail);
}

// A cancelled file ends as file.failed with failure "cancelled": undone
// either way, interrupted or not, so a reader sees the line end.
JobEvent Job::State::terminal_event_locked(Task &task, const dlhost_event &e) {
  if (e.type == DLHOST_EVENT_COMPLETED)
    return task_event_locked(EventType::kFileCompleted, task, e);
  auto ev = task_event_locked(EventType::kFileFailed, task, e);
  if (e.type == DLHOST_EVENT_CANCELLED) {
    ev.failure = "cancelled";
    ev.message = interrupted         ? "interrupted: left for a later run (its .part is kept)"
                 : task.cancel_asked ? "cancelled on request (its .part is kept)"
                                     : "cancelled by the plugin";
  } else if (ev.message.empty()) {
    ev.message = failure_text(e.failure);
  }
  return ev;
}

void Job::State::on_log(const dlhost_event &e) {
  if (!e.message || (e.level < DLHOST_LOG_WARN && !options.verbose)) return;
  progress->message("plugin: " + one_line(e.message));
}

void Job::State::update_bytes_locked(Task &task, std::uint64_t bytes_done) {
  if (bytes_done == task.bytes_done) return;
  bytes_in_flight += bytes_done - task.bytes_done;  // wraps correctly if it shrinks
  task.bytes_done = bytes_done;
}

void Job::State::on_completed_locked(Task &task, const dlhost_event &e, Settled &out) {
  completed++;
  bytes_finished += e.bytes_done ? e.bytes_done : e.bytes_total;
  out.completed_key = task.key;
  out.verified_sha256 = task.sha256;
  out.receipt = task.receipt;
}

std::string Job::State::on_failed_locked(Task &task, const dlhost_event &e, Settled &out) {
  failed++;
  std::string message = e.message && *e.message ? one_line(e.message) : failure_text(e.failure);
  if (e.failure == DLHOST_FAILURE_TIMEOUT) out.skip = SkipMark{task.url, message};
  out.receipt = task.receipt;
  out.failure = task.key + ": " + message;
  return message;
}

void Job::State::on_cancelled_locked(Task &task, Settled &out) {
  // A cancel we did not ask for leaves the file undone: count it as failed.
  // One asked for leaves it undone on purpose: counted as cancelled
  // (unsettled), its entry not acknowledged (it stays for a later run).
  if (interrupted || task.cancel_asked) return;
  failed++;
  out.receipt = task.receipt;
  out.failure = task.key + ": cancelled by the plugin";
}

void Job::State::finish_locked(std::unordered_map<std::uint64_t, Task>::iterator it, Settled &out) {
  bytes_in_flight -= it->second.bytes_done;
  out.lease = std::move(it->second.lease);
  in_flight.erase(it);
  ++terminal_events;
}

}  // namespace dlhost
