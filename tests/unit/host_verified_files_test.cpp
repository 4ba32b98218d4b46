// Skipping is trustworthy: a file at its destination counts as present only
// when its size and the manifest's sha256 match; the sha256 is read once and
// remembered in <out>/.dlhost/ (VerifiedFiles) by device, inode, size and
// mtime, so a second look reads nothing, and any change is noticed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "../../host/src/engine/local_files.hpp"
#include "../../host/src/engine/verified_files.hpp"
#include "dlhost/util/digest.h"
#include "test_dir.hpp"

using namespace dlhost;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class VerifiedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("dlhost-verified");
    root_ = tmp_->path();
  }
  void TearDown() override { tmp_.reset(); }
  std::string write(const std::string &relative, const std::string &bytes) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << bytes;
    return util::Sha256::hex_of(bytes);
  }
  // Overwrites the bytes in place, keeping size, inode and mtime: only a
  // remembered check can miss this, which is how the tests tell "not read".
  void overwrite_keeping_stat(const std::string &relative, const std::string &bytes) {
    struct stat before;
    ASSERT_EQ(::stat((root_ / relative).c_str(), &before), 0);
    {
      std::fstream f(root_ / relative, std::ios::in | std::ios::out | std::ios::binary);
      f << bytes;
    }
    const timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, (root_ / relative).c_str(), times, 0), 0);
  }
  std::optional<dlhost::testing::TestDir> tmp_;
  fs::path root_;
};

TEST_F(VerifiedFilesTest, ASha256MismatchIsNotPresent) {
  const auto good = write("p/a.bin", "hello");
  write("p/b.bin", "HELLO");  // right size, wrong bytes
  LocalFiles local(root_.string());
  EXPECT_TRUE(local.present("p/a.bin", 5, good));
  EXPECT_TRUE(local.present("p/a.bin", -1, good));
  EXPECT_FALSE(local.present("p/b.bin", 5, good));
  EXPECT_FALSE(local.present("p/a.bin", 6, good));
  EXPECT_TRUE(local.present("p/b.bin", 5));  // no sha256 in the manifest: size decides
}

TEST_F(VerifiedFilesTest, ALinkAtTheDestinationIsNeverPresent) {
  const auto sha = write("real.bin", "hello");
  fs::create_symlink(root_ / "real.bin", root_ / "link.bin");
  LocalFiles local(root_.string());
  EXPECT_FALSE(local.present("link.bin", 5, sha));
  EXPECT_FALSE(local.present("link.bin", 5));
}

TEST_F(VerifiedFilesTest, TheSha256IsReadOnceAndRememberedAcrossRuns) {
  const auto sha = write("p/a.bin", "hello");
  {
    LocalFiles first(root_.string());
    EXPECT_TRUE(first.present("p/a.bin", 5, sha));
    first.close();
  }
  EXPECT_TRUE(fs::exists(root_ / ".dlhost/verified"));
  overwrite_keeping_stat("p/a.bin", "HELLO");
  {
    LocalFiles second(root_.string());
    EXPECT_TRUE(second.present("p/a.bin", 5, sha));  // trusted: not read again
  }
  // Any real change of the file (here its mtime) is noticed and re-read.
  fs::last_write_time(root_ / "p/a.bin", fs::last_write_time(root_ / "p/a.bin") + 1s);
  LocalFiles third(root_.string());
  EXPECT_FALSE(third.present("p/a.bin", 5, sha));
}

TEST_F(VerifiedFilesTest, AFileThePluginVerifiedIsTrustedWithoutReading) {
  const auto sha = write("d.bin", "bytes");
  overwrite_keeping_stat("d.bin", "BYTES");  // as if the plugin had hashed "bytes"
  {
    LocalFiles run(root_.string());
    run.remember_verified("d.bin", sha);
    run.close();
  }
  LocalFiles rerun(root_.string());
  EXPECT_TRUE(rerun.present("d.bin", 5, sha));
  EXPECT_FALSE(rerun.present("d.bin", 5, util::Sha256::hex_of("other")));
}

struct stat fake_stat(std::uint64_t ino, std::int64_t size) {
  struct stat st {};
  st.st_dev = 7;
  st.st_ino = ino;
  st.st_size = size;
  st.st_mtim.tv_sec = 1000;
  return st;
}

// A run killed mid-job (here: _exit) has appended its records to the journal,
// except the last few it had not yet written; the next run folds them in.
TEST_F(VerifiedFilesTest, AJournalLeftByADeadRunIsFoldedInAtOpen) {
  const std::string dir = (root_ / ".dlhost").string();
  VerifiedFiles::Digest d{};
  d[5] = 5;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    VerifiedFiles dying(root_.string());
    for (std::uint64_t i = 1; i <= 1000; ++i) dying.record(fake_stat(i, 1), d);
    ::_exit(0);  // no close(), no destructor
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(fs::exists(fs::path(dir) / "verified.journal"));
  VerifiedFiles next(root_.string());
  EXPECT_FALSE(fs::exists(fs::path(dir) / "verified.journal"));
  for (std::uint64_t i = 1; i <= 768; ++i) ASSERT_EQ(next.lookup(fake_stat(i, 1)), d) << i;
}

// More records than one sorted chunk, and a table from an earlier run: every
// record is found after the fold, and for one file the newest one wins.
TEST_F(VerifiedFilesTest, FoldingManyRecordsKeepsEveryOneAndTheNewest) {
  const std::string dir = (root_ / ".dlhost").string();
  const auto stat_of = fake_stat;
  VerifiedFiles::Digest a{}, b{};
  a[0] = 0xaa;
  b[0] = 0xbb;
  constexpr std::uint64_t kFiles = 40000;  // > 2 chunks of 16384
  {
    VerifiedFiles first(root_.string());
    for (std::uint64_t i = kFiles; i > 0; --i) first.record(stat_of(i * 3, 10), a);
    first.close();
  }
  {
    VerifiedFiles second(root_.string());
    for (std::uint64_t i = 1; i <= kFiles; i += 1000) {
      ASSERT_EQ(second.lookup(stat_of(i * 3, 10)), a) << i;
      EXPECT_FALSE(second.lookup(stat_of(i * 3 + 1, 10))) << i;
      EXPECT_FALSE(second.lookup(stat_of(i * 3, 11))) << i;  // another size: changed
    }
    second.record(stat_of(30, 10), b);
    second.close();
  }
  VerifiedFiles third(root_.string());
  EXPECT_EQ(third.lookup(stat_of(30, 10)), b);
  EXPECT_EQ(third.lookup(stat_of(33, 10)), a);
  EXPECT_EQ(fs::file_size(fs::path(dir) / "verified"), (kFiles + 1) * 64);
}

TEST_F(VerifiedFilesTest, ADamagedTableIsIgnored) {
  const auto sha = write("x.bin", "abc");
  fs::create_directories(root_ / ".dlhost");
  std::ofstream(root_ / ".dlhost/verified") << "not ours";
  LocalFiles local(root_.string());
  EXPECT_TRUE(local.present("x.bin", 3, sha));  // read, and remembered afresh
  local.close();
  overwrite_keeping_stat("x.bin", "ABC");
  LocalFiles again(root_.string());
  EXPECT_TRUE(again.present("x.bin", 3, sha));
}

}  // namespace
