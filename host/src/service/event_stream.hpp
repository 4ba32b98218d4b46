// GET /events: the job's events as Server-Sent Events, for any number of
// readers, none of which can hold the job.
//
// EventStream is one sink on the job's EventBus (so one lane, one thread):
// deliver() lets the FileRegistry follow the file (and stamp its id), then
// appends the event, numbered, to a ring of the last `replay` events. Each
// reader keeps only the number of the last event it got and copies newer
// ones out of the ring under the lock; a reader too slow for the ring skips
// what was overwritten (said in an SSE comment, counted in dropped()). So a
// reader that stops reading costs its own connection (the HTTP layer's
// write timeout), never the lane.
//
// Threads: deliver() and close() on the lane, and deliver() also from the
// service itself for a file the job never saw (cancelled while queued);
// read() from the HTTP pool's threads; stop() from any.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "dlhost/host/events.hpp"
#include "file_registry.hpp"

namespace dlhost::service {

class EventStream final : public EventSink {
 public:
  EventStream(FileRegistry &files, std::size_t replay) : files_(files), replay_(replay) {}

  const char *name() const override { return "service"; }
  void deliver(const JobEvent &event) override;
  void close(std::chrono::steady_clock::time_point deadline) override;
  std::uint64_t dropped() const override;

  // The number of the newest event (0: none yet).
  std::uint64_t newest() const;
  struct Read {
    std::uint64_t last = 0;  // the number of the last event appended
    bool ended = false;      // the job's stream ended (or the service stops): nothing more
  };
  // Appends the SSE frames of the events after `after` to `out`, waiting up
  // to `wait` for one when there are none.
  Read read(std::uint64_t after, std::chrono::milliseconds wait, std::string &out);
  // The service stops: readers end.
  void stop();

 private:
  FileRegistry &files_;
  const std::size_t replay_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> ring_;  // SSE frames of events first_ .. first_ + size - 1
  std::uint64_t first_ = 1;
  bool ended_ = false;
  std::uint64_t skipped_ = 0;  // events readers missed because they were too slow
};

}  // namespace dlhost::service
