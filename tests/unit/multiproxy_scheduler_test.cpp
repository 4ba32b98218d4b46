// Unit tests of the multi-proxy scheduler: limits per path and group,
// strategy use, retries and backoff, proxy faults, 407, bans. Fake time,
// fixed random numbers, no network.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "multiproxy_scheduler_fixture.h"
#include "scheduler.h"

namespace dlhost::mp {
namespace {

using namespace test;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Scheduler, AttachmentLimitPerGroupOnOnePath) {
  Fixture f(config(2, 3), {"direct"});
  for (int i = 0; i < 10; ++i) f.add("post-a");
  auto d = f.drain();
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(f.s.group_in_flight("post-a", 0), 3);
  EXPECT_EQ(f.s.posts(0), 1);
}

TEST(Scheduler, PostLimitPerPath) {
  Fixture f(config(2, 2), {"direct"});
  for (const char *g : {"a", "b", "c"})
    for (int i = 0; i < 5; ++i) f.add(g);
  auto d = f.drain();
  EXPECT_EQ(d.size(), 4u);  // 2 posts x 2 files
  EXPECT_EQ(f.s.posts(0), 2);
  EXPECT_EQ(f.s.group_in_flight("a", 0), 2);
  EXPECT_EQ(f.s.group_in_flight("b", 0), 2);
  EXPECT_EQ(f.s.group_in_flight("c", 0), 0);
}

TEST(Scheduler, FreedSlotsRefillAndNewGroupsStartWhenAPostEnds) {
  Fixture f(config(1, 2), {"direct"});
  uint64_t a1 = f.add("a"), a2 = f.add("a");
  f.add("b");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(f.end(a1, Outcome::kSuccess).kind, Verdict::kCompleted);
  EXPECT_TRUE(f.drain().empty());  // "a" still holds the only post
  f.end(a2, Outcome::kSuccess);
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(f.s.group_in_flight("b", 0), 1);
}

TEST(Scheduler, GroupsSpreadOverPathsAndStayOnTheirHome) {
  Fixture f(config(1, 4), {"p0", "p1", "p2"});
  for (const char *g : {"a", "b", "c"})
    for (int i = 0; i < 4; ++i) f.add(g);
  auto d = f.drain();
  EXPECT_EQ(d.size(), 12u);
  std::map<size_t, int> per_path;
  for (auto &x : d) per_path[x.path]++;
  EXPECT_EQ(per_path, (std::map<size_t, int>{{0, 4}, {1, 4}, {2, 4}}));
  for (size_t p = 0; p < 3; ++p) EXPECT_EQ(f.s.in_flight(p), 4);
  EXPECT_EQ(f.s.group_in_flight("a", 0), 4);
  EXPECT_EQ(f.s.group_in_flight("b", 1), 4);
}

TEST(Scheduler, LoadBalancedUsesMeasuredInFlight) {
  Fixture f(config(8, 1), {"p0", "p1"});
  // Six single-file groups: 3 per path.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(f.add(group_name(i)));
  auto d = f.drain();
  ASSERT_EQ(d.size(), 6u);
  EXPECT_EQ(f.s.in_flight(0), 3);
  EXPECT_EQ(f.s.in_flight(1), 3);
  // Finish everything on p1: the next two groups both go to p1.
  for (auto &x : d)
    if (x.path == 1) f.end(x.task_id, Outcome::kSuccess);
  f.add("n1");
  f.add("n2");
  d = f.drain();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].path, 1u);
  EXPECT_EQ(d[1].path, 1u);
}

TEST(Scheduler, RetryWaitsForBackoffAndMovesToAnotherPath) {
  Fixture f(config(2, 2), {"p0", "p1"});
  uint64_t id = f.add("a");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  size_t first = d[0].path;
  Verdict v = f.end(id, Outcome::kRetryable, 502);
  EXPECT_EQ(v.kind, Verdict::kRetry);
  EXPECT_EQ(v.delay, milliseconds(500));  // 0.5 * 1000
  EXPECT_TRUE(f.drain().empty());
  EXPECT_EQ(f.s.wake_at(), f.now + milliseconds(500));
  f.now += milliseconds(500);
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].path, first);
  EXPECT_EQ(d[0].attempt, 2);
}

