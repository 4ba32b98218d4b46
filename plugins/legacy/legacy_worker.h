// The legacy downloader's instance: the original behaviour, done right.
//
// One connection: a single libcurl easy handle kept for the whole run (its
// connection and DNS cache are reused) fetches one file at a time. Tasks wait
// in a bounded FIFO (256); submit() answers DLHOST_E_AGAIN when it is full.
// Each file is fetched once: no retries, at most PROXY_MAX_REDIRECTS
// redirects, any non-2xx status fails it, PROXY_DOWNLOAD_TIMEOUT aborts it
// (FAILED with DLHOST_FAILURE_TIMEOUT). A proxy that rejects its credentials
// (common's classify(): a 407, a 401 that the proxy gave) fails the file with
// DLHOST_FAILURE_PROXY_AUTH, worded as in multi-proxy, with no password shown.
// Bytes go to "<dest>.part" beneath the output directory (common's
// PartFile: no link is followed), are hashed once on their way to disk,
// checked, then renamed. An existing .part with a validator is resumed with
// Range + If-Range; one that is already the whole file (verified) is
// committed without a request. Requests are common's Request: redirects are
// followed by hand (no DOWNLOAD_HEADERS to another origin), and a malformed
// answer on a reused connection is asked again once on a fresh one, so
// "one attempt" means one attempt at the file, not one HTTP exchange. A
// block page (common's is_block_page()) fails the file. Only the
// first PROXY_LIST entry is used (legacy had one connection); the rest are
// ignored with a LOG event.
//
// Two plugin threads form a two-stage pipeline:
//  - the worker downloads file N into one of two PartFiles;
//  - the finisher commits file N-1 from the other one (hash what is still
//    buffered, write, verify, rename) and delivers its terminal event.
// So hashing and disk writes of small files overlap the next download. The
// worker hands a file over only when the finisher is idle, so at most one
// file waits for its commit. Events from both threads go through one
// serialising EventEmitter, so the host never sees two callbacks at once.
//
// Host calls take `mu_` briefly and never wait on I/O. cancel() of the
// running file sets an atomic flag and wakes the transfer's poll
// (WakeablePerform), so it stops at once; cancelled queued tasks are moved to
// a list the worker drains, so their CANCELLED events also come from a plugin
// thread. A file already handed to the finisher has all its bytes and is
// treated as finished. destroy() stops and joins both threads; events are
// suppressed once stopping begins, and an uncommitted .part is kept.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "dlhost/plugin.h"
#include "dlhost/transport/abi_glue.h"
#include "dlhost/util/beneath.h"
#include "dlhost/transport/easy_setup.h"
#include "dlhost/transport/events.h"
#include "dlhost/transport/failure.h"
#include "dlhost/transport/part_file.h"
#include "dlhost/transport/path_stats.h"
#include "dlhost/transport/request.h"
#include "dlhost/transport/transport_config.h"
#include "wakeable_perform.h"

namespace dlhost::legacy {

namespace tr = dlhost::transport;

class LegacyInstance {
 public:
  static constexpr size_t kQueueCapacity = 256;

  LegacyInstance(tr::TransportConfig cfg, dlhost_event_fn on_event, void *user);
  ~LegacyInstance();  // stops and joins the threads; no events afterwards
  LegacyInstance(const LegacyInstance &) = delete;
  LegacyInstance &operator=(const LegacyInstance &) = delete;

  // Sets up the easy handle; false with *error on failure.
  bool init(std::string *error);

  dlhost_status submit(tr::OwnedTask task);
  // Its one path's id ("direct" or the first proxy's); fixed once init() ran.
  const std::string &path_id() const { return path_id_; }
  dlhost_status start();
  dlhost_status cancel(uint64_t task_id);
  dlhost_status wait(int32_t timeout_ms);
  nlohmann::json stats() const;
  nlohmann::json health() const;

 private:
  enum class Job { kNone, kTransfer, kCancelled };

  // A downloaded file waiting for its commit on the finisher thread.
  struct Handoff {
    tr::OwnedTask task;
    tr::PartFile *file = nullptr;
    long status = 0;
    bool html = false;  // came as HTML for a file URL: a wrong sha256 means a block page
  };

  // worker thread
  void run();
  Job next_job(tr::OwnedTask *task);
  void finish_job(bool handed_off);
  bool transfer(const tr::OwnedTask &task);
  CURLcode perform_hops();
  bool conclude(const tr::OwnedTask &task, CURLcode rc);
  void hand_off(const tr::OwnedTask &task, long status, bool html);
  void record_latency();
  static void on_progress(void *self, uint64_t done, uint64_t total);

  // finisher thread
  void run_finisher();
  void commit(Handoff &h);

  // either plugin thread
  void fail(const tr::OwnedTask &task, tr::PartFile &file, dlhost_failure kind, long status,
            const std::string &msg);
  bool stopping() const;

  tr::TransportConfig cfg_;
  tr::EventEmitter emitter_;        // serialising: two threads emit
  std::string path_id_ = "direct";  // shown in events and stats
  bool via_proxy_ = false;

  dlhost::util::OutputRoot root_;  // DOWNLOAD_DIR; both PartFiles open beneath it

  // Worker-only state.
  tr::EasyHandle easy_;
  tr::Request request_;
  WakeablePerform performer_;  // cancel() wakes it
  tr::PartFile files_[2];      // one downloading, one being committed
  int slot_ = 0;               // files_[slot_] is the worker's
  tr::TransferContext ctx_;
  tr::ProgressThrottle throttle_;
  uint64_t current_task_ = 0;

  // Shared state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable work_cv_;    // worker: new work, cancels, stop
  std::condition_variable idle_cv_;    // wait(): outstanding_ reached 0
  std::condition_variable finish_cv_;  // finisher <-> worker handoff
  std::deque<tr::OwnedTask> queue_;
  std::deque<tr::OwnedTask> cancelled_;
  std::optional<Handoff> handoff_;  // waiting for the finisher
  bool finishing_ = false;          // the finisher is committing a file
  size_t outstanding_ = 0;          // accepted, terminal event not yet delivered
  bool started_ = false;
  bool stopping_ = false;
  bool running_ = false;  // the worker is transferring running_id_
  uint64_t running_id_ = 0;
  std::atomic<bool> cancel_running_{false};
  std::thread worker_;
  std::thread finisher_;

  // Stats, guarded by stats_mu_.
  mutable std::mutex stats_mu_;
  tr::PathStats stats_;
};

}  // namespace dlhost::legacy
