// The engine embedded in a program, driven through the test plugin
// (tests/abi/test_plugin.cpp, no network): results, lease renewal while
// transfers run, and a coordinator that fails mid-run.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <optional>

#include "dlhost/host/job.hpp"
#include "test_dir.hpp"

namespace fs = std::filesystem;
using namespace dlhost;
using namespace std::chrono_literals;

namespace {

// Forwards to the in-process table, counts renewals, and can start failing.
class ScriptedCoordinator final : public Coordinator {
 public:
  std::atomic<int> renewals{0};
  std::atomic<int> lease_batches_before_failure{1 << 30};

  std::vector<std::optional<Lease>> take_leases(std::span<const std::string> keys,
                                                Millis ttl) override {
    if (lease_batches_before_failure-- <= 0) throw CoordinationError("REDIS_URL test: gone");
    return inner_.take_leases(keys, ttl);
  }
  std::vector<bool> renew_leases(std::span<const Lease> leases, Millis ttl) override {
    renewals++;
    return inner_.renew_leases(leases, ttl);
  }
  void release_leases(std::span<const Lease> leases) override { inner_.release_leases(leases); }
  void record_completed(std::span<const std::string> keys) override {
    inner_.record_completed(keys);
  }
  std::vector<bool> completed(std::span<const std::string> keys) override {
    return inner_.completed(keys);
  }
  void mark_skipped(std::span<const SkipMark> marks, Seconds ttl) override {
    inner_.mark_skipped(marks, ttl);
  }
  std::vector<std::optional<std::string>> skipped(std::span<const std::string> keys) override {
    return inner_.skipped(keys);
  }
  std::string describe() const override { return "scripted"; }

 private:
  InProcessCoordinator inner_;
};

struct JobFixture : ::testing::Test {
  std::optional<dlhost::testing::TestDir> tmp;
  fs::path dir;
  void SetUp() override {
    tmp.emplace("dlhost-job");
    dir = tmp->path();
  }
  void TearDown() override { tmp.reset(); }

  JobResult run(const std::string &manifest_text, std::shared_ptr<Coordinator> coordinator,
                JobOptions options = {}) {
    std::ofstream(dir / "m.txt") << manifest_text;
    options.out_dir = dir / "out";
    Job job(options, LoadedPlugin::load(DLHOST_TEST_PLUGIN), std::move(coordinator));
    return job.run(ManifestSource::open((dir / "m.txt").string()));
  }
};

std::string urls(int n, const char *word = "f") {
  std::string text;
  for (int i = 0; i < n; ++i)
    text += "https://h.test/" + std::string(word) + std::to_string(i) + "\n";
  return text;
}

}  // namespace

TEST_F(JobFixture, DownloadsEverythingAndReportsTotals) {
  const auto r = run(urls(10), std::make_shared<InProcessCoordinator>());
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.totals.counts.total, 10u);
  EXPECT_EQ(r.totals.counts.completed, 10u);
  EXPECT_EQ(r.stats["submits"], 10);
  EXPECT_TRUE(fs::exists(dir / "out" / "f9"));
}

TEST_F(JobFixture, RenewsLeasesWhileTransfersRun) {
  auto coordinator = std::make_shared<ScriptedCoordinator>();
  JobOptions options;
  options.lease_ttl = 300ms;  // renewed every 100 ms; a "slow" file takes ~3 s
  const auto r = run("https://h.test/slow-one\n", coordinator, options);
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_GE(coordinator->renewals.load(), 5);
}

TEST_F(JobFixture, LostCoordinationStopsNewWorkAndExitsOne) {
  auto coordinator = std::make_shared<ScriptedCoordinator>();
  coordinator->lease_batches_before_failure = 1;
  JobOptions options;
  options.batch_size = 4;
  const auto r = run(urls(12), coordinator, options);
  EXPECT_EQ(r.exit_code, kExitSomeFailed);
  EXPECT_EQ(r.coordination_error, "REDIS_URL test: gone");
  EXPECT_EQ(r.totals.counts.completed, 4u);  // the first batch finished
  EXPECT_FALSE(fs::exists(dir / "out" / "f4"));
}

TEST_F(JobFixture, InterruptBeforeRunStopsAtOnce) {
  std::ofstream(dir / "m.txt") << urls(3);
  JobOptions options;
  options.out_dir = dir / "out";
  Job job(options, LoadedPlugin::load(DLHOST_TEST_PLUGIN),
          std::make_shared<InProcessCoordinator>());
  job.interrupt();
  const auto r = job.run(ManifestSource::open((dir / "m.txt").string()));
  EXPECT_EQ(r.exit_code, kExitInterrupted);
  EXPECT_EQ(r.stats["submits"], 0);
}

TEST_F(JobFixture, BadManifestThrowsBeforeAnythingIsDownloaded) {
  EXPECT_THROW(run("https://h.test/ok\n{\"url\":\"https://h.test/x\",\"path\":\"../x\"}\n",
                   std::make_shared<InProcessCoordinator>()),
               ManifestError);
  EXPECT_FALSE(fs::exists(dir / "out" / "ok"));
}
