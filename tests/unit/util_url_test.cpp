// util/url.h, util/redact.h and util/digest.h: one URL split, one redaction
// rule set, and the digests host and plugins share.
#include <gtest/gtest.h>

#include <set>

#include "dlhost/util/digest.h"
#include "dlhost/util/redact.h"
#include "dlhost/util/url.h"

namespace {

using namespace dlhost::util;

TEST(Url, SplitsAsLibcurlDoesForAuthorityUrls) {
  const auto p = split_url("https://u:p%40w@h.example:8443/a/b?x=1#f", UserinfoEnd::kAuthority);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scheme, "https");
  ASSERT_TRUE(p->userinfo);
  EXPECT_EQ(p->userinfo->user, "u");
  EXPECT_EQ(*p->userinfo->password, "p%40w");
  EXPECT_EQ(p->host_port, "h.example:8443");
  EXPECT_EQ(p->rest, "/a/b?x=1#f");
  // An '@' in the path is not a userinfo.
  const auto q = split_url("http://host/path@with-at", UserinfoEnd::kAuthority);
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->userinfo);
  EXPECT_EQ(q->host_port, "host");
  EXPECT_FALSE(split_url("not a url", UserinfoEnd::kAuthority));
  EXPECT_FALSE(split_url("9x://h/", UserinfoEnd::kAuthority));
}

TEST(Url, ConnectionUrlsTakeTheUserinfoToTheLastAt) {
  for (const char *password : {"pa/ss", "pa#ss", "pa?ss", "p@ss", "a/b?c#d@e"}) {
    const std::string url = std::string("socks5h://al:") + password + "@10.0.0.3:1080";
    const auto p = split_url(url, UserinfoEnd::kLastAt);
    ASSERT_TRUE(p) << url;
    ASSERT_TRUE(p->userinfo) << url;
    EXPECT_EQ(p->userinfo->user, "al");
    EXPECT_EQ(*p->userinfo->password, password);
    EXPECT_EQ(p->host_port, "10.0.0.3:1080");
    EXPECT_EQ(redacted(*p), "socks5h://al:***@10.0.0.3:1080");
  }
}

TEST(Redact, OneRuleSet) {
  EXPECT_EQ(redacted(Userinfo{"bob", "x"}), "bob:***");
  EXPECT_EQ(redacted(Userinfo{"", "x"}), ":***");
  EXPECT_EQ(redacted(Userinfo{"token", std::nullopt}), "***");
  EXPECT_EQ(redact_urls("http://user:pass@host:8080/a?b=c"), "http://user:***@host:8080/a?b=c");
  EXPECT_EQ(redact_urls("http://tok3n@host/"), "http://***@host/");
  EXPECT_EQ(redact_urls("http://a:b@c@host/x"), "http://a:***@host/x");
  EXPECT_EQ(redact_urls("http://host/path@with-at"), "http://host/path@with-at");
  EXPECT_EQ(redact_urls("no url here"), "no url here");
}

TEST(Redact, EveryUrlInsideText) {
  EXPECT_EQ(redact_urls("HTTP 404 for https://u:s3cret@h/x (via socks5h://p:pw@127.0.0.1:1080)"),
            "HTTP 404 for https://u:***@h/x (via socks5h://p:***@127.0.0.1:1080)");
  EXPECT_EQ(redact_urls("x9http://u:s3cret@h/"), "x9http://u:***@h/");
  EXPECT_EQ(redact_urls("'http://u:%2Fs3cret%23@h/'"), "'http://u:***@h/'");
}

// A password with an unencoded '/', '?' or '#' cuts the authority short, so
// nobody can tell where it ends: everything up to the last '@' is hidden.
TEST(Redact, AMalformedAuthorityHidesEverythingToTheLastAt) {
  EXPECT_EQ(redacted_url("http://u:pa/SECRET@host/f"), "http://u:***@host/f");
  EXPECT_EQ(redacted_url("http://u:pa#SECRET@host/f"), "http://u:***@host/f");
  EXPECT_EQ(redacted_url("http://u:pa?SECRET@host/f"), "http://u:***@host/f");
  EXPECT_EQ(redacted_url("http://u:p@ss/SE@CRET@host/f"), "http://u:***@host/f");
  EXPECT_EQ(redact_urls("HTTP 404 for http://u:pa/SECRET@host/f (x)"),
            "HTTP 404 for http://u:***@host/f (x)");
  // Without a userinfo, an '@' of the path stays where it is; with one,
  // hiding too much beats showing a password.
  EXPECT_EQ(redacted_url("https://host/@user/a.jpg"), "https://host/@user/a.jpg");
  EXPECT_EQ(redacted_url("https://u:p@host:8443/@user/a.jpg"), "https://u:***@user/a.jpg");
}

TEST(Url, ValidHostPort) {
  for (const char *good : {"host", "host:80", "host:", "a.b-c_d.example:65535", "[::1]",
                           "[::1]:8080", "127.0.0.1:1", "xn--bcher-kva.example",
                           "b\xc3\xbc"
                           "cher"})
    EXPECT_TRUE(valid_host_port(good)) << good;
  for (const char *bad :
       {"", ":80", "u:pa", "host:8o", "a:b:c", "[::1", "[]", "[::1]x", "ho st", "h\x7f", "[::1]:p"})
    EXPECT_FALSE(valid_host_port(bad)) << bad;
}

TEST(Digest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256::hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::hex_of("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("ab", 2);
  h.update("c", 1);
  const auto d = h.final_digest();
  EXPECT_EQ(to_hex(d.data(), d.size()), Sha256::hex_of("abc"));
}

TEST(Digest, KeyedHashIsStableUnderOneKeyAndDiffersAcrossKeys) {
  KeyedHash64 a, b;
  EXPECT_EQ(a("p1/a.jpg"), a("p1/a.jpg"));
  EXPECT_NE(a("p1/a.jpg"), a("p1/b.jpg"));
  // Two random keys agree on a text with probability 2^-64.
  EXPECT_NE(a("p1/a.jpg"), b("p1/a.jpg"));
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(a("f" + std::to_string(i)));
  EXPECT_EQ(seen.size(), 10000u);
}

}  // namespace
