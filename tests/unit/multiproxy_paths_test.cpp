// Unit tests of the scheduler's path changes (set_paths(), behind the
// plugin's set_proxies()): a new id is a new healthy path that takes work at
// once; a retired id takes no new attempt while its files in flight finish
// there; a post leaves a retired home whole; a retired id comes back as it
// was (still busy) or fresh (idle); no path listed means files wait. Fake
// time, no network.
#include <gtest/gtest.h>

#include <set>

#include "multiproxy_scheduler_fixture.h"
#include "scheduler.h"

namespace dlhost::mp {
namespace {

using namespace test;

std::set<size_t> paths_of(const std::vector<Dispatch> &ds) {
  std::set<size_t> out;
  for (const auto &d : ds) out.insert(d.path);
  return out;
}

TEST(SchedulerPaths, ANewIdIsANewHealthyPathThatTakesWorkAtOnce) {
  Fixture f(config(1, 2), {"direct"});
  for (int i = 0; i < 4; ++i) f.add("a");
  for (int i = 0; i < 4; ++i) f.add("b");
  auto first = f.drain();
  EXPECT_EQ(first.size(), 2u);  // one post on direct, two attachments
  EXPECT_EQ(paths_of(first), std::set<size_t>{0});

  PathChange c = f.s.set_paths({"direct", "http://127.0.0.2:8888"});
  ASSERT_EQ(c.listed.size(), 2u);
  EXPECT_EQ(c.listed[0].kind, PathSlot::kKept);
  EXPECT_EQ(c.listed[1].kind, PathSlot::kAdded);
  EXPECT_EQ(c.listed[1].path, 1u);
  EXPECT_TRUE(c.retired.empty());
  EXPECT_EQ(f.s.path_count(), 2u);
  EXPECT_EQ(f.s.path_id(1), "http://127.0.0.2:8888");
  EXPECT_EQ(f.s.health(1).state(f.now), HealthState::kHealthy);

  auto second = f.drain();  // post "b" gets the new path, with its own limits
  EXPECT_EQ(second.size(), 2u);
  EXPECT_EQ(paths_of(second), std::set<size_t>{1});
  EXPECT_EQ(f.s.posts(1), 1);
  EXPECT_EQ(f.s.group_in_flight("b", 1), 2);
}

TEST(SchedulerPaths, ARetiredPathTakesNoNewAttemptAndItsFilesFinishThere) {
  SchedulerConfig cfg = config(2, 2);
  cfg.strategy = StrategyKind::kFirstAvailable;
  Fixture f(cfg, {"a", "b"});
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(f.add("post"));
  auto first = f.drain();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(paths_of(first), std::set<size_t>{0});

  PathChange c = f.s.set_paths({"b"});
  ASSERT_EQ(c.listed.size(), 1u);
  EXPECT_EQ(c.listed[0].path, 1u);
  EXPECT_EQ(c.retired, std::vector<size_t>{0});
  EXPECT_FALSE(f.s.listed(0));
  EXPECT_EQ(f.s.in_flight(0), 2);  // untouched: they finish on "a"

  auto second = f.drain();  // the post's next files go to "b" only
  EXPECT_EQ(second.size(), 2u);
  EXPECT_EQ(paths_of(second), std::set<size_t>{1});

  // The two on "a" end there: one completes, one fails and retries on "b".
  EXPECT_EQ(f.end(first[0].task_id, Outcome::kSuccess).kind, Verdict::kCompleted);
  Verdict v = f.end(first[1].task_id, Outcome::kRetryable, 503);
  EXPECT_EQ(v.kind, Verdict::kRetry);
  EXPECT_EQ(f.s.in_flight(0), 0);
  EXPECT_EQ(f.s.posts(0), 0);
  f.end(second[0].task_id, Outcome::kSuccess);
  f.now += v.delay;
  auto third = f.drain();
  ASSERT_FALSE(third.empty());
  EXPECT_EQ(paths_of(third), std::set<size_t>{1});
  EXPECT_EQ(third[0].task_id, first[1].task_id);  // the retry, first in line
  EXPECT_EQ(f.s.in_flight(0), 0);
}

TEST(SchedulerPaths, APostLeavesARetiredHomeWhole) {
  Fixture f(config(2, 2), {"a", "b", "c"});
  for (int i = 0; i < 8; ++i) f.add("post");
  auto first = f.drain();
  ASSERT_EQ(first.size(), 2u);
  const size_t home = first[0].path;
  EXPECT_EQ(paths_of(first), std::set<size_t>{home});

  std::vector<std::string> rest;
  for (size_t p = 0; p < 3; ++p)
    if (p != home) rest.push_back(f.s.path_id(p));
  f.s.set_paths(rest);
  auto second = f.drain();
  // One new home takes the post's next files (up to its attachment limit);
  // they are not spread over both remaining paths.
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(paths_of(second).size(), 1u);
  EXPECT_NE(second[0].path, home);
  // The files in flight on the old home finish there; the post's next file
  // joins it on its new home.
  for (const auto &d : first) f.end(d.task_id, Outcome::kSuccess);
  f.end(second[0].task_id, Outcome::kSuccess);
  auto third = f.drain();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].path, second[0].path);
}

