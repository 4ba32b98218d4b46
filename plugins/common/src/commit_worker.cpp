// The commit thread (see commit_worker.h). Jobs are taken one at a time from
// the front of the queue, by the worker or by a caller that would otherwise
// sleep (run_one_here()); the done list is swapped out in one go by
// take_done(). Vectors and the deque keep their capacity, so the steady state
// allocates next to nothing.
#include "dlhost/transport/commit_worker.h"

#include <algorithm>

#include <pthread.h>

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
    wake = worker_waiting_;
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
  idle_cv_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
}

bool CommitWorker::run_one_here(size_t min_queued) {
  std::unique_lock lock(mu_);
  if (queue_.size() < std::max<size_t>(min_queued, 1)) return false;
  CommitJob *job = take_locked();
  if (job == nullptr) return false;
  lock.unlock();
  commit(job);
  lock.lock();
  finish_locked(job);  // the caller looks at the done list itself: no notify
  return true;
}

CommitJob *CommitWorker::take_locked() {
  if (queue_.empty()) return nullptr;
  CommitJob *job = queue_.front();
  queue_.pop_front();
  ++running_;
  return job;
}

void CommitWorker::commit(CommitJob *job) {
  job->result = job->file->commit(job->expected_size, job->expected_sha256, &job->message);
}

// Returns true when the done list was empty before (the caller should notify).
bool CommitWorker::finish_locked(CommitJob *job) {
  const bool first = done_.empty();
  done_.push_back(job);
  --running_;
  if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
  return first;
}

void CommitWorker::run() {
  pthread_setname_np(pthread_self(), "dlhost-commit");  // top -H, perf
  std::unique_lock lock(mu_);
  for (;;) {
    worker_waiting_ = true;
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    worker_waiting_ = false;
    CommitJob *job = take_locked();
    if (job == nullptr) return;  // stopping, and nothing left
    lock.unlock();
    commit(job);
    lock.lock();
    if (finish_locked(job) && notify_) {
      lock.unlock();
      notify_();
      lock.lock();
    }
  }
}

}  // namespace dlhost::transport
