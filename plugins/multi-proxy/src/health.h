// Health of one path (a proxy or the direct line).
//
//   healthy --(PROXY_HEALTH_FAILURES consecutive proxy faults)--> down
//   down    --(cooldown passed)--> probing   (computed lazily from `now`)
//   probing --(the probe attempt succeeds)--> healthy
//   probing --(the probe attempt fails)--> down again, with a longer cooldown
//   any     --(407 proxy auth)--> dead for the rest of the run
//
// The cooldown doubles with every time the path goes down (1 s, 2 s, 4 s ...,
// capped at 60 s). A probe is simply a real task attempt; while one runs no
// other attempt is sent through a probing path. Only proxy faults (refused
// connection to the proxy, CONNECT failure, proxy timeout) count; an origin's
// answer through the proxy, even a 404, proves the path works.
// Pure logic: time comes in as an argument.
#pragma once

#include <cstdint>

#include "clock.h"

namespace dlhost::mp {

enum class HealthState { kHealthy, kDown, kProbing, kDead };
const char *health_state_name(HealthState s);

// How an attempt's outcome bears on the path that carried it.
enum class HealthSignal {
  kOk,       // the path delivered an answer (any HTTP status from the origin)
  kFault,    // the path itself failed
  kAuth,     // the proxy rejected our credentials (407): dead for good
  kNeutral,  // says nothing about the path (cancelled, local I/O error)
};

class Health {
 public:
  explicit Health(int failure_threshold = 3, Millis first_cooldown = Millis(1000),
                  Millis max_cooldown = Millis(60000));

  HealthState state(TimePoint now) const;
  // May an attempt start through this path now?
  bool can_attempt(TimePoint now) const;
  // Not dead: the path may carry work now or later.
  bool usable() const { return state_ != HealthState::kDead; }
  // Down, dead or probing-with-a-probe-running: not for fresh work now.
  bool up(TimePoint now) const { return state(now) == HealthState::kHealthy; }

  void on_attempt_start(TimePoint now);
  // Returns true when this call made the path dead (so the caller logs once).
  bool on_attempt_end(TimePoint now, HealthSignal signal);

  // When the state may change without an event (end of cooldown), or kNever.
  TimePoint next_change(TimePoint now) const;

  int consecutive_failures() const { return consecutive_failures_; }
  int down_count() const { return down_count_; }
  Millis cooldown_left(TimePoint now) const;
  bool probe_running() const { return probe_running_; }

 private:
  void go_down(TimePoint now);

  int threshold_;
  Millis first_cooldown_;
  Millis max_cooldown_;
  HealthState state_ = HealthState::kHealthy;  // kProbing is derived, never stored
  int consecutive_failures_ = 0;
  int down_count_ = 0;
  TimePoint down_until_{};
  bool probe_running_ = false;
};

}  // namespace dlhost::mp
