// Failure classification, Retry-After parsing and URL redaction.
#include <gtest/gtest.h>

#include <curl/curl.h>

#include <string>

#include "dlhost/transport/block_page.h"
#include "dlhost/transport/failure.h"
#include "dlhost/transport/redact.h"
#include "dlhost/transport/request.h"

using namespace dlhost::transport;

namespace {

TransferOutcome http(long status, std::string url = "http://127.0.0.1:8080/a.bin") {
  TransferOutcome o;
  o.http_status = status;
  o.url = std::move(url);
  return o;
}

TransferOutcome curl_failed(CURLcode code) {
  TransferOutcome o;
  o.code = code;
  o.url = "http://127.0.0.1:8080/a.bin";
  return o;
}

}  // namespace

TEST(Classify, Success) {
  Failure f = classify(http(200));
  EXPECT_EQ(f.kind, DLHOST_FAILURE_NONE);
  EXPECT_TRUE(f.message.empty());
  EXPECT_EQ(classify(http(206)).kind, DLHOST_FAILURE_NONE);
}

TEST(Classify, DefiniteHttpAnswers) {
  Failure f = classify(http(404));
  EXPECT_EQ(f.kind, DLHOST_FAILURE_HTTP);
  EXPECT_FALSE(f.retryable);
  EXPECT_EQ(f.message, "HTTP 404 for http://127.0.0.1:8080/a.bin");
  EXPECT_FALSE(classify(http(410)).retryable);
  EXPECT_FALSE(classify(http(403)).retryable);
  EXPECT_EQ(classify(http(301)).kind, DLHOST_FAILURE_HTTP);  // redirects not followed
}

TEST(Classify, TransientHttpAnswers) {
  for (long s : {408L, 425L, 429L, 500L, 502L, 503L, 504L}) {
    Failure f = classify(http(s));
    EXPECT_EQ(f.kind, DLHOST_FAILURE_HTTP) << s;
    EXPECT_TRUE(f.retryable) << s;
    EXPECT_EQ(f.rate_limited, s == 429 || s == 503) << s;
  }
}

TEST(Classify, MessageRedactsCredentials) {
  Failure f = classify(http(404, "https://user:secret@example.com/x"));
  EXPECT_EQ(f.message, "HTTP 404 for https://user:***@example.com/x");
}

TEST(Classify, Timeouts) {
  TransferOutcome o = curl_failed(CURLE_OPERATION_TIMEDOUT);
  o.timeout_ms = 1000;
  o.elapsed_ms = 1001;
  Failure whole = classify(o);
  EXPECT_EQ(whole.kind, DLHOST_FAILURE_TIMEOUT);
  EXPECT_FALSE(whole.retryable);
  EXPECT_NE(whole.message.find("timed out after 1000 ms"), std::string::npos) << whole.message;
  o.elapsed_ms = 200;  // a stall, not the whole-transfer limit
  Failure stall = classify(o);
  EXPECT_EQ(stall.kind, DLHOST_FAILURE_TIMEOUT);
  EXPECT_TRUE(stall.retryable);
}

TEST(Classify, TransportErrors) {
  for (CURLcode c : {CURLE_COULDNT_CONNECT, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING,
                     CURLE_SSL_CONNECT_ERROR}) {
    Failure f = classify(curl_failed(c));
    EXPECT_EQ(f.kind, DLHOST_FAILURE_TRANSPORT) << c;
    EXPECT_TRUE(f.retryable) << c;
    EXPECT_NE(f.message.find("http://127.0.0.1:8080/a.bin"), std::string::npos);
  }
  Failure tls = classify(curl_failed(CURLE_PEER_FAILED_VERIFICATION));
  EXPECT_EQ(tls.kind, DLHOST_FAILURE_TRANSPORT);
  EXPECT_FALSE(tls.retryable);
}

TEST(Classify, TooManyRedirects) {
  TransferOutcome o = curl_failed(CURLE_TOO_MANY_REDIRECTS);
  o.http_status = 302;
  o.max_redirects = 1;
  Failure f = classify(o);
  EXPECT_EQ(f.kind, DLHOST_FAILURE_HTTP);
  EXPECT_FALSE(f.retryable);
  EXPECT_NE(f.message.find("more than 1 redirects (HTTP 302)"), std::string::npos) << f.message;
}

