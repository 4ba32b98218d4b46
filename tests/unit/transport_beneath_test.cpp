// Files only beneath the output directory: the directory walk (openat2 and
// the O_NOFOLLOW fallback), PartFile with links planted at a directory, at
// the .part, at its sidecar and at the destination, and the resume rules
// (validator, complete .part). Every test that plants a link hashes the
// link's target before and after: nothing outside the root may change.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "dlhost/util/beneath.h"
#include "dlhost/transport/part_file.h"
#include "dlhost/transport/sha256.h"
#include "test_dir.hpp"

namespace fs = std::filesystem;
using namespace dlhost::transport;
using namespace dlhost::util;

namespace {

std::string read_all(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_raw(const fs::path &path, const std::string &data) {
  std::ofstream(path, std::ios::binary) << data;
}

class BeneathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("dlhost-beneath");
    root_ = tmp_->path() / "out";
    outside_ = tmp_->path() / "outside";
    fs::create_directories(root_);
    fs::create_directories(outside_);
    write_raw(outside_ / "victim", "precious bytes outside the output directory");
    victim_sha_ = Sha256::hex_of(read_all(outside_ / "victim"));
  }
  void TearDown() override { tmp_.reset(); }

  void expect_outside_unchanged() {
    EXPECT_EQ(Sha256::hex_of(read_all(outside_ / "victim")), victim_sha_);
    size_t n = 0;
    for (auto it = fs::directory_iterator(outside_); it != fs::directory_iterator(); ++it) ++n;
    EXPECT_EQ(n, 1u) << "something was created outside the output directory";
  }
  std::string dest(const std::string &rel) const { return (root_ / rel).string(); }

  std::optional<dlhost::testing::TestDir> tmp_;
  fs::path root_, outside_;
  std::string victim_sha_;
};

int open_root(const fs::path &root) {
  return ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

}  // namespace

TEST(NormalPath, DropsDotsAndDoubleSlashes) {
  EXPECT_EQ(normal_path("/a/./b//c/"), "/a/b/c");
  EXPECT_EQ(normal_path("/"), "/");
  EXPECT_EQ(normal_path("a//b"), "a/b");
  EXPECT_EQ(normal_path("/a/../b"), "/a/../b");  // ".." is kept, and refused by callers
}

// Both ways of opening: openat2 (when the kernel has it) and the walk.
TEST_F(BeneathTest, ALinkedDirectoryIsRefusedAndNamed) {
  fs::create_directories(root_ / "real/sub");
  fs::create_directory_symlink(outside_, root_ / "p1");
  fs::create_directory_symlink(outside_, root_ / "real/sub/deep");
  int rfd = open_root(root_);
  ASSERT_GE(rfd, 0);
  for (bool walk : {false, true}) {
    SCOPED_TRACE(walk ? "walk" : "openat2");
    auto open = walk ? &walk_dir_beneath : &open_dir_beneath;
    std::string error;
    EXPECT_LT(open(rfd, root_.string(), "p1", false, false, &error), 0);
    EXPECT_EQ(errno, ELOOP);
    EXPECT_NE(error.find((root_ / "p1").string() + " is a symbolic link"), std::string::npos)
        << error;
    EXPECT_NE(error.find("DOWNLOAD_FOLLOW_SYMLINKS=1"), std::string::npos) << error;
    EXPECT_LT(open(rfd, root_.string(), "real/sub/deep/x", false, true, &error), 0);
    EXPECT_NE(error.find((root_ / "real/sub/deep").string() + " is a symbolic link"),
              std::string::npos)
        << error;
    EXPECT_LT(open(rfd, root_.string(), "real/../..", false, false, &error), 0);
    EXPECT_NE(error.find("\"..\" is not allowed"), std::string::npos) << error;
    int fd = open(rfd, root_.string(), "real/./sub", false, false, &error);
    EXPECT_GE(fd, 0) << error;
    ::close(fd);
    // Allowed: the user's own link to a directory.
    fd = open(rfd, root_.string(), "p1", true, false, &error);
    EXPECT_GE(fd, 0) << error;
    ::close(fd);
  }
  ::close(rfd);
  expect_outside_unchanged();
}

TEST_F(BeneathTest, CreatesMissingDirectoriesButNotThroughALink) {
  fs::create_directory_symlink(outside_, root_ / "p1");
  int rfd = open_root(root_);
  for (bool walk : {false, true}) {
    auto open = walk ? &walk_dir_beneath : &open_dir_beneath;
    std::string error;
    const std::string dir = walk ? "w/x/y" : "o/x/y";
    int fd = open(rfd, root_.string(), dir, false, true, &error);
    EXPECT_GE(fd, 0) << error;
    ::close(fd);
    EXPECT_TRUE(fs::is_directory(root_ / dir));
    EXPECT_LT(open(rfd, root_.string(), "p1/new", false, true, &error), 0);
    write_raw(root_ / "file", "x");
    EXPECT_LT(open(rfd, root_.string(), "file/new", false, true, &error), 0);
    EXPECT_EQ(error, (root_ / "file").string() + " is not a directory");
  }
  ::close(rfd);
  EXPECT_FALSE(fs::exists(outside_ / "new"));
  expect_outside_unchanged();
}

