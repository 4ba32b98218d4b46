// The legacy downloader's instance: the original behaviour, done right.
//
// One worker thread, one libcurl easy handle kept for the whole run (so its
// connection and DNS cache are reused), one file at a time. Tasks wait in a
// bounded FIFO (256); submit() answers DLHOST_E_AGAIN when it is full.
// Each file is fetched once: no retries, at most PROXY_MAX_REDIRECTS
// redirects, any non-2xx status fails it, PROXY_DOWNLOAD_TIMEOUT aborts it
// (FAILED with DLHOST_FAILURE_TIMEOUT). Bytes go to "<dest>.part", hashed on
// the way in, checked, then renamed. An existing .part is resumed with a
// Range request. Only the first PROXY_LIST entry is used (legacy had one
// connection); the rest are ignored with a LOG event.
//
// Threads: host calls take `mu_` briefly and never wait on I/O. Only the
// worker delivers events, so they are serialised. cancel() of the running
// file sets an atomic flag that the transfer's progress callback checks, so
// it stops within one callback tick. Queued tasks that are cancelled are
// moved to a list the worker drains, so their CANCELLED events also come from
// the worker. destroy() stops the worker and joins it; events are suppressed
// once stopping begins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "dlhost/plugin.h"
#include "dlhost/transport/abi_glue.h"
#include "dlhost/transport/easy_setup.h"
#include "dlhost/transport/events.h"
#include "dlhost/transport/failure.h"
#include "dlhost/transport/part_file.h"
#include "dlhost/transport/path_stats.h"
#include "dlhost/transport/transport_config.h"

namespace dlhost::legacy {

namespace tr = dlhost::transport;

class LegacyInstance {
 public:
  static constexpr size_t kQueueCapacity = 256;

  LegacyInstance(tr::TransportConfig cfg, dlhost_event_fn on_event, void *user);
  ~LegacyInstance();  // stops and joins the worker; no events afterwards
  LegacyInstance(const LegacyInstance &) = delete;
  LegacyInstance &operator=(const LegacyInstance &) = delete;

  // Sets up the easy handle; false with *error on failure.
  bool init(std::string *error);

  dlhost_status submit(tr::OwnedTask task);
  dlhost_status start();
  dlhost_status cancel(uint64_t task_id);
  dlhost_status wait(int32_t timeout_ms);
  nlohmann::json stats() const;
  nlohmann::json health() const;

 private:
  enum class Job { kNone, kTransfer, kCancelled };

  void run();
  Job next_job(tr::OwnedTask *task);
  void finish_job();
  void deliver_cancelled(const tr::OwnedTask &task);
  void transfer(const tr::OwnedTask &task);
  void conclude(const tr::OwnedTask &task, CURLcode rc);
  void complete(const tr::OwnedTask &task, long status);
  void fail(const tr::OwnedTask &task, dlhost_failure kind, long status, const std::string &msg);
  void record_latency();
  bool stopping() const;
  static void on_progress(void *self, uint64_t done, uint64_t total);

  tr::TransportConfig cfg_;
  tr::EventEmitter emitter_;
  std::string path_id_ = "direct";  // shown in events and stats
  bool via_proxy_ = false;

  // Worker-only state.
  tr::EasyHandle easy_;
  tr::PartFile file_;
  tr::TransferContext ctx_;
  tr::ProgressThrottle throttle_;
  uint64_t current_task_ = 0;

  // Shared state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<tr::OwnedTask> queue_;
  std::deque<tr::OwnedTask> cancelled_;
  size_t outstanding_ = 0;  // accepted, terminal event not yet delivered
  bool started_ = false;
  bool stopping_ = false;
  bool running_ = false;  // the worker is transferring running_id_
  uint64_t running_id_ = 0;
  std::atomic<bool> cancel_running_{false};
  std::thread worker_;

  // Stats, guarded by stats_mu_.
  mutable std::mutex stats_mu_;
  tr::PathStats stats_;
};

}  // namespace dlhost::legacy