TEST(Scheduler, RetryBudgetThenFail) {
  Fixture f(config(1, 1), {"direct"});
  uint64_t id = f.add("a");
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto d = f.drain();
    ASSERT_EQ(d.size(), 1u) << attempt;
    EXPECT_EQ(d[0].attempt, attempt);
    Verdict v = f.end(id, Outcome::kRetryable, 500);
    if (attempt < 3) {
      EXPECT_EQ(v.kind, Verdict::kRetry);
      f.now += v.delay;
    } else {
      EXPECT_EQ(v.kind, Verdict::kFailed);  // max_retries = 2: 3 attempts
    }
  }
  EXPECT_EQ(f.s.size(), 0u);
}

TEST(Scheduler, NotFoundFailsAtOnce) {
  Fixture f(config(1, 1), {"p0", "p1"});
  uint64_t id = f.add("a");
  f.drain();
  EXPECT_EQ(f.end(id, Outcome::kFatal, 404).kind, Verdict::kFailed);
}

TEST(Scheduler, ThrottleHonoursRetryAfter) {
  Fixture f(config(2, 1), {"direct"});
  uint64_t id = f.add("a");
  f.drain();
  f.add("b");
  Verdict v = f.end(id, Outcome::kThrottled, 429, seconds(5));
  EXPECT_EQ(v.kind, Verdict::kRetry);
  EXPECT_EQ(v.delay, Millis(0));  // no budgeted backoff: the rate was the trouble
  // The throttled file stays off the pair for 5 s; another file goes on at
  // the pair's cut pace.
  f.now += seconds(2);
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].task_id, id);
  EXPECT_EQ(f.s.wake_at(), t0() + seconds(5));
  f.now += seconds(3);
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].task_id, id);
}

TEST(Scheduler, RetryAfterPausesThePairWhenItsCutDidNotHelp) {
  Fixture f(config(2, 1), {"direct"});
  uint64_t a = f.add("a"), b = f.add("b");
  f.drain();
  f.end(a, Outcome::kThrottled, 429, seconds(5));  // the cut
  f.end(b, Outcome::kThrottled, 429, seconds(5));  // sent before it: the same event
  EXPECT_EQ(f.s.pairs(0, f.now).at(0).paused, Millis(0));
  uint64_t c = f.add("c");
  f.now += seconds(2);
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].task_id, c);
  // Sent after the cut and rejected, nothing accepted since: a quota spent.
  f.end(c, Outcome::kThrottled, 429, seconds(5));
  EXPECT_EQ(f.s.pairs(0, f.now).at(0).paused, seconds(5));
  f.now += seconds(4);
  EXPECT_TRUE(f.drain().empty());
  f.now += seconds(1);
  EXPECT_FALSE(f.drain().empty());
}

TEST(Scheduler, ProxyFaultsTakePathDownAndWorkMovesWithoutUsingRetries) {
  Fixture f(config(4, 4), {"p0", "p1"});
  SchedulerConfig c = config(4, 4);
  uint64_t a = f.add("a"), b = f.add("b");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 2u);
  // Both fail on their paths with a proxy fault: each moves to the other path at once.
  for (auto &x : d) {
    Verdict v = f.end(x.task_id, Outcome::kProxyFault);
    EXPECT_EQ(v.kind, Verdict::kRetry);
    EXPECT_EQ(v.delay, Millis(0));
  }
  auto d2 = f.drain();
  ASSERT_EQ(d2.size(), 2u);
  for (auto &x : d2) {
    size_t before = x.task_id == d[0].task_id ? d[0].path : d[1].path;
    EXPECT_NE(x.path, before);
  }
  (void)a;
  (void)b;
  (void)c;
}

