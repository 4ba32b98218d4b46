/*
 * One file: GET the URL with a reused easy handle, write the body into
 * "<dest>.part" from the write callback, feeding the same bytes to a SHA-256
 * (OpenSSL EVP) so the file is never read twice, then check size and digest
 * and rename the .part onto dest. A failed file leaves nothing at dest and
 * no .part (its bytes are wrong or useless); a stopped (cancelled) file keeps
 * its .part. Non-2xx answers fail at once (CURLOPT_FAILONERROR, so an error
 * page is never written); there are no retries in this example.
 */
#define _POSIX_C_SOURCE 200809L
#include "transfer.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct sink_state {
  FILE *file;
  EVP_MD_CTX *md;
  uint64_t bytes;
  int64_t expected; /* -1 unknown */
  int oversize, write_error;
  const ex_transfer_hooks *hooks;
  double last_progress;
} sink_state;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
  sink_state *s = user;
  size_t n = size * nmemb;
  if (s->expected >= 0 && s->bytes + n > (uint64_t)s->expected) {
    s->oversize = 1;
    return 0; /* more bytes than the manifest promised: stop early */
  }
  if (fwrite(data, 1, n, s->file) != n || EVP_DigestUpdate(s->md, data, n) != 1) {
    s->write_error = 1;
    return 0;
  }
  s->bytes += n;
  return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  sink_state *s = user;
  double t = now_s();
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  if (s->hooks->should_stop(s->hooks->ctx)) return 1; /* aborts the transfer */
  if (t - s->last_progress >= 0.25 && s->bytes > 0) {
    s->last_progress = t;
    s->hooks->progress(s->hooks->ctx, s->bytes, dltotal > 0 ? (uint64_t)dltotal : 0);
  }
  return 0;
}

/* The URL without "user:pass@", for messages. */
static void redact_url(const char *url, char *out, size_t size) {
  const char *scheme = strstr(url, "://");
  const char *host = scheme ? scheme + 3 : url;
  const char *at = strchr(host, '@');
  const char *slash = strchr(host, '/');
  if (at && (!slash || at < slash)) {
    snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
  } else {
    snprintf(out, size, "%s", url);
  }
}

static void fail(ex_transfer_result *r, dlhost_failure why, const char *what, const char *url) {
  char safe[384];
  redact_url(url, safe, sizeof safe);
  r->outcome = EX_FAILED;
  r->failure = why;
  snprintf(r->message, sizeof r->message, "%s: %s", what, safe);
}

static void setup_easy(CURL *easy, const ex_config *cfg, const ex_task *task, sink_state *s) {
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, task->url);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, cfg->max_redirects > 0 ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, cfg->max_redirects);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
  if (cfg->user_agent[0]) curl_easy_setopt(easy, CURLOPT_USERAGENT, cfg->user_agent);
  if (cfg->ca_bundle[0]) curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_bundle);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, s);
}

/* Classifies a finished perform(); returns 0 when the body is complete. */
static int check_perform(CURLcode rc, const sink_state *s, const ex_task *task,
                         const ex_config *cfg, ex_transfer_result *r) {
  char what[160];
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    r->outcome = EX_STOPPED;
    return -1;
  }
  if (rc == CURLE_WRITE_ERROR && s->oversize) {
    snprintf(what, sizeof what, "size mismatch: more than the expected %lld bytes",
             (long long)task->size);
    fail(r, DLHOST_FAILURE_VERIFY, what, task->url);
  } else if (rc == CURLE_WRITE_ERROR) {
    fail(r, DLHOST_FAILURE_IO, "cannot write the .part file", task->url);
  } else if (rc == CURLE_HTTP_RETURNED_ERROR || (rc == CURLE_OK && r->http_status / 100 != 2)) {
    snprintf(what, sizeof what, "HTTP %ld", r->http_status);
    fail(r, DLHOST_FAILURE_HTTP, what, task->url);
  } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
    snprintf(what, sizeof what, "more than %ld redirects", cfg->max_redirects);
    fail(r, DLHOST_FAILURE_HTTP, what, task->url);
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    snprintf(what, sizeof what, "timed out after %ld ms", cfg->timeout_ms);
    fail(r, DLHOST_FAILURE_TIMEOUT, what, task->url);
  } else if (rc != CURLE_OK) {
    fail(r, DLHOST_FAILURE_TRANSPORT, curl_easy_strerror(rc), task->url);
  }
  return r->outcome == EX_FAILED ? -1 : 0;
}

static void hex(const unsigned char *digest, unsigned len, char *out) {
  unsigned i;
  for (i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", digest[i]);
  out[2 * len] = '\0';
}

/* Size and sha256 against the manifest; returns 0 when they match. */
static int verify(const sink_state *s, const ex_task *task, ex_transfer_result *r) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  char got[2 * EVP_MAX_MD_SIZE + 1], what[200];
  if (task->size >= 0 && s->bytes != (uint64_t)task->size) {
    snprintf(what, sizeof what, "size mismatch: expected %lld bytes, got %llu",
             (long long)task->size, (unsigned long long)s->bytes);
    fail(r, DLHOST_FAILURE_VERIFY, what, task->url);
    return -1;
  }
  if (EVP_DigestFinal_ex(s->md, digest, &len) != 1) {
    fail(r, DLHOST_FAILURE_OTHER, "sha256 failed", task->url);
    return -1;
  }
  hex(digest, len, got);
  if (task->sha256[0] && strcmp(got, task->sha256) != 0) {
    snprintf(what, sizeof what, "sha256 mismatch: got %s", got);
    fail(r, DLHOST_FAILURE_VERIFY, what, task->url);
    return -1;
  }
  return 0;
}

static void download(CURL *easy, const ex_config *cfg, const ex_task *task, sink_state *s,
                     const char *part, ex_transfer_result *r) {
  CURLcode rc;
  int closed;
  setup_easy(easy, cfg, task, s);
  rc = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->http_status);
  closed = fclose(s->file);
  s->file = NULL;
  r->bytes = s->bytes;
  if (check_perform(rc, s, task, cfg, r) != 0) return;
  if (closed != 0) {
    fail(r, DLHOST_FAILURE_IO, "cannot write the .part file", task->url);
  } else if (verify(s, task, r) == 0) {
    if (rename(part, task->dest) != 0) {
      fail(r, DLHOST_FAILURE_IO, "cannot rename the .part file", task->url);
    } else {
      r->outcome = EX_COMPLETED;
    }
  }
}

void ex_transfer_run(CURL *easy, const ex_config *cfg, const ex_task *task,
                     const ex_transfer_hooks *hooks, ex_transfer_result *r) {
  char part[4096];
  sink_state s;
  memset(r, 0, sizeof *r);
  memset(&s, 0, sizeof s);
  s.expected = task->size;
  s.hooks = hooks;
  s.last_progress = now_s();
  snprintf(part, sizeof part, "%s.part", task->dest);
  s.md = EVP_MD_CTX_new();
  s.file = fopen(part, "wb");
  if (!s.md || !s.file || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
    if (s.file) fclose(s.file);
    fail(r, DLHOST_FAILURE_IO, "cannot open the .part file", task->url);
  } else {
    setvbuf(s.file, NULL, _IOFBF, 1 << 18);
    download(easy, cfg, task, &s, part, r);
  }
  EVP_MD_CTX_free(s.md);
  if (r->outcome == EX_FAILED) remove(part); /* nothing useful is kept */
}
