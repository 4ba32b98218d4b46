// Fixed and adaptive request pacing (see rate_limit.h).
#include "rate_limit.h"

#include <algorithm>
#include <cctype>

namespace dlhost::mp {
namespace {

using Seconds = std::chrono::duration<double>;

TimePoint after(TimePoint t, double seconds) {
  return t + std::chrono::duration_cast<Clock::duration>(Seconds(seconds));
}

constexpr double kMinRate = 1.0 / 30;   // never slower than one request per 30 s
constexpr double kRecoverStep = 1.25;   // per success
constexpr double kBanBaseSeconds = 30;  // first ban cooldown
constexpr double kBanMaxSeconds = 600;  // longest ban cooldown
constexpr double kGapWeight = 0.2;      // EWMA weight of the newest gap

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

double AdaptiveLimiter::observed_rate() const {
  if (gap_ewma_s_ <= 0) return 10.0;  // too few starts to measure: assume a modest rate
  return 1.0 / gap_ewma_s_;
}

TimePoint AdaptiveLimiter::ready_at(TimePoint now) const {
  TimePoint t = std::max(now, paused_until_);
  if (rate_ > 0 && started_) t = std::max(t, after(last_start_, 1.0 / rate_));
  return t;
}

void AdaptiveLimiter::on_start(TimePoint now) {
  if (started_) {
    double gap = std::max(0.0, Seconds(now - last_start_).count());
    gap_ewma_s_ = gap_ewma_s_ <= 0 ? gap : gap_ewma_s_ + kGapWeight * (gap - gap_ewma_s_);
  }
  started_ = true;
  last_start_ = now;
}

void AdaptiveLimiter::on_throttled(TimePoint now, std::optional<Millis> retry_after) {
  if (rate_ <= 0) {
    release_above_ = observed_rate();
    rate_ = release_above_;
  }
  rate_ = std::max(kMinRate, rate_ / 2);
  if (retry_after) paused_until_ = std::max(paused_until_, now + *retry_after);
}

void AdaptiveLimiter::on_success() {
  if (rate_ <= 0) return;
  rate_ *= kRecoverStep;
  if (rate_ >= release_above_) rate_ = 0;
}

void AdaptiveLimiter::on_ban(TimePoint now) {
  double s =
      std::min(kBanMaxSeconds, kBanBaseSeconds * static_cast<double>(1 << std::min(bans_, 8)));
  ++bans_;
  paused_until_ = std::max(paused_until_, after(now, s));
}

TimePoint PairLimiter::ready_at(TimePoint now) const {
  return std::max(fixed.ready_at(now), adaptive.ready_at(now));
}

void PairLimiter::on_start(TimePoint now) {
  fixed.take(now);
  adaptive.on_start(now);
}

std::string RateLimits::key(size_t path, const std::string &host) {
  return std::to_string(path) + '|' + host;
}

PairLimiter &RateLimits::at(size_t path, const std::string &host) {
  auto [it, inserted] = pairs_.try_emplace(key(path, host));
  if (inserted) it->second.fixed = TokenBucket(fixed_rate_);
  return it->second;
}

TimePoint RateLimits::ready_at(size_t path, const std::string &host, TimePoint now) const {
  auto it = pairs_.find(key(path, host));
  return it == pairs_.end() ? now : it->second.ready_at(now);
}

void RateLimits::forget_path(size_t path) {
  const std::string prefix = std::to_string(path) + '|';
  std::erase_if(pairs_, [&](const auto &kv) { return kv.first.starts_with(prefix); });
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
