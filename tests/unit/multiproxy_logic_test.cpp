// Unit tests of the multi-proxy plugin's small pure pieces: strategy,
// backoff, health, rate limits, outcome mapping. No network, fake time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backoff.h"
#include "health.h"
#include "outcome.h"
#include "rate_limit.h"
#include "strategy.h"

namespace dlhost::mp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TimePoint t0() {
  return TimePoint{} + std::chrono::hours(1);
}

// --- strategy ----------------------------------------------------------------

TEST(Strategy, ParsesNames) {
  EXPECT_EQ(parse_strategy("load-balanced"), StrategyKind::kLoadBalanced);
  EXPECT_EQ(parse_strategy("round-robin"), StrategyKind::kRoundRobin);
  EXPECT_EQ(parse_strategy("first-available"), StrategyKind::kFirstAvailable);
  EXPECT_FALSE(parse_strategy("random"));
}

TEST(Strategy, LoadBalancedPicksFewestInFlight) {
  Strategy s(StrategyKind::kLoadBalanced);
  std::vector<ProxyLoad> p = {{true, 3}, {true, 1}, {true, 2}};
  EXPECT_EQ(s.choose(p), 1u);
  p[1].in_flight = 5;
  EXPECT_EQ(s.choose(p), 2u);
}

TEST(Strategy, LoadBalancedBreaksTiesInRoundRobinOrder) {
  Strategy s(StrategyKind::kLoadBalanced);
  std::vector<ProxyLoad> p = {{true, 0}, {true, 0}, {true, 0}};
  EXPECT_EQ(s.choose(p), 0u);
  EXPECT_EQ(s.choose(p), 1u);
  EXPECT_EQ(s.choose(p), 2u);
  EXPECT_EQ(s.choose(p), 0u);
}

TEST(Strategy, LoadBalancedSpreadsWhenLoadIsMeasured) {
  Strategy s(StrategyKind::kLoadBalanced);
  std::vector<ProxyLoad> p = {{true, 0}, {true, 0}, {true, 0}};
  std::vector<int> count(3);
  for (int i = 0; i < 9; ++i) {
    size_t k = *s.choose(p);
    p[k].in_flight++;
    count[k]++;
  }
  EXPECT_EQ(count, (std::vector<int>{3, 3, 3}));
}

TEST(Strategy, RoundRobinCyclesAndSkipsUnavailable) {
  Strategy s(StrategyKind::kRoundRobin);
  std::vector<ProxyLoad> p = {{true, 9}, {false, 0}, {true, 0}};
  EXPECT_EQ(s.choose(p), 0u);
  EXPECT_EQ(s.choose(p), 2u);
  EXPECT_EQ(s.choose(p), 0u);
}

TEST(Strategy, FirstAvailableTakesFirstUp) {
  Strategy s(StrategyKind::kFirstAvailable);
  std::vector<ProxyLoad> p = {{false, 0}, {true, 7}, {true, 0}};
  EXPECT_EQ(s.choose(p), 1u);
  EXPECT_EQ(s.choose(p), 1u);
}

TEST(Strategy, AllDownGivesNothing) {
  for (auto k :
       {StrategyKind::kLoadBalanced, StrategyKind::kRoundRobin, StrategyKind::kFirstAvailable}) {
    Strategy s(k);
    std::vector<ProxyLoad> p = {{false, 0}, {false, 0}};
    EXPECT_FALSE(s.choose(p));
    EXPECT_FALSE(s.choose(std::vector<ProxyLoad>{}));
  }
}

// --- backoff -----------------------------------------------------------------

TEST(Backoff, CeilingGrowsAndCaps) {
  BackoffParams p{milliseconds(1000), 2.0, milliseconds(5000)};
  EXPECT_EQ(backoff_ceiling(p, 0), milliseconds(1000));
  EXPECT_EQ(backoff_ceiling(p, 1), milliseconds(2000));
  EXPECT_EQ(backoff_ceiling(p, 2), milliseconds(4000));
  EXPECT_EQ(backoff_ceiling(p, 3), milliseconds(5000));
  EXPECT_EQ(backoff_ceiling(p, 60), milliseconds(5000));
}

TEST(Backoff, FullJitterUsesTheInjectedRandom) {
  BackoffParams p{milliseconds(1000), 2.0, milliseconds(60000)};
  double u = 0.5;
  Backoff b(p, [&] { return u; });
  EXPECT_EQ(b.next(0, std::nullopt), milliseconds(500));
  EXPECT_EQ(b.next(2, std::nullopt), milliseconds(2000));
  u = 0.0;
  EXPECT_EQ(b.next(3, std::nullopt), milliseconds(0));
  u = 0.999;
  EXPECT_LT(b.next(1, std::nullopt), milliseconds(2000));
}

