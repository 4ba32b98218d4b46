// The settings the plugins of this repository read: names, defaults, bounds
// and help, written once.
//
// The plugins own these: parse_transport_config (dlhost/transport/
// transport_config.h) takes its defaults and lower bounds from this table,
// and the host's settings table (host/src/config/settings.cpp) takes its
// rows for them from here too, so `.env` validation, `dlhost settings`,
// `check-config` and what a plugin accepts at create() cannot drift apart.
// The host itself decides nothing with them; it only validates them early and
// passes them in config_json.
//
// Header-only and constexpr (no library to link), so the host can include it
// without the transport's dependencies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dlhost::plugin_settings {

enum class Kind {
  kString,      // free text
  kInt,         // integer >= min
  kNumber,      // number >= min (may be fractional)
  kBool01,      // 0 or 1
  kJsonArray,   // "" or the text of a JSON array
  kJsonObject,  // "" or the text of a JSON object
  kChoice,      // one of `choices`, '|'-separated
  kFile,        // "" or the path of a readable regular file
};

struct Setting {
  const char *name;
  const char *default_value;  // as text, as in .env
  Kind kind;
  double min;           // kInt and kNumber: the smallest value accepted
  const char *choices;  // kChoice: '|'-separated; else nullptr
  const char *help;
};

inline constexpr Setting kTable[] = {
    {"PROXY_LIST", "", Kind::kJsonArray, 0, nullptr,
     "JSON array of proxies; empty = direct connection only"},
    {"PROXY_STRATEGY", "load-balanced", Kind::kChoice, 0,
     "load-balanced|round-robin|first-available", "how a proxy is chosen for a post"},
    {"PROXY_POST_LIMIT", "2", Kind::kInt, 1, nullptr, "posts (groups) in flight per proxy"},
    {"PROXY_ATTACHMENT_LIMIT", "4", Kind::kInt, 1, nullptr, "files in flight per post, per proxy"},
    {"PROXY_DOWNLOAD_TIMEOUT", "600000", Kind::kInt, 0, nullptr, "ms for one transfer"},
    {"PROXY_MAX_REDIRECTS", "1", Kind::kInt, 0, nullptr, "redirects followed per transfer"},
    {"PROXY_SKIP_CACHE_TTL", "3600", Kind::kInt, 0, nullptr,
     "s a timed-out file is skipped before it is tried again"},
    {"PROXY_MAX_RETRIES", "3", Kind::kInt, 0, nullptr, "retries after the first attempt"},
    {"PROXY_RETRY_BACKOFF", "2", Kind::kNumber, 1, nullptr, "backoff multiplier"},
    {"PROXY_RETRY_BASE_DELAY", "1000", Kind::kInt, 0, nullptr, "ms before the first retry"},
    {"PROXY_STALL_TIMEOUT", "30000", Kind::kInt, 0, nullptr,
     "ms with no bytes before a transfer is abandoned and retried"},
    {"PROXY_MAX_RETRY_AFTER", "300000", Kind::kInt, 0, nullptr,
     "ms of Retry-After honoured at most; a longer one pauses that proxy for the host this long "
     "and counts as a failure there"},
    {"PROXY_OUTAGE_TIMEOUT", "300000", Kind::kInt, 0, nullptr,
     "ms files wait while no proxy is up (probes go on), then fail: \"no usable path for N s\""},
    {"PROXY_RATE_LIMIT", "0", Kind::kNumber, 0, nullptr,
     "requests per second per proxy and host; 0 = adaptive only"},
    {"PROXY_HEALTH_FAILURES", "3", Kind::kInt, 1, nullptr,
     "consecutive transport failures that take a proxy down"},
    {"DOWNLOAD_CA_BUNDLE", "", Kind::kFile, 0, nullptr,
     "PEM file of trusted CAs for HTTPS origins; empty = system store"},
    {"DOWNLOAD_USER_AGENT", "", Kind::kString, 0, nullptr,
     "User-Agent sent with every request (default dlhost/VERSION)"},
    {"DOWNLOAD_HEADERS", "", Kind::kJsonObject, 0, nullptr, "JSON object of extra request headers"},
    {"DOWNLOAD_COOKIES", "", Kind::kFile, 0, nullptr,
     "a cookies.txt file (Netscape format, as browsers export)"},
    {"DOWNLOAD_FSYNC", "0", Kind::kBool01, 0, nullptr,
     "1 = fsync each file before its rename (power-loss durability)"},
    {"DOWNLOAD_FOLLOW_SYMLINKS", "0", Kind::kBool01, 0, nullptr,
     "1 = follow links to directories inside the output directory (a link at a file or its "
     ".part never is)"},
    {"DOWNLOAD_MAX_FILE_SIZE", "0", Kind::kInt, 0, nullptr,
     "bytes a file may have at most (a larger one fails); 0 = no limit"},
};

// The row for `name`, at compile time: an unknown name does not compile.
consteval const Setting &get(std::string_view name) {
  for (const auto &s : kTable) {
    if (name == s.name) return s;
  }
  throw "dlhost::plugin_settings: no such setting";
}

// `value` is one of `choices` ("a|b|c"): a kChoice setting's check, for the
// host's validation and the transport's parser alike.
constexpr bool is_choice(std::string_view choices, std::string_view value) {
  for (std::size_t bar = 0; bar != std::string_view::npos; choices.remove_prefix(bar + 1)) {
    bar = choices.find('|');
    if (choices.substr(0, bar) == value) return true;
  }
  return false;
}

// A default as a number (the table's defaults are plain decimals).
consteval double default_number(std::string_view name) {
  const std::string_view text = get(name).default_value;
  double value = 0, scale = 1;
  bool fraction = false;
  for (char c : text) {
    if (c == '.') {
      fraction = true;
      continue;
    }
    if (fraction) scale /= 10;
    value = fraction ? value + (c - '0') * scale : value * 10 + (c - '0');
  }
  return value;
}

consteval std::int64_t default_int(std::string_view name) {
  return static_cast<std::int64_t>(default_number(name));
}

}  // namespace dlhost::plugin_settings
