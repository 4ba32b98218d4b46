// Fixed and adaptive request pacing (see rate_limit.h).
#include "rate_limit.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

namespace dlhost::mp {
namespace {

using Seconds = std::chrono::duration<double>;

TimePoint after(TimePoint t, double seconds) {
  return t + std::chrono::duration_cast<Clock::duration>(Seconds(seconds));
}

// Rates are measured over the last second.
constexpr Millis kWindow{1000};
// The shortest span between cuts that measures what the site accepts.
constexpr Millis kMinSpan{200};
// 1 / kMinRate: an idle pair does not jump on its next success.
constexpr Millis kMaxRaiseStep{2000};
constexpr double kReleaseAbove = 2.0;   // x the ceiling: the limit is gone, drop the brake
constexpr double kReleaseRate = 1000;   // no ceiling: a pace this fast brakes nothing
constexpr double kBanBaseSeconds = 30;  // first ban cooldown
constexpr double kBanMaxSeconds = 600;  // longest ban cooldown

}  // namespace

TokenBucket::TokenBucket(double rate_per_s)
    : rate_(std::max(0.0, rate_per_s)), burst_(std::max(1.0, rate_per_s)), tokens_(burst_) {}

void TokenBucket::refill(TimePoint now) const {
  if (!started_) {
    started_ = true;
    last_ = now;
    return;
  }
  if (now <= last_) return;
  tokens_ = std::min(burst_, tokens_ + Seconds(now - last_).count() * rate_);
  last_ = now;
}

TimePoint TokenBucket::ready_at(TimePoint now) const {
  if (!enabled()) return now;
  refill(now);
  if (tokens_ >= 1.0) return now;
  return after(now, (1.0 - tokens_) / rate_);
}

void TokenBucket::take(TimePoint now) {
  if (!enabled()) return;
  refill(now);
  tokens_ -= 1.0;  // may go below zero if forced; ready_at then waits longer
}

void RateWindow::prune(TimePoint now) const {
  while (!times_.empty() && times_.front() + kWindow <= now) times_.pop_front();
}

void RateWindow::add(TimePoint now) {
  prune(now);
  times_.push_back(now);
}

double RateWindow::per_second(TimePoint now) const {
  prune(now);
  return static_cast<double>(times_.size()) / Seconds(kWindow).count();
}

TimePoint AdaptivePace::ready_at(TimePoint now) const {
  TimePoint t = std::max(now, paused_until_);
  if (rate_ > 0 && started_) t = std::max(t, next_start_);
  return t;
}

// next_start_ holds the earliest time of the next start (the virtual
// scheduling of GCRA): a start up to one interval late loses nothing.
void AdaptivePace::on_start(TimePoint now) {
  starts_.add(now);
  recent_starts_.push_back(now);
  if (recent_starts_.size() > kSendSamples) recent_starts_.pop_front();
  if (rate_ <= 0) {
    started_ = false;
    return;
  }
  const double interval = 1.0 / rate_;
  TimePoint base = started_ ? std::max(next_start_, after(now, -interval)) : now;
  next_start_ = after(base, interval);
  started_ = true;
}

// The rate of the last kSendSamples starts, up to now: a pair that stopped
// sending is not sending fast.
double AdaptivePace::sending_rate(TimePoint now) const {
  if (recent_starts_.size() < 2) return rate_;
  const double span = Seconds(now - recent_starts_.front()).count();
  if (span <= 0) return rate_;
  return static_cast<double>(recent_starts_.size()) / span;
}

// What the site accepted since the last cut, per second. Its bucket was full
// at that cut and is full again now, so this is at most its rate: a lower
// bound, where the sending rate is an upper one. Too short a span says little.
double AdaptivePace::accepted_between_cuts(TimePoint now) const {
  const double span = Seconds(now - cut_at_).count();
  if (span < Seconds(kMinSpan).count()) return 0;
  return static_cast<double>(accepted_count_since_cut_) / span;
}

// Below this the pace doubles; above it, it probes. Unknown with no ceiling.
double AdaptivePace::slow_start_end() const {
  const double end = kCut * ceiling_;
  return accepted_ > 0 ? std::min(end, kHold * std::sqrt(accepted_ * ceiling_)) : end;
}

void AdaptivePace::raise(TimePoint now) {
  const Millis dt = std::min(kMaxRaiseStep, std::chrono::duration_cast<Millis>(now - raised_at_));
  raised_at_ = now;
  if (rate_ <= 0 || dt.count() <= 0) return;
  const double seconds = Seconds(dt).count();
  if (ceiling_ <= 0 || rate_ < slow_start_end()) {
    rate_ *= std::exp2(seconds / Seconds(kSlowStartHalfLife).count());
    if (ceiling_ > 0) rate_ = std::min(rate_, slow_start_end());
  } else {
    rate_ += kProbe * ceiling_ * seconds;
  }
  // Well past any limit seen, with no throttle on the way: the site no longer
  // limits us (or never did: a pair that sends less than its pace also ends
  // here). The next throttle starts over from the accepted rate.
  if ((ceiling_ > 0 && rate_ > kReleaseAbove * ceiling_) ||
      (ceiling_ <= 0 && rate_ > kReleaseRate)) {
    rate_ = 0;
    ceiling_ = 0;
    accepted_ = 0;
    cut_ = false;
  }
}

void AdaptivePace::on_success(TimePoint now, TimePoint started) {
  if (cut_ && started > cut_at_) {
    ++accepted_count_since_cut_;
    if (!accepted_since_cut_) accepted_since_cut_ = started;
    cut_failed_ = false;
  }
  raise(now);
}

AdaptivePace::Throttle AdaptivePace::classify(TimePoint started) const {
  if (!cut_) return Throttle::kCut;
  if (started <= cut_at_) return Throttle::kOld;
  if (accepted_since_cut_ ? started > *accepted_since_cut_ : started >= cut_at_ + kDrainWait)
    return Throttle::kCut;
  return Throttle::kDrain;
}

void AdaptivePace::cut(TimePoint now, bool rate_evidence) {
  if (rate_ <= 0) {
    // From unlimited: what got through is a floor to start from, not a
    // limit, so no ceiling yet: the pace doubles until the next throttle.
    const double through = starts_.per_second(now) - rejected_starts_.per_second(now);
    rate_ = std::max(kMinRate, through);
  } else {
    // The site's limit is below what was sent, and at least what got through.
    const double sent = std::max(kMinRate, std::min(rate_, sending_rate(now)));
    const double accepted = accepted_between_cuts(now);
    if (rate_evidence) {
      ceiling_ = sent;
      if (accepted > 0) accepted_ = accepted;
    }
    rate_ = std::max(kMinRate, kCut * sent);
    if (accepted_ > 0) rate_ = std::max(kMinRate, std::min(rate_, kHold * accepted_));
  }
  cut_ = true;
  cut_at_ = now;
  accepted_since_cut_.reset();
  accepted_count_since_cut_ = 0;
  raised_at_ = now;
  next_start_ = after(now, 1.0 / rate_);  // a new schedule at the new pace
  started_ = true;
}

AdaptivePace::Throttle AdaptivePace::on_throttled(TimePoint now, TimePoint started,
                                                  bool rate_evidence) {
  rejected_starts_.add(started);
  const Throttle kind = classify(started);
  const bool failed = cut_ && kind != Throttle::kOld && !accepted_since_cut_;
  if (kind == Throttle::kCut) cut(now, rate_evidence);
  if (kind != Throttle::kOld) cut_failed_ = failed;
  return kind;
}

void AdaptivePace::pause_until(TimePoint t) {
  paused_until_ = std::max(paused_until_, t);
}

void AdaptivePace::on_ban(TimePoint now) {
  double s =
      std::min(kBanMaxSeconds, kBanBaseSeconds * static_cast<double>(1 << std::min(bans_, 8)));
  ++bans_;
  pause_until(after(now, s));
}

Millis AdaptivePace::paused_for(TimePoint now) const {
  if (paused_until_ <= now) return Millis(0);
  return std::chrono::ceil<Millis>(paused_until_ - now);
}

void HostSignal::on_answer(uint64_t task_id, bool ok) {
  last_.push_back(Answer{task_id, ok});
  while (last_.size() > kAnswers) last_.pop_front();
}

bool HostSignal::failing() const {
  size_t failures = 0;
  std::unordered_set<uint64_t> files;
  for (const Answer &a : last_) {
    if (a.ok) continue;
    ++failures;
    files.insert(a.task);
  }
  return failures * 2 > last_.size() && files.size() >= kFailingFiles;
}

TimePoint PairLimiter::ready_at(TimePoint now) const {
  return std::max(fixed.ready_at(now), adaptive.ready_at(now));
}

void PairLimiter::on_start(TimePoint now) {
  fixed.take(now);
  adaptive.on_start(now);
}

PairLimiter &RateLimits::at(size_t path, const std::string &host) {
  auto [it, inserted] = pairs_.try_emplace(Key{path, host});
  if (inserted) it->second.fixed = TokenBucket(fixed_rate_);
  return it->second;
}

const PairLimiter *RateLimits::find(size_t path, const std::string &host) const {
  auto it = pairs_.find(Key{path, host});
  return it == pairs_.end() ? nullptr : &it->second;
}

TimePoint RateLimits::ready_at(size_t path, const std::string &host, TimePoint now) const {
  const PairLimiter *lim = find(path, host);
  return lim == nullptr ? now : lim->ready_at(now);
}

void RateLimits::forget_path(size_t path) {
  std::erase_if(pairs_, [&](const auto &kv) { return kv.first.path == path; });
}

std::string url_host(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return {};
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  std::string host(rest);
  for (char &c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

}  // namespace dlhost::mp