TEST(Backoff, RetryAfterWinsOnlyWhenLonger) {
  BackoffParams p{milliseconds(1000), 2.0, milliseconds(60000)};
  EXPECT_EQ(backoff_delay(p, 0, 0.5, milliseconds(3000)), milliseconds(3000));
  EXPECT_EQ(backoff_delay(p, 3, 0.5, milliseconds(100)), milliseconds(4000));
  // The scheduler caps a Retry-After at PROXY_MAX_RETRY_AFTER before it gets here.
  EXPECT_EQ(backoff_delay(p, 0, 0.5, std::chrono::hours(1)), std::chrono::hours(1));
}

// --- health ------------------------------------------------------------------

TEST(Health, GoesDownAfterThresholdConsecutiveFaults) {
  Health h(3);
  TimePoint now = t0();
  h.on_attempt_end(now, HealthSignal::kFault);
  h.on_attempt_end(now, HealthSignal::kOk);  // resets the count
  h.on_attempt_end(now, HealthSignal::kFault);
  h.on_attempt_end(now, HealthSignal::kFault);
  EXPECT_EQ(h.state(now), HealthState::kHealthy);
  h.on_attempt_end(now, HealthSignal::kFault);
  EXPECT_EQ(h.state(now), HealthState::kDown);
  EXPECT_FALSE(h.can_attempt(now));
  EXPECT_EQ(h.cooldown_left(now), seconds(1));
  EXPECT_EQ(h.next_change(now), now + seconds(1));
}

TEST(Health, ProbesOneAtATimeAfterCooldownAndRecoversOnSuccess) {
  Health h(1);
  TimePoint now = t0();
  h.on_attempt_end(now, HealthSignal::kFault);
  now += seconds(1);
  EXPECT_EQ(h.state(now), HealthState::kProbing);
  EXPECT_TRUE(h.can_attempt(now));
  h.on_attempt_start(now);
  EXPECT_FALSE(h.can_attempt(now));  // one probe at a time
  h.on_attempt_end(now, HealthSignal::kOk);
  EXPECT_EQ(h.state(now), HealthState::kHealthy);
  EXPECT_TRUE(h.can_attempt(now));
}

TEST(Health, FailedProbeDoublesTheCooldownUpToACap) {
  Health h(1, seconds(1), seconds(60));
  TimePoint now = t0();
  h.on_attempt_end(now, HealthSignal::kFault);
  std::vector<long> cooldowns;
  for (int i = 0; i < 9; ++i) {
    cooldowns.push_back(h.cooldown_left(now).count() / 1000);
    now += h.cooldown_left(now);
    h.on_attempt_start(now);
    h.on_attempt_end(now, HealthSignal::kFault);
  }
  EXPECT_EQ(cooldowns, (std::vector<long>{1, 2, 4, 8, 16, 32, 60, 60, 60}));
  EXPECT_EQ(h.down_count(), 10);
}

TEST(Health, ProxyAuthIsDeadForGoodAndReportedOnce) {
  Health h(3);
  TimePoint now = t0();
  EXPECT_TRUE(h.on_attempt_end(now, HealthSignal::kAuth));
  EXPECT_FALSE(h.on_attempt_end(now, HealthSignal::kAuth));
  EXPECT_FALSE(h.usable());
  h.on_attempt_end(now, HealthSignal::kOk);
  EXPECT_EQ(h.state(now + std::chrono::hours(5)), HealthState::kDead);
  EXPECT_FALSE(h.can_attempt(now + std::chrono::hours(5)));
}

TEST(Health, NeutralEndsAProbeWithoutJudging) {
  Health h(1);
  TimePoint now = t0();
  h.on_attempt_end(now, HealthSignal::kFault);
  now += seconds(1);
  h.on_attempt_start(now);
  h.on_attempt_end(now, HealthSignal::kNeutral);  // e.g. cancelled
  EXPECT_EQ(h.state(now), HealthState::kProbing);
  EXPECT_TRUE(h.can_attempt(now));
}

// --- rate limits -------------------------------------------------------------

TEST(RateLimit, TokenBucketPacesRequests) {
  TokenBucket b(2.0);  // 2 req/s, burst 2
  TimePoint now = t0();
  EXPECT_EQ(b.ready_at(now), now);
  b.take(now);
  b.take(now);
  EXPECT_EQ(b.ready_at(now), now + milliseconds(500));
  now += milliseconds(500);
  EXPECT_EQ(b.ready_at(now), now);
  b.take(now);
  EXPECT_GT(b.ready_at(now), now);
}

