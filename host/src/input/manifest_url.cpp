// Manifest URLs: the checks and the IDN conversion (see manifest_url.hpp).
#include "manifest_url.hpp"

#include <idn2.h>

#include <cctype>
#include <cstdlib>
#include <memory>

#include "dlhost/util/redact.h"
#include "dlhost/util/text.h"
#include "dlhost/util/url.h"

namespace dlhost {
namespace {

bool is_http_scheme(std::string_view scheme) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const auto s = lower(scheme);
  return s == "http" || s == "https";
}

bool is_control_or_space(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

}  // namespace

std::string shown_url(std::string_view url) {
  return util::echo(util::redacted_url(url));
}

std::optional<std::string> url_problem(std::string_view url) {
  if (url.empty()) return "\"url\" is empty";
  const auto parts = util::split_url(url, util::UserinfoEnd::kAuthority);
  if (!parts || !is_http_scheme(parts->scheme))
    return "\"url\" must start with http:// or https://: " + shown_url(url);
  for (char c : url) {
    if (is_control_or_space(c))
      return "\"url\" contains whitespace or control characters: " + shown_url(url);
  }
  if (parts->host_port.empty()) return "\"url\" has no host: " + shown_url(url);
  if (!util::valid_host_port(parts->host_port))
    return "\"url\" has a malformed host or port (percent-encode '/', '?', '#' and '@' in a "
           "user name or password): " +
           shown_url(url);
  return std::nullopt;
}

std::optional<std::string> ascii_host_url(const std::string &url, std::string *error) {
  const auto parts = util::split_url(url, util::UserinfoEnd::kAuthority);
  if (!parts || is_ascii(parts->host_port)) return url;
  std::string_view host = parts->host_port, port;
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon);
    host = host.substr(0, colon);
  }
  char *ascii = nullptr;
  const int rc =
      idn2_to_ascii_8z(std::string(host).c_str(), &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  const std::unique_ptr<char, decltype(&idn2_free)> owned(ascii, &idn2_free);
  if (rc != IDN2_OK) {
    *error = "\"url\" has a host that is not a valid internationalized domain name (" +
             std::string(idn2_strerror(rc)) + "): " + shown_url(url);
    return std::nullopt;
  }
  const std::size_t host_at = static_cast<std::size_t>(parts->host_port.data() - url.data());
  std::string out = url.substr(0, host_at);
  out += ascii;
  out += port;
  out += parts->rest;
  return out;
}

}  // namespace dlhost
