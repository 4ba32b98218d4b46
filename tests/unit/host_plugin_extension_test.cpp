// The extension lookup (ABI 1.1) as the host uses it: a plugin built against
// today's header with "dlhost.proxies/1" takes a new proxy list while it
// runs; the same plugin built against the frozen 1.0 header (no
// get_extension at all) is told, in words, that it cannot change proxies
// while running. "dlhost.capacity/1" (ABI 1.2): the shipped plugins say how
// many files they run at once, and follow a proxy change; a plugin without
// it gets the documented default.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dlhost/host/job.hpp"
#include "dlhost/host/plugin_loader.hpp"

using namespace dlhost;

namespace {

void ignore_event(void *, const dlhost_event *) {}

nlohmann::json stats_of(PluginInstance &inst) {
  std::string error;
  const auto text = inst.stats_json(error);
  EXPECT_TRUE(error.empty()) << error;
  return nlohmann::json::parse(text);
}

}  // namespace

TEST(PluginExtensions, A12PluginChangesItsProxiesWhileRunning) {
  auto plugin = LoadedPlugin::load(DLHOST_TEST_PLUGIN);
  EXPECT_EQ(plugin->abi(), "1.2");
  ASSERT_NE(plugin->proxies_extension(), nullptr);
  PluginInstance inst(plugin, "{}", &ignore_event, nullptr);
  ASSERT_EQ(inst.start(), DLHOST_OK);
  std::string error;
  const std::string list = R"([{"ip":"127.0.0.2","port":8888}])";
  EXPECT_EQ(inst.set_proxies(list, error), DLHOST_OK) << error;
  const auto stats = stats_of(inst);
  EXPECT_EQ(stats["proxy_changes"], 1);
  EXPECT_EQ(stats["proxy_list"], nlohmann::json::parse(list));
}

TEST(PluginExtensions, ABadListIsRefusedWithThePluginsMessageAndChangesNothing) {
  auto plugin = LoadedPlugin::load(DLHOST_TEST_PLUGIN);
  PluginInstance inst(plugin, "{}", &ignore_event, nullptr);
  std::string error;
  EXPECT_EQ(inst.set_proxies("{not a list}", error), DLHOST_E_CONFIG);
  EXPECT_EQ(error, "PROXY_LIST: not a JSON array");
  EXPECT_EQ(stats_of(inst)["proxy_changes"], 0);
}

TEST(PluginExtensions, A10PluginIsToldItCannotChangeProxiesWhileRunning) {
  auto plugin = LoadedPlugin::load(DLHOST_TEST_PLUGIN_1_0);
  EXPECT_EQ(plugin->abi(), "1.0");
  EXPECT_EQ(plugin->descriptor().get_extension, nullptr);  // beyond its struct_size: zeroed
  EXPECT_EQ(plugin->proxies_extension(), nullptr);
  PluginInstance inst(plugin, "{}", &ignore_event, nullptr);
  ASSERT_EQ(inst.start(), DLHOST_OK);
  std::string error;
  EXPECT_EQ(inst.set_proxies("[]", error), DLHOST_E_UNSUPPORTED);
  EXPECT_EQ(error, "plugin test (ABI 1.0) cannot change proxies while running");
  EXPECT_TRUE(stats_of(inst)["proxy_list"].is_null());
}

TEST(PluginExtensions, MultiProxyTellsItsCapacityAndFollowsAProxyChange) {
  auto plugin = LoadedPlugin::load(DLHOST_MULTI_PROXY_PLUGIN);
  ASSERT_NE(plugin->capacity_extension(), nullptr);
  const std::string three =
      R"([{"ip":"127.0.0.2","port":1},{"ip":"127.0.0.3","port":1},{"ip":"127.0.0.4","port":1}])";
  const nlohmann::json config = {
      {"PROXY_LIST", three}, {"PROXY_POST_LIMIT", 2}, {"PROXY_ATTACHMENT_LIMIT", 3}};
  PluginInstance inst(plugin, config.dump(), &ignore_event, nullptr);
  EXPECT_EQ(inst.running_capacity(), 3u * 2u * 3u);
  ASSERT_EQ(inst.start(), DLHOST_OK);
  std::string error;
  ASSERT_EQ(inst.set_proxies(R"([{"ip":"127.0.0.2","port":1}])", error), DLHOST_OK) << error;
  EXPECT_EQ(inst.running_capacity(), 2u * 3u);
  ASSERT_EQ(inst.set_proxies("[]", error), DLHOST_OK) << error;  // the direct line
  EXPECT_EQ(inst.running_capacity(), 2u * 3u);
}

TEST(PluginExtensions, LegacyRunsOneFileAtATime) {
  auto plugin = LoadedPlugin::load(DLHOST_LEGACY_PLUGIN);
  PluginInstance inst(plugin, R"({"PROXY_POST_LIMIT":5,"PROXY_ATTACHMENT_LIMIT":5})", &ignore_event,
                      nullptr);
  EXPECT_EQ(inst.running_capacity(), 1u);
}

TEST(PluginExtensions, APluginThatDoesNotSayGetsTheDefault) {
  for (const char *path : {DLHOST_TEST_PLUGIN, DLHOST_TEST_PLUGIN_1_0}) {
    auto plugin = LoadedPlugin::load(path);
    EXPECT_EQ(plugin->capacity_extension(), nullptr) << path;
    PluginInstance inst(plugin, "{}", &ignore_event, nullptr);
    EXPECT_EQ(inst.running_capacity(), DLHOST_DEFAULT_RUNNING_CAPACITY) << path;
  }
}

TEST(OutstandingWindow, AFewTimesWhatRunsWithAFloor) {
  EXPECT_EQ(outstanding_window(8, false), 64u);  // multi-proxy's defaults, alone
  EXPECT_EQ(outstanding_window(100, false), 200u);
  EXPECT_EQ(outstanding_window(1, true), 8u);  // legacy sharing a job
  EXPECT_EQ(outstanding_window(8, true), 32u);
  EXPECT_EQ(outstanding_window(0, false), 64u);  // a plugin saying 0 is read as 1
}
