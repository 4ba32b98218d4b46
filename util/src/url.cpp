// Splitting URLs (see url.h).
#include "dlhost/util/url.h"

namespace dlhost::util {
namespace {

bool is_scheme_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (first) return alpha;
  return alpha || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

bool is_scheme(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_scheme_char(s[i], i == 0)) return false;
  }
  return true;
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool valid_host_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '@' && c != '/' && c != '?' && c != '#' && c != '[' &&
         c != ']' && c != ':';
}

// An IPv6 literal (or IPvFuture, or a zone id after "%25"), loosely.
bool valid_ip_literal_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ':' ||
         c == '.' || c == '%' || c == '-' || c == '_' || c == '~';
}

}  // namespace

bool valid_host_port(std::string_view host_port) {
  std::string_view host = host_port, port;
  if (host_port.starts_with('[')) {
    const auto close = host_port.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = host_port.substr(1, close - 1);
    for (char c : host)
      if (!valid_ip_literal_char(c)) return false;
    const auto after = host_port.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return false;
    return after.empty() || all_digits(after.substr(1));
  }
  if (const auto colon = host_port.find(':'); colon != std::string_view::npos) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  if (host.empty() || !all_digits(port)) return false;
  for (char c : host)
    if (!valid_host_char(c)) return false;
  return true;
}

Userinfo split_userinfo(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return {text, std::nullopt};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

std::optional<UrlParts> split_url(std::string_view url, UserinfoEnd rule) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos || !is_scheme(url.substr(0, sep))) return std::nullopt;
  UrlParts parts;
  parts.scheme = url.substr(0, sep);
  std::string_view rest = url.substr(sep + 3);
  const auto authority_end = rest.find_first_of("/?#");
  const auto at =
      rule == UserinfoEnd::kLastAt ? rest.rfind('@') : rest.substr(0, authority_end).rfind('@');
  if (at != std::string_view::npos) {
    parts.userinfo = split_userinfo(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  const auto end = rest.find_first_of("/?#");
  parts.host_port = rest.substr(0, end);
  parts.rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  return parts;
}

}  // namespace dlhost::util
