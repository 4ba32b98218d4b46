// transport_config / proxy_list: defaults, parsing, and error messages that
// name the setting (and never echo credentials).
#include <gtest/gtest.h>

#include <string>

#include "dlhost/transport/transport_config.h"

using dlhost::transport::default_user_agent;
using dlhost::transport::parse_transport_config;
using dlhost::transport::TransportConfig;

namespace {

std::string error_for(const std::string &json) {
  TransportConfig cfg;
  std::string err;
  EXPECT_FALSE(parse_transport_config(json, &cfg, &err)) << json;
  return err;
}

TransportConfig parsed(const std::string &json) {
  TransportConfig cfg;
  std::string err;
  EXPECT_TRUE(parse_transport_config(json, &cfg, &err)) << err;
  return cfg;
}

}  // namespace

TEST(TransportConfig, Defaults) {
  for (const char *text : {"", "{}", "null", "  "}) {
    TransportConfig c = parsed(text);
    EXPECT_TRUE(c.proxies.empty());
    EXPECT_EQ(c.proxy_strategy, "load-balanced");
    EXPECT_EQ(c.post_limit, 2);
    EXPECT_EQ(c.attachment_limit, 4);
    EXPECT_EQ(c.download_timeout_ms, 600000);
    EXPECT_EQ(c.max_redirects, 1);
    EXPECT_EQ(c.skip_cache_ttl_s, 3600);
    EXPECT_EQ(c.max_retries, 3);
    EXPECT_DOUBLE_EQ(c.retry_backoff, 2.0);
    EXPECT_EQ(c.retry_base_delay_ms, 1000);
    EXPECT_EQ(c.stall_timeout_ms, 30000);
    EXPECT_DOUBLE_EQ(c.rate_limit, 0.0);
    EXPECT_EQ(c.health_failures, 3);
    EXPECT_EQ(c.ca_bundle, "");
    EXPECT_EQ(c.user_agent, default_user_agent());
    EXPECT_EQ(c.user_agent.rfind("dlhost/", 0), 0u);
    EXPECT_TRUE(c.headers.empty());
    EXPECT_EQ(c.cookies_file, "");
    EXPECT_FALSE(c.fsync);
    EXPECT_EQ(c.output_dir, "");
    EXPECT_FALSE(c.follow_symlinks);
    EXPECT_EQ(c.max_file_size, 0);
  }
}

TEST(TransportConfig, OutputDirectoryAndLimits) {
  TransportConfig c = parsed(R"({"DOWNLOAD_DIR": "/data/job1", "DOWNLOAD_FOLLOW_SYMLINKS": 1,
                                 "DOWNLOAD_MAX_FILE_SIZE": "1048576"})");
  EXPECT_EQ(c.output_dir, "/data/job1");
  EXPECT_TRUE(c.follow_symlinks);
  EXPECT_EQ(c.max_file_size, 1048576);
  TransportConfig bad;
  std::string err;
  EXPECT_FALSE(parse_transport_config(R"({"DOWNLOAD_DIR": "relative/dir"})", &bad, &err));
  EXPECT_EQ(err,
            "DOWNLOAD_DIR: must be an absolute path (the host resolves it), got \"relative/dir\"");
  EXPECT_FALSE(parse_transport_config(R"({"DOWNLOAD_FOLLOW_SYMLINKS": 2})", &bad, &err));
  EXPECT_EQ(err, "DOWNLOAD_FOLLOW_SYMLINKS: must be 0 or 1, got 2");
  EXPECT_FALSE(parse_transport_config(R"({"DOWNLOAD_MAX_FILE_SIZE": -1})", &bad, &err));
  EXPECT_EQ(err, "DOWNLOAD_MAX_FILE_SIZE: must be an integer >= 0, got -1");
}

