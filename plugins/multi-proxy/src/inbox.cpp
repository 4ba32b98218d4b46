// Host-to-loop hand-over (see inbox.h).
#include "inbox.h"

#include <algorithm>
#include <chrono>

namespace dlhost::mp {

dlhost_status Inbox::submit(TaskSpec task, bool *wake, std::string *error) {
  std::lock_guard lock(mu_);
  if (batch_.stop) {
    *error = "the instance is shutting down";
    return DLHOST_E_STATE;
  }
  if (used_ >= capacity_) return DLHOST_E_AGAIN;
  if (!live_.insert(task.id).second) {
    *error = "task " + std::to_string(task.id) + ": id already in use";
    return DLHOST_E_INVALID_ARGUMENT;
  }
  ++used_;
  *wake = batch_.tasks.empty() && batch_.cancels.empty();
  batch_.tasks.push_back(std::move(task));
  return DLHOST_OK;
}

dlhost_status Inbox::cancel(uint64_t task_id) {
  std::lock_guard lock(mu_);
  if (task_id == DLHOST_TASK_ALL) {
    batch_.cancels.insert(batch_.cancels.end(), live_.begin(), live_.end());
    return DLHOST_OK;
  }
  if (!live_.count(task_id)) return DLHOST_E_NOT_FOUND;
  batch_.cancels.push_back(task_id);
  return DLHOST_OK;
}

void Inbox::request_stop() {
  std::lock_guard lock(mu_);
  batch_.stop = true;
  paths_cv_.notify_all();
}

Inbox::Batch Inbox::take() {
  std::lock_guard lock(mu_);
  Batch out;
  out.stop = batch_.stop;
  std::swap(out.tasks, batch_.tasks);
  std::swap(out.cancels, batch_.cancels);
  std::swap(out.paths, batch_.paths);
  out.paths_serial = batch_.paths_serial;
  return out;
}

uint64_t Inbox::set_paths(std::vector<transport::ProxySpec> paths) {
  std::lock_guard lock(mu_);
  batch_.paths = std::move(paths);
  batch_.paths_serial = ++paths_requested_;
  return paths_requested_;
}

void Inbox::paths_applied(uint64_t serial) {
  std::lock_guard lock(mu_);
  paths_applied_ = std::max(paths_applied_, serial);
  paths_cv_.notify_all();
}

void Inbox::wait_paths_applied(uint64_t serial) {
  std::unique_lock lock(mu_);
  paths_cv_.wait(lock, [&] { return paths_applied_ >= serial || batch_.stop; });
}

void Inbox::set_capacity(size_t capacity) {
  std::lock_guard lock(mu_);
  capacity_ = capacity;
}

void Inbox::releasing() {
  std::lock_guard lock(mu_);
  if (used_ > 0) --used_;
}

void Inbox::finished(uint64_t task_id) {
  std::lock_guard lock(mu_);
  live_.erase(task_id);
  if (live_.empty()) idle_.notify_all();
}

bool Inbox::wait_idle(int32_t timeout_ms) {
  std::unique_lock lock(mu_);
  auto idle = [&] { return live_.empty(); };
  if (timeout_ms < 0) {
    idle_.wait(lock, idle);
    return true;
  }
  return idle_.wait_for(lock, std::chrono::milliseconds(timeout_ms), idle);
}

size_t Inbox::live() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

}  // namespace dlhost::mp
