// PROXY_LIST parsing (see proxy_list.h). Each entry becomes a ProxySpec whose
// id and url are credential-free; errors name the entry by index only and
// never echo a credential.
#include "dlhost/util/proxy_list.h"

#include <nlohmann/json.hpp>

#include "dlhost/util/text.h"
#include "dlhost/util/url.h"

namespace dlhost::util {
namespace {

using nlohmann::json;
using util::percent_decode;

bool known_scheme(std::string_view s) {
  return s == "http" || s == "https" || s == "socks5" || s == "socks5h";
}

// Entries are numbered from 1, as a person counts them in the list.
std::string entry_error(size_t index, std::string_view what) {
  return "PROXY_LIST: entry " + std::to_string(index + 1) + ": " + std::string(what);
}

// Checks a host and a decimal port 1..65535; builds "scheme://host:port".
bool make_proxy_url(std::string_view scheme, std::string host, std::string_view port, size_t index,
                    ProxySpec *p, std::string *error) {
  if (host.empty()) {
    *error = entry_error(index, "\"ip\" (the proxy's host) is empty");
    return false;
  }
  unsigned long value = 0;
  bool digits = !port.empty() && port.size() <= 5 &&
                port.find_first_not_of("0123456789") == std::string_view::npos;
  if (digits) value = std::stoul(std::string(port));
  if (!digits || value < 1 || value > 65535) {
    *error = entry_error(index, "\"port\" must be 1..65535, got \"" + std::string(port) + "\"");
    return false;
  }
  bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  if (v6) host = "[" + host + "]";
  p->url = std::string(scheme) + "://" + host + ":" + std::to_string(value);
  p->id = p->url;
  return true;
}

std::string string_field(const json &e, const char *key) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return it->dump();  // shown in the error (a port of 1.5 or true), never a password
}

// Splits "scheme://user:pass@host:port" into a spec. The userinfo runs to the
// last '@' (util::UserinfoEnd::kLastAt), so a password may hold '/', '?' or
// '#' unencoded; check-config shows this same split, redacted.
bool from_url(const std::string &url, size_t index, ProxySpec *p, std::string *error) {
  const auto parts = util::split_url(url, util::UserinfoEnd::kLastAt);
  if (!parts || !known_scheme(parts->scheme)) {
    *error = entry_error(index, "url must start with http://, https://, socks5:// or socks5h://");
    return false;
  }
  if (parts->userinfo) {
    p->username = percent_decode(parts->userinfo->user);
    if (parts->userinfo->password) p->password = percent_decode(*parts->userinfo->password);
  }
  std::string_view rest = parts->host_port;
  std::string_view tail = parts->rest;
  while (!tail.empty() && tail.back() == '/') tail.remove_suffix(1);
  auto colon = rest.rfind(':');
  bool bracketed = !rest.empty() && rest.front() == '[';
  if (rest.empty() || !tail.empty() || colon == std::string_view::npos ||
      (bracketed && rest[colon - 1] != ']')) {
    *error = entry_error(index, "url must be scheme://[user:pass@]host:port");
    return false;
  }
  std::string host(rest.substr(0, colon));
  if (bracketed) host = host.substr(1, host.size() - 2);
  return make_proxy_url(parts->scheme, host, rest.substr(colon + 1), index, p, error);
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
  if (ip.empty() && port.empty()) {
    *error = entry_error(index, "needs \"ip\" and \"port\" (or \"url\", or \"isLocalhost\")");
    return false;
  }
  // "user:pass@10.0.0.2" would become part of the proxy's id, shown everywhere:
  // refuse it without echoing it.
  if (ip.find('@') != std::string::npos) {
    *error = entry_error(index,
                         "\"ip\" must be a host or address only; give credentials as "
                         "\"username\" and \"password\" (the value is not shown)");
    return false;
  }
  p->username = string_field(e, "username");
  p->password = string_field(e, "password");
  return make_proxy_url(protocol, ip, port, index, p, error);
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
    for (size_t j = 0; j < out->size(); ++j) {
      if ((*out)[j].id == p.id) {
        *error = entry_error(i, "repeats entry " + std::to_string(j + 1) + " (" + p.id + ")");
        return false;
      }
    }
    out->push_back(std::move(p));
  }
  return true;
}

}  // namespace dlhost::util
