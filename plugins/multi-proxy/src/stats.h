// Statistics and health as the host reads them (stats() / health()).
//
// The event loop is the only writer; host threads read at any time, so one
// small mutex guards everything here and is held only to copy or bump a few
// numbers (never across I/O). Per path it keeps common's PathStats (completed,
// failed, retries, rate_limited, bytes, a bounded latency ring for p50/p95),
// the files in flight, and a copy of the path's Health taken whenever the loop
// changed it; health states that change with time alone (down -> probing) are
// computed when the JSON is written. Only ids ("direct",
// "http://host:port") are ever written: the credentials are not in here.
// Per path it also counts failed attempts by class (outcome.h FailureClass),
// the files that left it to retry elsewhere ("moves"), and a copy of each
// (path, host) pair's brakes (pace, ceiling, pause, bans), refreshed by the
// loop whenever an attempt on that path ends.
// Rows follow the scheduler's path slots. A proxy taken out of the list
// (set_proxies()) keeps its row with state "removed": its counters stay in
// the totals (they never go down, and a Prometheus counter stays monotonic),
// and its in_flight shows the files still finishing there.
#pragma once

#include <dlhost/transport/path_stats.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clock.h"
#include "health.h"
#include "outcome.h"
#include "scheduler.h"

namespace dlhost::mp {

class Stats {
 public:
  Stats(std::vector<std::string> path_ids, int health_failures);

  // The path list changed: slot `path` (a new row when it is the next one)
  // is listed with `health`, or removed (state "removed", counters kept).
  void set_path(size_t path, const std::string &id, const Health &health, bool removed);
  void attempt_started(size_t path, int in_flight);
  // One attempt ended on `path`; bytes = bytes received by this attempt.
  void attempt_ended(size_t path, int in_flight, uint64_t bytes, const Health &health);
  void completed(size_t path, double latency_ms);
  void failed(size_t path);
  void retried(size_t path);
  void rate_limited(size_t path);
  void attempt_failed(size_t path, FailureClass c);
  // A file left `path` to retry on another one.
  void moved(size_t path);
  // The brakes of every (path, host) pair of `path`, as of `now`.
  void set_hosts(size_t path, std::vector<PairView> hosts, TimePoint now);
  void cancelled();
  // A task failed before any path carried it (no usable path was left).
  void failed_unrouted();

  nlohmann::json stats_json(TimePoint now) const;
  nlohmann::json health_json(TimePoint now) const;

 private:
  struct Host {
    PairView view;
    TimePoint paused_until;
  };
  struct Path {
    std::string id;
    transport::PathStats counters;
    Health health;
    int in_flight = 0;
    bool removed = false;
    std::array<uint64_t, kFailureClasses> failures{};
    uint64_t moves = 0;
    std::vector<Host> hosts;
    nlohmann::json failures_json() const;
    nlohmann::json hosts_json(TimePoint now) const;
    const char *state(TimePoint now) const {
      return removed ? "removed" : health_state_name(health.state(now));
    }
  };
  static Path make_path(std::string id, const Health &health);
  mutable std::mutex mu_;
  std::vector<Path> paths_;
  uint64_t cancelled_ = 0;
  uint64_t failed_unrouted_ = 0;
};

}  // namespace dlhost::mp