TEST(SchedulerPaths, AnIdleRetiredIdComesBackFreshABusyOneAsItWas) {
  Fixture f(config(1, 1), {"a", "b"});
  uint64_t x = f.add("x");
  uint64_t y = f.add("y");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 2u);
  // "a" (whichever carried x) dies of a 407, then leaves the list while idle.
  const size_t px = d[0].task_id == x ? d[0].path : d[1].path;
  const size_t py = 1 - px;
  EXPECT_EQ(f.end(x, Outcome::kProxyAuth, 407).kind, Verdict::kRetry);
  EXPECT_FALSE(f.s.health(px).usable());
  f.s.set_paths({f.s.path_id(py)});
  PathChange back = f.s.set_paths({f.s.path_id(px), f.s.path_id(py)});
  ASSERT_EQ(back.listed.size(), 2u);
  EXPECT_EQ(back.listed[0].kind, PathSlot::kRenewed);
  EXPECT_EQ(back.listed[0].path, px);  // the same slot: stats keep one row per id
  EXPECT_EQ(f.s.health(px).state(f.now), HealthState::kHealthy);
  EXPECT_EQ(f.s.path_count(), 2u);

  // "b" leaves with y still in flight and comes back before y ends: as it was.
  f.s.set_paths({f.s.path_id(px)});
  PathChange again = f.s.set_paths({f.s.path_id(px), f.s.path_id(py)});
  EXPECT_EQ(again.listed[1].kind, PathSlot::kReturned);
  EXPECT_EQ(f.s.in_flight(py), 1);
  EXPECT_EQ(f.end(y, Outcome::kSuccess).kind, Verdict::kCompleted);
  auto retry = f.drain();  // x, moved off the dead path, may use the renewed one
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].task_id, x);
}

TEST(SchedulerPaths, WithNoPathListedFilesWaitUpToTheOutageTimeout) {
  Fixture f(config(2, 2), {"a"});
  f.s.set_paths({});
  EXPECT_EQ(f.s.listed_count(), 0u);
  for (int i = 0; i < 3; ++i) f.add("p");
  EXPECT_TRUE(f.drain().empty());
  EXPECT_TRUE(f.s.take_doomed().empty());
  EXPECT_EQ(f.s.wake_at(), f.now + SchedulerConfig{}.outage_timeout);
  f.now += seconds(299);
  EXPECT_TRUE(f.drain().empty());
  EXPECT_TRUE(f.s.take_doomed().empty());
  f.s.set_paths({"b"});
  auto d = f.drain();
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(paths_of(d), std::set<size_t>{1});
}

TEST(SchedulerPaths, FirstAvailableFollowsTheNewListsOrder) {
  SchedulerConfig cfg = config(1, 1);
  cfg.strategy = StrategyKind::kFirstAvailable;
  Fixture f(cfg, {"a", "b"});
  f.s.set_paths({"b", "a"});
  f.add("p");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path, 1u);  // "b": first in the list now
}

TEST(SchedulerPaths, AListWhoseOnlyPathIsDeadFailsPendingWork) {
  Fixture f(config(1, 1), {"a", "b"});
  uint64_t x = f.add("x");
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  f.end(x, Outcome::kProxyAuth, 407);
  const std::string dead = f.s.path_id(d[0].path);
  f.s.set_paths({dead});  // the live one leaves: only the dead one is listed
  f.add("y");
  EXPECT_TRUE(f.drain().empty());
  EXPECT_EQ(f.s.take_doomed().size(), 2u);  // as with every path dead (407)
}

TEST(SchedulerPaths, ReviveGivesADeadPathAnotherChance) {
  Fixture f(config(1, 1), {"a"});
  uint64_t x = f.add("x");
  f.drain();
  f.end(x, Outcome::kProxyAuth, 407);
  ASSERT_FALSE(f.s.health(0).usable());
  f.s.revive(0);  // new credentials
  EXPECT_EQ(f.s.health(0).state(f.now), HealthState::kHealthy);
  auto d = f.drain();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].task_id, x);
}

TEST(SchedulerPaths, ARepeatedIdCountsOnce) {
  Fixture f(config(1, 1), {"a"});
  PathChange c = f.s.set_paths({"a", "b", "b"});
  EXPECT_EQ(f.s.path_count(), 2u);
  EXPECT_EQ(f.s.listed_count(), 2u);
  ASSERT_EQ(c.listed.size(), 3u);
  EXPECT_EQ(c.listed[2].path, 1u);
}

}  // namespace
}  // namespace dlhost::mp
