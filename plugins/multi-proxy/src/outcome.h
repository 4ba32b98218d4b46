// From "what happened on the wire" to "what the scheduler should do".
//
// plugins/common's classify() turns an attempt's raw facts into a
// transport::Failure (kind, retryable, proxy_fault, message). The multi-proxy
// plugin needs one more distinction that only makes sense with several paths:
// whether the answer looks like a ban of this path (403, or an HTML page where
// a file was expected) so the file should move to another path. This file
// makes that decision; it is pure and unit-tested.
//
//   cancelled                          -> kCancelled
//   407 / CONNECT 407                  -> kProxyAuth  (path dead for the run)
//   other proxy faults                 -> kProxyFault (counts against health)
//   403, HTML block page               -> kBanned     (move to another path)
//   404, 410, other 4xx, TLS, I/O      -> kFatal      (fail now)
//   429, 503                           -> kThrottled  (retry, brake the pair)
//   other 5xx, 408, 425, timeouts,
//   resets, truncation, size/sha       -> kRetryable
#pragma once

#include <dlhost/transport/failure.h>

#include <optional>
#include <string_view>

#include "clock.h"
#include "scheduler.h"

namespace dlhost::mp {

AttemptResult attempt_result(const transport::Failure &f, long http_status,
                             std::optional<Millis> retry_after);

// A 2xx text/html answer for a URL that does not name an HTML page: the
// typical block page of DDoS protection in front of a file host.
bool looks_like_block_page(std::string_view content_type, std::string_view url);

AttemptResult block_page_result(std::string_view redacted_url);

// Did the proxy (not the origin) refuse our credentials? A 407 always means
// that (common's classify() already says so); so does a 401 or 407 answer to
// CONNECT, which only the proxy can give. Some proxies (tinyproxy 1.11 with
// BasicAuth) answer wrong credentials on plain-HTTP requests with a 401 whose
// WWW-Authenticate realm names the proxy; that is recognised too.
bool proxy_rejected_credentials(bool via_proxy, long connect_code, long http_status,
                                std::string_view www_authenticate);

AttemptResult proxy_auth_result(std::string_view redacted_url, long status);

}  // namespace dlhost::mp
