// The engine embedded in a program, driven through the test plugin
// (tests/abi/test_plugin.cpp, no network): results, lease renewal while
// transfers run, a coordinator that fails mid-run, and the order in which a
// settled file is recorded, released and acknowledged.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
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

// One log of everything that leaves the job about a file, in the order it
// reached the backend or the work source.
class CallLog {
 public:
  void add(std::string call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> calls_;
};

// The in-process table behind a coordinator that logs each recording call.
class RecordingCoordinator final : public Coordinator {
 public:
  explicit RecordingCoordinator(CallLog &log) : log_(log) {}
  std::vector<std::optional<Lease>> take_leases(std::span<const std::string> keys,
                                                Millis ttl) override {
    return inner_.take_leases(keys, ttl);
  }
  std::vector<bool> renew_leases(std::span<const Lease> leases, Millis ttl) override {
    return inner_.renew_leases(leases, ttl);
  }
  void release_leases(std::span<const Lease> leases) override {
    for (const auto &l : leases) log_.add("release " + l.key);
    inner_.release_leases(leases);
  }
  void record_completed(std::span<const std::string> keys) override {
    for (const auto &k : keys) log_.add("complete " + k);
  }
  std::vector<bool> completed(std::span<const std::string> keys) override {
    return inner_.completed(keys);
  }
  void mark_skipped(std::span<const SkipMark> marks, Seconds) override {
    for (const auto &m : marks) log_.add("skip " + m.key);
  }
  std::vector<std::optional<std::string>> skipped(std::span<const std::string> keys) override {
    return inner_.skipped(keys);
  }
  void flush() override { log_.add("flush"); }
  std::string describe() const override { return "recording"; }

 private:
  CallLog &log_;
  InProcessCoordinator inner_;
};

// A work queue (as a Redis Stream is): every entry has a receipt, and
// acknowledgements are logged.
class QueueOfEntries final : public WorkSource {
 public:
  QueueOfEntries(std::vector<ManifestEntry> entries, CallLog &log)
      : entries_(std::move(entries)), log_(log) {}
  bool next_batch(std::size_t max, std::vector<ManifestEntry> &out) override {
    if (next_ == entries_.size()) return false;
    const auto n = std::min(max, entries_.size() - next_);
    out.insert(out.end(), entries_.begin() + next_, entries_.begin() + next_ + n);
    next_ += n;
    return true;
  }
  void acknowledge(std::span<const std::string> receipts) override {
    for (const auto &r : receipts) log_.add("ack " + r);
  }
  std::optional<std::uint64_t> known_total() const override { return entries_.size(); }

 private:
  std::vector<ManifestEntry> entries_;
  std::size_t next_ = 0;
  CallLog &log_;
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

// Coordinator's ordering guarantee, end to end: for every settled file, its
// completion record (or skip mark) reaches the backend before its lease is
// released, and the queue entry is acknowledged only after both were sent
// (a flush between). Another worker can then never lease a file whose
// completion is unrecorded, nor an acknowledged entry be lost.
TEST_F(JobFixture, RecordsThenReleasesThenAcknowledgesEveryFile) {
  CallLog log;
  std::vector<ManifestEntry> entries;
  for (int i = 0; i < 300; ++i) {
    ManifestEntry e;
    e.line = static_cast<std::uint64_t>(i + 1);
    const std::string word = i % 10 == 3 ? "fail" : i % 10 == 7 ? "timeout" : "f";
    e.url = "https://h.test/" + word + std::to_string(i);
    e.path = word + std::to_string(i);
    e.group = e.path;
    e.receipt = "r-" + e.path;
    entries.push_back(e);
  }
  JobOptions options;
  options.out_dir = dir / "out";
  options.batch_size = 16;
  Job job(options, LoadedPlugin::load(DLHOST_TEST_PLUGIN),
          std::make_shared<RecordingCoordinator>(log));
  QueueOfEntries source(entries, log);
  const auto r = job.run(source);
  EXPECT_EQ(r.totals.counts.completed, 240u);
  EXPECT_EQ(r.totals.counts.failed, 60u);

  const auto calls = log.calls();
  const auto at = [&](const std::string &call) -> std::ptrdiff_t {
    const auto it = std::find(calls.begin(), calls.end(), call);
    return it == calls.end() ? -1 : it - calls.begin();
  };
  const auto flush_between = [&](std::ptrdiff_t from, std::ptrdiff_t to) {
    return std::find(calls.begin() + from, calls.begin() + to, "flush") != calls.begin() + to;
  };
  for (const auto &e : entries) {
    const auto release = at("release " + e.path), ack = at("ack " + e.receipt);
    ASSERT_GE(release, 0) << e.path;
    ASSERT_GT(ack, release) << e.path << ": acknowledged before its lease was released";
    EXPECT_TRUE(flush_between(release, ack)) << e.path << ": acknowledged before it was sent";
    if (e.path.rfind("fail", 0) == 0) {
      EXPECT_EQ(at("complete " + e.path), -1) << e.path;
    } else if (e.path.rfind("timeout", 0) == 0) {
      const auto skip = at("skip " + e.url);
      ASSERT_GE(skip, 0) << e.path;
      EXPECT_LT(skip, release) << e.path << ": released before its skip mark";
    } else {
      const auto complete = at("complete " + e.path);
      ASSERT_GE(complete, 0) << e.path;
      EXPECT_LT(complete, release) << e.path << ": released before it was recorded complete";
    }
  }
}
