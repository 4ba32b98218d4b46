// LocalFiles: what counts as already present, and that remembering a missing
// directory never hides a file made after forget().
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "../../host/src/local_files.hpp"
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