TEST(TransportConfig, ParsesEveryKey) {
  TransportConfig c = parsed(R"({
    "PROXY_LIST": "[{\"isLocalhost\":true},{\"ip\":\"127.0.0.2\",\"port\":8888}]",
    "PROXY_STRATEGY": "round-robin", "PROXY_POST_LIMIT": 3, "PROXY_ATTACHMENT_LIMIT": "5",
    "PROXY_DOWNLOAD_TIMEOUT": 1500, "PROXY_MAX_REDIRECTS": 0, "PROXY_SKIP_CACHE_TTL": 60,
    "PROXY_MAX_RETRIES": 0, "PROXY_RETRY_BACKOFF": 1.5, "PROXY_RETRY_BASE_DELAY": 10,
    "PROXY_STALL_TIMEOUT": 2000, "PROXY_RATE_LIMIT": 2.5, "PROXY_HEALTH_FAILURES": 1,
    "DOWNLOAD_CA_BUNDLE": "/tmp/ca.pem", "DOWNLOAD_USER_AGENT": "ua/1",
    "DOWNLOAD_HEADERS": "{\"Referer\":\"https://x/\",\"X-A\":\"b\"}",
    "DOWNLOAD_COOKIES": "/tmp/cookies.txt", "DOWNLOAD_FSYNC": 1,
    "SOMETHING_ELSE": [1, 2, 3]})");
  ASSERT_EQ(c.proxies.size(), 2u);
  EXPECT_TRUE(c.proxies[0].direct);
  EXPECT_EQ(c.proxies[0].id, "direct");
  EXPECT_EQ(c.proxies[1].url, "http://127.0.0.2:8888");
  EXPECT_EQ(c.proxy_strategy, "round-robin");
  EXPECT_EQ(c.post_limit, 3);
  EXPECT_EQ(c.attachment_limit, 5);
  EXPECT_EQ(c.download_timeout_ms, 1500);
  EXPECT_EQ(c.max_redirects, 0);
  EXPECT_EQ(c.skip_cache_ttl_s, 60);
  EXPECT_EQ(c.max_retries, 0);
  EXPECT_DOUBLE_EQ(c.retry_backoff, 1.5);
  EXPECT_EQ(c.retry_base_delay_ms, 10);
  EXPECT_EQ(c.stall_timeout_ms, 2000);
  EXPECT_DOUBLE_EQ(c.rate_limit, 2.5);
  EXPECT_EQ(c.health_failures, 1);
  EXPECT_EQ(c.ca_bundle, "/tmp/ca.pem");
  EXPECT_EQ(c.user_agent, "ua/1");
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.cookies_file, "/tmp/cookies.txt");
  EXPECT_TRUE(c.fsync);
}

TEST(TransportConfig, ErrorsNameTheSetting) {
  EXPECT_EQ(error_for(R"({"PROXY_MAX_REDIRECTS": "abc"})"),
            "PROXY_MAX_REDIRECTS: must be an integer >= 0, got \"abc\"");
  EXPECT_EQ(error_for(R"({"PROXY_MAX_REDIRECTS": -1})"),
            "PROXY_MAX_REDIRECTS: must be an integer >= 0, got -1");
  EXPECT_EQ(error_for(R"({"PROXY_POST_LIMIT": 0})"),
            "PROXY_POST_LIMIT: must be an integer >= 1, got 0");
  EXPECT_EQ(error_for(R"({"PROXY_DOWNLOAD_TIMEOUT": 1.5})"),
            "PROXY_DOWNLOAD_TIMEOUT: must be an integer >= 0, got 1.5");
  EXPECT_EQ(error_for(R"({"PROXY_RETRY_BACKOFF": 0.5})"),
            "PROXY_RETRY_BACKOFF: must be a number >= 1, got 0.5");
  EXPECT_EQ(error_for(R"({"PROXY_STRATEGY": "random"})"),
            "PROXY_STRATEGY: must be load-balanced, round-robin or first-available, got "
            "\"random\"");
  EXPECT_EQ(error_for(R"({"DOWNLOAD_FSYNC": 2})"), "DOWNLOAD_FSYNC: must be 0 or 1, got 2");
  EXPECT_EQ(error_for(R"({"DOWNLOAD_USER_AGENT": 5})"),
            "DOWNLOAD_USER_AGENT: must be a string, got 5");
  EXPECT_EQ(error_for("[1]"), "config: must be a JSON object of settings");
  EXPECT_EQ(error_for("{nope"), "config: must be a JSON object of settings");
}