TEST(Classify, ProxyFaults) {
  TransferOutcome o = curl_failed(CURLE_COULDNT_CONNECT);
  o.via_proxy = true;
  Failure f = classify(o);
  EXPECT_EQ(f.kind, DLHOST_FAILURE_PROXY);
  EXPECT_TRUE(f.proxy_fault);
  EXPECT_TRUE(f.retryable);

  TransferOutcome auth = curl_failed(CURLE_PROXY);
  auth.via_proxy = true;
  auth.connect_code = 407;
  Failure a = classify(auth);
  EXPECT_EQ(a.kind, DLHOST_FAILURE_PROXY_AUTH);
  EXPECT_FALSE(a.retryable);
  EXPECT_TRUE(a.proxy_fault);

  for (long px : {static_cast<long>(CURLPX_USER_REJECTED), static_cast<long>(CURLPX_NO_AUTH)}) {
    TransferOutcome socks = curl_failed(CURLE_PROXY);  // SOCKS5 user/password refused
    socks.via_proxy = true;
    socks.proxy_error = px;
    Failure sf = classify(socks);
    EXPECT_EQ(sf.kind, DLHOST_FAILURE_PROXY_AUTH) << px;
    EXPECT_TRUE(sf.proxy_fault);
    EXPECT_NE(sf.message.find("SOCKS5"), std::string::npos) << sf.message;
  }
  TransferOutcome socks_down = curl_failed(CURLE_PROXY);  // any other SOCKS failure
  socks_down.via_proxy = true;
  socks_down.proxy_error = CURLPX_REQUEST_FAILED;
  EXPECT_EQ(classify(socks_down).kind, DLHOST_FAILURE_PROXY);

  TransferOutcome plain = http(407);  // plain-HTTP proxying answers 407 directly
  plain.via_proxy = true;
  EXPECT_EQ(classify(plain).kind, DLHOST_FAILURE_PROXY_AUTH);

  TransferOutcome refused = curl_failed(CURLE_RECV_ERROR);
  refused.via_proxy = true;
  refused.connect_code = 502;
  EXPECT_EQ(classify(refused).kind, DLHOST_FAILURE_PROXY);
}

TEST(ProxyRejectedCredentials, Cases) {
  EXPECT_TRUE(proxy_rejected_credentials(true, 407, 0, ""));
  EXPECT_TRUE(proxy_rejected_credentials(true, 401, 0, ""));
  EXPECT_TRUE(proxy_rejected_credentials(true, 0, 407, ""));
  EXPECT_TRUE(proxy_rejected_credentials(true, 0, 401, "Basic realm=\"Tinyproxy\""));
  EXPECT_TRUE(proxy_rejected_credentials(true, 0, 401, "Basic realm=\"PROXY login\""));
  EXPECT_FALSE(proxy_rejected_credentials(true, 0, 401, "Basic realm=\"members\""));
  EXPECT_FALSE(proxy_rejected_credentials(true, 0, 401, ""));
  EXPECT_FALSE(proxy_rejected_credentials(false, 0, 401, "Basic realm=\"Tinyproxy\""));
  EXPECT_FALSE(proxy_rejected_credentials(false, 407, 407, ""));
  EXPECT_FALSE(proxy_rejected_credentials(true, 200, 200, ""));
  EXPECT_FALSE(proxy_rejected_credentials(true, 0, 403, "Basic realm=\"Tinyproxy\""));
}