TEST_F(BeneathTest, SplitKeepsDestinationsInsideTheRoot) {
  OutputRoot root(root_.string() + "/./", false);
  std::string dir, name, error;
  ASSERT_TRUE(root.split(dest("a/b/c.bin"), &dir, &name, &error)) << error;
  EXPECT_EQ(dir, "a/b");
  EXPECT_EQ(name, "c.bin");
  ASSERT_TRUE(root.split(root_.string() + "/./top.bin", &dir, &name, &error)) << error;
  EXPECT_EQ(dir, "");
  EXPECT_EQ(name, "top.bin");
  EXPECT_FALSE(root.split(outside_.string() + "/victim", &dir, &name, &error));
  EXPECT_NE(error.find("is not inside the output directory"), std::string::npos) << error;
  EXPECT_FALSE(root.split(root_.string() + "x/a.bin", &dir, &name, &error));  // a sibling
  EXPECT_FALSE(root.split(dest("a/../../outside/victim"), &dir, &name, &error));
  OutputRoot none;
  ASSERT_TRUE(none.split("/any/where/f.bin", &dir, &name, &error));
  EXPECT_EQ(dir, "/any/where");
}

TEST_F(BeneathTest, PartFileRefusesALinkedDirectory) {
  fs::create_directory_symlink(outside_, root_ / "p1");
  OutputRoot root(root_.string(), false);
  PartFile f;
  f.set_root(&root);
  EXPECT_FALSE(f.open(dest("p1/victim"), true));
  EXPECT_NE(f.error().find((root_ / "p1").string() + " is a symbolic link"), std::string::npos)
      << f.error();
  std::string error;
  EXPECT_FALSE(remove_part_files(&root, dest("p1/victim"), &error));
  expect_outside_unchanged();

  OutputRoot follow(root_.string(), true);  // DOWNLOAD_FOLLOW_SYMLINKS=1
  f.set_root(&follow);
  ASSERT_TRUE(f.open(dest("p1/new.bin"), false)) << f.error();
  ASSERT_TRUE(f.write("abc", 3));
  EXPECT_EQ(f.commit(3, "", nullptr), CommitResult::kOk);
  EXPECT_EQ(read_all(outside_ / "new.bin"), "abc");
}

// A link (or a hard link) at the .part is removed and replaced, never
// written through, on a fresh start and on a resume.
TEST_F(BeneathTest, LinksAtThePartAreReplaced) {
  OutputRoot root(root_.string(), false);
  for (bool resume : {false, true}) {
    SCOPED_TRACE(resume ? "resume" : "fresh");
    fs::create_symlink(outside_ / "victim", root_ / "a.bin.part");
    fs::create_hard_link(outside_ / "victim", root_ / "b.bin.part");
    for (const char *name : {"a.bin", "b.bin"}) {
      PartFile f;
      f.set_root(&root);
      ASSERT_TRUE(f.open(dest(name), resume)) << f.error();
      EXPECT_EQ(f.size(), 0u);
      ASSERT_TRUE(f.write("new", 3));
      EXPECT_EQ(f.commit(3, Sha256::hex_of("new"), nullptr), CommitResult::kOk);
      EXPECT_EQ(read_all(root_ / name), "new");
      EXPECT_FALSE(fs::is_symlink(root_ / name));
    }
    fs::remove(root_ / "b.bin");  // the hard link's count is back to 1
    EXPECT_EQ(Sha256::hex_of(read_all(outside_ / "victim")), victim_sha_);
  }
}

TEST_F(BeneathTest, ALinkAtTheDestinationIsReplacedNotFollowed) {
  OutputRoot root(root_.string(), false);
  fs::create_symlink(outside_ / "victim", root_ / "d.bin");
  PartFile f;
  f.set_root(&root);
  ASSERT_TRUE(f.open(dest("d.bin"), true)) << f.error();
  ASSERT_TRUE(f.write("mine", 4));
  EXPECT_EQ(f.commit(4, "", nullptr), CommitResult::kOk);
  EXPECT_FALSE(fs::is_symlink(root_ / "d.bin"));
  EXPECT_EQ(read_all(root_ / "d.bin"), "mine");
  expect_outside_unchanged();
}

