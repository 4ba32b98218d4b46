// Setting up a libcurl easy handle for dlhost transfers.
//
// Two layers, so the same code serves a simple loop that reuses one handle
// (legacy) and a curl-multi event loop that keeps a pool of handles:
//  - apply_common_options() once per handle: User-Agent, cookies, CA bundle,
//    timeouts, keep-alive, buffer size, HTTP/1.1, the size limit, and no
//    content decoding. apply_proxy() picks the path. Request headers and
//    redirects are per file: see request.h.
//  - prepare_transfer() before each request: the URL, a TransferContext that
//    the write and progress callbacks use, and an optional Range offset.
// Bytes are stored as served, like `curl -o`: libcurl decodes a
// Content-Encoding whenever CURLOPT_ACCEPT_ENCODING is set (even to
// "identity"), so that option stays unset, CURLOPT_HTTP_CONTENT_DECODING is
// off, and "Accept-Encoding: identity" is a plain header (request.cpp). A
// gzip answer is stored compressed; sizes, sha256 and resume offsets all
// count the stored bytes.
// The write callback writes the body into a PartFile only when the status is
// 2xx (an error page never lands in a .part), restarts the file when the
// server ignored a Range or the .part's validator no longer matches (so the
// Range is a plain CURLOPT_RANGE header, which lets a 200 through, not
// CURLOPT_RESUME_FROM, which fails it), records the response's validator for
// a later resume (PartFile::set_meta), and stops early when more bytes
// arrive than the expected size or than DOWNLOAD_MAX_FILE_SIZE.
// A partial answer is never taken for the whole file: a 206 we did not ask
// for, a 206 that starts elsewhere than our Range, or Content-Length headers
// that disagree or are not plain lengths stop the transfer (answer_problem);
// and finish_transfer() marks an answer that ended with fewer stored bytes
// than the server declared for the whole file (the Content-Range total of a
// 206, the Content-Length of a 200) as short, which the caller must not
// commit (failure.h classifies it, keeping the .part to resume). The
// progress callback aborts the transfer as soon as the cancel flag is set
// and reports progress through a plain function pointer.
// Nothing here logs or formats credentials.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "dlhost/transport/part_file.h"
#include "dlhost/transport/proxy_list.h"
#include "dlhost/transport/transport_config.h"

namespace dlhost::transport {

// An owned curl_slist (headers stay alive as long as the handle uses them).
class CurlSlist {
 public:
  CurlSlist() = default;
  ~CurlSlist() { curl_slist_free_all(list_); }
  CurlSlist(const CurlSlist &) = delete;
  CurlSlist &operator=(const CurlSlist &) = delete;
  bool append(const std::string &line);
  void clear() {
    curl_slist_free_all(list_);
    list_ = nullptr;
  }
  curl_slist *get() const { return list_; }

 private:
  curl_slist *list_ = nullptr;
};

// An owned easy handle.
class EasyHandle {
 public:
  EasyHandle();  // throws std::runtime_error if curl_easy_init fails
  ~EasyHandle();
  EasyHandle(const EasyHandle &) = delete;
  EasyHandle &operator=(const EasyHandle &) = delete;
  CURL *get() const { return easy_; }

 private:
  CURL *easy_ = nullptr;
};

// Why an answer cannot be (a continuation of) the file; see the top comment.
enum class AnswerProblem {
  kNone,
  kUnaskedPartial,  // 206 to a request without Range
  kWrongOffset,     // 206 whose Content-Range does not start at our Range (or cannot be read)
  kBadLength,       // Content-Length headers that disagree, or one that is not a plain length
};

// Per-transfer state the callbacks share with the caller. Fill the inputs,
// call prepare_transfer(), run the transfer, then finish_transfer().
struct TransferContext {
  using ProgressFn = void (*)(void *user, uint64_t bytes_done, uint64_t bytes_total);

  // inputs
  CURL *easy = nullptr;
  PartFile *file = nullptr;
  uint64_t resume_from = 0;                   // Range offset requested (file->size() on resume)
  int64_t expected_size = -1;                 // stop early past this many bytes (-1 = unknown)
  uint64_t max_file_size = 0;                 // DOWNLOAD_MAX_FILE_SIZE (0 = no limit)
  int64_t stall_timeout_ms = 0;               // PROXY_STALL_TIMEOUT (0 = none)
  const std::atomic<bool> *cancel = nullptr;  // set from any thread to abort
  ProgressFn on_progress = nullptr;
  void *progress_user = nullptr;

  // results
  long status = 0;                  // status of the response whose body we saw
  bool body_started = false;        // the write callback ran at least once (or the body was empty)
  bool got_bytes = false;           // a body byte arrived
  bool body_ignored = false;        // non-2xx: the body was drained, not written
  bool range_ignored = false;       // asked for a Range, got the whole file: restarted
  bool write_failed = false;        // PartFile refused a write (see file->error())
  bool too_large = false;           // more bytes than expected_size
  bool over_limit = false;          // more bytes than max_file_size
  bool too_many_redirects = false;  // a redirect beyond PROXY_MAX_REDIRECTS (request.cpp)
  bool stale_range = false;         // a 206 of another version than the .part's: emptied, stopped
  bool cancelled = false;           // aborted through `cancel`
  bool stalled = false;             // no body byte for stall_timeout_ms: aborted
  AnswerProblem answer_problem = AnswerProblem::kNone;  // stopped: not the file
  int64_t declared_total = -1;  // the whole file's length, as the answer declared it (-1 unknown)
  bool short_answer = false;    // finish_transfer(): fewer bytes stored than declared_total
  char errbuf[CURL_ERROR_SIZE] = {0};

  void reset_results();

  // The stall clock (on_xferinfo): body bytes seen, and when that count last moved.
  uint64_t seen_bytes = 0;
  std::chrono::steady_clock::time_point seen_at{};
};

// Handle-lifetime options. Returns the first failing CURLcode.
CURLcode apply_common_options(CURL *easy, const TransportConfig &cfg);

// Route through `proxy`, or directly when it is null or direct (this also
// stops libcurl from reading proxy environment variables).
CURLcode apply_proxy(CURL *easy, const ProxySpec *proxy);

// Per-transfer options: URL, callbacks bound to `ctx`, Range offset.
CURLcode prepare_transfer(CURL *easy, const std::string &url, TransferContext *ctx);

// After the transfer: handles a Range request answered with an empty 200.
void finish_transfer(TransferContext *ctx);

// A 416 to a resume means "the .part is already whole" only when the
// server says the file is as long as the .part: its "bytes */TOTAL", or,
// without one, the total recorded when the .part began.
bool unsatisfied_range_means_whole(CURL *easy, const PartFile &file);

// The response's validator for If-Range: a strong ETag, else Last-Modified
// ("" = none; a weak ETag cannot be used with If-Range).
std::string response_validator(CURL *easy);

// A .part expected to grow at least this large records its sidecar at its
// first byte, so even a killed run can resume it; smaller ones only when kept.
constexpr int64_t kEagerMetaBytes = 4 * 1024 * 1024;

}  // namespace dlhost::transport
