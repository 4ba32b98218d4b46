// Redaction of secrets in settings; see redact.hpp for the rules.
#include "dlhost/host/redact.hpp"

#include <nlohmann/json.hpp>

#include "dlhost/host/redis_url.hpp"
#include "dlhost/util/text.h"
#include "dlhost/util/url.h"

namespace dlhost {
namespace {

using util::lower;

std::string not_shown(std::string_view why) {
  return "(not shown: " + std::string(why) + ")";
}

std::string redact_proxy_url(const std::string &url) {
  const auto parts = util::split_url(url, util::UserinfoEnd::kLastAt);
  return parts ? util::redacted(*parts) : util::redact_urls(url);
}

// "user:pass@10.0.0.2" -> "***@10.0.0.2"
std::string redact_proxy_ip(const std::string &ip) {
  const auto at = ip.rfind('@');
  if (at == std::string::npos) return ip;
  return std::string(kRedacted) + ip.substr(at);
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
        field = redact_proxy_url(field.get<std::string>());
      else if (k == "ip" && field.is_string())
        field = redact_proxy_ip(field.get<std::string>());
    }
  }
  return list.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string redact_headers(const std::string &value) {
  auto headers = nlohmann::ordered_json::parse(value, nullptr, false);
  if (headers.is_discarded() || !headers.is_object()) return not_shown("not a JSON object");
  for (auto &[name, field] : headers.items()) field = kRedacted;
  return headers.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::string redact_webhook_url(const std::string &url) {
  const auto parts = util::split_url(url, util::UserinfoEnd::kAuthority);  // libcurl's reading
  if (!parts) return not_shown("not a URL");
  util::UrlParts shown = *parts;
  shown.userinfo = {};
  const bool more = !shown.rest.empty() && shown.rest != "/";
  shown.rest = more ? "/..." : "";
  return util::redacted(shown);
}

std::string redact_setting(std::string_view name, const std::string &value) {
  if (value.empty()) return value;
  if (name == "PROXY_LIST") return redact_proxy_list(value);
  if (name == "DOWNLOAD_HEADERS") return redact_headers(value);
  if (name == "REDIS_URL") return redact_redis_url(value);
  if (name == "DOWNLOAD_WEBHOOK_URL") return redact_webhook_url(value);
  return value;
}

}  // namespace dlhost
