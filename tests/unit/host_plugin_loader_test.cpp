// Plugin loader pieces that need no plugin: status texts, name resolution and
// search directories. Loading real and broken plugins is tested end to end in
// tests/abi.
#include <gtest/gtest.h>

#include "dlhost/host/plugin_loader.hpp"

namespace fs = std::filesystem;
using namespace dlhost;

TEST(PluginLoader, StatusTextCoversKnownAndUnknownCodes) {
  EXPECT_EQ(status_text(DLHOST_OK), "ok");
  EXPECT_EQ(status_text(DLHOST_E_AGAIN), "queue full, try again");
  EXPECT_EQ(status_text(DLHOST_E_IO), "I/O error");
  EXPECT_EQ(status_text(99), "unknown status 99");
  EXPECT_EQ(status_text(-1), "unknown status -1");
}

TEST(PluginLoader, PathsAreTakenAsGiven) {
  EXPECT_EQ(resolve_plugin("/opt/x/dlhost-foo.so"), fs::path("/opt/x/dlhost-foo.so"));
  EXPECT_EQ(resolve_plugin("./mine"), fs::path("./mine"));
  EXPECT_EQ(resolve_plugin("mine.so"), fs::path("mine.so"));
}

TEST(PluginLoader, UnknownNameNamesTheFileAndDirectories) {
  try {
    resolve_plugin("no-such-plugin");
    FAIL() << "expected PluginError";
  } catch (const PluginError &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("dlhost-no-such-plugin.so not found in"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}

TEST(PluginLoader, SearchesNextToTheBinaryFirst) {
  const auto dirs = plugin_search_dirs();
  ASSERT_GE(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], fs::read_symlink("/proc/self/exe").parent_path().lexically_normal());
  EXPECT_EQ(dirs[1].filename(), "plugins");
}

TEST(PluginLoader, MissingFileIsOneLine) {
  try {
    LoadedPlugin::load("/nonexistent/dlhost-x.so");
    FAIL() << "expected PluginError";
  } catch (const PluginError &e) {
    EXPECT_STREQ(e.what(), "plugin /nonexistent/dlhost-x.so: no such file");
  }
}
