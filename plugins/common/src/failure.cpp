// Failure classification and Retry-After parsing (see failure.h).
// The rules follow DESIGN.md: the origin's definite answers (404, 410, ...)
// fail at once; transient statuses and connection trouble may be retried;
// proxy trouble blames the proxy; 407 (or a 401 that the proxy gave, see
// proxy_rejected_credentials()) means its credentials are wrong.
#include "dlhost/transport/failure.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace dlhost::transport {
namespace {

Failure make(dlhost_failure kind, bool retryable, std::string message) {
  Failure f;
  f.kind = kind;
  f.retryable = retryable;
  f.message = std::move(message);
  return f;
}

std::string with_detail(std::string head, const TransferOutcome &o) {
  if (!o.curl_error.empty()) head += " (" + redact_url(o.curl_error) + ")";
  return head;
}

// One wording for every way a proxy refuses our credentials; `answer` says
// which ("HTTP 401", "CONNECT 407", "SOCKS5"). Only the redacted URL is shown.
Failure proxy_auth_failure(const std::string &answer, const std::string &url) {
  Failure f = make(DLHOST_FAILURE_PROXY_AUTH, false,
                   "the proxy rejected its credentials (" + answer + ") for " + url);
  f.proxy_fault = true;
  return f;
}

Failure classify_status(const TransferOutcome &o, const std::string &url) {
  long s = o.http_status;
  if (s == 407) return proxy_auth_failure("HTTP 407", url);  // even without a proxy of ours
  Failure f = make(DLHOST_FAILURE_HTTP, is_transient_status(s),
                   "HTTP " + std::to_string(s) + " for " + url);
  f.rate_limited = s == 429 || s == 503;
  return f;
}

// A SOCKS5 proxy that refused our user/password, or wants credentials we lack.
bool socks_auth_rejected(const TransferOutcome &o) {
  return o.code == CURLE_PROXY &&
         (o.proxy_error == CURLPX_USER_REJECTED || o.proxy_error == CURLPX_NO_AUTH);
}

Failure too_many_redirects(const TransferOutcome &o, const std::string &url) {
  return make(DLHOST_FAILURE_HTTP, false,
              "more than " + std::to_string(o.max_redirects) + " redirects (HTTP " +
                  std::to_string(o.http_status) + ") for " + url);
}

// Retrying would not make the file smaller.
Failure over_limit(const TransferOutcome &o, const std::string &url) {
  return make(
      DLHOST_FAILURE_OTHER, false,
      "larger than DOWNLOAD_MAX_FILE_SIZE (" + std::to_string(o.max_file_size) + " bytes): " + url);
}

Failure classify_proxy(const TransferOutcome &o, const std::string &url) {
  if (socks_auth_rejected(o)) return proxy_auth_failure("SOCKS5", url);
  std::string head =
      o.connect_code != 0
          ? "proxy CONNECT answered " + std::to_string(o.connect_code) + " for " + url
          : std::string("proxy failed: ") + curl_easy_strerror(o.code) + " for " + url;
  Failure f = make(DLHOST_FAILURE_PROXY, true, with_detail(head, o));
  f.proxy_fault = true;
  return f;
}

bool is_proxy_code(CURLcode c) {
  return c == CURLE_COULDNT_RESOLVE_PROXY || c == CURLE_PROXY;
}

Failure classify_timeout(const TransferOutcome &o, const std::string &url) {
  bool whole = o.timeout_ms > 0 && o.elapsed_ms + 50 >= o.timeout_ms;
  std::string head = whole ? "timed out after " + std::to_string(o.timeout_ms) + " ms for " + url
                           : "transfer stalled or could not connect in time for " + url;
  Failure f = make(DLHOST_FAILURE_TIMEOUT, !whole, with_detail(head, o));
  f.proxy_fault = o.via_proxy && o.http_status == 0;
  return f;
}

Failure stall_failure(const TransferOutcome &o, const std::string &url) {
  Failure f = make(DLHOST_FAILURE_TIMEOUT, true,
                   "no bytes for " + std::to_string(o.stall_timeout_ms) +
                       " ms (PROXY_STALL_TIMEOUT) from " + url);
  f.proxy_fault = o.via_proxy && o.http_status == 0;
  return f;
}

Failure answer_failure(const TransferOutcome &o, const std::string &url) {
  switch (o.answer_problem) {
    case AnswerProblem::kUnaskedPartial:
      return make(DLHOST_FAILURE_VERIFY, true,
                  "a partial answer (HTTP 206) to a request for the whole file from " + url);
    case AnswerProblem::kWrongOffset:
      return make(
          DLHOST_FAILURE_VERIFY, true,
          "a partial answer (HTTP 206) that does not start where the resume asked from " + url);
    case AnswerProblem::kBadLength:
      return make(DLHOST_FAILURE_VERIFY, true,
                  "Content-Length headers that disagree or are not a plain length from " + url);
    case AnswerProblem::kNone:
      break;
  }
  return Failure{};
}

Failure short_answer(const TransferOutcome &o, const std::string &url) {
  return make(DLHOST_FAILURE_TRANSPORT, true,
              "the answer ended at " + std::to_string(o.stored_bytes) + " of the " +
                  std::to_string(o.declared_total) + " bytes the server declared for " + url);
}

Failure classify_curl(const TransferOutcome &o, const std::string &url) {
  std::string what = curl_easy_strerror(o.code);
  if (is_header_too_large(o.code, o.body_started))
    return make(DLHOST_FAILURE_TRANSPORT, false,
                with_detail("response header too large for " + url, o));
  if (is_malformed_response(o.code, o.curl_error.c_str()))
    return make(DLHOST_FAILURE_TRANSPORT, true, with_detail("malformed response for " + url, o));
  switch (o.code) {
    case CURLE_OPERATION_TIMEDOUT:
      return classify_timeout(o, url);
    case CURLE_TOO_MANY_REDIRECTS:
      return too_many_redirects(o, url);
    case CURLE_FILESIZE_EXCEEDED:
      return over_limit(o, url);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return make(DLHOST_FAILURE_TRANSPORT, false, with_detail(what + " for " + url, o));
    default:
      return make(DLHOST_FAILURE_TRANSPORT, true, with_detail(what + " for " + url, o));
  }
}

bool contains_proxy(std::string_view s) {
  constexpr std::string_view kProxy = "proxy";
  auto it = std::search(s.begin(), s.end(), kProxy.begin(), kProxy.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
  return it != s.end();
}

}  // namespace

bool proxy_rejected_credentials(bool via_proxy, long connect_code, long http_status,
                                std::string_view www_authenticate) {
  if (!via_proxy) return false;
  if (connect_code == 401 || connect_code == 407 || http_status == 407) return true;
  return http_status == 401 && contains_proxy(www_authenticate);
}

bool is_malformed_response(CURLcode code, const char *curl_error) {
  if (code == CURLE_WEIRD_SERVER_REPLY) return true;
  return code == CURLE_UNSUPPORTED_PROTOCOL && curl_error != nullptr &&
         std::strstr(curl_error, "HTTP/0.9") != nullptr;
}

bool is_header_too_large(CURLcode code, bool body_started) {
#if LIBCURL_VERSION_NUM >= 0x080600
  if (code == CURLE_TOO_LARGE) return true;
#endif
  return code == CURLE_OUT_OF_MEMORY && !body_started;
}

bool is_transient_status(long s) {
  return s == 408 || s == 425 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

TransferOutcome outcome_from(CURL *easy, CURLcode code, const TransferContext &ctx,
                             const std::string &url, bool via_proxy, int64_t timeout_ms,
                             int64_t max_redirects) {
  TransferOutcome o;
  o.code = code;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &o.http_status);
  curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &o.connect_code);
  curl_easy_getinfo(easy, CURLINFO_PROXY_ERROR, &o.proxy_error);
  curl_off_t total_us = 0;
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
  o.elapsed_ms = total_us / 1000;
  o.via_proxy = via_proxy;
  o.url = url;
  o.curl_error = ctx.errbuf;
  o.write_failed = ctx.write_failed;
  if (ctx.write_failed && ctx.file != nullptr) o.io_error = ctx.file->error();
  o.too_large = ctx.too_large;
  o.body_started = ctx.got_bytes;
  o.over_limit = ctx.over_limit;
  o.max_file_size = static_cast<int64_t>(ctx.max_file_size);
  o.too_many_redirects = ctx.too_many_redirects;
  o.stale_range = ctx.stale_range;
  o.cancelled = ctx.cancelled;
  o.stalled = ctx.stalled;
  o.stall_timeout_ms = ctx.stall_timeout_ms;
  o.answer_problem = ctx.answer_problem;
  o.short_answer = ctx.short_answer;
  o.declared_total = ctx.declared_total;
  if (ctx.file != nullptr) o.stored_bytes = ctx.file->size();
  o.timeout_ms = timeout_ms;
  o.max_redirects = max_redirects;
  o.expected_size = ctx.expected_size;
  curl_header *h = nullptr;
  if (via_proxy && o.http_status == 401 &&
      curl_easy_header(easy, "WWW-Authenticate", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
    o.www_authenticate = h->value;
  return o;
}

Failure classify(const TransferOutcome &o) {
  std::string url = redact_url(o.url);
  if (o.cancelled) {
    Failure f = make(DLHOST_FAILURE_NONE, false, "cancelled: " + url);
    f.cancelled = true;
    return f;
  }
  if (proxy_rejected_credentials(o.via_proxy, o.connect_code, o.http_status, o.www_authenticate)) {
    return o.connect_code == 401 || o.connect_code == 407
               ? proxy_auth_failure("CONNECT " + std::to_string(o.connect_code), url)
               : proxy_auth_failure("HTTP " + std::to_string(o.http_status), url);
  }
  if (o.write_failed) return make(DLHOST_FAILURE_IO, false, o.io_error + " (for " + url + ")");
  if (o.stalled) return stall_failure(o, url);
  if (o.over_limit) return over_limit(o, url);
  if (o.too_large) {
    return make(DLHOST_FAILURE_VERIFY, true,
                "size mismatch: more than the expected " + std::to_string(o.expected_size) +
                    " bytes from " + url);
  }
  if (o.answer_problem != AnswerProblem::kNone) return answer_failure(o, url);
  if (o.stale_range) {
    return make(DLHOST_FAILURE_VERIFY, true,
                "the server answered a resume with part of another version of the file "
                "(If-Range ignored) for " +
                    url);
  }
  if (o.too_many_redirects) return too_many_redirects(o, url);
  if (o.via_proxy && o.connect_code >= 300 && o.code != CURLE_OK) return classify_proxy(o, url);
  if (o.via_proxy && is_proxy_code(o.code)) return classify_proxy(o, url);
  if (o.via_proxy && o.code == CURLE_COULDNT_CONNECT) return classify_proxy(o, url);
  if (o.code != CURLE_OK) return classify_curl(o, url);
  if (o.http_status < 200 || o.http_status > 299) return classify_status(o, url);
  if (o.short_answer) return short_answer(o, url);
  return Failure{};
}

std::optional<int64_t> parse_retry_after_ms(std::string_view v, std::time_t now) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(v.front()))) {
    int64_t secs = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    if (secs > 365LL * 24 * 3600) secs = 365LL * 24 * 3600;
    return secs * 1000;
  }
  std::time_t when = curl_getdate(std::string(v).c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return when <= now ? 0 : static_cast<int64_t>(when - now) * 1000;
}

std::optional<int64_t> retry_after_ms(CURL *easy, std::time_t now) {
  curl_header *h = nullptr;
  if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
    return std::nullopt;
  return parse_retry_after_ms(h->value, now);
}

}  // namespace dlhost::transport
