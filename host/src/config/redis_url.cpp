// REDIS_URL parsing and its redacted form; see redis_url.hpp.
#include "dlhost/host/redis_url.hpp"

#include <charconv>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "dlhost/util/redact.h"
#include "dlhost/util/text.h"
#include "dlhost/util/url.h"

namespace dlhost {
namespace {

constexpr std::string_view kUnix = "unix://";

// A unix:// URL: its userinfo (if any) and the socket path with its query.
struct UnixParts {
  std::optional<util::Userinfo> userinfo;
  std::string_view path_and_query;
};

UnixParts split_unix(std::string_view url) {
  std::string_view rest = url.substr(kUnix.size());
  UnixParts parts;
  if (const auto at = rest.find("@/"); at != std::string_view::npos) {
    parts.userinfo = util::split_userinfo(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  parts.path_and_query = rest;
  return parts;
}

std::string redacted_unix(const UnixParts &parts) {
  std::string out(kUnix);
  if (parts.userinfo) out += util::redacted(*parts.userinfo) + "@";
  out += parts.path_and_query;
  return out;
}

int parse_int(std::string_view text, const std::string &what) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw std::invalid_argument(what);
  return value;
}

// Percent-decoded, as PROXY_LIST's URLs are: "p%40ss" sends "p@ss".
void take_credentials(const std::optional<util::Userinfo> &userinfo, RedisAddress &a) {
  if (!userinfo) return;
  if (userinfo->password) {
    a.user = util::percent_decode(userinfo->user);
    a.password = util::percent_decode(*userinfo->password);
  } else {
    a.password = util::percent_decode(userinfo->user);  // redis://PASSWORD@host
  }
}

}  // namespace

std::string redact_redis_url(const std::string &url) {
  if (std::string_view(url).starts_with(kUnix)) return redacted_unix(split_unix(url));
  if (const auto parts = util::split_url(url, util::UserinfoEnd::kLastAt))
    return util::redacted(*parts);
  return util::redact_urls(url);
}

RedisAddress parse_redis_url(const std::string &url) {
  RedisAddress a;
  a.redacted = redact_redis_url(url);
  const auto bad = [&](const std::string &why) {
    return std::invalid_argument("REDIS_URL " + a.redacted + ": " + why);
  };
  if (std::string_view(url).starts_with(kUnix)) {
    const auto parts = split_unix(url);
    take_credentials(parts.userinfo, a);
    const auto q = parts.path_and_query.find('?');
    a.socket_path = std::string(parts.path_and_query.substr(0, q));
    if (a.socket_path.empty() || a.socket_path[0] != '/')
      throw bad("a unix socket URL is unix://[user:pass@]/absolute/path.sock[?db=N]");
    if (q != std::string_view::npos) {
      auto query = parts.path_and_query.substr(q + 1);
      if (!query.starts_with("db=")) throw bad("the only query parameter is db=N");
      a.db = parse_int(query.substr(3), "REDIS_URL " + a.redacted + ": db must be a number");
    }
    return a;
  }
  const auto parts = util::split_url(url, util::UserinfoEnd::kLastAt);
  if (!parts || parts->scheme != "redis")
    throw bad("must start with redis:// or unix:// (rediss:// is not supported)");
  take_credentials(parts->userinfo, a);
  std::string_view hostport = parts->host_port;
  if (!parts->rest.empty()) {
    if (parts->rest[0] != '/') throw bad("db must be a number");
    auto db = parts->rest.substr(1);
    if (!db.empty()) a.db = parse_int(db, "REDIS_URL " + a.redacted + ": db must be a number");
  }
  if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    a.port = parse_int(hostport.substr(colon + 1),
                       "REDIS_URL " + a.redacted + ": port must be a number");
    hostport = hostport.substr(0, colon);
  }
  a.host = std::string(hostport);
  if (a.host.empty()) throw bad("no host");
  if (a.port <= 0 || a.port > 65535) throw bad("port must be 1..65535");
  return a;
}

}  // namespace dlhost
