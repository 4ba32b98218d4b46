// Redaction of secrets in settings (check-config never prints a password),
// the status server's address rules and Prometheus text, and the tree
// comparison of `dlhost compare`: the pure parts of the day-to-day commands.
#include <gtest/gtest.h>

#include "dlhost/host/redact.hpp"
#include "dlhost/host/status_server.hpp"
#include "dlhost/host/tree_compare.hpp"

#include <unistd.h>

#include <fstream>

using namespace dlhost;

TEST(Redact, ProxyListPasswordsWithAnyCharacter) {
  // A password with '/', '#', '?' or '@', unencoded: hidden as the plugin reads it.
  for (const char *pw : {"pa/ss", "pa#ss", "pa?ss", "p@ss", "x/y?z#w"}) {
    const auto out = redact_setting(
        "PROXY_LIST", std::string(R"([{"url":"http://al:)") + pw + R"(@10.0.0.2:3128"}])");
    EXPECT_EQ(out, R"([{"url":"http://al:***@10.0.0.2:3128"}])") << pw;
  }
  // Credentials written into "ip" (refused by the plugins) are not shown either.
  EXPECT_EQ(redact_setting("PROXY_LIST", R"([{"ip":"bob:hunter2@10.0.0.2","port":1}])"),
            R"([{"ip":"***@10.0.0.2","port":1}])");
}

TEST(Redact, ProxyListPasswordsAndUrls) {
  const auto out = redact_setting(
      "PROXY_LIST", R"([{"ip":"10.0.0.1","port":3128,"username":"bob","password":"hunter2"},)"
                    R"({"url":"socks5h://al:p%40ss@10.0.0.2:1080"},{"isLocalhost":true}])");
  EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
  EXPECT_EQ(out.find("p%40ss"), std::string::npos) << out;
  EXPECT_NE(out.find("\"username\":\"bob\""), std::string::npos) << out;
  EXPECT_NE(out.find("socks5h://al:***@10.0.0.2:1080"), std::string::npos) << out;
  EXPECT_NE(out.find("isLocalhost"), std::string::npos);
  EXPECT_EQ(redact_setting("PROXY_LIST", "[{\"password\":"), "(not shown: not a JSON array)");
}

TEST(Redact, RedisUrl) {
  EXPECT_EQ(redact_setting("REDIS_URL", "redis://:pw@host:6379/2"), "redis://:***@host:6379/2");
  EXPECT_EQ(redact_setting("REDIS_URL", "redis://u:p/a#s?s@host:6379/2"),
            "redis://u:***@host:6379/2");
  EXPECT_EQ(redact_setting("REDIS_URL", "unix://u:p/w@/run/r.sock?db=1"),
            "unix://u:***@/run/r.sock?db=1");
  EXPECT_EQ(redact_setting("REDIS_URL", "redis://user:pw@host"), "redis://user:***@host");
  EXPECT_EQ(redact_setting("REDIS_URL", "redis://secret@host"), "redis://***@host");
  EXPECT_EQ(redact_setting("REDIS_URL", "redis://host:6379"), "redis://host:6379");
}

// A header's name does not tell whether its value is a credential (X-Pass,
// X-Signature): every value is hidden, every name shown.
TEST(Redact, EveryHeaderValue) {
  EXPECT_EQ(redact_setting("DOWNLOAD_HEADERS",
                           R"({"Authorization":"Bearer abc","X-Pass":"p1","X-Signature":"s1",)"
                           R"("Referer":"https://r/"})"),
            R"({"Authorization":"***","X-Pass":"***","X-Signature":"***","Referer":"***"})");
  EXPECT_EQ(redact_setting("DOWNLOAD_HEADERS", R"({"X-Token":)"), "(not shown: not a JSON object)");
}

TEST(Redact, OtherSettingsUnchanged) {
  EXPECT_EQ(redact_setting("DOWNLOAD_DIR", "/data/x"), "/data/x");
}

TEST(StatusServer, AddressesAreLoopbackUnlessNamed) {
  EXPECT_EQ(parse_status_address("8080").host, "127.0.0.1");
  EXPECT_EQ(parse_status_address(":8080").host, "127.0.0.1");
  EXPECT_EQ(parse_status_address("localhost:8080").host, "127.0.0.1");
  EXPECT_EQ(parse_status_address("0.0.0.0:9").host, "0.0.0.0");
  EXPECT_EQ(parse_status_address("[::1]:9").host, "[::1]");
  EXPECT_EQ(parse_status_address("127.0.0.1:0").port, 0);
  EXPECT_THROW(parse_status_address("example.org:8080"), std::runtime_error);
  EXPECT_THROW(parse_status_address("127.0.0.1:99999"), std::runtime_error);
  EXPECT_THROW(parse_status_address("::1:80"), std::runtime_error);
}

TEST(StatusServer, PrometheusText) {
  const auto stats = nlohmann::ordered_json::parse(
      R"({"plugin":"multi-proxy","elapsed_s":1.5,"files":{"total":10,"completed":4,"skipped":1,)"
      R"("failed":2,"deferred":0},"bytes":4096,"interrupted":false,"proxies":[{"id":"direct",)"
      R"("state":"healthy","completed":4,"failed":2,"retries":3,"rate_limited":1,"bytes":4096,)"
      R"("in_flight":2},{"id":"http://a\"b","state":"down"}]})");
  const auto text = prometheus_metrics(stats);
  EXPECT_NE(text.find("dlhost_files_total{state=\"completed\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("dlhost_files_total{state=\"total\"} 10\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE dlhost_bytes_total counter\ndlhost_bytes_total 4096\n"),
            std::string::npos);
  EXPECT_NE(text.find("dlhost_proxy_retries_total{proxy=\"direct\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("dlhost_proxy_in_flight{proxy=\"direct\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("dlhost_proxy_state{proxy=\"http://a\\\"b\",state=\"down\"} 1\n"),
            std::string::npos);
}

TEST(TreeCompare, FindsEveryKindOfDifference) {
  namespace fs = std::filesystem;
  const auto root = fs::temp_directory_path() / ("dlhost-tree-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const auto write = [](const fs::path &p, const std::string &text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  };
  write(root / "a/x/same.bin", "same");
  write(root / "b/x/same.bin", "same");
  write(root / "a/diff.bin", "aaaa");
  write(root / "b/diff.bin", "aaab");
  write(root / "a/only_a", "1");
  write(root / "b/only_b", "1");
  write(root / "a/.dlhost/skip-cache", "ignored");
  auto c = compare_trees(root / "a", root / "b");
  EXPECT_FALSE(c.identical());
  EXPECT_EQ(c.only_a, std::vector<std::string>{"only_a"});
  EXPECT_EQ(c.only_b, std::vector<std::string>{"only_b"});
  EXPECT_EQ(c.differ, std::vector<std::string>{"diff.bin"});
  EXPECT_EQ(c.files, 1u);
  fs::remove(root / "a/only_a");
  fs::remove(root / "b/only_b");
  write(root / "b/diff.bin", "aaaa");
  c = compare_trees(root / "a", root / "b");
  EXPECT_TRUE(c.identical());
  EXPECT_EQ(c.files, 2u);
  EXPECT_EQ(c.bytes, 8u);
  fs::remove_all(root);
}
