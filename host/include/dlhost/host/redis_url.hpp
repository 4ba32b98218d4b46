// REDIS_URL: parsed once into what the connection uses, and shown redacted
// from that same parse.
//
// Forms: redis://[user:pass@]host[:port][/db] and
// unix://[user:pass@]/path/to.sock[?db=N]. A userinfo without ':' is a
// password (AUTH pass). The userinfo of redis:// runs to the last '@'
// (util::UserinfoEnd::kLastAt), so a password may hold '/', '?' or '#'
// unencoded; in unix:// it ends at the "@/" before the socket path. The
// password is used as written (no percent-decoding), as before.
// `redacted` is rebuilt from the parsed parts with util's one rule set
// (user:***@, or ***@ for a bare password), so whatever the connection sends
// as a password never appears in it. Pure parsing: no hiredis here, so
// check-config and the engine can show REDIS_URL without linking Redis.
#pragma once

#include <string>

namespace dlhost {

struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string socket_path;  // set for unix sockets
  std::string user;
  std::string password;
  int db = 0;
  std::string redacted;
};

// Throws std::invalid_argument with a one-line message naming REDIS_URL
// (shown redacted).
RedisAddress parse_redis_url(const std::string &url);

// REDIS_URL as it may be shown, whether or not it parses.
std::string redact_redis_url(const std::string &url);

}  // namespace dlhost
