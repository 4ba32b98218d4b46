// Credentials never leave the plugin: PROXY_LIST with passwords goes through
// the same parsing the plugin uses, then stats and health JSON and the parse
// errors are searched for the secrets.
#include <gtest/gtest.h>

#include <dlhost/transport/transport_config.h>

#include "stats.h"

namespace dlhost::mp {
namespace {

const char *kUser = "alice-user-xyz";
const char *kPass = "s3cr3t-PW-9876";

std::string config_with_list(const std::string &list) {
  nlohmann::json cfg = {{"PROXY_LIST", list}};
  return cfg.dump();
}

TEST(MultiProxyStats, NoPasswordInStatsOrHealth) {
  std::string list = std::string(R"([{"isLocalhost":true},)") +
                     R"({"ip":"127.0.0.2","port":8888,"username":")" + kUser + R"(","password":")" +
                     kPass + R"("},)" + R"({"url":"socks5h://)" + kUser + ":" + kPass +
                     R"(@127.0.0.4:1080"}])";
  transport::TransportConfig cfg;
  std::string error;
  ASSERT_TRUE(transport::parse_transport_config(config_with_list(list), &cfg, &error)) << error;
  ASSERT_EQ(cfg.proxies.size(), 3u);
  std::vector<std::string> ids;
  for (auto &p : cfg.proxies) {
    ids.push_back(p.id);
    EXPECT_EQ(p.id.find(kPass), std::string::npos);
    EXPECT_EQ(p.id.find(kUser), std::string::npos);
    EXPECT_EQ(p.url.find(kPass), std::string::npos);
  }
  EXPECT_EQ(ids[0], "direct");
  EXPECT_EQ(ids[1], "http://127.0.0.2:8888");
  EXPECT_EQ(ids[2], "socks5h://127.0.0.4:1080");

  Stats stats(ids, 3);
  Health h(1);
  TimePoint now = Clock::now();
  h.on_attempt_end(now, HealthSignal::kFault);
  for (size_t p = 0; p < ids.size(); ++p) {
    stats.attempt_started(p, 1);
    stats.attempt_ended(p, 0, 1000, h);
    stats.completed(p, 12.5);
    stats.retried(p);
    stats.rate_limited(p);
    stats.failed(p);
  }
  std::string s = stats.stats_json(now).dump();
  std::string hj = stats.health_json(now).dump();
  for (const std::string &text : {s, hj}) {
    EXPECT_EQ(text.find(kPass), std::string::npos) << text;
    EXPECT_EQ(text.find(kUser), std::string::npos) << text;
  }
  auto j = nlohmann::json::parse(s);
  ASSERT_EQ(j["proxies"].size(), 3u);
  EXPECT_EQ(j["proxies"][1]["id"], "http://127.0.0.2:8888");
  EXPECT_EQ(j["proxies"][1]["state"], "down");
  EXPECT_EQ(j["proxies"][1]["completed"], 1);
  EXPECT_EQ(j["totals"]["bytes"], 3000);
  EXPECT_TRUE(j["proxies"][0].contains("latency_ms"));
  auto hh = nlohmann::json::parse(hj);
  EXPECT_EQ(hh["proxies"][2]["cooldown_ms"], 1000);
  EXPECT_EQ(hh["proxies"][2]["down_count"], 1);
}

TEST(MultiProxyStats, NoPasswordInProxyListErrors) {
  const std::vector<std::string> bad = {
      std::string(R"([{"url":"ftp://u:)") + kPass + R"(@h:1"}])",
      std::string(R"([{"ip":"h","port":1,"protocol":"gopher","password":")") + kPass + R"("}])",
      std::string(R"([{"password":")") + kPass + R"("}])",
      std::string(R"({"ip":"h","password":")") + kPass + R"("})",
  };
  for (const auto &list : bad) {
    transport::TransportConfig cfg;
    std::string error;
    EXPECT_FALSE(transport::parse_transport_config(config_with_list(list), &cfg, &error)) << list;
    EXPECT_NE(error.find("PROXY_LIST"), std::string::npos) << error;
    EXPECT_EQ(error.find(kPass), std::string::npos) << error;
  }
}

// The brief for PROXY_LIST asks for `PROXY_LIST entry N: "port" must be 1..65535`.
// This checks plugins/common's parser (which the plugin uses) rejects bad ports.
TEST(MultiProxyStats, ProxyListRejectsBadPorts) {
  for (const char *port : {R"("x")", "0", "70000", "-1"}) {
    std::string list = std::string(R"([{"isLocalhost":true},{"ip":"h","port":)") + port +
                       R"(,"username":"u","password":")" + kPass + R"("}])";
    transport::TransportConfig cfg;
    std::string error;
    EXPECT_FALSE(transport::parse_transport_config(config_with_list(list), &cfg, &error)) << list;
    EXPECT_NE(error.find("PROXY_LIST"), std::string::npos) << error;
    EXPECT_NE(error.find("port"), std::string::npos) << error;
    EXPECT_EQ(error.find(kPass), std::string::npos) << error;
  }
}

TEST(MultiProxyStats, EmptyListMeansDirectOnly) {
  transport::TransportConfig cfg;
  std::string error;
  ASSERT_TRUE(transport::parse_transport_config(config_with_list(""), &cfg, &error)) << error;
  EXPECT_TRUE(cfg.proxies.empty());  // the plugin then uses the direct line alone
}

// A proxy taken out of the list keeps its row, state "removed", so its
// counters stay in the totals; a new one is a new row.
TEST(MultiProxyStats, ARemovedProxyKeepsItsRowAndCounters) {
  Stats stats({"direct"}, 3);
  stats.completed(0, 1.0);
  stats.set_path(1, "http://127.0.0.2:8888", Health(3), false);
  stats.set_path(0, "direct", Health(3), true);
  const TimePoint now = Clock::now();
  auto j = stats.stats_json(now);
  ASSERT_EQ(j["proxies"].size(), 2u);
  EXPECT_EQ(j["proxies"][0]["state"], "removed");
  EXPECT_EQ(j["proxies"][1]["id"], "http://127.0.0.2:8888");
  EXPECT_EQ(j["proxies"][1]["state"], "healthy");
  EXPECT_EQ(j["totals"]["completed"], 1);
  EXPECT_EQ(stats.health_json(now)["proxies"][0]["state"], "removed");
}

}  // namespace
}  // namespace dlhost::mp
