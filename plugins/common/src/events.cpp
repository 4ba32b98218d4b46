// EventEmitter and ProgressThrottle (see events.h).
#include "dlhost/transport/events.h"

namespace dlhost::transport {

dlhost_event EventEmitter::make(dlhost_event_type type, uint64_t task) {
  dlhost_event ev{};
  ev.struct_size = sizeof(dlhost_event);
  ev.type = type;
  ev.task_id = task;
  return ev;
}

void EventEmitter::emit(const dlhost_event &ev) const {
  if (fn_ == nullptr) return;
  if (!serialize_) return fn_(user_, &ev);
  std::lock_guard lock(mu_);
  fn_(user_, &ev);
}

void EventEmitter::started(uint64_t task, int32_t attempt, uint64_t done, uint64_t total,
                           const char *proxy_id) const {
  dlhost_event ev = make(DLHOST_EVENT_STARTED, task);
  ev.attempt = attempt;
  ev.bytes_done = done;
  ev.bytes_total = total;
  ev.proxy_id = proxy_id;
  emit(ev);
}

void EventEmitter::progress(uint64_t task, int32_t attempt, uint64_t done, uint64_t total,
                            const char *proxy_id) const {
  dlhost_event ev = make(DLHOST_EVENT_PROGRESS, task);
  ev.attempt = attempt;
  ev.bytes_done = done;
  ev.bytes_total = total;
  ev.proxy_id = proxy_id;
  emit(ev);
}

void EventEmitter::retrying(uint64_t task, int32_t attempt, dlhost_failure failure,
                            int32_t http_status, uint32_t delay_ms, const std::string &message,
                            const char *proxy_id) const {
  dlhost_event ev = make(DLHOST_EVENT_RETRYING, task);
  ev.attempt = attempt;
  ev.failure = failure;
  ev.http_status = http_status;
  ev.retry_delay_ms = delay_ms;
  ev.message = message.c_str();
  ev.proxy_id = proxy_id;
  emit(ev);
}

void EventEmitter::completed(uint64_t task, int32_t attempt, uint64_t bytes, int32_t http_status,
                             const char *proxy_id) const {
  dlhost_event ev = make(DLHOST_EVENT_COMPLETED, task);
  ev.attempt = attempt;
  ev.bytes_done = bytes;
  ev.bytes_total = bytes;
  ev.http_status = http_status;
  ev.proxy_id = proxy_id;
  emit(ev);
}

void EventEmitter::failed(uint64_t task, int32_t attempt, dlhost_failure failure,
                          int32_t http_status, uint64_t done, const std::string &message,
                          const char *proxy_id) const {
  dlhost_event ev = make(DLHOST_EVENT_FAILED, task);
  ev.attempt = attempt;
  ev.failure = failure;
  ev.http_status = http_status;
  ev.bytes_done = done;
  ev.message = message.c_str();
  ev.proxy_id = proxy_id;
  emit(ev);
}

void EventEmitter::cancelled(uint64_t task, int32_t attempt, uint64_t done,
                             const char *proxy_id) const {
  dlhost_event ev = make(DLHOST_EVENT_CANCELLED, task);
  ev.attempt = attempt;
  ev.bytes_done = done;
  ev.proxy_id = proxy_id;
  emit(ev);
}

void EventEmitter::log(dlhost_log_level level, uint64_t task, const std::string &message) const {
  dlhost_event ev = make(DLHOST_EVENT_LOG, task);
  ev.level = level;
  ev.message = message.c_str();
  emit(ev);
}

bool ProgressThrottle::should_emit(Clock::time_point now) {
  if (last_ != Clock::time_point::min() && now - last_ < interval_) return false;
  last_ = now;
  return true;
}

}  // namespace dlhost::transport
