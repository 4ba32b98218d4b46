// Skipping is trustworthy: a file at its destination counts as present only
// when its size and the manifest's sha256 match; the sha256 is read once and
// remembered in <out>/.dlhost/ (VerifiedFiles) by device, inode, size,
// mtime and ctime, under the directory's key, so a second look reads nothing
// (inotify sees no open), any change is noticed (a rewrite that restores the
// mtime too), and a record nobody sealed with the key is not trusted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
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

// Counts opens and reads of one file (inotify), to tell "not read".
class OpenWatch {
 public:
  explicit OpenWatch(const fs::path &file) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    ::inotify_add_watch(fd_, file.c_str(), IN_OPEN | IN_ACCESS);
  }
  ~OpenWatch() { ::close(fd_); }
  bool seen() const {
    char buf[4096];
    return ::read(fd_, buf, sizeof buf) > 0;
  }

 private:
  int fd_;
};

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
  {
    LocalFiles second(root_.string());
    const OpenWatch watch(root_ / "p/a.bin");
    EXPECT_TRUE(second.present("p/a.bin", 5, sha));
    EXPECT_FALSE(watch.seen()) << "trusted: not read again";
  }
  // A same-size rewrite that sets the mtime back is noticed (the ctime moved).
  overwrite_keeping_stat("p/a.bin", "HELLO");
  LocalFiles third(root_.string());
  EXPECT_FALSE(third.present("p/a.bin", 5, sha));
}

// Records are sealed with the directory's key: one planted by someone who
// cannot read the key, or sealed with a key of theirs, is not trusted.
TEST_F(VerifiedFilesTest, APlantedRecordIsNotTrusted) {
  const auto good = write("keep.bin", "right");
  const auto sha = util::Sha256::hex_of("hello");
  write("p/a.bin", "HELLO");  // the wrong bytes, of the right size
  {
    LocalFiles run(root_.string());
    EXPECT_TRUE(run.present("keep.bin", 5, good));  // makes the key and a record
    run.close();
  }
  struct stat st;
  ASSERT_EQ(::stat((root_ / "p/a.bin").c_str(), &st), 0);
  VerifiedFiles::Record forged;
  forged.dev = st.st_dev;
  forged.ino = st.st_ino;
  forged.size = st.st_size;
  forged.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  forged.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  for (size_t i = 0; i < 32; ++i)
    forged.sha256[i] = static_cast<unsigned char>(std::stoi(sha.substr(2 * i, 2), nullptr, 16));
  {  // appended to the journal, as a writer of the directory could
    std::ofstream j(root_ / ".dlhost/verified.journal", std::ios::binary | std::ios::app);
    if (fs::file_size(root_ / ".dlhost/verified.journal") == 0) {
      char header[sizeof(VerifiedFiles::Record)] = "dlhost verified-files 2\n";
      j.write(header, sizeof header);
    }
    j.write(reinterpret_cast<const char *>(&forged), sizeof forged);
  }
  LocalFiles rerun(root_.string());
  EXPECT_FALSE(rerun.present("p/a.bin", 5, sha)) << "read, and found wrong";
  EXPECT_TRUE(rerun.present("keep.bin", 5, good));
}

TEST_F(VerifiedFilesTest, AKeyThatIsNotOursIsReplacedAndItsRecordsAreNotTrusted) {
  const auto sha = write("a.bin", "hello");
  {
    LocalFiles run(root_.string());
    EXPECT_TRUE(run.present("a.bin", 5, sha));
    run.close();
  }
  const auto key = root_ / ".dlhost/key";
  ASSERT_EQ(fs::file_size(key), 32u);
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(key, fs::perms::others_read, fs::perm_options::add);  // readable by anyone
  {
    LocalFiles rerun(root_.string());
    const OpenWatch watch(root_ / "a.bin");
    EXPECT_TRUE(rerun.present("a.bin", 5, sha));
    EXPECT_TRUE(watch.seen()) << "the old records are worthless: read again";
    rerun.close();
  }
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
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
  EXPECT_EQ(fs::file_size(fs::path(dir) / "verified"),
            (kFiles + 1) * sizeof(VerifiedFiles::Record));
}

TEST_F(VerifiedFilesTest, ADamagedTableIsIgnored) {
  const auto sha = write("x.bin", "abc");
  fs::create_directories(root_ / ".dlhost");
  std::ofstream(root_ / ".dlhost/verified") << "not ours";
  LocalFiles local(root_.string());
  EXPECT_TRUE(local.present("x.bin", 3, sha));  // read, and remembered afresh
  local.close();
  LocalFiles again(root_.string());
  const OpenWatch watch(root_ / "x.bin");
  EXPECT_TRUE(again.present("x.bin", 3, sha));
  EXPECT_FALSE(watch.seen());
}

}  // namespace
