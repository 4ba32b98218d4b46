// ABI 1.1's extension lookup as the host uses it: a plugin built against
// 1.1 with "dlhost.proxies/1" takes a new proxy list while it runs; the same
// plugin built against the frozen 1.0 header (no get_extension at all) is
// told, in words, that it cannot change proxies while running.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

TEST(PluginExtensions, A11PluginChangesItsProxiesWhileRunning) {
  auto plugin = LoadedPlugin::load(DLHOST_TEST_PLUGIN);
  EXPECT_EQ(plugin->abi(), "1.1");
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
