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
//   proxy rejected our credentials     -> kProxyAuth  (path dead for the run;
//                                         classify()'s PROXY_AUTH: 407, CONNECT
//                                         401/407, SOCKS5, a proxy's own 401)
//   other proxy faults                 -> kProxyFault (counts against health)
//   403, HTML block page               -> kBanned     (move to another path;
//                                         common's is_block_page() decides)
//   404, 410, other 4xx, TLS, I/O      -> kFatal      (fail now)
//   429, 503 with Retry-After          -> kThrottled  (retry at once elsewhere,
//                                         brake the pair)
//   other 5xx, 408, 425, timeouts,
//   resets, truncation, size/sha       -> kRetryable
#pragma once

#include <dlhost/transport/block_page.h>
#include <dlhost/transport/failure.h>

#include <optional>
#include <string_view>

#include "clock.h"
#include "scheduler.h"

namespace dlhost::mp {

AttemptResult attempt_result(const transport::Failure &f, long http_status,
                             std::optional<Millis> retry_after);

// The block-page rule lives in plugins/common (block_page.h).
using transport::looks_like_block_page;

AttemptResult block_page_result(std::string_view redacted_url);

// Why an attempt failed, as stats count it (per path, in stats and /metrics).
enum class FailureClass {
  kHttp,
  kTimeout,
  kTransport,
  kProxy,
  kProxyAuth,
  kVerify,
  kBanned,
  kThrottled,
  kIo,
  kOther,
};
inline constexpr size_t kFailureClasses = 10;
const char *failure_class_name(FailureClass c);
// nullopt for a success or a cancel: nothing failed.
std::optional<FailureClass> failure_class(const AttemptResult &r);

}  // namespace dlhost::mp