// Every way a proxy refuses our credentials: PROXY_AUTH, the proxy's fault, not
// worth another attempt, one wording, and the password never shown.
TEST(Classify, ProxyRejectedCredentials) {
  struct Case {
    long connect_code;
    long status;
    const char *www_authenticate;
    const char *answer;
  };
  for (const Case &c :
       {Case{0, 401, "Basic realm=\"Tinyproxy\"", "(HTTP 401)"}, Case{0, 407, "", "(HTTP 407)"},
        Case{401, 0, "", "(CONNECT 401)"}, Case{407, 0, "", "(CONNECT 407)"}}) {
    TransferOutcome o = http(c.status, "http://user:S3cret-pw@127.0.0.1:8080/a.bin");
    o.code = c.connect_code ? CURLE_RECV_ERROR : CURLE_OK;
    o.via_proxy = true;
    o.connect_code = c.connect_code;
    o.www_authenticate = c.www_authenticate;
    Failure f = classify(o);
    EXPECT_EQ(f.kind, DLHOST_FAILURE_PROXY_AUTH) << c.answer;
    EXPECT_FALSE(f.retryable) << c.answer;
    EXPECT_TRUE(f.proxy_fault) << c.answer;
    EXPECT_EQ(f.message, std::string("the proxy rejected its credentials ") + c.answer +
                             " for http://user:***@127.0.0.1:8080/a.bin");
    EXPECT_EQ(f.message.find("S3cret-pw"), std::string::npos) << f.message;
  }
  // An origin asking for its own login (through the proxy, or without one) is an HTTP error.
  TransferOutcome origin = http(401);
  origin.via_proxy = true;
  origin.www_authenticate = "Basic realm=\"members\"";
  EXPECT_EQ(classify(origin).kind, DLHOST_FAILURE_HTTP);
  EXPECT_EQ(classify(origin).message, "HTTP 401 for http://127.0.0.1:8080/a.bin");
  TransferOutcome direct = http(401);
  direct.www_authenticate = "Basic realm=\"Tinyproxy\"";
  EXPECT_EQ(classify(direct).kind, DLHOST_FAILURE_HTTP);
  // A cancel still wins.
  TransferOutcome cancelled = http(407);
  cancelled.via_proxy = true;
  cancelled.cancelled = true;
  EXPECT_TRUE(classify(cancelled).cancelled);
}

TEST(Classify, OwnFlags) {
  TransferOutcome o = curl_failed(CURLE_ABORTED_BY_CALLBACK);
  o.cancelled = true;
  EXPECT_TRUE(classify(o).cancelled);
  EXPECT_EQ(classify(o).kind, DLHOST_FAILURE_NONE);

  TransferOutcome w = curl_failed(CURLE_WRITE_ERROR);
  w.write_failed = true;
  w.io_error = "cannot write /x.part: No space left on device";
  Failure fw = classify(w);
  EXPECT_EQ(fw.kind, DLHOST_FAILURE_IO);
  EXPECT_NE(fw.message.find("/x.part"), std::string::npos);

  TransferOutcome big = curl_failed(CURLE_WRITE_ERROR);
  big.too_large = true;
  big.expected_size = 10;
  EXPECT_EQ(classify(big).kind, DLHOST_FAILURE_VERIFY);
}

