// One background thread that commits finished PartFiles.
//
// Committing a small file is most of its local cost: what is still buffered
// is hashed (a 64 KiB file is hashed only here, about 36 us) and written,
// then the size and sha256 are checked, the file is optionally fsynced and
// renamed. Done inline on an event loop, that work stops every other
// transfer from receiving meanwhile. Instead the loop fills in a CommitJob
// (the job belongs to the caller, usually one per transfer slot, so posting
// allocates nothing) and post()s it; this thread runs PartFile::commit() and
// puts the job on a done list. When the done list goes from empty to
// non-empty it calls `notify` once (the multi-proxy loop wakes its poll),
// so a burst of commits costs the loop one wake-up at most, and the loop
// collects every finished job with take_done(). A caller that is busy can
// skip the wake-up: if it checks has_done() after announcing that it is
// about to sleep, and `notify` reads that announcement, no result is missed
// (the list's mutex orders the two).
//
// A caller with nothing else to do (the loop about to sleep) can run the
// oldest queued job itself with run_one_here(min_queued) once at least
// min_queued jobs wait: when this thread is starved of CPU (2 cores shared
// with the server and other work), commits then do not pile up holding their
// transfer slots while the loop idles.
//
// Ownership: between post() and take_done() the job and its PartFile belong
// to the CommitWorker; the caller must not touch them. drain() waits until
// every posted job has run (the destructor drains too), so the caller can
// free its PartFiles afterwards. Jobs start in FIFO order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dlhost/transport/part_file.h"

namespace dlhost::transport {

struct CommitJob {
  // inputs
  PartFile *file = nullptr;
  int64_t expected_size = -1;
  std::string expected_sha256;
  void *owner = nullptr;  // the caller's, handed back untouched
  // outputs
  CommitResult result = CommitResult::kOk;
  std::string message;
};

class CommitWorker {
 public:
  explicit CommitWorker(std::function<void()> notify);
  ~CommitWorker();  // drains, then stops the thread
  CommitWorker(const CommitWorker &) = delete;
  CommitWorker &operator=(const CommitWorker &) = delete;

  // Queues jobs (one lock and at most one wake-up for the batch).
  void post(CommitJob *job) { post(&job, 1); }
  void post(CommitJob *const *jobs, size_t n);
  // Moves every finished job to `out` (appended); never blocks on a commit.
  void take_done(std::vector<CommitJob *> *out);
  // True when take_done() would return something.
  bool has_done();
  // Runs the oldest queued job on the calling thread (its result goes to the
  // done list, without `notify`) if at least `min_queued` (>= 1) wait; false
  // when it ran none.
  bool run_one_here(size_t min_queued = 1);
  // Blocks until every posted job has run (they stay on the done list).
  void drain();

 private:
  void run();
  CommitJob *take_locked();
  static void commit(CommitJob *job);
  bool finish_locked(CommitJob *job);

  std::function<void()> notify_;
  std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::deque<CommitJob *> queue_;
  std::vector<CommitJob *> done_;
  int running_ = 0;  // jobs taken from the queue, not yet on the done list
  bool worker_waiting_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dlhost::transport
