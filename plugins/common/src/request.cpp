// Redirects followed by hand, headers per origin, fresh-connection and
// whole-file retries (see request.h).
#include "dlhost/transport/request.h"

#include <strings.h>
#include <cctype>
#include <cstring>

#include <new>

#include "dlhost/transport/failure.h"

namespace dlhost::transport {
namespace {

bool names_header(const TransportConfig &cfg, const char *name) {
  for (const auto &[n, v] : cfg.headers) {
    if (n.size() == std::strlen(name) && strncasecmp(n.c_str(), name, n.size()) == 0) return true;
  }
  return false;
}

void append_or_throw(CurlSlist &list, const std::string &line) {
  if (!list.append(line)) throw std::bad_alloc();
}

// The lines of `from` into `to` (curl_slist has no copy).
void copy_lines(const CurlSlist &from, CurlSlist &to) {
  for (const curl_slist *l = from.get(); l != nullptr; l = l->next) append_or_throw(to, l->data);
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string part(CURLU *u, CURLUPart which, unsigned flags) {
  char *p = nullptr;
  if (curl_url_get(u, which, &p, flags) != CURLUE_OK || p == nullptr) return {};
  std::string s(p);
  curl_free(p);
  return s;
}

// `target` with the user and password of `from` when it has none of its own
// (a hop within the manifest URL's origin keeps that URL's credentials, as
// libcurl's own redirects do).
std::string with_credentials_of(const std::string &from, const std::string &target) {
  CURLU *src = curl_url();
  CURLU *dst = curl_url();
  std::string out = target;
  if (src != nullptr && dst != nullptr &&
      curl_url_set(src, CURLUPART_URL, from.c_str(), 0) == CURLUE_OK &&
      curl_url_set(dst, CURLUPART_URL, target.c_str(), 0) == CURLUE_OK) {
    std::string user = part(src, CURLUPART_USER, 0);
    if (!user.empty() && part(dst, CURLUPART_USER, 0).empty()) {
      std::string password = part(src, CURLUPART_PASSWORD, 0);
      curl_url_set(dst, CURLUPART_USER, user.c_str(), 0);
      if (!password.empty()) curl_url_set(dst, CURLUPART_PASSWORD, password.c_str(), 0);
      std::string joined = part(dst, CURLUPART_URL, 0);
      if (!joined.empty()) out = std::move(joined);
    }
  }
  curl_url_cleanup(src);
  curl_url_cleanup(dst);
  return out;
}

}  // namespace

std::string url_origin(const std::string &url) {
  CURLU *u = curl_url();
  if (u == nullptr) return {};
  std::string origin;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    origin = part(u, CURLUPART_SCHEME, 0) + "://" + part(u, CURLUPART_HOST, 0) + ":" +
             part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    for (char &c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  curl_url_cleanup(u);
  return origin;
}

Request::Request(const TransportConfig &cfg) : cfg_(cfg) {
  if (!names_header(cfg, "Accept-Encoding")) {
    append_or_throw(own_, "Accept-Encoding: identity");
    append_or_throw(other_, "Accept-Encoding: identity");
  } else {
    append_or_throw(other_, "Accept-Encoding: identity");
  }
  for (const auto &[name, value] : cfg.headers) {
    // "Name;" sends an empty header; "Name:" would remove it.
    append_or_throw(own_, value.empty() ? name + ";" : name + ": " + value);
  }
}

CURLcode Request::send_headers(CURL *easy, bool own_origin, const TransferContext &ctx) {
  // libcurl keeps the user and password of the manifest URL for later URLs
  // on the handle: another origin gets no authentication at all.
  const long auth =
      own_origin ? static_cast<long>(CURLAUTH_BASIC) : static_cast<long>(CURLAUTH_NONE);
  if (CURLcode rc = curl_easy_setopt(easy, CURLOPT_HTTPAUTH, auth); rc != CURLE_OK) return rc;
  const CurlSlist &base = own_origin ? own_ : other_;
  const std::string &validator = ctx.file != nullptr ? ctx.file->meta().validator : std::string();
  if (ctx.resume_from == 0 || validator.empty())
    return curl_easy_setopt(easy, CURLOPT_HTTPHEADER, base.get());
  resume_.clear();  // rebuilt for this resume; the handle is pointed at it below
  copy_lines(base, resume_);
  append_or_throw(resume_, "If-Range: " + validator);
  return curl_easy_setopt(easy, CURLOPT_HTTPHEADER, resume_.get());
}

CURLcode Request::start(CURL *easy, const std::string &url, TransferContext *ctx) {
  url_ = url;
  hop_url_ = url;
  own_origin_ = true;
  redirects_ = 0;
  fresh_tried_ = whole_tried_ = false;
  if (fresh_set_) {
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 0L);
    fresh_set_ = false;
  }
  if (CURLcode rc = prepare_transfer(easy, hop_url_, ctx); rc != CURLE_OK) return rc;
  return send_headers(easy, true, *ctx);
}

bool Request::again(CURL *easy, CURLcode code, TransferContext *ctx) {
  if (ctx->cancelled) return false;
  if (ctx->stale_range) return refetch_whole(easy, ctx);
  if (code == CURLE_OK) return follow_redirect(easy, ctx);
  if (!ctx->got_bytes && is_malformed_response(code, ctx->errbuf)) {
    curl_off_t fresh = 1;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &fresh);
    if (fresh == 0) return refetch_fresh(easy, ctx);  // 0 new connections: it was reused
  }
  return false;
}

bool Request::follow_redirect(CURL *easy, TransferContext *ctx) {
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  if (!is_redirect(status) || cfg_.max_redirects <= 0) return false;
  char *location = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location) != CURLE_OK || location == nullptr)
    return false;
  if (redirects_ >= cfg_.max_redirects) {
    ctx->too_many_redirects = true;
    return false;
  }
  ++redirects_;
  const std::string target(location);
  own_origin_ = url_origin(target) == url_origin(url_);
  hop_url_ = own_origin_ ? with_credentials_of(url_, target) : target;
  if (prepare_transfer(easy, hop_url_, ctx) != CURLE_OK) return false;
  return send_headers(easy, own_origin_, *ctx) == CURLE_OK;
}

bool Request::refetch_fresh(CURL *easy, TransferContext *ctx) {
  if (fresh_tried_) return false;
  fresh_tried_ = true;
  fresh_set_ = true;
  if (curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK) return false;
  if (prepare_transfer(easy, hop_url_, ctx) != CURLE_OK) return false;
  return send_headers(easy, own_origin_, *ctx) == CURLE_OK;
}

bool Request::refetch_whole(CURL *easy, TransferContext *ctx) {
  if (whole_tried_) return false;
  whole_tried_ = true;
  ctx->resume_from = 0;  // begin_body emptied the .part
  if (prepare_transfer(easy, hop_url_, ctx) != CURLE_OK) return false;
  return send_headers(easy, own_origin_, *ctx) == CURLE_OK;
}

}  // namespace dlhost::transport
