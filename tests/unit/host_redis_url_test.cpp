// REDIS_URL parsing and redaction (no server needed).
#include <gtest/gtest.h>

#include "dlhost/host/manifest.hpp"
#include "dlhost/host/redis_coordinator.hpp"
#include "dlhost/host/redis_url.hpp"

namespace dlhost {
namespace {

TEST(RedisUrl, TcpWithUserPasswordAndDb) {
  const auto a = parse_redis_url("redis://dl:s3cret@10.1.2.3:6390/4");
  EXPECT_EQ(a.host, "10.1.2.3");
  EXPECT_EQ(a.port, 6390);
  EXPECT_EQ(a.user, "dl");
  EXPECT_EQ(a.password, "s3cret");
  EXPECT_EQ(a.db, 4);
  EXPECT_EQ(a.redacted, "redis://dl:***@10.1.2.3:6390/4");
}

// Percent-encoded user names and passwords are decoded, as in PROXY_LIST.
TEST(RedisUrl, PercentEncodedCredentialsAreDecoded) {
  const auto a = parse_redis_url("redis://d%6C:p%40ss%2Fw%25@h:1/0");
  EXPECT_EQ(a.user, "dl");
  EXPECT_EQ(a.password, "p@ss/w%");
  EXPECT_EQ(a.redacted, "redis://d%6C:***@h:1/0");
  EXPECT_EQ(parse_redis_url("redis://:p%40ss@h:1").password, "p@ss");
  EXPECT_EQ(parse_redis_url("redis://p%40ss@h:1").password, "p@ss");
  EXPECT_EQ(parse_redis_url("unix://:p%40ss@/run/r.sock").password, "p@ss");
}

// What AUTH sends is what *** hides: the password runs to the last '@'.
TEST(RedisUrl, PasswordsWithAnyCharacter) {
  for (const char *pw : {"p/w", "p#w", "p?w", "p@w", "a/b?c#d"}) {
    const auto a = parse_redis_url(std::string("redis://dl:") + pw + "@10.1.2.3:6390/4");
    EXPECT_EQ(a.password, pw);
    EXPECT_EQ(a.host, "10.1.2.3");
    EXPECT_EQ(a.db, 4);
    EXPECT_EQ(a.redacted, "redis://dl:***@10.1.2.3:6390/4");
    const auto b = parse_redis_url(std::string("unix://dl:") + pw + "@/run/redis.sock?db=3");
    EXPECT_EQ(b.password, pw);
    EXPECT_EQ(b.socket_path, "/run/redis.sock");
    EXPECT_EQ(b.redacted, "unix://dl:***@/run/redis.sock?db=3");
  }
}

TEST(RedisUrl, Defaults) {
  const auto a = parse_redis_url("redis://localhost");
  EXPECT_EQ(a.port, 6379);
  EXPECT_EQ(a.db, 0);
  EXPECT_TRUE(a.password.empty());
  EXPECT_EQ(parse_redis_url("redis://pw@h:1").redacted, "redis://***@h:1");
  EXPECT_EQ(parse_redis_url("redis://pw@h:1").password, "pw");
}

TEST(RedisUrl, UnixSocket) {
  const auto a = parse_redis_url("unix:///run/redis/redis.sock?db=2");
  EXPECT_EQ(a.socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(a.db, 2);
  const auto b = parse_redis_url("unix://dl:s3cret@/run/redis.sock");
  EXPECT_EQ(b.socket_path, "/run/redis.sock");
  EXPECT_EQ(b.user, "dl");
  EXPECT_EQ(b.password, "s3cret");
  EXPECT_EQ(b.redacted, "unix://dl:***@/run/redis.sock");
}

TEST(RedisUrl, ErrorsNameTheSettingAndHideThePassword) {
  for (const char *bad : {"http://u:hunter2@h:1", "redis://u:hunter2@h:notaport",
                          "redis://u:hunter2@h:1/x", "redis://u:hunter2@:1", "unix://relative"}) {
    try {
      parse_redis_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument &e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("REDIS_URL ", 0), 0u) << what;
      EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace dlhost
