// Unit tests of the scheduler under rate limits and outages (issue 11): a
// throttled file goes to a path with spare rate, one file's 5xx does not
// brake its host, waits are bounded (Retry-After cap, outage timeout), posts
// stay whole, pins hold. Fake time, no network.
#include <gtest/gtest.h>

#include <set>

#include "multiproxy_scheduler_fixture.h"
#include "scheduler.h"

namespace dlhost::mp {
namespace {

using namespace test;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kUrl = "http://site/f";

double rate_of(const Scheduler &s, size_t path, TimePoint now) {
  for (const PairView &v : s.pairs(path, now))
    if (v.host == "site") return v.rate;
  return 0;
}

TEST(SchedulerRate, ThrottledFileGoesAtOnceToAPathWithSpareRateAndKeepsItsBudget) {
  Fixture f(config(2, 2), {"p0", "p1"});
  uint64_t a = f.add("a", kUrl);
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  const size_t first = d[0].path;
  for (int i = 0; i < 5; ++i) {  // more throttles than PROXY_MAX_RETRIES (2 here)
    Verdict v = f.end(a, Outcome::kThrottled, 429);
    ASSERT_EQ(v.kind, Verdict::kRetry) << "throttle " << i;
    EXPECT_EQ(v.delay, Millis(0));
    d = f.drain();
    if (d.empty()) {  // both paces are braked now: the first to allow it takes it
      ASSERT_NE(f.s.wake_at(), kNever);
      ASSERT_LE(f.s.wake_at(), f.now + seconds(2));  // the pace's floor: 0.5/s
      f.now = f.s.wake_at();
      d = f.drain();
    }
    ASSERT_EQ(d.size(), 1u) << "throttle " << i;
  }
  EXPECT_EQ(f.end(a, Outcome::kSuccess).kind, Verdict::kCompleted);
  (void)first;
}

TEST(SchedulerRate, ThrottleMovesTheFileOffItsPathWhenAnotherHasSpareRate) {
  Fixture f(config(2, 2), {"p0", "p1"});
  uint64_t a = f.add("a", kUrl);
  auto d = f.drain();
  const size_t first = d[0].path;
  f.end(a, Outcome::kThrottled, 429);
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].path, first);
  EXPECT_EQ(d[0].moved_from, first);  // counted as a move in stats
}

TEST(SchedulerRate, RetryAfterKeepsTheFileOffEachPathThatSentIt) {
  Fixture f(config(2, 2), {"p0", "p1"});
  uint64_t a = f.add("a", kUrl);
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  const size_t first = d[0].path;
  f.end(a, Outcome::kThrottled, 429, seconds(3));
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].path, first);  // elsewhere at once
  f.now += milliseconds(100);
  f.end(a, Outcome::kThrottled, 429, seconds(3));  // and throttled there too
  // Neither path may have it before its own Retry-After has passed.
  f.now += seconds(2);
  EXPECT_TRUE(f.drain().empty());
  f.now = f.s.wake_at();
  EXPECT_EQ(f.now, t0() + seconds(3));
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path, first);
}

TEST(SchedulerRate, OneFilesRepeated503DoNotBrakeTheHost) {
  Fixture f(config(1, 8), {"direct"});
  std::vector<uint64_t> bad;
  for (int i = 0; i < 6; ++i) bad.push_back(f.add("g", kUrl));
  for (int i = 0; i < 20; ++i) f.add("g", kUrl);
  for (int round = 0; round < 3; ++round) {
    for (const Dispatch &d : f.drain()) {
      const bool is_bad = std::find(bad.begin(), bad.end(), d.task_id) != bad.end();
      f.end(d.task_id, is_bad ? Outcome::kRetryable : Outcome::kSuccess, is_bad ? 503 : 200);
    }
    f.now += seconds(5);  // past the retries' backoff
  }
  EXPECT_EQ(rate_of(f.s, 0, f.now), 0);  // no brake: the host answers others well
}

TEST(SchedulerRate, MostAnswersFailingFromManyFilesBrakesThePair) {
  Fixture f(config(1, 16), {"direct"});
  for (int i = 0; i < 16; ++i) f.add("g", kUrl);
  for (const Dispatch &d : f.drain()) f.end(d.task_id, Outcome::kSuccess);
  for (int i = 0; i < 16; ++i) f.add("g", kUrl);
  f.now += milliseconds(10);
  for (const Dispatch &d : f.drain()) f.end(d.task_id, Outcome::kRetryable, 502);
  EXPECT_GT(rate_of(f.s, 0, f.now), 0);  // an outage: the pace is cut
}

TEST(SchedulerRate, RetryAfterBeyondTheCapPausesThePairAtMostTheCapAndUsesBudget) {
  SchedulerConfig cfg = config(2, 2);
  cfg.max_retry_after = seconds(60);
  Fixture f(cfg, {"p0", "p1"});
  uint64_t a = f.add("a", kUrl);
  auto d = f.drain();
  const size_t first = d[0].path;
  Verdict v = f.end(a, Outcome::kThrottled, 429, std::chrono::hours(2));
  EXPECT_EQ(v.kind, Verdict::kRetry);
  EXPECT_LT(v.delay, seconds(60));  // a backoff, not the two hours
  for (const PairView &p : f.s.pairs(first, f.now)) {
    if (p.host == "site") {
      EXPECT_EQ(p.paused, seconds(60));
    }
  }
  f.now += v.delay;
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].path, first);
}

