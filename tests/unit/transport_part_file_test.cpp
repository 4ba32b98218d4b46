// PartFile: buffered writes, commit/verify, discard/keep, resume hashing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "dlhost/transport/part_file.h"
#include "dlhost/transport/sha256.h"
#include "test_dir.hpp"

namespace fs = std::filesystem;
using dlhost::transport::CommitResult;
using dlhost::transport::PartFile;
using dlhost::transport::Sha256;

namespace {

class PartFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("dlhost-partfile");
    dir_ = tmp_->path();
    dest_ = (dir_ / "file.bin").string();
  }
  void TearDown() override { tmp_.reset(); }
  std::optional<dlhost::testing::TestDir> tmp_;

  static std::string read_all(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void write_raw(const std::string &path, const std::string &data) {
    std::ofstream(path, std::ios::binary) << data;
  }

  fs::path dir_;
  std::string dest_;
};

std::string payload(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return s;
}

}  // namespace

TEST_F(PartFileTest, WritesCommitsAndVerifies) {
  std::string data = payload(700 * 1024 + 13);  // spans several buffer flushes
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  EXPECT_EQ(f.part_path(), dest_ + ".part");
  // Mixed chunk sizes, including one larger than the buffer.
  size_t pos = 0;
  for (size_t n : {size_t{1}, size_t{16384}, size_t{300 * 1024}, size_t{5}}) {
    ASSERT_TRUE(f.write(data.data() + pos, n));
    pos += n;
  }
  ASSERT_TRUE(f.write(data.data() + pos, data.size() - pos));
  EXPECT_EQ(f.size(), data.size());
  std::string msg;
  EXPECT_EQ(f.commit(static_cast<int64_t>(data.size()), Sha256::hex_of(data), &msg),
            CommitResult::kOk)
      << msg;
  EXPECT_EQ(read_all(dest_), data);
  EXPECT_FALSE(fs::exists(dest_ + ".part"));
  EXPECT_EQ(f.sha256_hex(), Sha256::hex_of(data));
}

