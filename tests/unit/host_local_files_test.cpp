// LocalFiles: what counts as already present, and that remembering a missing
// directory never hides a file made after forget().
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "../../host/src/engine/local_files.hpp"
#include "test_dir.hpp"

using namespace dlhost;
namespace fs = std::filesystem;

namespace {

class LocalFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("dlhost-local-files");
    root_ = tmp_->path();
  }
  void TearDown() override { tmp_.reset(); }
  std::optional<dlhost::testing::TestDir> tmp_;
  void write(const std::string &relative, size_t bytes) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << std::string(bytes, 'x');
  }
  fs::path root_;
};

}  // namespace

TEST_F(LocalFilesTest, PresentMeansARegularFileOfTheGivenSize) {
  LocalFiles local(root_.string() + "/");
  write("d/a.bin", 5);
  fs::create_directories(root_ / "d/dir.bin");
  EXPECT_TRUE(local.present("d/a.bin", 5));
  EXPECT_TRUE(local.present("d/a.bin", -1));  // no size given: existence is enough
  EXPECT_FALSE(local.present("d/a.bin", 6));
  EXPECT_FALSE(local.present("d/dir.bin", -1));
  EXPECT_FALSE(local.present("d/missing.bin", -1));
  EXPECT_FALSE(local.present("nodir/x/y.bin", -1));
  EXPECT_EQ(local.dest("d/a.bin"), root_.string() + "/d/a.bin");
}

TEST_F(LocalFilesTest, AMissingDirectoryIsLookedAtAgainAfterForget) {
  LocalFiles local(root_.string());
  EXPECT_FALSE(local.present("new/a.bin", 5));
  write("new/a.bin", 5);
  write("new/sub/b.bin", 5);
  // Still remembered as missing (within one batch nothing is written).
  EXPECT_FALSE(local.present("new/a.bin", 5));
  EXPECT_FALSE(local.present("new/sub/b.bin", 5));
  local.forget();
  EXPECT_TRUE(local.present("new/a.bin", 5));
  EXPECT_TRUE(local.present("new/sub/b.bin", 5));
}

TEST_F(LocalFilesTest, AMissingDirectoryDoesNotHideASiblingWithACommonPrefix) {
  LocalFiles local(root_.string());
  write("ab/c.bin", 1);
  EXPECT_FALSE(local.present("a/c.bin", 1));  // "a" is missing...
  EXPECT_TRUE(local.present("ab/c.bin", 1));  // ...which says nothing about "ab"
}

TEST_F(LocalFilesTest, MakeParentCreatesNestedDirectories) {
  LocalFiles local(root_.string());
  std::string error;
  EXPECT_TRUE(local.make_parent(local.dest("x/y/z.bin"), &error)) << error;
  EXPECT_TRUE(fs::is_directory(root_ / "x/y"));
  EXPECT_TRUE(local.make_parent(local.dest("top.bin"), &error)) << error;
  write("file", 1);
  EXPECT_FALSE(local.make_parent(local.dest("file/under.bin"), &error));
  EXPECT_EQ(error, (root_ / "file").string() + " is not a directory");
}

// Nothing is looked at or made through a link inside the output directory.
TEST_F(LocalFilesTest, LinksAreNeitherFollowedNorCountedAsPresent) {
  const fs::path outside = root_.string() + "-outside";  // beside the test directory
  fs::create_directories(outside);
  std::ofstream(outside / "a.bin") << std::string(5, 'x');
  fs::create_directory_symlink(fs::absolute(outside), root_ / "p1");
  fs::create_symlink(fs::absolute(outside / "a.bin"), root_ / "b.bin");
  LocalFiles local(root_.string());
  EXPECT_FALSE(local.present("p1/a.bin", 5));  // the plugin fails it, naming the link
  EXPECT_FALSE(local.present("b.bin", 5));     // a link is not the file: downloaded again
  std::string error;
  EXPECT_FALSE(local.make_parent(local.dest("p1/new/c.bin"), &error));
  EXPECT_EQ(error.rfind((root_ / "p1").string() + " is a symbolic link", 0), 0u) << error;
  EXPECT_FALSE(fs::exists(outside / "new"));
  LocalFiles follow(root_.string(), /*follow_links=*/true);  // DOWNLOAD_FOLLOW_SYMLINKS=1
  EXPECT_TRUE(follow.present("p1/a.bin", 5));
  EXPECT_FALSE(follow.present("b.bin", 5));  // a link at the file itself never counts
  EXPECT_TRUE(follow.make_parent(follow.dest("p1/new/c.bin"), &error)) << error;
  EXPECT_TRUE(fs::is_directory(outside / "new"));
  fs::remove_all(outside);
}
