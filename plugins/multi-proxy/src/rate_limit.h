// Request pacing per (path, origin host).
//
// A site limits each client address, and each path is a different address, so
// every (path, host) pair has its own pace. Pure logic: time comes in as an
// argument. A pair has:
//
//  - Fixed brake: PROXY_RATE_LIMIT requests/s (0 = off), a token bucket with
//    a burst of one second's worth.
//
//  - Adaptive pace: AIMD, as TCP finds a link's capacity, for limits that
//    reject (nginx's limit_req with nodelay: a leaky bucket of R requests/s
//    and a burst B, answering 429 at once when it is full).
//      * It starts unlimited: nothing is known about the site.
//      * A throttle (429; a 503 with Retry-After; any 5xx or timeout while the
//        host fails most answers, see HostSignal) is one congestion event and
//        cuts the pace, unless it says nothing new: its request was sent
//        before the last cut (eight 429s in flight together cost one cut), or
//        after the cut but while the site's bucket was still full from
//        before: until a request sent after the cut is accepted (or
//        kDrainWait has passed), a rejection is the old overload draining,
//        not the new pace's fault. Without that rule the pace collapsed to
//        its floor in the first milliseconds of every job.
//      * A cut sets the pace to kCut x the rate we were sending at (the last
//        kSendSamples starts, at most the pace), and that rate becomes the
//        ceiling: a site that rejected it limits below it. What the site
//        accepted since the previous cut, per second, is a lower bound: its
//        bucket was full at both cuts (measured when they are kMinSpan apart
//        or more; loose when the pace was below the limit for a while, as in
//        slow start). The pace is cut to at most kHold x the lower bound,
//        and doubles back only to kHold x the geometric mean of the bounds:
//        each cut then halves the distance between them on a log scale.
//        Slow start overshoots a limit by up to twice before the bucket
//        fills; cutting by kCut alone took four cuts (and their 429s) to get
//        under it, and the lower bound alone left the pace at 60 % of a
//        limit of 50/s for seconds. The cut starts a new schedule: the next
//        start waits one interval of the new pace.
//      * The first cut has no sending rate to go by (an unlimited start sends
//        as fast as the network allows): it starts from what the site let
//        through in the last kWindow (requests not rejected: its burst), and
//        sets no ceiling.
//      * Each success raises the pace with the time elapsed: it doubles every
//        kSlowStartHalfLife while below kCut x the ceiling and the mean above
//        (or with no ceiling yet), so a first estimate or a pace
//        cut by a storm is back within a second or two; above that it grows
//        by kProbe x the ceiling per second, probing for a higher limit.
//      * Cuts caused by a failing host (an outage, not a rate) do not lower
//        the ceiling, so the pace doubles back to it when answers succeed.
//      * The pace never falls below kMinRate: at worst 2 s between requests.
//      * Past twice the ceiling (or 1000/s with none) with no throttle on the
//        way, the brake is dropped: the site no longer limits us.
//    With limit_req at R (burst 5, nodelay), the pace saws between kCut x
//    1.1 R and a little over R, on a period of several seconds: about 0.95 R
//    accepted on average, and a few 429s per saw tooth.
//
//  - Pauses: a Retry-After (the caller caps it at PROXY_MAX_RETRY_AFTER)
//    keeps the throttled file off the pair until then (the scheduler's
//    business), and pauses the whole pair until then when the cut did not
//    help: a request sent after the last cut was rejected and none sent
//    since was accepted (a quota spent, not a rate exceeded); a ban (403, a block page) pauses it
//    for a cooldown that doubles with each ban, 30 s to 600 s.
//
// HostSignal tells "the host is failing" (most of the last answers from this
// pair failed, from several distinct files) from "this file has trouble": one
// file's repeated 503s must not slow the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
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

// Starts (or rejected starts) of the last kWindow, to measure rates.
class RateWindow {
 public:
  void add(TimePoint now);
  double per_second(TimePoint now) const;

 private:
  void prune(TimePoint now) const;
  mutable std::deque<TimePoint> times_;
};

class AdaptivePace {
 public:
  static constexpr double kCut = 0.8;
  static constexpr double kHold = 0.95;
  static constexpr double kProbe = 0.1;
  static constexpr double kMinRate = 0.5;
  static constexpr Millis kSlowStartHalfLife{150};
  static constexpr Millis kDrainWait{1000};
  static constexpr size_t kSendSamples = 8;

