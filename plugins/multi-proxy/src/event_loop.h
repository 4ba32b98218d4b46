// The one thread that moves every byte.
//
// One std::thread runs one libcurl multi handle. Each turn it
//   1. takes what host threads left in the Inbox (new tasks, cancels, stop),
//   2. asks the Scheduler what may start and adds those transfers,
//   3. lets libcurl do the I/O that is ready (curl_multi_perform),
//   4. settles every finished transfer (verdict, events, stats), refilling
//      the freed slots at once,
//   5. sleeps in curl_multi_poll until a socket is ready, libcurl's own timer
//      fires, the scheduler's next deadline (a retry falling due, a cooldown
//      or rate brake ending) comes, or a host thread calls curl_multi_wakeup.
// So there is no thread per connection and no fixed poll interval: the loop
// sleeps exactly until something can happen. Events are delivered from this
// thread only, one at a time. Cancelling removes the handle from the multi
// handle (the transfer stops at once, the .part stays). Destroying stops the
// thread first, then frees handles, so no callback can follow.
#pragma once

#include <curl/curl.h>
#include <dlhost/transport/events.h>
#include <dlhost/transport/transport_config.h>

#include <memory>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "inbox.h"
#include "scheduler.h"
#include "stats.h"
#include "transfer.h"

namespace dlhost::mp {

class EventLoop {
 public:
  EventLoop(transport::TransportConfig cfg, std::vector<transport::ProxySpec> paths,
            SchedulerConfig scfg, dlhost_event_fn on_event, void *user);
  ~EventLoop();  // stops and joins; no callback afterwards
  EventLoop(const EventLoop &) = delete;
  EventLoop &operator=(const EventLoop &) = delete;

  dlhost_status submit(TaskSpec task, std::string *error);
  dlhost_status start();
  dlhost_status cancel(uint64_t task_id);
  dlhost_status wait(int32_t timeout_ms) {
    return inbox_.wait_idle(timeout_ms) ? DLHOST_OK : DLHOST_E_TIMEOUT;
  }
  nlohmann::json stats_json() const;
  nlohmann::json health_json() const { return stats_.health_json(Clock::now()); }

 private:
  void run();
  bool take_requests();
  void dispatch();
  void launch(const Dispatch &d, TimePoint now);
  void harvest();
  void settle(std::unique_ptr<Transfer> t, const AttemptResult &r);
  void deliver(uint64_t id, const Verdict &v, Transfer &t, int status);
  void log_health_change(size_t path, HealthState before, bool died);
  void fail_doomed();
  void cancel_task(uint64_t id);
  void finish_task(uint64_t id);
  int poll_timeout_ms() const;
  void drop_all();

  transport::TransportConfig cfg_;
  std::vector<transport::ProxySpec> paths_;
  transport::EventEmitter emit_;
  Inbox inbox_;
  Stats stats_;
  std::mt19937_64 rng_;
  Scheduler sched_;
  TransferPool pool_;
  CURLM *multi_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> running_;
  std::thread thread_;
  bool started_ = false;
};

// Queue capacity for back-pressure: a few times the concurrency, so the
// scheduler always has work to pick from, bounded however long the manifest.
size_t queue_capacity(const SchedulerConfig &cfg, size_t paths);

}  // namespace dlhost::mp
