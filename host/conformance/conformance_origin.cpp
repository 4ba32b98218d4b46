// The conformance suite's loopback origin; see conformance_origin.hpp.
#include "conformance_origin.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <thread>

#include "dlhost/host/http_server.hpp"

namespace dlhost::conformance {
namespace {

constexpr std::size_t kSlowChunk = 1024;
constexpr auto kSlowPause = std::chrono::milliseconds(50);
// Plugins under test open a handful of connections at once; every slow
// response holds a thread while it dribbles.
constexpr std::size_t kThreads = 32;

// The N of /bytes/N/NAME and /slow/N/NAME; false (and a 404) if it is not
// a number.
bool size_of(const httplib::Request &req, httplib::Response &res, std::size_t &size) {
  const auto text = req.matches[1].str();
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
  if (ec == std::errc() && end == text.data() + text.size()) return true;
  res.status = 404;
  return false;
}

// With a validator, as static file servers send one: a plugin keeps a
// cancelled .part only when it can resume it (If-Range needs a validator).
void set_etag(const httplib::Request &req, httplib::Response &res, std::size_t size) {
  // Appended in place: GCC 12 at -O3 reports a false -Werror=restrict for
  // an operator+ chain that starts from a literal.
  std::string etag = "\"";
  etag.append(req.matches[2].str()).append("-").append(std::to_string(size)).append("\"");
  res.set_header("ETag", etag);
}

void serve_bytes(const httplib::Request &req, httplib::Response &res) {
  std::size_t size = 0;
  if (!size_of(req, res, size)) return;
  set_etag(req, res, size);
  res.set_content(content_of(req.matches[2].str(), size), "application/octet-stream");
}

void serve_slow(const httplib::Request &req, httplib::Response &res) {
  std::size_t size = 0;
  if (!size_of(req, res, size)) return;
  set_etag(req, res, size);
  auto body = std::make_shared<std::string>(content_of(req.matches[2].str(), size));
  res.set_content_provider(body->size(), "application/octet-stream",
                           [body](std::size_t offset, std::size_t length, httplib::DataSink &sink) {
                             if (offset > 0) std::this_thread::sleep_for(kSlowPause);
                             // false (the client left, or stop()) ends the response.
                             return sink.write(body->data() + offset, std::min(kSlowChunk, length));
                           });
}

}  // namespace

std::string content_of(const std::string &name, std::size_t size) {
  std::uint64_t x = 1469598103934665603ull;
  for (unsigned char c : name) x = (x ^ c) * 1099511628211ull;
  std::string out(size, '\0');
  for (auto &ch : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ch = static_cast<char>(x & 0xff);
  }
  return out;
}

std::string sha256_hex(const std::string &data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  char two[3];
  for (unsigned i = 0; i < len; i++) {
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    hex += two;
  }
  return hex;
}

Origin::Origin() {
  http::Limits limits;
  limits.threads = kThreads;
  limits.keep_alive_requests = 1;  // every response closes its connection
  http_ = std::make_unique<http::Server>(parse_listen_address("127.0.0.1:0", "conformance origin"),
                                         limits);
  auto &routes = http_->routes();
  routes.Get(R"(/bytes/(\d+)/(.+))", serve_bytes);
  routes.Get(R"(/slow/(\d+)/(.+))", serve_slow);
  routes.set_error_handler([](const httplib::Request &, httplib::Response &res) {
    if (res.status == 404) res.set_content("not found\n", "text/plain");
  });
  http_->start("dlhost-origin");
}

Origin::~Origin() {
  stop();
}

std::string Origin::url(const std::string &path) const {
  return "http://127.0.0.1:" + std::to_string(http_->address().port) + path;
}

void Origin::stop() {
  http_->stop();
}

}  // namespace dlhost::conformance
