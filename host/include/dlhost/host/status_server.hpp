// The live status server of `dlhost run|work --status HOST:PORT`.
//
// A small HTTP/1.1 server on the host's HTTP layer (http_server.hpp, on
// cpp-httplib): a few threads answer requests, keep-alive works, and idle
// or slow clients hold no thread, so /stats answers at once however many
// connections are open, and the server stops at once when the job ends.
// It is read by a person's browser and a Prometheus scraper:
//   /         a self-contained HTML page (inline CSS and JS, nothing fetched
//             from elsewhere) that polls /stats every second
//   /stats    the stats document as --stats-json would write it now
//   /health   the plugin's health() JSON (per-proxy state, cooldowns)
//   /metrics  Prometheus text format 0.0.4
// Where it listens: see listen_address.hpp (loopback unless an address is
// written out; host names are refused). The handlers are called on the
// server's threads, possibly at once; they must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "dlhost/host/listen_address.hpp"

namespace httplib {
class Server;
}

namespace dlhost {

namespace http {
class Server;
}

using StatusAddress = ListenAddress;

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
  // then serves on its own threads until destroyed.
  StatusServer(const std::string &address, Handlers handlers);
  ~StatusServer();
  StatusServer(const StatusServer &) = delete;
  StatusServer &operator=(const StatusServer &) = delete;

  std::string url() const;  // "http://127.0.0.1:8080/"

 private:
  void add_routes(httplib::Server &routes);

  Handlers handlers_;
  std::unique_ptr<http::Server> http_;
};

// The status server's GET answers (/, /stats, /health, /metrics), for any
// server on the HTTP layer: `dlhost serve` serves them beside its own.
void add_status_routes(httplib::Server &routes, StatusServer::Handlers handlers);

}  // namespace dlhost
