// Config JSON -> TransportConfig (see transport_config.h).
// Each setting is read by a small typed reader that knows the setting's name,
// so every error message starts with it. Values are quoted back in errors,
// except for PROXY_LIST, which may carry credentials.
#include "dlhost/transport/transport_config.h"

#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

#ifndef DLHOST_VERSION
#define DLHOST_VERSION "0.0.0"
#endif

namespace dlhost::transport {
namespace {

using nlohmann::json;
namespace ps = plugin_settings;

// Shows a value in an error: strings quoted, other JSON as dumped.
std::string shown(const json &v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

bool fail(std::string *error, const char *key, const std::string &need, const json &got) {
  *error = std::string(key) + ": must be " + need + ", got " + shown(got);
  return false;
}

// Reads an integer given as a JSON integer or a decimal string.
bool as_integer(const json &v, int64_t *out) {
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) != d || std::fabs(d) > 9e15) return false;
    *out = static_cast<int64_t>(d);
    return true;
  }
  if (!v.is_string()) return false;
  const std::string &s = v.get_ref<const std::string &>();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

bool as_number(const json &v, double *out) {
  if (v.is_number()) {
    *out = v.get<double>();
    return std::isfinite(*out);
  }
  if (!v.is_string()) return false;
  const std::string &s = v.get_ref<const std::string &>();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(*out);
}

bool read_int(const json &cfg, const plugin_settings::Setting &setting, int64_t *out,
              std::string *error) {
  const char *key = setting.name;
  const auto min = static_cast<int64_t>(setting.min);
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return true;
  int64_t v = 0;
  if (!as_integer(*it, &v) || v < min)
    return fail(error, key, "an integer >= " + std::to_string(min), *it);
  *out = v;
  return true;
}

bool read_number(const json &cfg, const plugin_settings::Setting &setting, double *out,
                 std::string *error) {
  const char *key = setting.name;
  const double min = setting.min;
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return true;
  double v = 0;
  if (!as_number(*it, &v) || v < min) {
    std::string m = std::to_string(min);
    m.erase(m.find_last_not_of('0') + 1);
    if (!m.empty() && m.back() == '.') m.pop_back();
    return fail(error, key, "a number >= " + m, *it);
  }
  *out = v;
  return true;
}

bool read_string(const json &cfg, const char *key, std::string *out, std::string *error) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return true;
  if (!it->is_string()) return fail(error, key, "a string", *it);
  *out = it->get<std::string>();
  return true;
}

// One of the table's choices ("a|b|c").
bool read_choice(const json &cfg, const plugin_settings::Setting &setting, std::string *out,
                 std::string *error) {
  std::string s = *out;
  if (!read_string(cfg, setting.name, &s, error)) return false;
  if (ps::is_choice(setting.choices, s)) {
    *out = s;
    return true;
  }
  std::string need = setting.choices;  // "a|b|c" -> "a, b or c"
  for (size_t bar; (bar = need.find('|')) != std::string::npos;)
    need.replace(bar, 1, need.find('|', bar + 1) == std::string::npos ? " or " : ", ");
  return fail(error, setting.name, need, s);
}

bool read_flag(const json &cfg, const char *key, bool *out, std::string *error) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return true;
  int64_t v = 0;
  if (it->is_boolean())
    v = it->get<bool>() ? 1 : 0;
  else if (!as_integer(*it, &v) || (v != 0 && v != 1))
    return fail(error, key, "0 or 1", *it);
  *out = v == 1;
  return true;
}

bool read_output_dir(const json &cfg, std::string *out, std::string *error) {
  if (!read_string(cfg, "DOWNLOAD_DIR", out, error)) return false;
  if (!out->empty() && (*out)[0] != '/')
    return fail(error, "DOWNLOAD_DIR", "an absolute path (the host resolves it)", *out);
  return true;
}

bool valid_header(const std::string &name, const std::string &value) {
  if (name.empty()) return false;
  for (char c : name)
    if (c == ':' || c == ' ' || c == '\r' || c == '\n' || c == '\t') return false;
  return value.find_first_of("\r\n") == std::string::npos;
}