TEST(Scheduler, AllPathsDownWaitsForTheFirstProbe) {
  SchedulerConfig c = config(4, 4);
  c.health_failures = 1;
  Fixture f(c, {"p0", "p1"});
  uint64_t id = f.add("a");
  for (int i = 0; i < 2; ++i) {
    auto d = f.drain();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(f.end(id, Outcome::kProxyFault).kind, Verdict::kRetry);
  }
  EXPECT_EQ(f.s.health(0).state(f.now), HealthState::kDown);
  EXPECT_EQ(f.s.health(1).state(f.now), HealthState::kDown);
  EXPECT_TRUE(f.drain().empty());
  EXPECT_TRUE(f.s.take_doomed().empty());  // waits, does not fail
  EXPECT_EQ(f.s.wake_at(), f.now + seconds(1));
  f.now += seconds(1);
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);  // the probe
  f.add("b");
  EXPECT_EQ(f.drain().size(), 1u);  // the other probing path takes b
  f.add("c");
  EXPECT_TRUE(f.drain().empty());  // both probes running: nothing else
  EXPECT_EQ(f.end(id, Outcome::kSuccess).kind, Verdict::kCompleted);
  EXPECT_EQ(f.s.health(d[0].path).state(f.now), HealthState::kHealthy);
  EXPECT_EQ(f.drain().size(), 1u);
}

TEST(Scheduler, ProxyAuthKillsThePathAndAllDeadFailsPendingWork) {
  Fixture f(config(1, 1), {"p0", "p1"});
  uint64_t a = f.add("a"), b = f.add("b");
  f.add("c");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 2u);
  Verdict va = f.end(a, Outcome::kProxyAuth, 407);
  EXPECT_TRUE(va.path_died);
  EXPECT_EQ(va.kind, Verdict::kRetry);
  Verdict vb = f.end(b, Outcome::kProxyAuth, 407);
  EXPECT_TRUE(vb.path_died);
  EXPECT_TRUE(f.drain().empty());
  auto doomed = f.s.take_doomed();
  std::set<uint64_t> ids;
  for (auto &x : doomed) {
    ids.insert(x.task_id);
    EXPECT_EQ(x.failure, DLHOST_FAILURE_PROXY_AUTH);
    EXPECT_NE(x.message.find("407"), std::string::npos);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(f.s.size(), 0u);
}

TEST(Scheduler, DeadPathIsNeverUsedAgain) {
  Fixture f(config(4, 1), {"p0", "p1"});
  uint64_t a = f.add("a");
  auto d = f.drain();
  size_t dead = d[0].path;
  f.end(a, Outcome::kProxyAuth, 407);
  for (int i = 0; i < 6; ++i) f.add(group_name(i));
  for (auto &x : f.drain()) EXPECT_NE(x.path, dead);
}

TEST(Scheduler, BanMovesTheFileAndCoolsThePathForThatHost) {
  Fixture f(config(4, 4), {"p0", "p1"});
  uint64_t a = f.add("a", "https://site/a.bin");
  auto d = f.drain();
  size_t banned = d[0].path;
  Verdict v = f.end(a, Outcome::kBanned, 403);
  EXPECT_EQ(v.kind, Verdict::kRetry);
  EXPECT_EQ(v.delay, Millis(0));
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].path, banned);
  EXPECT_EQ(f.end(a, Outcome::kSuccess).kind, Verdict::kCompleted);  // proves the ban
  // Another file for the same host avoids the banned path while it cools down...
  f.add("b", "https://site/b.bin");
  for (auto &x : f.drain()) EXPECT_NE(x.path, banned);
  // ...but a different host may still use it.
  f.add("c", "https://other/c.bin");
  f.add("d", "https://other/d.bin");
  bool used = false;
  for (auto &x : f.drain()) used |= x.path == banned;
  EXPECT_TRUE(used);
}

TEST(Scheduler, GroupLeavesAHomeThatIsPausedForItsHost) {
  Fixture f(config(4, 1), {"p0", "p1"});
  uint64_t a = f.add("g", "https://site/a.bin");
  f.add("g", "https://site/b.bin");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);  // attachment limit 1 on the home path
  size_t home = d[0].path;
  f.end(a, Outcome::kThrottled, 429, seconds(30));  // home paused 30 s for the host
  d = f.drain();
  ASSERT_EQ(d.size(), 1u);  // b does not wait 30 s for the home
  EXPECT_NE(d[0].path, home);
}