TEST(RateLimit, DisabledBucketNeverWaits) {
  TokenBucket b(0);
  TimePoint now = t0();
  for (int i = 0; i < 100; ++i) b.take(now);
  EXPECT_EQ(b.ready_at(now), now);
}

// Sends at the pace for `span`, the site answering successes; returns the
// number of starts.
int run_at_pace(AdaptivePace &a, TimePoint &now, Millis span) {
  const TimePoint end = now + span;
  int n = 0;
  while (now < end) {
    now = std::max(now, a.ready_at(now));
    a.on_start(now);
    a.on_success(now, now);
    ++n;
    now += milliseconds(1);
  }
  return n;
}

// An unlimited start: a burst of 9 at once, 8 accepted, the 9th throttled.
void first_cut(AdaptivePace &a, TimePoint now) {
  for (int i = 0; i < 9; ++i) a.on_start(now);
  for (int i = 0; i < 8; ++i) a.on_success(now, now);
  a.on_throttled(now, now, true);
}

// A pace with a ceiling: a first cut from unlimited, slow start, then a real
// cut (the ceiling is the rate it was sending at).
void cut_to_a_ceiling(AdaptivePace &a, TimePoint &now) {
  first_cut(a, now);
  run_at_pace(a, now, milliseconds(300));
  a.on_throttled(now, now, true);
}

TEST(RateLimit, FirstThrottleStartsFromTheAcceptedRateWithNoCeiling) {
  AdaptivePace a;
  TimePoint now = t0();
  for (int i = 0; i < 7; ++i) a.on_start(now);  // a burst of 7: 6 accepted, then a 429
  for (int i = 0; i < 6; ++i) a.on_success(now, now);
  EXPECT_EQ(a.rate(), 0);  // unlimited until a throttle
  EXPECT_EQ(a.on_throttled(now, now, true), AdaptivePace::Throttle::kCut);
  EXPECT_NEAR(a.rate(), 6.0, 0.01);
  EXPECT_EQ(a.ceiling(), 0);  // a floor to start from, not a limit
  // Slow start: the pace doubles every kSlowStartHalfLife while nothing is throttled.
  run_at_pace(a, now, 2 * AdaptivePace::kSlowStartHalfLife);
  EXPECT_GT(a.rate(), 20.0);
  EXPECT_LT(a.rate(), 30.0);
}

TEST(RateLimit, ThrottlesInFlightTogetherCostOneCut) {
  AdaptivePace a;
  TimePoint now = t0();
  first_cut(a, now);
  run_at_pace(a, now, milliseconds(300));
  const double before = a.rate();
  const TimePoint sent = now - milliseconds(5);
  EXPECT_EQ(a.on_throttled(now, sent, true), AdaptivePace::Throttle::kCut);
  const double after = a.rate();
  EXPECT_LT(after, before * 0.85);
  EXPECT_GT(a.ceiling(), 0);
  // Seven more 429s for requests sent before that cut: nothing new.
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(a.on_throttled(now + milliseconds(i), sent, true), AdaptivePace::Throttle::kOld);
  EXPECT_EQ(a.rate(), after);
}

TEST(RateLimit, RejectionsWhileTheSiteStillDrainsDoNotCutAgain) {
  AdaptivePace a;
  TimePoint now = t0();
  cut_to_a_ceiling(a, now);
  const double after_cut = a.rate();
  // Sent after the cut, rejected before anything sent since was accepted:
  // the site's bucket was still full from before.
  const TimePoint sent = now + milliseconds(50);
  EXPECT_EQ(a.on_throttled(sent + milliseconds(2), sent, true), AdaptivePace::Throttle::kDrain);
  EXPECT_EQ(a.rate(), after_cut);
  EXPECT_TRUE(a.cut_failed());  // a Retry-After would pause the pair now
  // Accepted at the new pace; a rejection of a later request is news.
  a.on_success(sent + milliseconds(100), sent + milliseconds(90));
  EXPECT_FALSE(a.cut_failed());
  EXPECT_EQ(a.on_throttled(sent + milliseconds(200), sent + milliseconds(150), true),
            AdaptivePace::Throttle::kCut);
  EXPECT_LT(a.rate(), after_cut);
}