TEST_F(BeneathTest, ALinkAtTheSidecarIsNeverWrittenThrough) {
  OutputRoot root(root_.string(), false);
  fs::create_symlink(outside_ / "victim", root_ / "m.bin.part.meta");
  PartFile f;
  f.set_root(&root);
  ASSERT_TRUE(f.open(dest("m.bin"), true));
  ASSERT_TRUE(f.write("half", 4));
  EXPECT_TRUE(f.set_meta({"\"e\"", 8}, /*persist_now=*/true));
  f.keep();
  EXPECT_FALSE(fs::is_symlink(root_ / "m.bin.part.meta"));
  expect_outside_unchanged();
  ASSERT_TRUE(f.open(dest("m.bin"), true));
  EXPECT_EQ(f.size(), 4u);  // the sidecar is ours now, so the .part resumes
  EXPECT_EQ(f.meta().validator, "\"e\"");
  f.discard();
}

// The resume rules: a .part is continued only with a validator that belongs
// to it; a whole one is verified locally.
TEST_F(BeneathTest, APartWithoutItsValidatorStartsFromZero) {
  write_raw(root_ / "v.bin.part", "stale prefix");
  PartFile f;
  ASSERT_TRUE(f.open(dest("v.bin"), true));
  EXPECT_EQ(f.size(), 0u);  // no sidecar: the bytes may be of another version
  EXPECT_EQ(f.meta().validator, "");
  ASSERT_TRUE(f.write("ab", 2));
  ASSERT_TRUE(f.set_meta({"\"1\"", 4}, false));
  f.keep();
  // A sidecar left by another .part (another inode) is not this one's.
  write_raw(root_ / "v.bin.new", "xy");  // made before the old one goes: another inode
  fs::rename(root_ / "v.bin.new", root_ / "v.bin.part");
  ASSERT_TRUE(f.open(dest("v.bin"), true));
  EXPECT_EQ(f.size(), 0u);
  f.discard();
  EXPECT_FALSE(fs::exists(root_ / "v.bin.part.meta"));
}

TEST_F(BeneathTest, AWholePartIsVerifiedAndCommittedAsItIs) {
  const std::string data = "the whole file";
  const std::string sha = Sha256::hex_of(data);
  write_raw(root_ / "w.bin.part", data);  // a killed run's: no sidecar needed
  PartFile f;
  PartOptions opts;
  opts.expected_size = static_cast<int64_t>(data.size());
  opts.sha256 = sha;
  ASSERT_TRUE(f.open(dest("w.bin"), opts));
  EXPECT_TRUE(f.complete());
  std::string msg;
  EXPECT_EQ(f.commit(opts.expected_size, sha, &msg), CommitResult::kOk) << msg;
  EXPECT_EQ(read_all(root_ / "w.bin"), data);
  EXPECT_EQ(f.sha256_hex(), sha);

  write_raw(root_ / "x.bin.part", "the wrong file");  // right size, wrong bytes
  ASSERT_TRUE(f.open(dest("x.bin"), opts));
  EXPECT_FALSE(f.complete());
  EXPECT_EQ(f.size(), 0u);

  write_raw(root_ / "y.bin.part", "longer than the whole file");
  opts.sha256 = {};
  ASSERT_TRUE(f.open(dest("y.bin"), opts));
  EXPECT_FALSE(f.complete());
  EXPECT_EQ(f.size(), 0u);
  f.discard();
}

TEST_F(BeneathTest, TheRecordedTotalMarksAWholePartWithoutAManifestSize) {
  PartFile f;
  ASSERT_TRUE(f.open(dest("t.bin"), false));
  ASSERT_TRUE(f.write("12345", 5));
  ASSERT_TRUE(f.set_meta({"\"t\"", 5}, true));
  f.keep();
  ASSERT_TRUE(f.open(dest("t.bin"), true));
  EXPECT_TRUE(f.complete());
  EXPECT_EQ(f.commit(-1, "", nullptr), CommitResult::kOk);
  EXPECT_FALSE(fs::exists(root_ / "t.bin.part.meta"));
}

TEST_F(BeneathTest, RemovePartFilesRemovesBoth) {
  OutputRoot root(root_.string(), false);
  write_raw(root_ / "r.bin.part", "x");
  write_raw(root_ / "r.bin.part.meta", "y");
  std::string error;
  EXPECT_TRUE(remove_part_files(&root, dest("r.bin"), &error)) << error;
  EXPECT_FALSE(fs::exists(root_ / "r.bin.part"));
  EXPECT_FALSE(fs::exists(root_ / "r.bin.part.meta"));
  EXPECT_TRUE(remove_part_files(&root, dest("r.bin"), &error));  // nothing there: fine
}