  enum class Throttle {
    kOld,    // sent before the last cut: nothing new
    kDrain,  // sent after it, while the site still drained the old overload
    kCut,    // a congestion event: the pace was cut
  };

  // 0 = unlimited.
  double rate() const { return rate_; }
  double ceiling() const { return ceiling_; }
  TimePoint ready_at(TimePoint now) const;
  void on_start(TimePoint now);
  // An accepted request, sent at `started`.
  void on_success(TimePoint now, TimePoint started);
  // A congestion signal for a request started at `started`. `rate_evidence`:
  // a 429-like answer (the ceiling moves); false for a failing host's 5xx.
  Throttle on_throttled(TimePoint now, TimePoint started, bool rate_evidence);
  // A request sent after the last cut was rejected, and none sent since the
  // cut was accepted: the cut did not help.
  bool cut_failed() const { return cut_failed_; }
  void pause_until(TimePoint t);
  void on_ban(TimePoint now);
  int bans() const { return bans_; }
  Millis paused_for(TimePoint now) const;

 private:
  void raise(TimePoint now);
  Throttle classify(TimePoint started) const;
  void cut(TimePoint now, bool rate_evidence);
  double sending_rate(TimePoint now) const;
  double accepted_between_cuts(TimePoint now) const;
  double slow_start_end() const;

  double rate_ = 0;      // allowed requests per second; 0 = no brake yet
  double ceiling_ = 0;   // the rate of the last rate cut; 0 = none yet
  double accepted_ = 0;  // what the site accepted between the last two cuts; 0 = unknown
  TimePoint cut_at_{};
  bool cut_ = false;
  std::optional<TimePoint> accepted_since_cut_;  // the first accepted start after the cut
  int accepted_count_since_cut_ = 0;
  bool cut_failed_ = false;
  TimePoint raised_at_{};
  TimePoint next_start_{};  // the earliest next start (GCRA's theoretical arrival time)
  bool started_ = false;
  RateWindow starts_, rejected_starts_;  // by start time, the last kWindow
  std::deque<TimePoint> recent_starts_;  // the last kSendSamples starts
  TimePoint paused_until_{};
  int bans_ = 0;
};

// The last answers of one pair: is the host failing, or only some files?
class HostSignal {
 public:
  static constexpr size_t kAnswers = 16;
  static constexpr size_t kFailingFiles = 8;

  void on_answer(uint64_t task_id, bool ok);
  // More than half of the last answers failed, and from at least
  // kFailingFiles distinct files (fewer is those files' own trouble).
  bool failing() const;

 private:
  struct Answer {
    uint64_t task;
    bool ok;
  };
  std::deque<Answer> last_;
};

// Every brake of one (path, host) pair.
struct PairLimiter {
  TokenBucket fixed;
  AdaptivePace adaptive;
  HostSignal signal;
  TimePoint ready_at(TimePoint now) const;
  void on_start(TimePoint now);
};

class RateLimits {
 public:
  explicit RateLimits(double fixed_rate_per_s) : fixed_rate_(fixed_rate_per_s) {}
  PairLimiter &at(size_t path, const std::string &host);
  const PairLimiter *find(size_t path, const std::string &host) const;
  // Read-only: a pair never seen is ready now.
  TimePoint ready_at(size_t path, const std::string &host, TimePoint now) const;
  // Drops every pair of `path`: a path that starts over has no brakes.
  void forget_path(size_t path);
  // Calls fn(host, limiter) for every pair of `path`.
  template <class Fn>
  void for_path(size_t path, Fn fn) const {
    for (const auto &[key, lim] : pairs_)
      if (key.path == path) fn(key.host, lim);
  }

 private:
  struct Key {
    size_t path;
    std::string host;
    bool operator==(const Key &) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key &k) const { return std::hash<std::string>()(k.host) * 31 + k.path; }
  };
  double fixed_rate_;
  std::unordered_map<Key, PairLimiter, KeyHash> pairs_;
};

// "host[:port]" of an http(s) URL, lower-cased; "" if there is none.
std::string url_host(std::string_view url);

}  // namespace dlhost::mp
