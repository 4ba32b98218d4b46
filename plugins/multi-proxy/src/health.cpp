// Per-path health state machine (see health.h).
#include "health.h"

#include <algorithm>

namespace dlhost::mp {

const char *health_state_name(HealthState s) {
  switch (s) {
    case HealthState::kDown:
      return "down";
    case HealthState::kProbing:
      return "probing";
    case HealthState::kDead:
      return "dead";
    case HealthState::kHealthy:
      break;
  }
  return "healthy";
}

Health::Health(int failure_threshold, Millis first_cooldown, Millis max_cooldown)
    : threshold_(std::max(1, failure_threshold)),
      first_cooldown_(first_cooldown),
      max_cooldown_(max_cooldown) {}

HealthState Health::state(TimePoint now) const {
  if (state_ == HealthState::kDown && now >= down_until_) return HealthState::kProbing;
  return state_;
}

bool Health::can_attempt(TimePoint now) const {
  switch (state(now)) {
    case HealthState::kHealthy:
      return true;
    case HealthState::kProbing:
      return !probe_running_;
    default:
      return false;
  }
}

void Health::on_attempt_start(TimePoint now) {
  if (state(now) == HealthState::kProbing) probe_running_ = true;
}

void Health::go_down(TimePoint now) {
  int shift = std::min(down_count_, 16);
  Millis cooldown = std::min(max_cooldown_, Millis(first_cooldown_.count() << shift));
  ++down_count_;
  state_ = HealthState::kDown;
  down_until_ = now + cooldown;
}

bool Health::on_attempt_end(TimePoint now, HealthSignal signal) {
  const bool was_probe = probe_running_;
  probe_running_ = false;
  if (state_ == HealthState::kDead) return false;
  switch (signal) {
    case HealthSignal::kOk:
      consecutive_failures_ = 0;
      state_ = HealthState::kHealthy;
      return false;
    case HealthSignal::kAuth:
      state_ = HealthState::kDead;
      return true;
    case HealthSignal::kFault:
      ++consecutive_failures_;
      // A failed probe goes straight back down; a healthy path after N faults.
      if (was_probe || (state_ == HealthState::kHealthy && consecutive_failures_ >= threshold_))
        go_down(now);
      return false;
    case HealthSignal::kNeutral:
      break;
  }
  return false;
}

TimePoint Health::next_change(TimePoint now) const {
  if (state_ == HealthState::kDown && now < down_until_) return down_until_;
  return kNever;
}

Millis Health::cooldown_left(TimePoint now) const {
  if (state_ != HealthState::kDown || now >= down_until_) return Millis(0);
  return std::chrono::duration_cast<Millis>(down_until_ - now);
}

}  // namespace dlhost::mp
