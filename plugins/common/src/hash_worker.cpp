// The shared hashing thread (see hash_worker.h).
#include "dlhost/transport/hash_worker.h"

#include <pthread.h>

namespace dlhost::transport {

HashWorker &HashWorker::shared() {
  static HashWorker worker;
  return worker;
}

HashWorker::HashWorker() : thread_([this] { run(); }) {}

HashWorker::~HashWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

void HashWorker::post(HashJob &job, Sha256 &sha, const char *data, size_t len) {
  job.sha_ = &sha;
  job.data_ = data;
  job.len_ = len;
  job.done_.store(false, std::memory_order_relaxed);
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    was_empty = queue_.empty();
    queue_.push_back(&job);
  }
  if (was_empty) work_cv_.notify_one();
}

void HashWorker::wait(HashJob &job) {
  if (job.done()) return;
  std::unique_lock lock(mu_);
  ++waiters_;
  done_cv_.wait(lock, [&] { return job.done(); });
  --waiters_;
}

void HashWorker::run() {
  pthread_setname_np(pthread_self(), "dlhost-hash");  // top -H, perf
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to hash
    HashJob *job = queue_.front();
    lock.unlock();
    job->sha_->update(job->data_, job->len_);
    lock.lock();
    queue_.pop_front();
    job->done_.store(true, std::memory_order_release);
    if (waiters_ > 0) done_cv_.notify_all();
  }
}

}  // namespace dlhost::transport
