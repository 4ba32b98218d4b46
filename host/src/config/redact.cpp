// Redaction of secrets in settings; see redact.hpp for the rules.
#include "dlhost/host/redact.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "dlhost/util/text.h"

namespace dlhost {
namespace {

using util::lower;

std::string not_shown(std::string_view why) {
  return "(not shown: " + std::string(why) + ")";
}

std::string redact_proxy_list(const std::string &value) {
  auto list = nlohmann::ordered_json::parse(value, nullptr, false);
  if (list.is_discarded() || !list.is_array()) return not_shown("not a JSON array");
  for (auto &proxy : list) {
    if (!proxy.is_object()) continue;
    for (auto &[key, field] : proxy.items()) {
      const auto k = lower(key);
      if ((k == "password" || k == "pass") &&
          !(field.is_string() && field.get<std::string>().empty()))
        field = kRedacted;
      else if (k == "url" && field.is_string())
        field = redact_url(field.get<std::string>());
    }
  }
  return list.dump();
}

std::string redact_headers(const std::string &value) {
  auto headers = nlohmann::ordered_json::parse(value, nullptr, false);
  if (headers.is_discarded() || !headers.is_object()) return not_shown("not a JSON object");
  for (auto &[name, field] : headers.items()) {
    if (is_secret_header(name)) field = kRedacted;
  }
  return headers.dump();
}

}  // namespace

bool is_secret_header(std::string_view name) {
  const auto n = lower(name);
  for (const char *word : {"auth", "cookie", "token", "secret", "session", "key", "password"}) {
    if (n.find(word) != std::string::npos) return true;
  }
  return false;
}

std::string redact_url(const std::string &url, bool bare_user_is_secret) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  const auto start = scheme_end + 3;
  const auto path = url.find_first_of("/?#", start);
  const auto at = url.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at == std::string::npos || at < start) return url;
  const auto colon = url.find(':', start);
  if (colon != std::string::npos && colon < at)
    return url.substr(0, colon + 1) + std::string(kRedacted) + url.substr(at);
  if (bare_user_is_secret) return url.substr(0, start) + std::string(kRedacted) + url.substr(at);
  return url;
}

std::string redact_setting(std::string_view name, const std::string &value) {
  if (value.empty()) return value;
  if (name == "PROXY_LIST") return redact_proxy_list(value);
  if (name == "DOWNLOAD_HEADERS") return redact_headers(value);
  if (name == "REDIS_URL") return redact_url(value, true);
  return value;
}

}  // namespace dlhost
