// libcurl easy-handle setup and the write/progress callbacks (see easy_setup.h).
#include "dlhost/transport/easy_setup.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "dlhost/transport/response_length.h"

namespace dlhost::transport {
namespace {

constexpr long kCurlBufferSize = 256 * 1024;
constexpr long kMaxConnectTimeoutMs = 30000;

const char *header_value(CURL *easy, const char *name) {
  curl_header *h = nullptr;
  if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK) return nullptr;
  return h->value;
}

// Every Content-Length of the answer, which must agree: the length, -1 with
// none, nullopt when they disagree or one is not a plain length (libcurl
// would take the last, or the digits before the junk).
std::optional<int64_t> declared_content_length(CURL *easy) {
  curl_header *h = nullptr;
  if (curl_easy_header(easy, "Content-Length", 0, CURLH_HEADER, -1, &h) != CURLHE_OK) return -1;
  const size_t count = h->amount;
  std::optional<uint64_t> agreed;
  for (size_t i = 0; i < count; ++i) {
    if (curl_easy_header(easy, "Content-Length", i, CURLH_HEADER, -1, &h) != CURLHE_OK)
      return std::nullopt;
    auto length = parse_content_length(h->value);
    if (!length || (agreed && *length != *agreed)) return std::nullopt;
    agreed = length;
  }
  return static_cast<int64_t>(*agreed);
}

// Reads what the answer declares about the whole file into declared_total.
// Returns the problem that makes it not (a continuation of) the file.
AnswerProblem read_declared_total(TransferContext *t) {
  auto length = declared_content_length(t->easy);
  if (!length) return AnswerProblem::kBadLength;
  if (t->status != 206) {
    t->declared_total = *length;
    return AnswerProblem::kNone;
  }
  if (t->resume_from == 0) return AnswerProblem::kUnaskedPartial;
  const char *value = header_value(t->easy, "Content-Range");
  auto range = value != nullptr ? parse_content_range(value) : std::nullopt;
  if (!range || range->first != t->resume_from) return AnswerProblem::kWrongOffset;
  t->declared_total = range->total;
  return AnswerProblem::kNone;
}

// A new body for the .part: remember what it is a version of, for a resume.
void record_validator(TransferContext *t) {
  PartMeta meta;
  meta.validator = response_validator(t->easy);
  meta.total = t->declared_total;
  const int64_t size = std::max(meta.total, t->expected_size);
  const bool large = meta.total < 0 || size >= kEagerMetaBytes;
  t->file->set_meta(std::move(meta), large);  // best effort: it only saves a restart
}

// A 206 continues the .part only if it is of the same version (a server
// that ignores If-Range sends a 206 of whatever it has now).
bool same_version(TransferContext *t) {
  const std::string v = response_validator(t->easy);
  return v.empty() || v == t->file->meta().validator;
}

// First byte of a body (or the end of an empty one): decide what to do with it.
void begin_body(TransferContext *t) {
  t->body_started = true;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  if (t->status < 200 || t->status > 299) {
    t->body_ignored = true;
    return;
  }
  t->answer_problem = read_declared_total(t);
  if (t->answer_problem != AnswerProblem::kNone) {
    // A resume answered from elsewhere: the next attempt starts over.
    if (t->answer_problem == AnswerProblem::kWrongOffset && !t->file->restart())
      t->write_failed = true;
    return;
  }
  if (t->status == 206) {
    if (same_version(t)) return;  // append to the .part
    t->stale_range = true;        // If-Range ignored: these bytes continue another file
    if (!t->file->restart()) t->write_failed = true;
    return;
  }
  if (t->resume_from > 0) {
    t->range_ignored = true;
    if (!t->file->restart()) {
      t->write_failed = true;
      return;
    }
  }
  record_validator(t);
}

size_t on_write(char *data, size_t size, size_t nmemb, void *user) {
  auto *t = static_cast<TransferContext *>(user);
  size_t len = size * nmemb;
  t->got_bytes = true;
  if (!t->body_started) begin_body(t);
  if (t->body_ignored) return len;
  if (t->write_failed || t->stale_range || t->answer_problem != AnswerProblem::kNone) return 0;
  if (t->expected_size >= 0 && t->file->size() + len > static_cast<uint64_t>(t->expected_size)) {
    t->too_large = true;
    return 0;  // CURLE_WRITE_ERROR: the answer is not the expected file
  }
  if (t->max_file_size > 0 && t->file->size() + len > t->max_file_size) {
    t->over_limit = true;  // a declared length is refused earlier (CURLOPT_MAXFILESIZE_LARGE)
    return 0;
  }
  if (!t->file->write(data, len)) {
    t->write_failed = true;
    return 0;
  }
  return len;
}

// PROXY_STALL_TIMEOUT is kept here rather than by CURLOPT_LOW_SPEED_TIME:
// libcurl judges the speed over a moving window of about five seconds, so
// "below 1 byte/s for 3 s" fired some 9 s after the last byte. libcurl calls
// this at least once a second while a transfer waits, so a stall is caught
// within its timeout plus one second.
bool stalled(TransferContext *t, curl_off_t dlnow) {
  const auto now = std::chrono::steady_clock::now();
  const auto bytes = static_cast<uint64_t>(std::max<curl_off_t>(0, dlnow));
  if (bytes != t->seen_bytes) {
    t->seen_bytes = bytes;
    t->seen_at = now;
    return false;
  }
  return t->stall_timeout_ms > 0 &&
         now - t->seen_at >= std::chrono::milliseconds(t->stall_timeout_ms);
}

int on_xferinfo(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto *t = static_cast<TransferContext *>(user);
  if (t->cancel != nullptr && t->cancel->load(std::memory_order_relaxed)) {
    t->cancelled = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  if (stalled(t, dlnow)) {
    t->stalled = true;
    return 1;
  }
  if (t->on_progress != nullptr && t->body_started && !t->body_ignored) {
    uint64_t total = t->expected_size >= 0 ? static_cast<uint64_t>(t->expected_size)
                     : dltotal > 0 ? t->file->resumed_from() + static_cast<uint64_t>(dltotal)
                                   : 0;
    t->on_progress(t->progress_user, t->file->size(), total);
  }
  return 0;
}

#define DLHOST_SETOPT(easy, opt, val)                      \
  do {                                                     \
    CURLcode rc_ = curl_easy_setopt((easy), (opt), (val)); \
    if (rc_ != CURLE_OK) return rc_;                       \
  } while (0)

CURLcode apply_timeouts(CURL *easy, const TransportConfig &cfg) {
  long total = static_cast<long>(cfg.download_timeout_ms);
  long connect = total > 0 ? std::min(total, kMaxConnectTimeoutMs) : kMaxConnectTimeoutMs;
  DLHOST_SETOPT(easy, CURLOPT_TIMEOUT_MS, total);
  DLHOST_SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, connect);
  return CURLE_OK;  // PROXY_STALL_TIMEOUT: see stalled()
}

CURLcode apply_connection(CURL *easy) {
  DLHOST_SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
  DLHOST_SETOPT(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  DLHOST_SETOPT(easy, CURLOPT_TCP_NODELAY, 1L);
  DLHOST_SETOPT(easy, CURLOPT_BUFFERSIZE, kCurlBufferSize);
  DLHOST_SETOPT(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  // No CURLOPT_ACCEPT_ENCODING: libcurl decodes whenever it is set (see easy_setup.h).
  DLHOST_SETOPT(easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  DLHOST_SETOPT(easy, CURLOPT_FAILONERROR, 0L);
  DLHOST_SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  DLHOST_SETOPT(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  DLHOST_SETOPT(easy, CURLOPT_NOPROGRESS, 0L);
  DLHOST_SETOPT(easy, CURLOPT_WRITEFUNCTION, &on_write);
  DLHOST_SETOPT(easy, CURLOPT_XFERINFOFUNCTION, &on_xferinfo);
  return CURLE_OK;
}

}  // namespace

bool CurlSlist::append(const std::string &line) {
  curl_slist *next = curl_slist_append(list_, line.c_str());
  if (next == nullptr) return false;
  list_ = next;
  return true;
}

EasyHandle::EasyHandle() : easy_(curl_easy_init()) {
  if (easy_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

EasyHandle::~EasyHandle() {
  curl_easy_cleanup(easy_);
}

void TransferContext::reset_results() {
  status = 0;
  body_started = got_bytes = body_ignored = range_ignored = false;
  write_failed = too_large = over_limit = too_many_redirects = stale_range = cancelled = false;
  stalled = false;
  answer_problem = AnswerProblem::kNone;
  declared_total = -1;
  short_answer = false;
  errbuf[0] = '\0';
  seen_bytes = 0;
  seen_at = std::chrono::steady_clock::now();
}

CURLcode apply_common_options(CURL *easy, const TransportConfig &cfg) {
  DLHOST_SETOPT(easy, CURLOPT_USERAGENT, cfg.user_agent.c_str());
  if (!cfg.cookies_file.empty()) DLHOST_SETOPT(easy, CURLOPT_COOKIEFILE, cfg.cookies_file.c_str());
  if (!cfg.ca_bundle.empty()) DLHOST_SETOPT(easy, CURLOPT_CAINFO, cfg.ca_bundle.c_str());
  // Redirects are followed by Request (request.h), which knows where headers may go.
  DLHOST_SETOPT(easy, CURLOPT_FOLLOWLOCATION, 0L);
  if (cfg.max_file_size > 0)
    DLHOST_SETOPT(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(cfg.max_file_size));
  if (CURLcode rc = apply_timeouts(easy, cfg); rc != CURLE_OK) return rc;
  return apply_connection(easy);
}

CURLcode apply_proxy(CURL *easy, const ProxySpec *proxy) {
  bool direct = proxy == nullptr || proxy->direct;
  DLHOST_SETOPT(easy, CURLOPT_PROXY, direct ? "" : proxy->url.c_str());
  if (!direct && !proxy->username.empty()) {
    DLHOST_SETOPT(easy, CURLOPT_PROXYUSERNAME, proxy->username.c_str());
    DLHOST_SETOPT(easy, CURLOPT_PROXYPASSWORD, proxy->password.c_str());
  } else {
    DLHOST_SETOPT(easy, CURLOPT_PROXYUSERPWD, static_cast<const char *>(nullptr));
  }
  return CURLE_OK;
}

CURLcode prepare_transfer(CURL *easy, const std::string &url, TransferContext *ctx) {
  ctx->easy = easy;
  ctx->reset_results();
  DLHOST_SETOPT(easy, CURLOPT_URL, url.c_str());
  DLHOST_SETOPT(easy, CURLOPT_WRITEDATA, ctx);
  DLHOST_SETOPT(easy, CURLOPT_XFERINFODATA, ctx);
  DLHOST_SETOPT(easy, CURLOPT_ERRORBUFFER, ctx->errbuf);
  // CURLOPT_RANGE, not CURLOPT_RESUME_FROM_LARGE: with RESUME_FROM libcurl itself
  // fails a 200 answer to the Range (CURLE_RANGE_ERROR) before the write callback
  // can restart the .part, costing a retry (or the file, with no retries left).
  // libcurl copies the string.
  const std::string range = std::to_string(ctx->resume_from) + "-";
  DLHOST_SETOPT(easy, CURLOPT_RANGE, ctx->resume_from > 0 ? range.c_str() : nullptr);
  return CURLE_OK;
}

void finish_transfer(TransferContext *ctx) {
  if (!ctx->body_started && !ctx->cancelled) begin_body(ctx);  // empty body
  const bool stored = ctx->body_started && !ctx->body_ignored && ctx->file != nullptr;
  ctx->short_answer = stored && ctx->declared_total >= 0 &&
                      ctx->file->size() != static_cast<uint64_t>(ctx->declared_total);
}

bool unsatisfied_range_means_whole(CURL *easy, const PartFile &file) {
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  if (status != 416 || file.size() == 0) return false;
  const char *value = header_value(easy, "Content-Range");
  if (value != nullptr) {
    auto total = parse_unsatisfied_range(value);
    return total && *total == file.size();
  }
  return file.meta().total >= 0 && static_cast<uint64_t>(file.meta().total) == file.size();
}

std::string response_validator(CURL *easy) {
  curl_header *h = nullptr;
  if (curl_easy_header(easy, "ETag", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h->value[0] != '\0' &&
      std::strncmp(h->value, "W/", 2) != 0)
    return h->value;
  if (curl_easy_header(easy, "Last-Modified", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
    return h->value;
  return {};
}

}  // namespace dlhost::transport
