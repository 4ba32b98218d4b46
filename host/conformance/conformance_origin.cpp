// The conformance suite's loopback origin; see conformance_origin.hpp.
#include "conformance_origin.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace dlhost::conformance {
namespace {

constexpr std::size_t kSlowChunk = 1024;
constexpr auto kSlowPause = std::chrono::milliseconds(50);
constexpr int kPollMs = 100;

bool send_all(int fd, const char *data, std::size_t len) {
  while (len > 0) {
    const auto n = ::send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

// The request line's path, or "" if the request never completed.
std::string read_request_path(int fd, const std::atomic<bool> &stopping) {
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536 && !stopping) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    head.append(buf, static_cast<std::size_t>(n));
  }
  const auto sp1 = head.find(' ');
  const auto sp2 = head.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return {};
  return head.substr(sp1 + 1, sp2 - sp1 - 1);
}

// "/bytes/N/NAME" -> (N, NAME); false if `path` is not of that form.
bool parse_path(const std::string &path, const std::string &prefix, std::size_t &size,
                std::string &name) {
  if (path.rfind(prefix, 0) != 0) return false;
  const auto slash = path.find('/', prefix.size());
  if (slash == std::string::npos) return false;
  try {
    size = std::stoul(path.substr(prefix.size(), slash - prefix.size()));
  } catch (...) {
    return false;
  }
  name = path.substr(slash + 1);
  return !name.empty();
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
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), len) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("conformance origin: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

Origin::~Origin() {
  stop();
}

std::string Origin::url(const std::string &path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void Origin::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

void Origin::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    {
      std::lock_guard lock(mutex_);
      active_++;
    }
    std::thread([this, fd] {
      serve(fd);
      ::close(fd);
      std::lock_guard lock(mutex_);
      if (--active_ == 0) idle_.notify_all();
    }).detach();
  }
}

void Origin::serve(int fd) {
  const auto path = read_request_path(fd, stopping_);
  std::size_t size = 0;
  std::string name;
  const bool slow = parse_path(path, "/slow/", size, name);
  if (!slow && !parse_path(path, "/bytes/", size, name)) {
    const std::string r =
        "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n";
    send_all(fd, r.data(), r.size());
    return;
  }
  send_body(fd, content_of(name, size), slow, "\"" + name + "-" + std::to_string(size) + "\"");
}

// With a validator, as static file servers send one: a plugin keeps a
// cancelled .part only when it can resume it (If-Range needs a validator).
void Origin::send_body(int fd, const std::string &body, bool slow, const std::string &etag) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\nETag: " + etag + "\r\nConnection: close\r\n\r\n";
  if (!send_all(fd, head.data(), head.size())) return;
  if (!slow) {
    send_all(fd, body.data(), body.size());
    return;
  }
  for (std::size_t at = 0; at < body.size() && !stopping_; at += kSlowChunk) {
    if (!send_all(fd, body.data() + at, std::min(kSlowChunk, body.size() - at))) return;
    std::this_thread::sleep_for(kSlowPause);
  }
}

}  // namespace dlhost::conformance
