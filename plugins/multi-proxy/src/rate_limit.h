// Request pacing per (path, origin host).
//
// Two independent brakes, both keyed by the pair (path, host) because a site
// limits each client address, and each path is a different address:
//  - Fixed: PROXY_RATE_LIMIT requests per second (0 = off), a token bucket
//    that allows a burst of at most one second's worth.
//  - Adaptive: starts unlimited. A 429 or 503 halves the allowed rate (taking
//    the rate actually seen as the starting point) and, when the server sent
//    Retry-After, also pauses the pair until then. Every success then raises
//    the rate by a step (x1.25) until it is back above the rate that was seen,
//    when the brake is released entirely.
//  - Ban cooldown: a 403 or a block page pauses the pair for a while, growing
//    with repeated bans (see scheduler.h "bans").
// Pure logic: time comes in as an argument.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>

#include "clock.h"

namespace dlhost::mp {

class TokenBucket {
 public:
  explicit TokenBucket(double rate_per_s = 0);
  bool enabled() const { return rate_ > 0; }
  TimePoint ready_at(TimePoint now) const;
  void take(TimePoint now);

 private:
  void refill(TimePoint now) const;
  double rate_;
  double burst_;
  mutable double tokens_;
  mutable TimePoint last_{};
  mutable bool started_ = false;
};

class AdaptiveLimiter {
 public:
  // 0 = unlimited.
  double allowed_rate() const { return rate_; }
  TimePoint ready_at(TimePoint now) const;
  void on_start(TimePoint now);
  void on_throttled(TimePoint now, std::optional<Millis> retry_after);
  void on_success();
  void on_ban(TimePoint now);
  int bans() const { return bans_; }

 private:
  double observed_rate() const;

  double rate_ = 0;           // allowed requests per second; 0 = no brake
  double release_above_ = 0;  // the rate seen when the brake was applied
  TimePoint last_start_{};
  bool started_ = false;
  double gap_ewma_s_ = 0;  // average gap between starts, seconds
  TimePoint paused_until_{};
  int bans_ = 0;
};

// Both brakes for one (path, host) pair.
struct PairLimiter {
  TokenBucket fixed;
  AdaptiveLimiter adaptive;
  TimePoint ready_at(TimePoint now) const;
  void on_start(TimePoint now);
};

class RateLimits {
 public:
  explicit RateLimits(double fixed_rate_per_s) : fixed_rate_(fixed_rate_per_s) {}
  PairLimiter &at(size_t path, const std::string &host);
  // Read-only: a pair never seen is ready now.
  TimePoint ready_at(size_t path, const std::string &host, TimePoint now) const;
  // Drops every pair of `path`: a path that starts over has no brakes.
  void forget_path(size_t path);

 private:
  static std::string key(size_t path, const std::string &host);
  double fixed_rate_;
  std::unordered_map<std::string, PairLimiter> pairs_;
};

// "host[:port]" of an http(s) URL, lower-cased; "" if there is none.
std::string url_host(std::string_view url);

}  // namespace dlhost::mp
