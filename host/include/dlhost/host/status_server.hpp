// The live status server of `dlhost run|work --status HOST:PORT`.
//
// A tiny HTTP/1.1 server on its own thread, plain POSIX sockets, one request
// per connection (Connection: close), served one after another: it is read by
// a person's browser and a Prometheus scraper, not by thousands of clients.
//   /         a self-contained HTML page (inline CSS and JS, nothing fetched
//             from elsewhere) that polls /stats every second
//   /stats    the stats document as --stats-json would write it now
//   /health   the plugin's health() JSON (per-proxy state, cooldowns)
//   /metrics  Prometheus text format 0.0.4
// Where it listens: PORT or :PORT means 127.0.0.1; an IP address (127.0.0.1,
// 0.0.0.0, ::1, [::]) is used as given; "localhost" means 127.0.0.1. Host names
// are refused rather than resolved, so the server only ever listens beyond
// loopback when the operator wrote that address on the command line. The
// handlers are called on the server's thread; they must be thread-safe.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace dlhost {

struct StatusAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;  // as it goes into a URL: "127.0.0.1", "[::1]"
  std::uint16_t port = 0;
};

// Parses a --status value; throws ConfigError naming --status.
StatusAddress parse_status_address(const std::string &text);

// Prometheus text for a stats document.
std::string prometheus_metrics(const nlohmann::ordered_json &stats);
// The page served at "/".
const std::string &status_page_html();

class StatusServer {
 public:
  struct Handlers {
    std::function<nlohmann::ordered_json()> stats;
    std::function<std::string()> health;  // JSON text; empty = the plugin has none
  };
  // Binds and listens (throws ConfigError: address in use, not permitted),
  // then serves on its own thread until destroyed.
  StatusServer(const std::string &address, Handlers handlers);
  ~StatusServer();
  StatusServer(const StatusServer &) = delete;
  StatusServer &operator=(const StatusServer &) = delete;

  std::string url() const;  // "http://127.0.0.1:8080/"

 private:
  void serve();
  void handle(int fd);
  std::string respond(const std::string &method, const std::string &path);

  Handlers handlers_;
  StatusAddress address_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace dlhost
