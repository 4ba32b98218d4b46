// Building and delivering dlhost_event structs.
//
// EventEmitter holds the host's callback and user pointer and offers one
// method per event type, so struct_size, the type and the zeroed fields are
// always right. Message and proxy-id strings are borrowed from the caller
// and only need to live until the call returns, which is exactly the ABI's
// rule for the host. By default the emitter does no locking: the caller
// guarantees events of one instance come from one thread at a time (e.g. an
// event loop). With serialize=true a mutex makes several plugin threads
// deliver one event at a time, as the ABI requires.
// ProgressThrottle lets at most one PROGRESS event through per interval
// (100 ms by default, ~10/s) per task.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "dlhost/plugin.h"

namespace dlhost::transport {

class EventEmitter {
 public:
  EventEmitter(dlhost_event_fn fn, void *user, bool serialize = false)
      : fn_(fn), user_(user), serialize_(serialize) {}

  void started(uint64_t task, int32_t attempt, uint64_t done, uint64_t total,
               const char *proxy_id) const;
  void progress(uint64_t task, int32_t attempt, uint64_t done, uint64_t total,
                const char *proxy_id) const;
  void retrying(uint64_t task, int32_t attempt, dlhost_failure failure, int32_t http_status,
                uint32_t delay_ms, const std::string &message, const char *proxy_id) const;
  void completed(uint64_t task, int32_t attempt, uint64_t bytes, int32_t http_status,
                 const char *proxy_id) const;
  void failed(uint64_t task, int32_t attempt, dlhost_failure failure, int32_t http_status,
              uint64_t done, const std::string &message, const char *proxy_id) const;
  void cancelled(uint64_t task, int32_t attempt, uint64_t done, const char *proxy_id) const;
  void log(dlhost_log_level level, uint64_t task, const std::string &message) const;

  // A zeroed event of `type` for `task` with struct_size set.
  static dlhost_event make(dlhost_event_type type, uint64_t task);
  void emit(const dlhost_event &ev) const;

 private:
  dlhost_event_fn fn_;
  void *user_;
  bool serialize_;
  mutable std::mutex mu_;
};

class ProgressThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ProgressThrottle(std::chrono::milliseconds interval = std::chrono::milliseconds(100))
      : interval_(interval) {}

  // True at most once per interval; the first call after reset() is true.
  bool should_emit(Clock::time_point now = Clock::now());
  void reset() { last_ = Clock::time_point::min(); }

 private:
  std::chrono::milliseconds interval_;
  Clock::time_point last_ = Clock::time_point::min();
};

}  // namespace dlhost::transport
