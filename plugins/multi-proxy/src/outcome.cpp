// Attempt outcome mapping (see outcome.h).
#include "outcome.h"

#include <string>

namespace dlhost::mp {
namespace {

// A 503 is a rate answer only when the server says when to come back;
// without Retry-After it is an error like any 5xx (the scheduler still brakes
// the pair when most of the host's answers fail: rate_limit.h, HostSignal).
Outcome http_outcome(long s, bool retry_after) {
  if (s == 403) return Outcome::kBanned;
  if (s == 429 || (s == 503 && retry_after)) return Outcome::kThrottled;
  if (s >= 500 || s == 408 || s == 425) return Outcome::kRetryable;
  return Outcome::kFatal;  // 404, 410 and every other definite answer
}

Outcome failure_outcome(const transport::Failure &f, long http_status, bool retry_after) {
  if (f.cancelled) return Outcome::kCancelled;
  switch (f.kind) {
    case DLHOST_FAILURE_NONE:
      return Outcome::kSuccess;
    case DLHOST_FAILURE_PROXY_AUTH:
      return Outcome::kProxyAuth;
    case DLHOST_FAILURE_HTTP:
      return f.proxy_fault ? Outcome::kProxyFault : http_outcome(http_status, retry_after);
    case DLHOST_FAILURE_TIMEOUT:
      return f.proxy_fault ? Outcome::kProxyFault : Outcome::kRetryable;
    case DLHOST_FAILURE_VERIFY:
      return Outcome::kRetryable;
    default:
      break;
  }
  if (f.proxy_fault) return Outcome::kProxyFault;
  if (f.kind == DLHOST_FAILURE_TRANSPORT && f.retryable) return Outcome::kRetryable;
  return Outcome::kFatal;
}

}  // namespace

AttemptResult attempt_result(const transport::Failure &f, long http_status,
                             std::optional<Millis> retry_after) {
  AttemptResult r;
  r.outcome = failure_outcome(f, http_status, retry_after.has_value());
  r.failure = f.kind;
  if (r.outcome == Outcome::kProxyFault && f.kind != DLHOST_FAILURE_PROXY)
    r.failure = DLHOST_FAILURE_PROXY;
  r.http_status = static_cast<int>(http_status);
  r.retry_after = retry_after;
  r.message = f.message;
  return r;
}

AttemptResult block_page_result(std::string_view redacted_url) {
  AttemptResult r;
  r.outcome = Outcome::kBanned;
  r.failure = DLHOST_FAILURE_HTTP;
  r.http_status = 200;
  r.message = std::string(transport::block_page_text()) + std::string(redacted_url);
  return r;
}

const char *failure_class_name(FailureClass c) {
  static constexpr const char *kNames[kFailureClasses] = {
      "http",   "timeout", "transport", "proxy", "proxy_auth",
      "verify", "banned",  "throttled", "io",    "other"};
  return kNames[static_cast<size_t>(c)];
}

std::optional<FailureClass> failure_class(const AttemptResult &r) {
  switch (r.outcome) {
    case Outcome::kSuccess:
    case Outcome::kCancelled:
      return std::nullopt;
    case Outcome::kThrottled:
      return FailureClass::kThrottled;
    case Outcome::kBanned:
      return FailureClass::kBanned;
    case Outcome::kProxyAuth:
      return FailureClass::kProxyAuth;
    case Outcome::kProxyFault:
      return FailureClass::kProxy;
    default:
      break;
  }
  switch (r.failure) {
    case DLHOST_FAILURE_HTTP:
      return FailureClass::kHttp;
    case DLHOST_FAILURE_TIMEOUT:
      return FailureClass::kTimeout;
    case DLHOST_FAILURE_TRANSPORT:
      return FailureClass::kTransport;
    case DLHOST_FAILURE_VERIFY:
      return FailureClass::kVerify;
    case DLHOST_FAILURE_IO:
      return FailureClass::kIo;
    default:
      return FailureClass::kOther;
  }
}

}  // namespace dlhost::mp
