// A plain-HTTP forward proxy on 127.0.0.1 for the multi-proxy tests that run
// in one process (mp_live_proxies_test.cpp): no tinyproxy to install, start
// and stop by pid, and it counts what it carried.
//
// Just enough of a proxy for libcurl fetching http:// URLs: one absolute-form
// request per client connection ("GET http://127.0.0.1:PORT/path HTTP/1.1"),
// sent on to that loopback origin in origin-form with "Connection: close",
// the answer relayed byte for byte until the origin closes. Proxy-* headers
// are not passed on. A client that leaves (a cancelled transfer) ends the
// relay at the next write. One thread per connection: tests open a handful.
// With credentials it wants "Proxy-Authorization: Basic ..." for them and
// answers anything else with 407, as a real proxy with a wrong password does.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace dlhost::testing {

class ForwardProxy {
 public:
  explicit ForwardProxy(std::string user_password = "")
      : auth_(user_password.empty() ? "" : "Basic " + base64(user_password)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("forward proxy: cannot listen on 127.0.0.1");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~ForwardProxy() { stop(); }
  ForwardProxy(const ForwardProxy &) = delete;
  ForwardProxy &operator=(const ForwardProxy &) = delete;

  // The plugin's id for this path, and this proxy as a PROXY_LIST entry.
  std::string id() const { return "http://127.0.0.1:" + std::to_string(port_); }
  nlohmann::json entry() const { return {{"ip", "127.0.0.1"}, {"port", port_}}; }
  int requests() const { return requests_.load(); }  // carried to the origin
  int refused() const { return refused_.load(); }    // answered 407

  // Ends every relay at once and waits for the threads.
  void stop() {
    if (stopping_.exchange(true)) return;
    acceptor_.join();
    ::close(listen_fd_);
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto &t : workers_) t.join();  // no new worker after acceptor_ ended
  }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void accept_loop() {
    while (!stopping_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      track(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void track(int fd) {
    std::lock_guard lock(mu_);
    open_.insert(fd);
    if (stopping_.load()) ::shutdown(fd, SHUT_RDWR);  // stop() has already swept
  }
  void untrack_close(int fd) {
    std::lock_guard lock(mu_);
    open_.erase(fd);
    ::close(fd);
  }

  static std::string base64(const std::string &in) {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < in.size(); i += 3) {
      uint32_t v = static_cast<uint8_t>(in[i]) << 16;
      if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
      if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
      out += kAlphabet[(v >> 18) & 63];
      out += kAlphabet[(v >> 12) & 63];
      out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
      out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
    }
    return out;
  }

  static std::string lower(const std::string &s) {
    std::string out;
    for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }

  // The value of header `name` (lower case) in a request head, or "".
  static std::string header(const std::string &head, const std::string &name) {
    for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
      pos += 2;
      const size_t end = head.find("\r\n", pos);
      if (end == std::string::npos || end == pos) break;
      const std::string h = head.substr(pos, end - pos);
      pos = end;
      if (lower(h).rfind(name + ":", 0) != 0) continue;
      const size_t v = h.find_first_not_of(' ', name.size() + 1);
      return v == std::string::npos ? "" : h.substr(v);
    }
    return "";
  }

  static bool send_all(int fd, const char *data, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  // The request upstream in origin-form, and the origin's port; false if the
  // head is not an absolute-form request for http://127.0.0.1:PORT.
  static bool rewrite(const std::string &head, std::string *out, int *port) {
    const size_t eol = head.find("\r\n");
    const std::string line = head.substr(0, eol);
    const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    const std::string prefix = "http://127.0.0.1:";
    if (sp1 == std::string::npos || sp2 <= sp1) return false;
    const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (target.rfind(prefix, 0) != 0) return false;
    const size_t slash = target.find('/', prefix.size());
    if (slash == std::string::npos) return false;
    *port = std::stoi(target.substr(prefix.size(), slash - prefix.size()));
    *out = line.substr(0, sp1 + 1) + target.substr(slash) + " HTTP/1.1\r\n";
    for (size_t pos = eol + 2; pos < head.size();) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos || end == pos) break;
      std::string h = head.substr(pos, end - pos);
      pos = end + 2;
      const std::string l = lower(h);
      if (l.rfind("proxy-", 0) == 0 || l.rfind("connection:", 0) == 0) continue;
      *out += h + "\r\n";
    }
    *out += "Connection: close\r\n\r\n";
    return true;
  }

  void serve(int client) {
    std::string head;
    char buf[16384];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    std::string request;
    int port = 0;
    if (head.find("\r\n\r\n") == std::string::npos || !rewrite(head, &request, &port)) {
      static const char kBad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      send_all(client, kBad, sizeof kBad - 1);
      untrack_close(client);
      return;
    }
    if (!auth_.empty() && header(head, "proxy-authorization") != auth_) {
      static const char k407[] =
          "HTTP/1.1 407 Proxy Authentication Required\r\n"
          "Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n";
      refused_.fetch_add(1);
      send_all(client, k407, sizeof k407 - 1);
      untrack_close(client);
      return;
    }
    requests_.fetch_add(1);
    int origin = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    track(origin);
    sockaddr_in a = loopback(port);
    if (::connect(origin, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 &&
        send_all(origin, request.data(), request.size())) {
      for (;;) {
        ssize_t n = ::recv(origin, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(client, buf, static_cast<size_t>(n))) break;
      }
    }
    untrack_close(origin);
    untrack_close(client);
  }

  const std::string auth_;  // the Proxy-Authorization value wanted; "" = none
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> refused_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;  // touched by acceptor_ only, then by stop()
  std::mutex mu_;
  std::set<int> open_;  // sockets a relay is blocked on: stop() shuts them down
};

}  // namespace dlhost::testing