TEST(RateLimit, RejectionsWithNothingAcceptedCutOnceEveryDrainWait) {
  AdaptivePace a;
  TimePoint now = t0();
  cut_to_a_ceiling(a, now);
  const double after_cut = a.rate();
  int cuts = 0;
  for (int i = 1; i <= 30; ++i) {  // a spent quota: 3 s of rejections only
    now += milliseconds(100);
    cuts += a.on_throttled(now, now, true) == AdaptivePace::Throttle::kCut;
  }
  EXPECT_EQ(cuts, 3);
  EXPECT_LT(a.rate(), after_cut * 0.6);
}

TEST(RateLimit, PaceSpacesStartsAndProbesGentlyAboveTheCut) {
  AdaptivePace a;
  TimePoint now = t0();
  cut_to_a_ceiling(a, now);  // ceiling = the rate sent at
  const double ceiling = a.ceiling();
  ASSERT_GT(ceiling, 0);
  EXPECT_LE(a.rate(), AdaptivePace::kCut * ceiling + 0.01);
  // Starts are spaced 1/rate apart.
  now = a.ready_at(now);
  a.on_start(now);
  const Millis gap = std::chrono::duration_cast<Millis>(a.ready_at(now) - now);
  EXPECT_NEAR(static_cast<double>(gap.count()), 1000.0 / a.rate(), 2.0);
  // Once slow start has ended: about kProbe x ceiling more a second, not doubled.
  run_at_pace(a, now, milliseconds(1000));
  const double before = a.rate();
  run_at_pace(a, now, milliseconds(1000));
  EXPECT_NEAR(a.rate() - before, AdaptivePace::kProbe * ceiling, 0.25 * ceiling * 0.1 + 0.5);
}

TEST(RateLimit, OutageCutsKeepTheCeilingAndRecoverWithinSeconds) {
  AdaptivePace a;
  TimePoint now = t0();
  cut_to_a_ceiling(a, now);
  const double ceiling = a.ceiling();
  for (int i = 0; i < 20; ++i) {  // 20 s of 5xx from a failing host
    now += milliseconds(1000);
    a.on_throttled(now, now, false);
  }
  EXPECT_EQ(a.rate(), AdaptivePace::kMinRate);
  EXPECT_EQ(a.ceiling(), ceiling);
  run_at_pace(a, now, milliseconds(5000));  // answers succeed again: back within seconds
  EXPECT_GE(a.rate(), AdaptivePace::kCut * ceiling * 0.99);
}

TEST(RateLimit, BrakeIsDroppedWellAboveTheCeiling) {
  AdaptivePace a;
  TimePoint now = t0();
  cut_to_a_ceiling(a, now);
  run_at_pace(a, now, milliseconds(30000));  // no throttle for 30 s
  EXPECT_EQ(a.rate(), 0);
  EXPECT_EQ(a.ready_at(now), now);
}

TEST(RateLimit, RetryAfterPausesThePair) {
  AdaptivePace a;
  TimePoint now = t0();
  a.pause_until(now + seconds(7));
  EXPECT_GE(a.ready_at(now), now + seconds(7));
  EXPECT_EQ(a.paused_for(now), seconds(7));
}

TEST(RateLimit, BanCooldownGrows) {
  AdaptivePace a;
  TimePoint now = t0();
  a.on_ban(now);
  TimePoint first = a.ready_at(now);
  EXPECT_GT(first, now);
  now = first;
  a.on_ban(now);
  EXPECT_GT(a.ready_at(now) - now, first - t0());
}

TEST(HostSignal, OneFilesTroubleIsNotTheHosts) {
  HostSignal s;
  for (int i = 0; i < 16; ++i) s.on_answer(1 + i % 6, false);  // 6 files, failing again and again
  EXPECT_FALSE(s.failing());
  HostSignal t;
  for (uint64_t id = 1; id <= 10; ++id) t.on_answer(id, false);  // 10 files fail
  for (uint64_t id = 11; id <= 14; ++id) t.on_answer(id, true);
  EXPECT_TRUE(t.failing());
  for (uint64_t id = 15; id <= 30; ++id) t.on_answer(id, true);  // answers succeed again
  EXPECT_FALSE(t.failing());
}

TEST(RateLimit, PairsAreIndependent) {
  RateLimits r(1.0);
  TimePoint now = t0();
  r.at(0, "a.example").on_start(now);
  EXPECT_GT(r.ready_at(0, "a.example", now), now);
  EXPECT_EQ(r.ready_at(1, "a.example", now), now);
  EXPECT_EQ(r.ready_at(0, "b.example", now), now);
}

TEST(RateLimit, UrlHost) {
  EXPECT_EQ(url_host("https://Files.Example:8443/a/b?x"), "files.example:8443");
  EXPECT_EQ(url_host("http://u:p@h/x"), "h");
  EXPECT_EQ(url_host("nope"), "");
}