TEST_F(PartFileTest, UppercaseExpectedDigestAccepted) {
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  ASSERT_TRUE(f.write("abc", 3));
  std::string msg;
  EXPECT_EQ(f.commit(-1, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", &msg),
            CommitResult::kOk)
      << msg;
}

TEST_F(PartFileTest, ShaMismatchLeavesNothing) {
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  ASSERT_TRUE(f.write("abc", 3));
  std::string msg;
  EXPECT_EQ(f.commit(3, std::string(64, '0'), &msg), CommitResult::kVerifyFailed);
  EXPECT_NE(msg.find("sha256 mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dest_), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(fs::exists(dest_ + ".part"));
}

TEST_F(PartFileTest, SizeMismatchLeavesNothing) {
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  ASSERT_TRUE(f.write("abc", 3));
  std::string msg;
  EXPECT_EQ(f.commit(4, "", &msg), CommitResult::kVerifyFailed);
  EXPECT_NE(msg.find("expected 4 bytes, got 3"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(fs::exists(dest_ + ".part"));
}

TEST_F(PartFileTest, ExistingDestinationUntouchedOnMismatch) {
  write_raw(dest_, "old");
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  ASSERT_TRUE(f.write("new!", 4));
  EXPECT_EQ(f.commit(3, "", nullptr), CommitResult::kVerifyFailed);
  EXPECT_EQ(read_all(dest_), "old");
}

TEST_F(PartFileTest, DiscardAndKeep) {
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  ASSERT_TRUE(f.write("abc", 3));
  f.discard();
  EXPECT_FALSE(fs::exists(dest_ + ".part"));
  ASSERT_TRUE(f.open(dest_, false));
  ASSERT_TRUE(f.write("abc", 3));
  ASSERT_TRUE(f.set_meta({"\"v1\"", 10}, /*persist_now=*/false));
  EXPECT_FALSE(fs::exists(dest_ + ".part.meta"));  // a small file: only when kept
  f.keep();                                        // buffered bytes are flushed before closing
  EXPECT_EQ(read_all(dest_ + ".part"), "abc");
  EXPECT_TRUE(fs::exists(dest_ + ".part.meta"));
  EXPECT_FALSE(fs::exists(dest_));
  ASSERT_TRUE(f.open(dest_, true));
  EXPECT_EQ(f.meta().validator, "\"v1\"");
  EXPECT_EQ(f.meta().total, 10);
  f.discard();
  EXPECT_FALSE(fs::exists(dest_ + ".part"));
  EXPECT_FALSE(fs::exists(dest_ + ".part.meta"));
}

// Nothing to resume with: no bytes, or no validator (and not the whole file).
TEST_F(PartFileTest, KeepLeavesNothingThatCannotBeResumed) {
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  f.keep();
  EXPECT_FALSE(fs::exists(dest_ + ".part"));  // no 0-byte .part
  ASSERT_TRUE(f.open(dest_, false));
  ASSERT_TRUE(f.write("abc", 3));
  f.keep();  // no validator: a later attempt would start from zero anyway
  EXPECT_FALSE(fs::exists(dest_ + ".part"));
  ASSERT_TRUE(f.open(dest_, dlhost::transport::PartOptions{false, false, true, 3, {}}));
  ASSERT_TRUE(f.write("abc", 3));
  f.keep();  // the whole file: committed without a request next time
  EXPECT_EQ(read_all(dest_ + ".part"), "abc");
}

TEST_F(PartFileTest, ResumeHashesPrefixThenAppends) {
  std::string data = payload(600 * 1024 + 1);
  size_t split = 300 * 1024 + 77;
  {
    PartFile first;
    ASSERT_TRUE(first.open(dest_, false));
    ASSERT_TRUE(first.set_meta({"\"etag\"", static_cast<int64_t>(data.size())}, true));
    EXPECT_TRUE(fs::exists(dest_ + ".part.meta"));  // persisted at once
    ASSERT_TRUE(first.write(data.data(), split));
    first.keep();
  }
  PartFile f;
  ASSERT_TRUE(f.open(dest_, /*resume=*/true));
  EXPECT_EQ(f.meta().validator, "\"etag\"");
  EXPECT_FALSE(f.complete());
  EXPECT_EQ(f.resumed_from(), split);
  EXPECT_EQ(f.size(), split);
  ASSERT_TRUE(f.write(data.data() + split, data.size() - split));
  std::string msg;
  EXPECT_EQ(f.commit(static_cast<int64_t>(data.size()), Sha256::hex_of(data), &msg),
            CommitResult::kOk)
      << msg;
  EXPECT_EQ(read_all(dest_), data);
  EXPECT_FALSE(fs::exists(dest_ + ".part.meta"));  // gone with the commit
}

TEST_F(PartFileTest, RestartAfterIgnoredRange) {
  write_raw(dest_ + ".part", "stale prefix");
  PartFile f;
  ASSERT_TRUE(f.open(dest_, true));
  ASSERT_TRUE(f.restart());
  ASSERT_TRUE(f.write("abc", 3));
  std::string msg;
  EXPECT_EQ(f.commit(3, Sha256::hex_of("abc"), &msg), CommitResult::kOk) << msg;
  EXPECT_EQ(read_all(dest_), "abc");
}

TEST_F(PartFileTest, NoResumeTruncates) {
  write_raw(dest_ + ".part", "stale");
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false));
  EXPECT_EQ(f.size(), 0u);
  ASSERT_TRUE(f.write("x", 1));
  EXPECT_EQ(f.commit(1, "", nullptr), CommitResult::kOk);
  EXPECT_EQ(read_all(dest_), "x");
}

TEST_F(PartFileTest, OpenErrorNamesPath) {
  PartFile f;
  std::string bad = (dir_ / "missing-dir" / "x.bin").string();
  EXPECT_FALSE(f.open(bad, false));
  EXPECT_NE(f.error().find((dir_ / "missing-dir").string()), std::string::npos) << f.error();
  EXPECT_NE(f.error().find("No such file"), std::string::npos) << f.error();
}

TEST_F(PartFileTest, FsyncCommitWorks) {
  PartFile f;
  ASSERT_TRUE(f.open(dest_, false, /*fsync_on_commit=*/true));
  ASSERT_TRUE(f.write("abc", 3));
  EXPECT_EQ(f.commit(3, "", nullptr), CommitResult::kOk);
  EXPECT_EQ(read_all(dest_), "abc");
}

// Large files are hashed on the shared HashWorker thread a buffer at a time:
// interleaved files keep their own order, a kept .part resumes, and a
// PartFile is reusable afterwards.
TEST_F(PartFileTest, InterleavedLargeFilesHashOffThread) {
  const size_t kSize = 3 * 1024 * 1024 + 4097;
  std::string data[3] = {payload(kSize), payload(kSize + 1), payload(kSize + 2)};
  data[1][5] = 'x';  // three different contents
  data[2][kSize / 2] = 'y';
  PartFile f[3];
  size_t pos[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f[i].open(dest_ + std::to_string(i), false));
  for (size_t step = 0; pos[0] < data[0].size() || pos[2] < data[2].size(); ++step) {
    for (int i = 0; i < 3; ++i) {
      size_t n = std::min(data[i].size() - pos[i], step % 2 ? size_t{512 * 1024} : size_t{16411});
      ASSERT_TRUE(f[i].write(data[i].data() + pos[i], n));
      pos[i] += n;
    }
    if (step == 7) {  // interrupt file 1 and resume it
      f[1].set_meta({"\"v\"", -1}, false);
      f[1].keep();
      ASSERT_TRUE(f[1].open(dest_ + "1", /*resume=*/true));
      ASSERT_EQ(f[1].size(), pos[1]);
    }
  }
  for (int i = 0; i < 3; ++i) {
    std::string msg;
    EXPECT_EQ(f[i].commit(static_cast<int64_t>(data[i].size()), Sha256::hex_of(data[i]), &msg),
              CommitResult::kOk)
        << msg;
    EXPECT_EQ(read_all(dest_ + std::to_string(i)), data[i]);
  }
  ASSERT_TRUE(f[0].open(dest_ + "small", false));  // reused for a small file
  ASSERT_TRUE(f[0].write("abc", 3));
  std::string msg;
  EXPECT_EQ(f[0].commit(3, Sha256::hex_of("abc"), &msg), CommitResult::kOk) << msg;
}
