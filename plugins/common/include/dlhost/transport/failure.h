// What went wrong with a finished transfer, in the ABI's terms.
//
// classify() maps the raw facts of one attempt (CURLcode, HTTP status, the
// proxy's CONNECT answer or SOCKS error, our own write/verify flags) onto a
// dlhost_failure (a proxy refusing our credentials is PROXY_AUTH: see
// proxy_rejected_credentials(); so is a SOCKS5 proxy refusing our
// user/password, or asking for credentials we do not have),
// says whether another attempt could help (retryable), whether the origin
// asked us to slow down (rate_limited), whether the proxy is to blame
// (proxy_fault, counts against its health), and writes a one-line message
// with the redacted URL and the status, e.g. "HTTP 404 for http://h/a.bin".
// outcome_from() gathers those facts from an easy handle and its
// TransferContext. A few facts read better than libcurl's own words: an
// oversized response header is "response header too large" (libcurl says
// "Out of memory"), a file over DOWNLOAD_MAX_FILE_SIZE says so, and a
// malformed status line is "malformed response" (retryable: a fresh
// connection usually gets a good one). A partial answer taken for the whole
// file is VERIFY (an unasked or misplaced 206, lying lengths; retried from
// zero) or TRANSPORT when it only ended short (retried, resuming the .part):
// "the answer ended at 150000 of the 300000 bytes the server declared for
// <url>". parse_retry_after_ms() reads a Retry-After value given in
// seconds or as an HTTP date.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "dlhost/plugin.h"
#include "dlhost/transport/easy_setup.h"
#include "dlhost/transport/redact.h"

namespace dlhost::transport {

struct TransferOutcome {
  CURLcode code = CURLE_OK;
  long http_status = 0;          // CURLINFO_RESPONSE_CODE (last response)
  long connect_code = 0;         // CURLINFO_HTTP_CONNECTCODE (proxy CONNECT answer)
  long proxy_error = 0;          // CURLINFO_PROXY_ERROR (a CURLproxycode: why SOCKS failed)
  std::string www_authenticate;  // the last response's WWW-Authenticate (read on a 401)
  bool via_proxy = false;
  std::string url;         // as requested; shown redacted
  std::string curl_error;  // libcurl's error buffer text, may be empty
  bool write_failed = false;
  std::string io_error;  // PartFile::error() when write_failed
  bool too_large = false;
  bool body_started = false;        // a body byte arrived
  bool over_limit = false;          // more than DOWNLOAD_MAX_FILE_SIZE
  int64_t max_file_size = 0;        // DOWNLOAD_MAX_FILE_SIZE (0 = none)
  bool too_many_redirects = false;  // Request stopped at PROXY_MAX_REDIRECTS
  bool stale_range = false;         // a 206 of another version, twice
  bool cancelled = false;
  bool stalled = false;          // no body byte for stall_timeout_ms (easy_setup's clock)
  int64_t stall_timeout_ms = 0;  // PROXY_STALL_TIMEOUT
  AnswerProblem answer_problem = AnswerProblem::kNone;  // easy_setup.h
  bool short_answer = false;    // fewer bytes stored than the server declared
  int64_t declared_total = -1;  // the whole file's length as declared (-1 = unknown)
  uint64_t stored_bytes = 0;    // the .part's length at the end
  int64_t elapsed_ms = 0;       // CURLINFO_TOTAL_TIME
  int64_t timeout_ms = 0;       // the configured whole-transfer limit (0 = none)
  int64_t max_redirects = 0;
  int64_t expected_size = -1;
};

struct Failure {
  dlhost_failure kind = DLHOST_FAILURE_NONE;  // NONE = success (or cancelled)
  bool retryable = false;
  bool rate_limited = false;  // 429 / 503: slow down on this path
  bool proxy_fault = false;   // counts against the proxy's health
  bool cancelled = false;
  std::string message;  // empty on success
};

// Gathers the facts of an attempt that just ended with `code`.
TransferOutcome outcome_from(CURL *easy, CURLcode code, const TransferContext &ctx,
                             const std::string &url, bool via_proxy, int64_t timeout_ms,
                             int64_t max_redirects);

Failure classify(const TransferOutcome &outcome);

// Did the proxy (not the origin) refuse our credentials? A 407 always means
// that; so does a 401 or 407 answer to CONNECT, which only the proxy can
// give. Some proxies (tinyproxy 1.11 with BasicAuth) answer wrong credentials
// on plain-HTTP requests with a 401 whose WWW-Authenticate realm names the
// proxy; that is recognised too. Never true without a proxy. classify() uses
// it: such an attempt is PROXY_AUTH with the message "the proxy rejected its
// credentials (HTTP 401) for <url>" ("CONNECT 407", "SOCKS5", ... for the
// other ways of saying so); the URL is redacted, the password never shown.
bool proxy_rejected_credentials(bool via_proxy, long connect_code, long http_status,
                                std::string_view www_authenticate);

// A status line libcurl could not read: "Received HTTP/0.9" (refused) or a
// weird server reply. On a reused connection that usually means the answer
// before it left bytes behind (see request.h).
bool is_malformed_response(CURLcode code, const char *curl_error);

// A response header larger than libcurl accepts (100 KiB): CURLE_TOO_LARGE
// from libcurl 8.6; before, CURLE_OUT_OF_MEMORY (7.88 says nothing more), so
// an "out of memory" before the body started is taken for one.
bool is_header_too_large(CURLcode code, bool body_started);

// True for statuses worth another attempt: 408, 425, 429, 500, 502, 503, 504.
bool is_transient_status(long status);

// Retry-After as milliseconds from `now`: "120" or an HTTP date. Past dates
// give 0; garbage gives nullopt.
std::optional<int64_t> parse_retry_after_ms(std::string_view value, std::time_t now);

// Reads the Retry-After header of the last response on `easy`, if any.
std::optional<int64_t> retry_after_ms(CURL *easy, std::time_t now);

}  // namespace dlhost::transport
