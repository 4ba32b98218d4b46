// A URL split into the parts dlhost reads or shows: scheme, userinfo (user
// and password), host[:port], and the rest (path, query, fragment).
//
// Where the userinfo ends is the one question two kinds of URL answer
// differently, so the caller says which kind it has:
//  - kAuthority: a URL handed to libcurl as it is (a manifest's URL, a URL
//    inside a message). As RFC 3986 and libcurl read it, the authority ends
//    at the first '/', '?' or '#', and the userinfo is what precedes its last
//    '@'.
//  - kLastAt: a URL dlhost splits itself to connect (a PROXY_LIST "url",
//    REDIS_URL). These carry no '@' after the credentials, and users write
//    passwords with '/', '?' or '#' in them unencoded, so the userinfo runs
//    to the last '@' of the URL.
// The parts are views into the text, percent-encoding untouched: the caller
// decodes what it sends, and redact.h rebuilds what it shows from the same
// parts, so what is shown as *** is exactly what was used as a password.
#pragma once

#include <optional>
#include <string_view>

namespace dlhost::util {

struct Userinfo {
  std::string_view user;
  std::optional<std::string_view> password;  // nullopt: no ':' in the userinfo
};

struct UrlParts {
  std::string_view scheme;           // as written, without "://"
  std::optional<Userinfo> userinfo;  // nullopt: no '@'
  std::string_view host_port;        // "host", "host:port", "[::1]:80"
  std::string_view rest;             // from the first '/', '?' or '#' on; may be empty
};

enum class UserinfoEnd { kAuthority, kLastAt };

// "user:pass" -> {user, pass}; "token" -> {token, nullopt}.
Userinfo split_userinfo(std::string_view text);

// "host", "host:port", "[v6]" or "[v6]:port", the port all digits (or
// empty), the host without '@', '/', '?', '#', '[', ']', white space or
// control characters. "u:pa" (a password cut short by an unencoded '/') is
// not: its port is not a number.
bool valid_host_port(std::string_view host_port);

// nullopt when `url` does not start with scheme "://" (a scheme is a letter
// followed by letters, digits, '+', '-' or '.').
std::optional<UrlParts> split_url(std::string_view url, UserinfoEnd rule);

}  // namespace dlhost::util
