// The commit thread (see commit_worker.h). The queue is taken in one swap per
// round, so posting a burst and running it each take the lock once; vectors
// swap back and forth and keep their capacity, so the steady state allocates
// nothing.
#include "dlhost/transport/commit_worker.h"

namespace dlhost::transport {

CommitWorker::CommitWorker(std::function<void()> notify)
    : notify_(std::move(notify)), thread_([this] { run(); }) {}

CommitWorker::~CommitWorker() {
  drain();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

void CommitWorker::post(CommitJob *const *jobs, size_t n) {
  if (n == 0) return;
  bool wake;
  {
    std::lock_guard lock(mu_);
    wake = queue_.empty() && !busy_;
    queue_.insert(queue_.end(), jobs, jobs + n);
  }
  if (wake) work_cv_.notify_one();
}

void CommitWorker::take_done(std::vector<CommitJob *> *out) {
  std::lock_guard lock(mu_);
  out->insert(out->end(), done_.begin(), done_.end());
  done_.clear();
}

bool CommitWorker::has_done() {
  std::lock_guard lock(mu_);
  return !done_.empty();
}

void CommitWorker::drain() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void CommitWorker::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    running_.swap(queue_);
    busy_ = true;
    lock.unlock();
    for (CommitJob *job : running_) {
      job->result = job->file->commit(job->expected_size, job->expected_sha256, &job->message);
      lock.lock();
      const bool first = done_.empty();
      done_.push_back(job);
      lock.unlock();
      if (first && notify_) notify_();
    }
    lock.lock();
    running_.clear();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace dlhost::transport
