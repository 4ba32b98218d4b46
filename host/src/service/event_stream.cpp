// Server-Sent Events for `dlhost serve`; see event_stream.hpp.
#include "event_stream.hpp"

namespace dlhost::service {

void EventStream::deliver(const JobEvent &event) {
  JobEvent stamped = event;
  files_.on_event(stamped);
  std::string line = to_json_line(stamped);  // ends in '\n'
  std::lock_guard lock(mutex_);
  const std::uint64_t seq = first_ + ring_.size();
  ring_.push_back("id: " + std::to_string(seq) + "\nevent: " + event_type_name(event.type) +
                  "\ndata: " + line + "\n");
  if (ring_.size() > replay_) {
    ring_.pop_front();
    ++first_;
  }
  cv_.notify_all();
}

void EventStream::close(std::chrono::steady_clock::time_point) {
  stop();
}

void EventStream::stop() {
  std::lock_guard lock(mutex_);
  ended_ = true;
  cv_.notify_all();
}

std::uint64_t EventStream::dropped() const {
  std::lock_guard lock(mutex_);
  return skipped_;
}

std::uint64_t EventStream::newest() const {
  std::lock_guard lock(mutex_);
  return first_ + ring_.size() - 1;
}

EventStream::Read EventStream::read(std::uint64_t after, std::chrono::milliseconds wait,
                                    std::string &out) {
  std::unique_lock lock(mutex_);
  const auto newest = [&] { return first_ + ring_.size() - 1; };
  cv_.wait_for(lock, wait, [&] { return newest() > after || ended_; });
  if (after + 1 < first_) {
    const std::uint64_t missed = first_ - after - 1;
    skipped_ += missed;
    out += ": " + std::to_string(missed) + " events were missed (this reader was too slow)\n\n";
    after = first_ - 1;
  }
  for (std::uint64_t seq = after + 1; seq <= newest(); ++seq) out += ring_[seq - first_];
  return Read{newest(), ended_};
}

}  // namespace dlhost::service
