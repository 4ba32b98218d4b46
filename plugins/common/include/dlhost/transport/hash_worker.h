// One background thread that runs SHA-256 updates for PartFiles.
//
// A large download fills PartFile's buffer again and again; hashing each full
// buffer on the transfer thread (2 GB/s with SHA instructions) put the hash
// in series with receiving and writing. PartFile instead posts the full
// buffer here and writes it meanwhile; the hash runs on another core. One
// thread per process, started on first use (a job with only small files never
// starts it); jobs run in FIFO order, so one file's updates keep their order.
// A HashJob belongs to its PartFile, which waits for it before it touches the
// buffer or the Sha256 again. Small files never come here: handing over a
// 64 KiB buffer would cost more than hashing it in place.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

#include "dlhost/transport/sha256.h"

namespace dlhost::transport {

class HashJob {
 public:
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  friend class HashWorker;
  Sha256 *sha_ = nullptr;
  const char *data_ = nullptr;
  size_t len_ = 0;
  std::atomic<bool> done_{true};
};

class HashWorker {
 public:
  static HashWorker &shared();

  // Queues sha.update(data, len). `job` must be done(); data must stay valid
  // and unchanged until wait(job) returns.
  void post(HashJob &job, Sha256 &sha, const char *data, size_t len);
  // Returns once `job` has run (at once when it is done()).
  void wait(HashJob &job);

 private:
  HashWorker();
  ~HashWorker();
  void run();

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<HashJob *> queue_;
  int waiters_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dlhost::transport