TEST(SchedulerRate, EveryPathDownFailsQueuedFilesAfterTheOutageTimeout) {
  SchedulerConfig cfg = config(2, 2);
  cfg.outage_timeout = seconds(30);
  cfg.health_failures = 1;
  Fixture f(cfg, {"p0"});
  uint64_t a = f.add("a", kUrl);
  for (int i = 0; i < 3; ++i) f.add("b", kUrl);
  for (const Dispatch &d : f.drain()) f.end(d.task_id, Outcome::kProxyFault);
  EXPECT_TRUE(f.s.take_doomed().empty());
  // Probes go on while the outage lasts: after each cooldown one file tries.
  bool probed = false;
  while (f.now < t0() + seconds(29)) {
    f.now += milliseconds(500);
    for (const Dispatch &d : f.drain()) {
      probed = true;
      f.end(d.task_id, Outcome::kProxyFault);
    }
    ASSERT_TRUE(f.s.take_doomed().empty());
  }
  EXPECT_TRUE(probed);
  f.now = t0() + seconds(31);
  std::vector<Doomed> doomed;
  for (int i = 0; i < 3 && f.s.size() > 0; ++i) {  // a probe in flight ends first
    for (const Dispatch &d : f.drain()) f.end(d.task_id, Outcome::kProxyFault);
    for (Doomed &x : f.s.take_doomed()) doomed.push_back(std::move(x));
  }
  EXPECT_EQ(doomed.size(), 4u);
  for (const Doomed &x : doomed) {
    EXPECT_EQ(x.failure, DLHOST_FAILURE_PROXY);
    EXPECT_NE(x.message.find("no usable path for"), std::string::npos) << x.message;
  }
  EXPECT_EQ(f.s.size(), 0u);
  (void)a;
}

TEST(SchedulerRate, APathBackUpEndsTheOutage) {
  SchedulerConfig cfg = config(2, 2);
  cfg.outage_timeout = seconds(30);
  cfg.health_failures = 1;
  Fixture f(cfg, {"p0"});
  uint64_t a = f.add("a", kUrl);
  f.drain();
  f.end(a, Outcome::kProxyFault);
  f.now += seconds(20);
  auto d = f.drain();  // the probe
  ASSERT_EQ(d.size(), 1u);
  f.end(a, Outcome::kSuccess);
  f.add("b", kUrl);
  f.now += seconds(20);  // 40 s after the path went down, 20 s after it came back
  EXPECT_EQ(f.drain().size(), 1u);
  EXPECT_TRUE(f.s.take_doomed().empty());
}

TEST(SchedulerRate, AGroupKeepsItsHomeBetweenFilesUnderEveryStrategy) {
  for (StrategyKind k :
       {StrategyKind::kLoadBalanced, StrategyKind::kRoundRobin, StrategyKind::kFirstAvailable}) {
    SchedulerConfig cfg = config(1, 1);
    cfg.strategy = k;
    Fixture f(cfg, {"p0", "p1", "p2"});
    for (int g = 0; g < 6; ++g)
      for (int i = 0; i < 4; ++i) f.add(group_name(g), kUrl);
    std::map<std::string, std::set<size_t>> paths_of_group;
    for (int step = 0; step < 200 && f.s.size() > 0; ++step) {
      auto d = f.drain();
      for (const Dispatch &x : d) {
        paths_of_group[f.s.spec(x.task_id)->group].insert(x.path);
        f.end(x.task_id, Outcome::kSuccess);
      }
      f.now += milliseconds(10);
    }
    EXPECT_EQ(f.s.size(), 0u);
    for (const auto &[g, paths] : paths_of_group)
      EXPECT_EQ(paths.size(), 1u) << g << " split under " << strategy_name(k);
  }
}

TEST(SchedulerRate, APinnedFileRunsOnlyOnItsPath) {
  Fixture f(config(4, 4), {"p0", "p1", "p2"});
  for (int i = 0; i < 6; ++i) f.add("g", kUrl, "p2");
  std::set<size_t> used;
  for (const Dispatch &d : f.drain()) used.insert(d.path);
  EXPECT_EQ(used, std::set<size_t>{2});
}

TEST(SchedulerRate, APinToAnUnlistedOrRemovedProxyFailsTheFile) {
  Fixture f(config(4, 4), {"p0", "p1"});
  f.add("g", kUrl, "nope");
  f.drain();
  auto doomed = f.s.take_doomed();
  ASSERT_EQ(doomed.size(), 1u);
  EXPECT_NE(doomed[0].message.find("\"nope\" is not in PROXY_LIST"), std::string::npos);
  f.add("g", kUrl, "p1");
  f.s.set_paths({"p0"});
  EXPECT_TRUE(f.drain().empty());
  doomed = f.s.take_doomed();
  ASSERT_EQ(doomed.size(), 1u);
  EXPECT_NE(doomed[0].message.find("removed"), std::string::npos);
}

}  // namespace
}  // namespace dlhost::mp