TEST(TransportConfig, HeaderErrors) {
  EXPECT_EQ(error_for(R"({"DOWNLOAD_HEADERS": "[1]"})").rfind("DOWNLOAD_HEADERS: must be", 0), 0u);
  std::string secret = error_for(R"({"DOWNLOAD_HEADERS": "{\"Authorization\": \"Bearer s3cr3t"})");
  EXPECT_EQ(secret.find("s3cr3t"), std::string::npos) << secret;
  EXPECT_NE(error_for(R"({"DOWNLOAD_HEADERS": "{\"Bad Name\": \"x\"}"})").find("Bad Name"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"DOWNLOAD_HEADERS": "{\"X\": 1}"})").find("\"X\""), std::string::npos);
  EXPECT_NE(error_for(R"({"DOWNLOAD_HEADERS": "{\"X\": \"a\\r\\nInjected: 1\"}"})")
                .find("DOWNLOAD_HEADERS"),
            std::string::npos);
}

TEST(ProxyList, Shapes) {
  TransportConfig c =
      parsed(R"({"PROXY_LIST": "[{\"ip\":\"10.0.0.1\",\"port\":\"3128\",\"username\":\"u\",)"
             R"(\"password\":\"p\",\"protocol\":\"socks5h\"},)"
             R"({\"url\":\"http://alice:pw@127.0.0.3:8888\"},{\"ip\":\"::1\",\"port\":1080}]"})");
  ASSERT_EQ(c.proxies.size(), 3u);
  EXPECT_EQ(c.proxies[0].url, "socks5h://10.0.0.1:3128");
  EXPECT_EQ(c.proxies[0].username, "u");
  EXPECT_EQ(c.proxies[0].password, "p");
  EXPECT_EQ(c.proxies[1].id, "http://127.0.0.3:8888");
  EXPECT_EQ(c.proxies[1].username, "alice");
  EXPECT_EQ(c.proxies[1].password, "pw");
  EXPECT_EQ(c.proxies[2].url, "http://[::1]:1080");
}

TEST(ProxyList, ErrorsAreCredentialFree) {
  std::string err = error_for(R"({"PROXY_LIST": "[{\"url\":\"ftp://bob:hunter2@h:1\"}]"})");
  EXPECT_EQ(err.rfind("PROXY_LIST: entry 1:", 0), 0u) << err;
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << err;
  EXPECT_EQ(error_for(R"({"PROXY_LIST": "{\"password\":\"hunter2\""})"),
            "PROXY_LIST: must be a JSON array of proxies");
  EXPECT_NE(error_for(R"({"PROXY_LIST": "[{\"ip\":\"1.2.3.4\",\"protocol\":\"ftp\"}]"})")
                .find("protocol"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"PROXY_LIST": "[{\"ip\":\"1.2.3.4\"}]"})").find("entry 1"),
            std::string::npos);
}

namespace dlhost::transport {
namespace {

TEST(ProxyList, UrlFormDecodesCredentialsAndChecksThePort) {
  std::vector<ProxySpec> proxies;
  std::string err;
  ASSERT_TRUE(
      parse_proxy_list(R"([{"url":"socks5h://bo%40b:p%3Ass@127.0.0.4:1080"}])", &proxies, &err))
      << err;
  EXPECT_EQ(proxies[0].id, "socks5h://127.0.0.4:1080");
  EXPECT_EQ(proxies[0].username, "bo@b");
  EXPECT_EQ(proxies[0].password, "p:ss");
  EXPECT_FALSE(parse_proxy_list(R"([{"url":"http://u:secret@h"}])", &proxies, &err));
  EXPECT_EQ(err.find("secret"), std::string::npos) << err;
  EXPECT_FALSE(parse_proxy_list(R"([{"url":"http://h:99999"}])", &proxies, &err));
  EXPECT_EQ(err, R"(PROXY_LIST: entry 1: "port" must be 1..65535, got "99999")");
}

TEST(ProxyList, RefusesARepeatedEntry) {
  std::vector<ProxySpec> proxies;
  std::string err;
  EXPECT_FALSE(parse_proxy_list(
      R"([{"isLocalhost":true},{"ip":"127.0.0.2","port":8888},{"url":"http://127.0.0.2:8888"}])",
      &proxies, &err));
  EXPECT_EQ(err, "PROXY_LIST: entry 3: repeats entry 2 (http://127.0.0.2:8888)");
}

}  // namespace
}  // namespace dlhost::transport
