// The settings a transport gets from the host.
//
// The host passes one JSON object (dlhost_create_params.config_json) keyed by
// setting name; docs/INTERNAL-CONTRACTS.md lists the keys. This file turns it
// into a plain struct with the documented defaults, checks every value, and
// reports the first bad one as "NAME: must be ..., got ...". Defaults and
// lower bounds come from the plugins' settings table (dlhost/plugin_settings.h),
// which the host's settings table reads too. Integers may
// arrive as JSON numbers or as decimal strings. Unknown keys are ignored.
// PROXY_LIST and DOWNLOAD_HEADERS carry JSON text inside a string; both are
// parsed here too, so every plugin sees the same interpretation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dlhost/plugin_settings.h"
#include "dlhost/transport/proxy_list.h"

namespace dlhost::transport {

// Each field is the setting in its comment, with that setting's default.
struct TransportConfig {
  std::string proxy_list_json;     // PROXY_LIST as given ("" = direct only)
  std::vector<ProxySpec> proxies;  // PROXY_LIST parsed; empty = direct only
  std::string proxy_strategy = plugin_settings::get("PROXY_STRATEGY").default_value;
  int64_t post_limit = plugin_settings::default_int("PROXY_POST_LIMIT");
  int64_t attachment_limit = plugin_settings::default_int("PROXY_ATTACHMENT_LIMIT");
  int64_t download_timeout_ms = plugin_settings::default_int("PROXY_DOWNLOAD_TIMEOUT");  // 0 = none
  int64_t max_redirects = plugin_settings::default_int("PROXY_MAX_REDIRECTS");
  int64_t skip_cache_ttl_s = plugin_settings::default_int("PROXY_SKIP_CACHE_TTL");
  int64_t max_retries = plugin_settings::default_int("PROXY_MAX_RETRIES");
  double retry_backoff = plugin_settings::default_number("PROXY_RETRY_BACKOFF");
  int64_t retry_base_delay_ms = plugin_settings::default_int("PROXY_RETRY_BASE_DELAY");
  int64_t stall_timeout_ms = plugin_settings::default_int("PROXY_STALL_TIMEOUT");  // 0 = none
  int64_t max_retry_after_ms = plugin_settings::default_int("PROXY_MAX_RETRY_AFTER");
  int64_t outage_timeout_ms = plugin_settings::default_int("PROXY_OUTAGE_TIMEOUT");
  double rate_limit = plugin_settings::default_number("PROXY_RATE_LIMIT");  // req/s, 0 = adaptive
  int64_t health_failures = plugin_settings::default_int("PROXY_HEALTH_FAILURES");
  std::string ca_bundle;   // DOWNLOAD_CA_BUNDLE ("" = system store)
  std::string user_agent;  // DOWNLOAD_USER_AGENT (default dlhost/<version>)
  std::vector<std::pair<std::string, std::string>> headers;  // DOWNLOAD_HEADERS
  std::string cookies_file;                                  // DOWNLOAD_COOKIES ("" = none)
  bool fsync = false;                                        // DOWNLOAD_FSYNC
  std::string output_dir;        // DOWNLOAD_DIR, absolute ("" = not given: dests as named)
  bool follow_symlinks = false;  // DOWNLOAD_FOLLOW_SYMLINKS: follow links to directories
  int64_t max_file_size = plugin_settings::default_int("DOWNLOAD_MAX_FILE_SIZE");  // 0 = no limit

  TransportConfig();
};

// The default User-Agent, "dlhost/<project version>".
std::string default_user_agent();

// Parses `json` (empty or "null" = all defaults) into *out. Returns false
// with a one-line message naming the offending setting in *error.
bool parse_transport_config(std::string_view json, TransportConfig *out, std::string *error);

}  // namespace dlhost::transport
