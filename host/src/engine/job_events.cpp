// What the plugin reports, on its event thread; see job_state.hpp.
//
// An event callback must return quickly, and a coordinator may do network
// I/O: so an event only updates counters and the task's entry in `in_flight`,
// and queues the coordinator work it causes (lease release, completion
// record, skip mark, acknowledgement) for the caller's thread to hand over in
// batches. A terminal event wakes the submitter only once enough files have
// finished for a burst of new submissions.
#include "job_state.hpp"

#include <algorithm>
#include <cstring>

namespace dlhost {
namespace {

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

}  // namespace

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

void Job::State::on_update(const dlhost_event &e) {
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

void Job::State::on_terminal(const dlhost_event &e) {
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

void Job::State::on_log(const dlhost_event &e) {
  if (!e.message || (e.level < DLHOST_LOG_WARN && !options.verbose)) return;
  progress->message("plugin: " + one_line(e.message));
}

void Job::State::update_bytes_locked(Task &task, std::uint64_t bytes_done) {
  if (bytes_done == task.bytes_done) return;
  bytes_in_flight += bytes_done - task.bytes_done;  // wraps correctly if it shrinks
  task.bytes_done = bytes_done;
}

void Job::State::on_completed_locked(Task &task, const dlhost_event &e) {
  settle_locked(task.receipt);
  completed++;
  bytes_finished += e.bytes_done ? e.bytes_done : e.bytes_total;
  to_complete.push_back(task.key);
  if (!task.sha256.empty()) to_remember.emplace_back(task.key, task.sha256);
}

std::string Job::State::on_failed_locked(Task &task, const dlhost_event &e) {
  settle_locked(task.receipt);
  failed++;
  std::string message = e.message && *e.message ? one_line(e.message) : failure_text(e.failure);
  if (e.failure == DLHOST_FAILURE_TIMEOUT) to_skip.push_back({task.url, message});
  remember_failure_locked(task.key, message);
  return message;
}

void Job::State::on_cancelled_locked(Task &task) {
  // A cancel we did not ask for leaves the file undone: count it as failed.
  if (interrupted) return;
  settle_locked(task.receipt);
  failed++;
  remember_failure_locked(task.key, "cancelled by the plugin");
}

void Job::State::settle_locked(const std::string &receipt) {
  if (!receipt.empty()) to_ack.push_back(receipt);
}

void Job::State::remember_failure_locked(const std::string &key, const std::string &message) {
  if (failures.size() < options.max_failure_messages) {
    failures.push_back(key + ": " + message);
  } else {
    ++failures_not_kept;
  }
}

void Job::State::finish_locked(std::unordered_map<std::uint64_t, Task>::iterator it) {
  bytes_in_flight -= it->second.bytes_done;
  to_release.push_back(std::move(it->second.lease));
  in_flight.erase(it);
  ++terminal_events;
}

}  // namespace dlhost
