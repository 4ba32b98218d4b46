// In-process coordination: leases, completion records and the skip cache
// (expiry and persistence across instances, i.e. across runs).
#include <gtest/gtest.h>

#include <fstream>

#include "dlhost/host/coordination.hpp"

namespace fs = std::filesystem;
using namespace dlhost;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  std::chrono::system_clock::time_point now{std::chrono::seconds(1'700'000'000)};
  InProcessCoordinator::Clock fn() {
    return [this] { return now; };
  }
};

std::vector<std::string> keys(std::initializer_list<const char *> k) {
  return {k.begin(), k.end()};
}

}  // namespace

TEST(InProcessCoordinator, LeaseIsExclusiveUntilReleased) {
  InProcessCoordinator c;
  const auto first = c.take_leases(keys({"a", "b"}), 60s);
  ASSERT_TRUE(first[0] && first[1]);
  EXPECT_EQ(first[0]->key, "a");
  EXPECT_NE(first[0]->token, first[1]->token);
  const auto second = c.take_leases(keys({"a", "c"}), 60s);
  EXPECT_FALSE(second[0]);  // held elsewhere
  EXPECT_TRUE(second[1]);
  c.release_leases(std::vector<Lease>{*first[0]});
  EXPECT_TRUE(c.take_leases(keys({"a"}), 60s)[0]);
}

TEST(InProcessCoordinator, ReleaseWithAWrongTokenKeepsTheLease) {
  InProcessCoordinator c;
  const auto lease = c.take_leases(keys({"a"}), 60s)[0];
  c.release_leases(std::vector<Lease>{{"a", "not-the-token"}});
  EXPECT_FALSE(c.take_leases(keys({"a"}), 60s)[0]);
  EXPECT_EQ(c.renew_leases(std::vector<Lease>{*lease, {"a", "bogus"}}, 60s),
            (std::vector<bool>{true, false}));
}

TEST(InProcessCoordinator, LeasesExpireUnlessRenewed) {
  FakeClock clock;
  InProcessCoordinator c({}, clock.fn());
  const auto lease = c.take_leases(keys({"a", "b"}), 10s);
  clock.now += 8s;
  EXPECT_EQ(c.renew_leases(std::vector<Lease>{*lease[0]}, 10s), std::vector<bool>{true});
  clock.now += 8s;  // b expired at +10 s; a was renewed until +18 s
  const auto again = c.take_leases(keys({"a", "b"}), 10s);
  EXPECT_FALSE(again[0]);
  EXPECT_TRUE(again[1]);
  // The old holder of b has lost it: renewing fails.
  EXPECT_EQ(c.renew_leases(std::vector<Lease>{*lease[1]}, 10s), std::vector<bool>{false});
}

// In-process, completion is known from the disk, not from a table that would
// grow with the job: recording keeps nothing, and a released lease is gone.
TEST(InProcessCoordinator, KeepsNoCompletionRecordsAndForgetsReleasedLeases) {
  InProcessCoordinator c;
  const auto lease = c.take_leases(keys({"a", "b"}), 10s);
  c.record_completed(keys({"b"}));
  EXPECT_EQ(c.completed(keys({"a", "b"})), (std::vector<bool>{false, false}));
  c.release_leases(std::vector<Lease>{*lease[0], *lease[1]});
  const auto again = c.take_leases(keys({"a", "b"}), 10s);
  EXPECT_TRUE(again[0]);
  EXPECT_TRUE(again[1]);
}

TEST(InProcessCoordinator, SkipCacheExpires) {
  FakeClock clock;
  InProcessCoordinator c({}, clock.fn());
  c.mark_skipped(std::vector<SkipMark>{{"https://h/x", "timed out"}}, 100s);
  auto s = c.skipped(keys({"https://h/x", "https://h/y"}));
  ASSERT_TRUE(s[0]);
  EXPECT_EQ(*s[0], "timed out");
  EXPECT_FALSE(s[1]);
  clock.now += 101s;
  EXPECT_FALSE(c.skipped(keys({"https://h/x"}))[0]);
}

TEST(InProcessCoordinator, SkipCacheTtlZeroDisablesIt) {
  InProcessCoordinator c;
  c.mark_skipped(std::vector<SkipMark>{{"k", "r"}}, 0s);
  EXPECT_FALSE(c.skipped(keys({"k"}))[0]);
}

TEST(InProcessCoordinator, SkipCachePersistsAcrossRuns) {
  const fs::path dir = fs::temp_directory_path() / ("dlhost-coord-" + std::to_string(::getpid()));
  const fs::path file = dir / ".dlhost" / "skip-cache";
  fs::remove_all(dir);
  fs::create_directories(dir);  // the job makes the output directory
  FakeClock clock;
  {
    InProcessCoordinator c(dir, clock.fn());
    c.mark_skipped(std::vector<SkipMark>{{"https://h/x", "timed out\nafter 5 s"},
                                         {"https://h/short", "gone soon"}},
                   100s);
    c.mark_skipped(std::vector<SkipMark>{{"https://h/short", "gone soon"}}, 10s);
    c.flush();
  }
  ASSERT_TRUE(fs::exists(file));
  clock.now += 50s;
  {
    InProcessCoordinator c(dir, clock.fn());
    const auto s = c.skipped(keys({"https://h/x", "https://h/short"}));
    ASSERT_TRUE(s[0]);
    EXPECT_EQ(*s[0], "timed out after 5 s");  // kept on one line
    EXPECT_FALSE(s[1]);                       // expired between the runs
  }
  // A damaged file is tolerated.
  std::ofstream(file, std::ios::app) << "garbage line\nnot-a-number\tk\tr\n";
  InProcessCoordinator c(dir, clock.fn());
  EXPECT_TRUE(c.skipped(keys({"https://h/x"}))[0]);
  fs::remove_all(dir);
}