bool read_headers(const json &cfg, TransportConfig *out, std::string *error) {
  std::string text;
  if (!read_string(cfg, "DOWNLOAD_HEADERS", &text, error)) return false;
  out->headers.clear();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return true;
  json obj = json::parse(text, nullptr, false);
  const char *need = "a JSON object of header names to string values";
  if (obj.is_discarded() || !obj.is_object()) {  // the text is not echoed: it may hold tokens
    *error = std::string("DOWNLOAD_HEADERS: must be ") + need;
    return false;
  }
  for (auto &[name, value] : obj.items()) {
    if (!value.is_string() || !valid_header(name, value.get<std::string>())) {
      *error = "DOWNLOAD_HEADERS: header \"" + name +
               "\" must have a token name and a one-line string value";
      return false;
    }
    out->headers.emplace_back(name, value.get<std::string>());
  }
  return true;
}

bool read_proxies(const json &cfg, TransportConfig *out, std::string *error) {
  auto it = cfg.find("PROXY_LIST");
  if (it == cfg.end() || it->is_null()) return true;
  if (it->is_array()) {
    out->proxy_list_json = it->dump();  // tolerate the list given as JSON, not text
  } else if (it->is_string()) {
    out->proxy_list_json = it->get<std::string>();
  } else {
    *error = "PROXY_LIST: must be a string holding a JSON array";
    return false;
  }
  return parse_proxy_list(out->proxy_list_json, &out->proxies, error);
}

bool read_all(const json &c, TransportConfig *o, std::string *e) {
  return read_proxies(c, o, e) &&
         read_choice(c, ps::get("PROXY_STRATEGY"), &o->proxy_strategy, e) &&
         read_int(c, ps::get("PROXY_POST_LIMIT"), &o->post_limit, e) &&
         read_int(c, ps::get("PROXY_ATTACHMENT_LIMIT"), &o->attachment_limit, e) &&
         read_int(c, ps::get("PROXY_DOWNLOAD_TIMEOUT"), &o->download_timeout_ms, e) &&
         read_int(c, ps::get("PROXY_MAX_REDIRECTS"), &o->max_redirects, e) &&
         read_int(c, ps::get("PROXY_SKIP_CACHE_TTL"), &o->skip_cache_ttl_s, e) &&
         read_int(c, ps::get("PROXY_MAX_RETRIES"), &o->max_retries, e) &&
         read_number(c, ps::get("PROXY_RETRY_BACKOFF"), &o->retry_backoff, e) &&
         read_int(c, ps::get("PROXY_RETRY_BASE_DELAY"), &o->retry_base_delay_ms, e) &&
         read_int(c, ps::get("PROXY_STALL_TIMEOUT"), &o->stall_timeout_ms, e) &&
         read_int(c, ps::get("PROXY_MAX_RETRY_AFTER"), &o->max_retry_after_ms, e) &&
         read_int(c, ps::get("PROXY_OUTAGE_TIMEOUT"), &o->outage_timeout_ms, e) &&
         read_number(c, ps::get("PROXY_RATE_LIMIT"), &o->rate_limit, e) &&
         read_int(c, ps::get("PROXY_HEALTH_FAILURES"), &o->health_failures, e) &&
         read_string(c, "DOWNLOAD_CA_BUNDLE", &o->ca_bundle, e) &&
         read_string(c, "DOWNLOAD_USER_AGENT", &o->user_agent, e) && read_headers(c, o, e) &&
         read_string(c, "DOWNLOAD_COOKIES", &o->cookies_file, e) &&
         read_flag(c, "DOWNLOAD_FSYNC", &o->fsync, e) && read_output_dir(c, &o->output_dir, e) &&
         read_flag(c, "DOWNLOAD_FOLLOW_SYMLINKS", &o->follow_symlinks, e) &&
         read_int(c, ps::get("DOWNLOAD_MAX_FILE_SIZE"), &o->max_file_size, e);
}

}  // namespace

TransportConfig::TransportConfig() : user_agent(default_user_agent()) {}

std::string default_user_agent() {
  return "dlhost/" DLHOST_VERSION;
}

bool parse_transport_config(std::string_view text, TransportConfig *out, std::string *error) {
  *out = TransportConfig();
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return true;
  json cfg = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (cfg.is_null()) return true;
  if (cfg.is_discarded() || !cfg.is_object()) {
    *error = "config: must be a JSON object of settings";
    return false;
  }
  if (!read_all(cfg, out, error)) return false;
  if (out->user_agent.empty()) out->user_agent = default_user_agent();
  return true;
}

}  // namespace dlhost::transport
