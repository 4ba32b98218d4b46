// Work that arrives while the job runs: the bounded queue and the reader of
// a manifest that grows (a real pipe, written to while it is read).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "dlhost/host/queue_source.hpp"

using namespace dlhost;
using namespace std::chrono_literals;

namespace {

ManifestEntry entry(const std::string &path) {
  ManifestEntry e;
  e.url = "https://example.org/" + path;
  e.path = path;
  return e;
}

// Takes batches until the source ends; returns the paths in order.
std::vector<std::string> drain(QueueWorkSource &q) {
  std::vector<std::string> paths;
  std::vector<ManifestEntry> batch;
  while (q.next_batch(64, batch)) {
    for (auto &e : batch) paths.push_back(e.path);
    batch.clear();
  }
  return paths;
}

struct Pipe {
  int fds[2];
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    close_write();
    ::close(fds[0]);
  }
  void write(const std::string &s) {
    ASSERT_EQ(::write(fds[1], s.data(), s.size()), ssize_t(s.size()));
  }
  void close_write() {
    if (fds[1] >= 0) ::close(fds[1]);
    fds[1] = -1;
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fds[0]); }
};

}  // namespace

TEST(QueueWorkSource, HandsOutWhatWasPushedInOrderAndEndsOnceClosedAndEmpty) {
  QueueWorkSource q(8);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(q.push(entry("f" + std::to_string(i))));
    q.close();
  });
  const auto paths = drain(q);
  producer.join();
  ASSERT_EQ(paths.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(paths[i], "f" + std::to_string(i));
  EXPECT_FALSE(q.push(entry("late")));
}

TEST(QueueWorkSource, AQuietSourceReturnsEmptyBatchesWithoutEnding) {
  QueueWorkSource q;
  std::vector<ManifestEntry> batch;
  EXPECT_TRUE(q.next_batch(10, batch));  // after a short wait
  EXPECT_TRUE(batch.empty());
}

TEST(QueueWorkSource, AFullQueueHoldsTheProducerBack) {
  QueueWorkSource q(4);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      q.push(entry(std::to_string(i)));
      ++pushed;
    }
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(pushed, 4);  // the fifth waits for room
  std::vector<ManifestEntry> batch;
  q.next_batch(2, batch);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(pushed, 6);
  q.cancel();
  producer.join();
}

TEST(FollowReader, EntriesArriveAsLinesAreWrittenAndABadLineDoesNotStopIt) {
  Pipe pipe;
  QueueWorkSource q;
  std::vector<std::string> bad;
  std::vector<std::uint64_t> bad_line_numbers;
  FollowReader reader(pipe.path(), q, [&](std::uint64_t line, const ManifestError &e) {
    bad_line_numbers.push_back(line);
    bad.push_back(e.what());
  });
  pipe.write("https://example.org/a.bin\n");
  std::vector<ManifestEntry> batch;
  for (int i = 0; i < 25 && batch.empty(); ++i) q.next_batch(10, batch);
  ASSERT_EQ(batch.size(), 1u);  // before EOF: the job can start on it
  EXPECT_EQ(batch[0].path, "a.bin");
  EXPECT_EQ(batch[0].line, 1u);
  pipe.write("{\"url\": \"https://example.org/b\", \"path\": \"../escape\"}\n");
  pipe.write("{\"url\": \"https://example.org/c.bin\"}\n");
  pipe.close_write();
  const auto rest = drain(q);
  EXPECT_EQ(rest, (std::vector<std::string>{"c.bin"}));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find(":2: "), std::string::npos) << bad[0];
  EXPECT_EQ(bad_line_numbers, std::vector<std::uint64_t>{2});
  EXPECT_EQ(reader.entries(), 2u);
  EXPECT_EQ(reader.bad_lines(), 1u);
}

TEST(FollowReader, ReadsNoFurtherThanTheQueueHasRoomFor) {
  Pipe pipe;
  QueueWorkSource q(16);
  FollowReader reader(pipe.path(), q, nullptr);
  std::string lines;
  for (int i = 0; i < 500; ++i) lines += "https://example.org/f" + std::to_string(i) + "\n";
  pipe.write(lines);  // fits the pipe's buffer
  std::this_thread::sleep_for(300ms);
  // 16 queued and one waiting to be pushed: the rest is still in the pipe.
  EXPECT_LE(reader.entries(), 17u);
  pipe.close_write();
  EXPECT_EQ(drain(q).size(), 500u);
}

TEST(FollowReader, StopsWhileItsPipeIsQuiet) {
  Pipe pipe;
  QueueWorkSource q;
  const auto t0 = std::chrono::steady_clock::now();
  { FollowReader reader(pipe.path(), q, nullptr); }  // nothing was ever written
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(q.closed());
}
