// PROXY_LIST parsing (see proxy_list.h). Each entry becomes a ProxySpec whose
// id and url are credential-free; errors name the entry by index only.
#include "dlhost/transport/proxy_list.h"

#include <nlohmann/json.hpp>

#include "dlhost/transport/redact.h"

namespace dlhost::transport {
namespace {

using nlohmann::json;

bool known_scheme(std::string_view s) {
  return s == "http" || s == "https" || s == "socks5" || s == "socks5h";
}

std::string entry_error(size_t index, std::string_view what) {
  return "PROXY_LIST: entry " + std::to_string(index) + ": " + std::string(what);
}

std::string string_field(const json &e, const char *key) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

// Splits "scheme://user:pass@host:port" into a spec.
bool from_url(const std::string &url, size_t index, ProxySpec *p, std::string *error) {
  auto sep = url.find("://");
  if (sep == std::string::npos || !known_scheme(url.substr(0, sep))) {
    *error = entry_error(index, "url must start with http://, https://, socks5:// or socks5h://");
    return false;
  }
  std::string rest = url.substr(sep + 3);
  auto at = rest.rfind('@');
  if (at != std::string::npos) {
    std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    p->username = userinfo.substr(0, colon);
    if (colon != std::string::npos) p->password = userinfo.substr(colon + 1);
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) {
    *error = entry_error(index, "url must be scheme://[user:pass@]host:port");
    return false;
  }
  p->url = url.substr(0, sep + 3) + rest;
  p->id = p->url;
  return true;
}

bool from_fields(const json &e, size_t index, ProxySpec *p, std::string *error) {
  std::string protocol = string_field(e, "protocol");
  if (protocol.empty()) protocol = "http";
  if (!known_scheme(protocol)) {
    *error = entry_error(
        index, "protocol must be http, https, socks5 or socks5h, got \"" + protocol + "\"");
    return false;
  }
  std::string ip = string_field(e, "ip");
  std::string port = string_field(e, "port");
  if (ip.empty() || port.empty()) {
    *error = entry_error(index, "needs \"ip\" and \"port\" (or \"url\", or \"isLocalhost\")");
    return false;
  }
  bool v6 = ip.find(':') != std::string::npos && ip.front() != '[';
  p->url = protocol + "://" + (v6 ? "[" + ip + "]" : ip) + ":" + port;
  p->id = p->url;
  p->username = string_field(e, "username");
  p->password = string_field(e, "password");
  return true;
}

bool parse_entry(const json &e, size_t index, ProxySpec *p, std::string *error) {
  if (!e.is_object()) {
    *error = entry_error(index, "must be a JSON object");
    return false;
  }
  auto local = e.find("isLocalhost");
  if (local != e.end() && local->is_boolean() && local->get<bool>()) {
    p->direct = true;
    p->id = "direct";
    return true;
  }
  auto url = e.find("url");
  if (url != e.end()) {
    if (!url->is_string()) {
      *error = entry_error(index, "\"url\" must be a string");
      return false;
    }
    return from_url(url->get<std::string>(), index, p, error);
  }
  return from_fields(e, index, p, error);
}

}  // namespace

bool parse_proxy_list(std::string_view json_text, std::vector<ProxySpec> *out, std::string *error) {
  out->clear();
  if (json_text.find_first_not_of(" \t\r\n") == std::string_view::npos) return true;
  json list = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (list.is_discarded() || !list.is_array()) {
    *error = "PROXY_LIST: must be a JSON array of proxies";
    return false;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    ProxySpec p;
    if (!parse_entry(list[i], i, &p, error)) return false;
    out->push_back(std::move(p));
  }
  return true;
}

}  // namespace dlhost::transport