TEST(RetryAfter, Seconds) {
  EXPECT_EQ(parse_retry_after_ms("120", 0), 120000);
  EXPECT_EQ(parse_retry_after_ms(" 0 ", 0), 0);
  EXPECT_EQ(parse_retry_after_ms("abc", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after_ms("12x", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after_ms("", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after_ms("-5", 0), std::nullopt);
}

TEST(RetryAfter, HttpDate) {
  // Sun, 06 Nov 1994 08:49:37 GMT == 784111777
  EXPECT_EQ(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30000);
  EXPECT_EQ(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), 0);
  EXPECT_EQ(parse_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", 784111777 - 1), 1000);
}

TEST(RedactUrl, Cases) {
  EXPECT_EQ(redact_url("http://user:pass@host:8080/a?b=c"), "http://user:***@host:8080/a?b=c");
  EXPECT_EQ(redact_url("socks5h://u:p@127.0.0.1:1080"), "socks5h://u:***@127.0.0.1:1080");
  EXPECT_EQ(redact_url("http://host/path@with-at"), "http://host/path@with-at");
  EXPECT_EQ(redact_url("http://host/"), "http://host/");
  EXPECT_EQ(redact_url("not a url"), "not a url");
  EXPECT_EQ(redact_url("http://a:b@c@host/x"), "http://a:***@host/x");
}

TEST(Classify, ReadableWordsForHostileAnswers) {
  TransferOutcome o = curl_failed(CURLE_OUT_OF_MEMORY);  // libcurl 7.88 says no more
  Failure f = classify(o);
  EXPECT_EQ(f.kind, DLHOST_FAILURE_TRANSPORT);
  EXPECT_FALSE(f.retryable);
  EXPECT_EQ(f.message, "response header too large for http://127.0.0.1:8080/a.bin");
  o.body_started = true;  // out of memory while receiving the body stays that
  EXPECT_EQ(classify(o).message.find("header"), std::string::npos);

  o = curl_failed(CURLE_UNSUPPORTED_PROTOCOL);
  o.curl_error = "Received HTTP/0.9 when not allowed";
  f = classify(o);
  EXPECT_TRUE(f.retryable);
  EXPECT_EQ(f.message.rfind("malformed response for ", 0), 0u) << f.message;
  EXPECT_TRUE(classify(curl_failed(CURLE_WEIRD_SERVER_REPLY)).retryable);
  EXPECT_FALSE(classify(curl_failed(CURLE_UNSUPPORTED_PROTOCOL)).retryable);  // e.g. ftp://

  o = curl_failed(CURLE_FILESIZE_EXCEEDED);
  o.max_file_size = 1000;
  f = classify(o);
  EXPECT_EQ(f.kind, DLHOST_FAILURE_OTHER);
  EXPECT_FALSE(f.retryable);
  EXPECT_EQ(f.message,
            "larger than DOWNLOAD_MAX_FILE_SIZE (1000 bytes): http://127.0.0.1:8080/a.bin");
  o = curl_failed(CURLE_WRITE_ERROR);  // the write path found it (no Content-Length)
  o.over_limit = true;
  o.max_file_size = 1000;
  EXPECT_EQ(classify(o).message, f.message);

  TransferOutcome r = http(302);
  r.too_many_redirects = true;
  r.max_redirects = 2;
  EXPECT_EQ(classify(r).message,
            "more than 2 redirects (HTTP 302) for http://127.0.0.1:8080/a.bin");
}

TEST(BlockPage, VerificationDecidesWhenItCan) {
  const char *html = "text/html; charset=utf-8";
  const std::string sha(64, 'a');
  // Nothing to verify against: the Content-Type decides.
  EXPECT_TRUE(is_block_page(html, "https://h/a.bin", -1, "", 300));
  EXPECT_FALSE(is_block_page("application/octet-stream", "https://h/a.bin", -1, "", 300));
  EXPECT_FALSE(is_block_page(html, "https://h/index.html", -1, "", 300));
  EXPECT_FALSE(is_block_page(nullptr, "https://h/a.bin", -1, "", 300));
  // A size or a sha256 to verify: a body that may verify is left to the commit.
  EXPECT_FALSE(is_block_page(html, "https://h/a.bin", 300, "", 300));
  EXPECT_FALSE(is_block_page(html, "https://h/a.bin", -1, sha, 300));
  // A size it does not have: a page that fails verification.
  EXPECT_TRUE(is_block_page(html, "https://h/a.bin", 8192, sha, 300));
  EXPECT_FALSE(is_block_page("application/octet-stream", "https://h/a.bin", 8192, sha, 300));
}

TEST(UrlOrigin, SchemeHostAndPortWithDefaults) {
  EXPECT_EQ(url_origin("http://Example.org/a"), "http://example.org:80");
  EXPECT_EQ(url_origin("http://example.org:80/b?x"), "http://example.org:80");
  EXPECT_EQ(url_origin("https://example.org/a"), "https://example.org:443");
  EXPECT_EQ(url_origin("http://u:p@127.0.0.1:8080/a"), "http://127.0.0.1:8080");
  EXPECT_NE(url_origin("http://127.0.0.1:8080/"), url_origin("http://127.0.0.1:8081/"));
  EXPECT_NE(url_origin("http://127.0.0.1/"), url_origin("http://127.0.0.2/"));
  EXPECT_EQ(url_origin("not a url"), "");
}