// --- outcome mapping ---------------------------------------------------------

transport::Failure fail(dlhost_failure kind, bool retryable = false, bool proxy = false) {
  transport::Failure f;
  f.kind = kind;
  f.retryable = retryable;
  f.proxy_fault = proxy;
  f.message = std::string(1, 'm');  // not = "m": GCC 12 -Werror=restrict (PR 105651) in Release
  return f;
}

TEST(Outcome, MapsStatusesAndFaults) {
  auto o = [](const transport::Failure &f, long s) { return attempt_result(f, s, {}).outcome; };
  EXPECT_EQ(o(fail(DLHOST_FAILURE_NONE), 200), Outcome::kSuccess);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_HTTP), 404), Outcome::kFatal);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_HTTP), 410), Outcome::kFatal);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_HTTP), 403), Outcome::kBanned);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_HTTP, true), 429), Outcome::kThrottled);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_HTTP, true), 503), Outcome::kRetryable);  // no Retry-After
  EXPECT_EQ(attempt_result(fail(DLHOST_FAILURE_HTTP, true), 503, Millis(2000)).outcome,
            Outcome::kThrottled);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_HTTP), 501), Outcome::kRetryable);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_HTTP, true), 502), Outcome::kRetryable);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_PROXY_AUTH, false, true), 407), Outcome::kProxyAuth);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_PROXY, true, true), 0), Outcome::kProxyFault);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_TIMEOUT, true, true), 0), Outcome::kProxyFault);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_TIMEOUT, false), 0), Outcome::kRetryable);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_TRANSPORT, true), 0), Outcome::kRetryable);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_TRANSPORT, false), 0), Outcome::kFatal);  // TLS verify
  EXPECT_EQ(o(fail(DLHOST_FAILURE_VERIFY, true), 200), Outcome::kRetryable);
  EXPECT_EQ(o(fail(DLHOST_FAILURE_IO), 200), Outcome::kFatal);
  transport::Failure c;
  c.cancelled = true;
  EXPECT_EQ(o(c, 0), Outcome::kCancelled);
}

TEST(Outcome, KeepsRetryAfter) {
  auto r = attempt_result(fail(DLHOST_FAILURE_HTTP, true), 429, milliseconds(1500));
  EXPECT_EQ(r.retry_after, milliseconds(1500));
  EXPECT_EQ(r.http_status, 429);
}

TEST(Outcome, BlockPageDetection) {
  EXPECT_TRUE(looks_like_block_page("text/html; charset=utf-8", "https://h/data/a.bin"));
  EXPECT_TRUE(looks_like_block_page("TEXT/HTML", "https://h/a.jpg?x=1"));
  EXPECT_FALSE(looks_like_block_page("application/octet-stream", "https://h/a.bin"));
  EXPECT_FALSE(looks_like_block_page("text/html", "https://h/page.html"));
  EXPECT_FALSE(looks_like_block_page("text/html", "https://h/"));
  EXPECT_FALSE(looks_like_block_page("text/html", "https://h"));
}

// The detection itself is common's (transport_failure_test.cpp); here: every
// way a proxy refuses its credentials ends the path for the run.
TEST(Outcome, ProxyCredentialRejection) {
  auto via_proxy = [](long connect_code, long status, std::string www_authenticate) {
    transport::TransferOutcome o;
    o.code = connect_code ? CURLE_RECV_ERROR : CURLE_OK;
    o.via_proxy = true;
    o.connect_code = connect_code;
    o.http_status = status;
    o.www_authenticate = std::move(www_authenticate);
    o.url = "http://u:pw@h/x";
    return attempt_result(transport::classify(o), status, {});
  };
  for (auto r : {via_proxy(407, 0, ""), via_proxy(401, 0, ""), via_proxy(0, 407, ""),
                 via_proxy(0, 401, "Basic realm=\"Tinyproxy\"")}) {
    EXPECT_EQ(r.outcome, Outcome::kProxyAuth) << r.message;
    EXPECT_EQ(r.failure, DLHOST_FAILURE_PROXY_AUTH) << r.message;
    EXPECT_NE(r.message.find("the proxy rejected its credentials"), std::string::npos) << r.message;
    EXPECT_EQ(r.message.find("pw"), std::string::npos) << r.message;
  }
  auto origin = via_proxy(0, 401, "Basic realm=\"members\"");  // the origin wants a login
  EXPECT_EQ(origin.outcome, Outcome::kFatal);
  EXPECT_EQ(origin.failure, DLHOST_FAILURE_HTTP);
}

}  // namespace
}  // namespace dlhost::mp
