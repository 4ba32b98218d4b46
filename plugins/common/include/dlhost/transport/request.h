// One file's request: what is sent, and to whom, across redirects.
//
// DOWNLOAD_HEADERS (API keys, Authorization) are meant for the origin the
// manifest names, but libcurl sends CURLOPT_HTTPHEADER to every host it is
// redirected to. So dlhost follows redirects itself: the easy handle never
// does (CURLOPT_FOLLOWLOCATION=0). When a hop answers 3xx with a Location,
// again() points the same handle at the target (CURLINFO_REDIRECT_URL) and
// the caller runs it once more, up to PROXY_MAX_REDIRECTS hops. A hop to
// another origin (scheme, host or port differ from the manifest URL's)
// carries no DOWNLOAD_HEADERS header and no credentials from the URL; a hop
// back to the manifest's origin carries them again. Cookies from
// DOWNLOAD_COOKIES go where their cookies.txt domains say: libcurl's cookie
// engine decides that per hop. Every hop sends "Accept-Encoding: identity"
// (unless DOWNLOAD_HEADERS names its own), and a resume sends If-Range with
// the .part's validator, so a changed file comes back whole (200).
//
// again() also runs the handle once more in two other cases:
//  - a reused keep-alive connection gave a malformed answer ("Received
//    HTTP/0.9", a weird status line): the response before it on that
//    connection left bytes behind (a Content-Length shorter than its body).
//    libcurl closes that connection; the file is asked again once, with
//    CURLOPT_FRESH_CONNECT so it does not land on another such connection.
//  - a 206 whose validator differs from the .part's (a server that ignores
//    If-Range): the .part was emptied, and the whole file is asked for.
// The header lists are built once per slot, so a hop costs a few setopt
// calls; only a resume builds a list (for its If-Range line).
#pragma once

#include <curl/curl.h>

#include <string>

#include "dlhost/transport/easy_setup.h"
#include "dlhost/transport/transport_config.h"

namespace dlhost::transport {

class Request {
 public:
  explicit Request(const TransportConfig &cfg);  // throws std::bad_alloc
  Request(const Request &) = delete;
  Request &operator=(const Request &) = delete;

  // The first hop of a file. Fill ctx's inputs first (file, resume_from, ...):
  // prepare_transfer() is called from here, and If-Range comes from
  // ctx->file->meta() when ctx->resume_from > 0.
  CURLcode start(CURL *easy, const std::string &url, TransferContext *ctx);

  // After a hop ended with `code`: true when the caller must run the handle
  // again (everything is set up for it). False: the attempt is over; a
  // redirect beyond the limit set ctx->too_many_redirects.
  bool again(CURL *easy, CURLcode code, TransferContext *ctx);

  const std::string &hop_url() const { return hop_url_; }  // the URL of the last hop
  int redirects() const { return redirects_; }

 private:
  bool follow_redirect(CURL *easy, TransferContext *ctx);
  bool refetch_fresh(CURL *easy, TransferContext *ctx);
  bool refetch_whole(CURL *easy, TransferContext *ctx);
  CURLcode send_headers(CURL *easy, bool own_origin, const TransferContext &ctx);

  const TransportConfig &cfg_;
  CurlSlist own_, other_, resume_;  // headers for the manifest's origin, for others, with If-Range
  std::string url_, hop_url_;
  bool own_origin_ = true;  // the current hop goes to the manifest's origin
  int redirects_ = 0;
  bool fresh_tried_ = false;  // refetch_fresh() ran for this file
  bool whole_tried_ = false;  // refetch_whole() ran for this file
  bool fresh_set_ = false;    // CURLOPT_FRESH_CONNECT is on
};

// Scheme, host and port (default ports filled in) of `url`, lowercase;
// "" when it does not parse.
std::string url_origin(const std::string &url);

}  // namespace dlhost::transport
