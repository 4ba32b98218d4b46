// Plugin loader pieces that need no plugin: status texts, name resolution and
// search directories. Loading real and broken plugins is tested end to end in
// tests/abi.
#include <gtest/gtest.h>

#include <dlhost/status_text.h>

#include <set>
#include <string>

#include "dlhost/host/plugin_loader.hpp"

namespace fs = std::filesystem;
using namespace dlhost;

TEST(PluginLoader, StatusTextCoversKnownAndUnknownCodes) {
  EXPECT_EQ(status_text(DLHOST_OK), "ok");
  EXPECT_EQ(status_text(DLHOST_E_AGAIN), "queue full, try again after a task ends");
  EXPECT_EQ(status_text(DLHOST_E_IO), "file system error");
  EXPECT_EQ(status_text(99), "unknown status 99");
  EXPECT_EQ(status_text(-1), "unknown status -1");
}

// The host and the plugins share one table (dlhost/status_text.h): every
// known code has its own text, the same on both sides, never the unknown one.
TEST(PluginLoader, StatusTextIsTheSharedTable) {
  std::set<std::string> seen;
  for (dlhost_status s = DLHOST_OK; s <= DLHOST_E_IO; ++s) {
    const char *shared = dlhost_status_text(s);
    ASSERT_NE(shared, nullptr);
    EXPECT_STRNE(shared, DLHOST_STATUS_TEXT_UNKNOWN) << s;
    EXPECT_EQ(status_text(s), shared) << s;
    EXPECT_TRUE(seen.insert(shared).second) << "duplicate text for " << s << ": " << shared;
  }
  EXPECT_STREQ(dlhost_status_text(DLHOST_E_IO + 1), DLHOST_STATUS_TEXT_UNKNOWN);
  EXPECT_STREQ(dlhost_status_text(-1), "unknown status");
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
