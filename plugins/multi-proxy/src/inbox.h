// The only state host threads and the event loop share.
//
// Host threads put tasks and cancel requests in; the loop takes everything
// out in one swap per iteration (the lock is held for a vector swap, never
// across I/O or a callback). The inbox also tracks every accepted task that
// has not had its terminal event yet: that set gives back-pressure (submit()
// says DLHOST_E_AGAIN when it reaches the capacity), answers cancel() with
// NOT_FOUND for finished tasks, and lets wait() sleep on a condition variable
// until it is empty.
//
// A new path list (set_proxies()) travels the same way: the host thread
// leaves it here with a serial number, the loop applies it at the start of
// its next turn (before it starts any file) and reports the serial back;
// the host thread waits for that report, so when set_proxies() returns no
// file can start on a path the new list left out. A list not yet taken is
// replaced by a newer one (the newest list wins; the older caller's wait
// ends with it).
#pragma once

#include <dlhost/plugin.h>
#include <dlhost/transport/proxy_list.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "scheduler.h"

namespace dlhost::mp {

class Inbox {
 public:
  explicit Inbox(size_t capacity) : capacity_(capacity) {}

  struct Batch {
    std::vector<TaskSpec> tasks;
    std::vector<uint64_t> cancels;
    std::optional<std::vector<transport::ProxySpec>> paths;  // a new path list
    uint64_t paths_serial = 0;                               // its serial
    bool stop = false;
  };

  // *wake: the loop should be woken (the inbox was empty before).
  dlhost_status submit(TaskSpec task, bool *wake, std::string *error);
  dlhost_status cancel(uint64_t task_id);  // DLHOST_TASK_ALL = every live task
  void request_stop();
  Batch take();

  // Leaves a new path list for the loop; returns its serial.
  uint64_t set_paths(std::vector<transport::ProxySpec> paths);
  // The loop applied the list of `serial` (and every older one).
  void paths_applied(uint64_t serial);
  // Until the list of `serial` is applied, or the instance stops.
  void wait_paths_applied(uint64_t serial);
  // Back-pressure follows the number of paths (see queue_capacity()).
  void set_capacity(size_t capacity);

  // The terminal event of `task_id` is about to be delivered: its queue slot
  // is free from now on, so a host that retries submit() from (or right after)
  // that event is not refused again.
  void releasing();
  // The terminal event of `task_id` has been delivered (the callback returned).
  void finished(uint64_t task_id);
  // True when no accepted task is left; false when timeout_ms ran out (-1 = forever).
  bool wait_idle(int32_t timeout_ms);
  size_t live() const;

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::condition_variable paths_cv_;
  uint64_t paths_requested_ = 0;
  uint64_t paths_applied_ = 0;
  std::unordered_set<uint64_t> live_;
  size_t used_ = 0;  // queue slots taken: live tasks whose terminal event has not begun
  Batch batch_;
};

}  // namespace dlhost::mp
