// The live status server; see status_server.hpp for the design.
//
// The accept loop polls the listening socket and a wake-up pipe, so the
// destructor stops it at once. A connection gets 2 s to send its request
// head (at most 8 KiB); anything else is answered 400/404/405 and closed.
#include "dlhost/host/status_server.hpp"

#include <pthread.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "dlhost/host/settings.hpp"

namespace dlhost {
namespace {

constexpr std::size_t kMaxRequestHead = 8192;
constexpr int kRequestTimeoutS = 2;

ConfigError address_error(const std::string &text, const std::string &why) {
  return ConfigError("--status " + text + ": " + why);
}

// "PORT", ":PORT", "HOST:PORT", "[V6]:PORT" -> host text and port text.
std::pair<std::string, std::string> split_host_port(const std::string &text) {
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw address_error(text, "expected [IPv6]:PORT");
    return {text.substr(1, close - 1), text.substr(close + 2)};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return {"", text};
  if (text.find(':') != colon) throw address_error(text, "write an IPv6 address as [ADDR]:PORT");
  return {text.substr(0, colon), text.substr(colon + 1)};
}

std::uint16_t parse_port(const std::string &text, const std::string &port) {
  char *end = nullptr;
  errno = 0;
  const long v = port.empty() ? -1 : std::strtol(port.c_str(), &end, 10);
  if (v < 0 || v > 65535 || errno || (end && *end))
    throw address_error(text, "expected a port number 0-65535");
  return static_cast<std::uint16_t>(v);
}

std::string http_response(int code, const char *reason, const std::string &type,
                          const std::string &body, bool head) {
  std::ostringstream out;
  out << "HTTP/1.1 " << code << ' ' << reason << "\r\n"
      << "Content-Type: " << type << "\r\n"
      << "Content-Length: " << body.size() << "\r\n"
      << "Cache-Control: no-store\r\n"
      << "Connection: close\r\n\r\n";
  if (!head) out << body;
  return out.str();
}

// Reads the request head; empty on timeout, error or an oversized head.
std::string read_head(int fd) {
  timeval tv{kRequestTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string head;
  char buf[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequestHead) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {};
    head.append(buf, static_cast<std::size_t>(n));
  }
  return head;
}

void write_all(int fd, const std::string &data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// Prometheus label values escape \, " and newlines.
std::string label(const std::string &value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void metric_header(std::ostringstream &out, const char *name, const char *type, const char *help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

double number_or_zero(const nlohmann::ordered_json &j, const char *key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}

void job_metrics(std::ostringstream &out, const nlohmann::ordered_json &stats) {
  metric_header(out, "dlhost_files_total", "counter",
                "Files of the job by state (total = files in the manifest).");
  const auto files = stats.value("files", nlohmann::ordered_json::object());
  for (const char *state : {"total", "completed", "skipped", "failed", "deferred"})
    out << "dlhost_files_total{state=\"" << state << "\"} " << number_or_zero(files, state) << '\n';
  metric_header(out, "dlhost_bytes_total", "counter", "Bytes downloaded by this host.");
  out << "dlhost_bytes_total " << number_or_zero(stats, "bytes") << '\n';
  metric_header(out, "dlhost_elapsed_seconds", "gauge", "Seconds since the job started.");
  out << "dlhost_elapsed_seconds " << number_or_zero(stats, "elapsed_s") << '\n';
  metric_header(out, "dlhost_interrupted", "gauge", "1 once the job was interrupted.");
  out << "dlhost_interrupted " << (stats.value("interrupted", false) ? 1 : 0) << '\n';
}

void proxy_metrics(std::ostringstream &out, const nlohmann::ordered_json &proxies) {
  struct Counter {
    const char *field, *name, *type, *help;
  };
  static const Counter kCounters[] = {
      {"completed", "dlhost_proxy_completed_total", "counter", "Files completed through a proxy."},
      {"failed", "dlhost_proxy_failed_total", "counter", "Files failed on a proxy."},
      {"retries", "dlhost_proxy_retries_total", "counter", "Retries on a proxy."},
      {"rate_limited", "dlhost_proxy_rate_limited_total", "counter",
       "Rate-limited answers (429/503) through a proxy."},
      {"bytes", "dlhost_proxy_bytes_total", "counter", "Bytes received through a proxy."},
      {"in_flight", "dlhost_proxy_in_flight", "gauge", "Files in flight on a proxy."},
  };
  for (const auto &c : kCounters) {
    metric_header(out, c.name, c.type, c.help);
    for (const auto &p : proxies)
      out << c.name << "{proxy=\"" << label(p.value("id", "")) << "\"} "
          << number_or_zero(p, c.field) << '\n';
  }
  metric_header(out, "dlhost_proxy_state", "gauge", "1 for a proxy's current health state.");
  for (const auto &p : proxies)
    out << "dlhost_proxy_state{proxy=\"" << label(p.value("id", "")) << "\",state=\""
        << label(p.value("state", "")) << "\"} 1\n";
}

}  // namespace

StatusAddress parse_status_address(const std::string &text) {
  auto [host, port_text] = split_host_port(text);
  StatusAddress a;
  a.port = parse_port(text, port_text);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  addrinfo hints{}, *res = nullptr;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) {
    throw address_error(text,
                        "not an IP address (host names are not resolved: give 127.0.0.1, or an "
                        "interface's address such as 0.0.0.0 to listen beyond loopback)");
  }
  std::memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  const bool v6 = res->ai_family == AF_INET6;
  ::freeaddrinfo(res);
  if (v6) {
    reinterpret_cast<sockaddr_in6 *>(&a.addr)->sin6_port = htons(a.port);
  } else {
    reinterpret_cast<sockaddr_in *>(&a.addr)->sin_port = htons(a.port);
  }
  a.host = v6 ? "[" + host + "]" : host;
  return a;
}

std::string prometheus_metrics(const nlohmann::ordered_json &stats) {
  std::ostringstream out;
  out.precision(15);
  job_metrics(out, stats);
  const auto proxies = stats.value("proxies", nlohmann::ordered_json::array());
  if (proxies.is_array()) proxy_metrics(out, proxies);
  return out.str();
}

StatusServer::StatusServer(const std::string &address, Handlers handlers)
    : handlers_(std::move(handlers)), address_(parse_status_address(address)) {
  listen_fd_ = ::socket(address_.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr *>(&address_.addr), address_.len) != 0 ||
      ::listen(listen_fd_, 16) != 0 || ::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw address_error(address, "cannot listen: " + why);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&bound), &len);
  address_.port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
  thread_ = std::thread([this] { serve(); });
}

StatusServer::~StatusServer() {
  if (wake_pipe_[1] >= 0) (void)!::write(wake_pipe_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  for (int fd : {listen_fd_, wake_pipe_[0], wake_pipe_[1]})
    if (fd >= 0) ::close(fd);
}

std::string StatusServer::url() const {
  return "http://" + address_.host + ":" + std::to_string(address_.port) + "/";
}

void StatusServer::serve() {
  pthread_setname_np(pthread_self(), "dlhost-status");  // top -H, perf
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void StatusServer::handle(int fd) {
  const auto head = read_head(fd);
  std::istringstream line(head.substr(0, head.find("\r\n")));
  std::string method, target, version;
  line >> method >> target >> version;
  if (method.empty() || target.empty() || version.rfind("HTTP/1.", 0) != 0) {
    if (!head.empty()) write_all(fd, http_response(400, "Bad Request", "text/plain", "", false));
    return;
  }
  write_all(fd, respond(method, target.substr(0, target.find('?'))));
}

std::string StatusServer::respond(const std::string &method, const std::string &path) {
  const bool head = method == "HEAD";
  if (method != "GET" && !head)
    return http_response(405, "Method Not Allowed", "text/plain", "GET only\n", false);
  try {
    if (path == "/")
      return http_response(200, "OK", "text/html; charset=utf-8", status_page_html(), head);
    if (path == "/stats")
      return http_response(200, "OK", "application/json", handlers_.stats().dump(2) + "\n", head);
    if (path == "/health") {
      auto body = handlers_.health();
      if (body.empty()) body = "{\"proxies\":[]}";
      return http_response(200, "OK", "application/json", body + "\n", head);
    }
    if (path == "/metrics")
      return http_response(200, "OK", "text/plain; version=0.0.4",
                           prometheus_metrics(handlers_.stats()), head);
  } catch (const std::exception &e) {
    return http_response(500, "Internal Server Error", "text/plain", e.what(), head);
  }
  return http_response(404, "Not Found", "text/plain", "not found\n", head);
}

}  // namespace dlhost
