// Recording on its own thread; see recorder.hpp.
#include "recorder.hpp"

#include <pthread.h>

namespace dlhost {

Recorder::Recorder(Coordinator &coordinator, Options options, Hooks hooks)
    : coordinator_(coordinator),
      options_(options),
      hooks_(std::move(hooks)),
      thread_([this] { loop(); }) {}

Recorder::~Recorder() {
  stop();
}

void Recorder::set_source(WorkSource *source) {
  std::lock_guard lock(mutex_);
  source_ = source;
}

void Recorder::add(Settled s) {
  bool wake;
  {
    std::lock_guard lock(mutex_);
    auto &r = pending_.record;
    if (!s.completed_key.empty()) {
      if (!s.verified_sha256.empty()) verified_.emplace_back(s.completed_key, s.verified_sha256);
      r.completed.push_back(std::move(s.completed_key));
    }
    if (s.skip) r.skipped.push_back(std::move(*s.skip));
    if (s.lease) r.released.push_back(std::move(*s.lease));
    if (!s.receipt.empty()) pending_.receipts.push_back(std::move(s.receipt));
    if (!s.failure.empty()) {
      if (failures_.size() < options_.max_failure_messages) {
        failures_.push_back(std::move(s.failure));
      } else {
        ++failures_not_kept_;
      }
    }
    wake = !wake_sent_ && pending_.size() >= kWakeAt;  // once per batch, not per file
    wake_sent_ = wake_sent_ || wake;
  }
  if (wake) wake_.notify_one();
}

void Recorder::stop() {
  if (!thread_.joinable()) return;  // stopped already (run(), then ~Job)
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

std::vector<std::pair<std::string, std::string>> Recorder::take_verified() {
  std::lock_guard lock(mutex_);
  return std::exchange(verified_, {});
}

std::vector<std::string> Recorder::take_failures() {
  std::lock_guard lock(mutex_);
  return std::exchange(failures_, {});
}

void Recorder::loop() {
  pthread_setname_np(pthread_self(), "dlhost-record");  // top -H, perf
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, kPeriod, [this] { return stopping_ || pending_.size() >= kWakeAt; });
    const bool last = stopping_;
    lock.unlock();
    drain(last);
    lock.lock();
    if (last) return;
  }
}

// The one drain: apply() (completion records, skip marks, releases, totals;
// sent), then the acknowledgements. After a CoordinationError nothing more
// is sent: leases expire on their own, unacknowledged entries are handed out
// again, and the job's exit status says so.
void Recorder::drain(bool last) {
  Pending batch;
  WorkSource *source;
  {
    std::lock_guard lock(mutex_);
    std::swap(batch, pending_);
    wake_sent_ = false;
    source = source_;
  }
  if (hooks_.is_lost()) return;
  Counts now = hooks_.counts();
  now.total = now.cancelled = now.bytes_in_flight = 0;  // this host's view, not shared
  batch.record.totals = now.since(published_);
  if (batch.record.empty() && batch.receipts.empty() && !last) return;
  try {
    coordinator_.apply(batch.record, options_.skip_ttl);
    published_ = now;
    if (!batch.receipts.empty() && source) source->acknowledge(batch.receipts);
  } catch (const CoordinationError &e) {
    hooks_.lost(e);
  }
}

}  // namespace dlhost
