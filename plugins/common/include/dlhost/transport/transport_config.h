// The settings a transport gets from the host.
//
// The host passes one JSON object (dlhost_create_params.config_json) keyed by
// setting name; docs/INTERNAL-CONTRACTS.md lists the keys. This file turns it
// into a plain struct with the documented defaults, checks every value, and
// reports the first bad one as "NAME: must be ..., got ...". Integers may
// arrive as JSON numbers or as decimal strings. Unknown keys are ignored.
// PROXY_LIST and DOWNLOAD_HEADERS carry JSON text inside a string; both are
// parsed here too, so every plugin sees the same interpretation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dlhost/transport/proxy_list.h"

namespace dlhost::transport {

struct TransportConfig {
  std::string proxy_list_json;                   // PROXY_LIST as given ("" = direct only)
  std::vector<ProxySpec> proxies;                // PROXY_LIST parsed; empty = direct only
  std::string proxy_strategy = "load-balanced";  // load-balanced|round-robin|first-available
  int64_t post_limit = 2;                        // PROXY_POST_LIMIT (>= 1)
  int64_t attachment_limit = 4;                  // PROXY_ATTACHMENT_LIMIT (>= 1)
  int64_t download_timeout_ms = 600000;          // PROXY_DOWNLOAD_TIMEOUT (0 = none)
  int64_t max_redirects = 1;                     // PROXY_MAX_REDIRECTS (0 = don't follow)
  int64_t skip_cache_ttl_s = 3600;               // PROXY_SKIP_CACHE_TTL
  int64_t max_retries = 3;                       // PROXY_MAX_RETRIES
  double retry_backoff = 2.0;                    // PROXY_RETRY_BACKOFF (>= 1)
  int64_t retry_base_delay_ms = 1000;            // PROXY_RETRY_BASE_DELAY
  int64_t stall_timeout_ms = 30000;              // PROXY_STALL_TIMEOUT (0 = none)
  int64_t max_retry_after_ms = 300000;          // PROXY_MAX_RETRY_AFTER
  int64_t outage_timeout_ms = 300000;           // PROXY_OUTAGE_TIMEOUT (multi-proxy)
  double rate_limit = 0.0;                       // PROXY_RATE_LIMIT req/s (0 = adaptive only)
  int64_t health_failures = 3;                   // PROXY_HEALTH_FAILURES (>= 1)
  std::string ca_bundle;                         // DOWNLOAD_CA_BUNDLE ("" = system store)
  std::string user_agent;                        // DOWNLOAD_USER_AGENT (default dlhost/<version>)
  std::vector<std::pair<std::string, std::string>> headers;  // DOWNLOAD_HEADERS
  std::string cookies_file;                                  // DOWNLOAD_COOKIES ("" = none)
  bool fsync = false;                                        // DOWNLOAD_FSYNC
  std::string output_dir;        // DOWNLOAD_DIR, absolute ("" = not given: dests as named)
  bool follow_symlinks = false;  // DOWNLOAD_FOLLOW_SYMLINKS: follow links to directories
  int64_t max_file_size = 0;     // DOWNLOAD_MAX_FILE_SIZE bytes (0 = no limit)

  TransportConfig();
};

// The default User-Agent, "dlhost/<project version>".
std::string default_user_agent();

// Parses `json` (empty or "null" = all defaults) into *out. Returns false
// with a one-line message naming the offending setting in *error.
bool parse_transport_config(std::string_view json, TransportConfig *out, std::string *error);

}  // namespace dlhost::transport