TEST(Scheduler, ARefusedFileDoesNotCoolPathsDown) {
  Fixture f(config(4, 4), {"p0", "p1"});
  uint64_t a = f.add("a", "https://site/forbidden.bin");
  f.drain();
  f.end(a, Outcome::kBanned, 403);
  f.drain();
  EXPECT_EQ(f.end(a, Outcome::kBanned, 403).kind, Verdict::kFailed);
  f.add("b", "https://site/b.bin");
  f.add("c", "https://site/c.bin");
  EXPECT_EQ(f.drain().size(), 2u);  // both paths still take work for the host
}

TEST(Scheduler, FileEveryPathRefusesFails) {
  Fixture f(config(4, 4), {"p0", "p1"});
  uint64_t a = f.add("a");
  f.drain();
  EXPECT_EQ(f.end(a, Outcome::kBanned, 403).kind, Verdict::kRetry);
  f.drain();
  Verdict v = f.end(a, Outcome::kBanned, 403);
  EXPECT_EQ(v.kind, Verdict::kFailed);
  EXPECT_NE(v.message.find("every path refused"), std::string::npos);
}

TEST(Scheduler, SingleDirectPathFailsA403AtOnce) {
  Fixture f(config(1, 1), {"direct"});
  uint64_t a = f.add("a");
  f.drain();
  EXPECT_EQ(f.end(a, Outcome::kBanned, 403).kind, Verdict::kFailed);
}

TEST(Scheduler, CancelQueuedAndRunning) {
  Fixture f(config(1, 1), {"direct"});
  uint64_t a = f.add("a"), b = f.add("a");
  f.drain();
  EXPECT_EQ(f.s.cancel(b), Scheduler::CancelState::kRemoved);
  EXPECT_EQ(f.s.cancel(a), Scheduler::CancelState::kRunning);
  EXPECT_EQ(f.end(a, Outcome::kCancelled).kind, Verdict::kCancelled);
  EXPECT_EQ(f.s.cancel(a), Scheduler::CancelState::kNotFound);
  EXPECT_EQ(f.s.size(), 0u);
  EXPECT_EQ(f.s.posts(0), 0);
  EXPECT_EQ(f.s.in_flight(0), 0);
}

TEST(Scheduler, CancelWaitingRetry) {
  Fixture f(config(1, 1), {"direct"});
  uint64_t a = f.add("a");
  f.drain();
  f.end(a, Outcome::kRetryable, 500);
  EXPECT_EQ(f.s.cancel(a), Scheduler::CancelState::kRemoved);
  f.now += seconds(100);
  EXPECT_TRUE(f.drain().empty());
}

TEST(Scheduler, FixedRateLimitPacesAPathPerHost) {
  SchedulerConfig c = config(8, 8);
  c.rate_limit = 2;  // 2 req/s, burst 2
  Fixture f(c, {"direct"});
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(f.add("a"));
  EXPECT_EQ(f.drain().size(), 2u);
  EXPECT_EQ(f.s.wake_at(), f.now + milliseconds(500));
  f.now += milliseconds(500);
  EXPECT_EQ(f.drain().size(), 1u);
}

TEST(Scheduler, ManyGroupsAllComplete) {
  Fixture f(config(2, 4), {"p0", "p1", "p2"});
  for (int i = 0; i < 300; ++i) f.add(group_name(i % 37));
  int done = 0;
  while (f.s.size() > 0) {
    auto d = f.drain();
    ASSERT_FALSE(d.empty());
    for (size_t p = 0; p < 3; ++p) {
      EXPECT_LE(f.s.posts(p), 2);
      EXPECT_LE(f.s.in_flight(p), 8);
    }
    for (auto &x : d) {
      f.end(x.task_id, Outcome::kSuccess);
      ++done;
    }
  }
  EXPECT_EQ(done, 300);
}

}  // namespace
}  // namespace dlhost::mp
