// The live status server; see status_server.hpp for the design.
//
// The HTTP side is the host's HTTP layer (http_server.hpp, on cpp-httplib):
// this file only says what each path answers, and renders the Prometheus
// text. Every answer carries Cache-Control: no-store; any method but GET and
// HEAD is answered 405, an unknown path 404, a handler that throws 500.
#include "dlhost/host/status_server.hpp"

#include <set>
#include <sstream>

#include "dlhost/host/http_server.hpp"

namespace dlhost {
namespace {

// A person's browser and a Prometheus scraper, not thousands of clients:
// a few threads answer; idle and slow clients cost no thread at all.
http::Limits status_limits() {
  http::Limits limits;
  limits.threads = 4;
  limits.head_timeout = std::chrono::seconds(10);
  limits.io_timeout = std::chrono::seconds(5);
  return limits;
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
  return parse_listen_address(text, "--status");
}

std::string prometheus_metrics(const nlohmann::ordered_json &stats) {
  std::ostringstream out;
  out.precision(15);
  job_metrics(out, stats);
  const auto proxies = stats.value("proxies", nlohmann::ordered_json::array());
  if (proxies.is_array()) proxy_metrics(out, proxies);
  return out.str();
}

void add_status_routes(httplib::Server &routes, StatusServer::Handlers handlers) {
  routes.Get("/", [](const httplib::Request &, httplib::Response &res) {
    res.set_content(status_page_html(), "text/html; charset=utf-8");
  });
  routes.Get("/stats", [handlers](const httplib::Request &, httplib::Response &res) {
    res.set_content(handlers.stats().dump(2) + "\n", "application/json");
  });
  routes.Get("/health", [handlers](const httplib::Request &, httplib::Response &res) {
    auto body = handlers.health();
    if (body.empty()) body = "{\"proxies\":[]}";
    res.set_content(body + "\n", "application/json");
  });
  routes.Get("/metrics", [handlers](const httplib::Request &, httplib::Response &res) {
    res.set_content(prometheus_metrics(handlers.stats()), "text/plain; version=0.0.4");
  });
}

StatusServer::StatusServer(const std::string &address, Handlers handlers)
    : handlers_(std::move(handlers)),
      http_(std::make_unique<http::Server>(parse_status_address(address), status_limits())) {
  add_routes(http_->routes());
  http_->start("dlhost-status");
}

StatusServer::~StatusServer() = default;

std::string StatusServer::url() const {
  return http_->address().url();
}

void StatusServer::add_routes(httplib::Server &routes) {
  routes.set_default_headers({{"Cache-Control", "no-store"}});
  // 405 for every other method. POST, PUT, PATCH, DELETE and OPTIONS get
  // handlers, so that cpp-httplib reads a body they carry first; the rest
  // (CONNECT, TRACE) are answered before routing.
  const auto only_get = [](const httplib::Request &, httplib::Response &res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("GET only\n", "text/plain");
  };
  routes.Post(".*", only_get).Put(".*", only_get).Patch(".*", only_get);
  routes.Delete(".*", only_get).Options(".*", only_get);
  routes.set_pre_routing_handler([only_get](const httplib::Request &req, httplib::Response &res) {
    static const std::set<std::string> kRouted{"GET",   "HEAD",   "POST",   "PUT",
                                               "PATCH", "DELETE", "OPTIONS"};
    if (kRouted.count(req.method)) return httplib::Server::HandlerResponse::Unhandled;
    only_get(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  add_status_routes(routes, handlers_);
  routes.set_error_handler([](const httplib::Request &, httplib::Response &res) {
    if (res.status == 404) res.set_content("not found\n", "text/plain");
  });
  routes.set_exception_handler(
      [](const httplib::Request &, httplib::Response &res, std::exception_ptr error) {
        res.status = 500;
        try {
          std::rethrow_exception(error);
        } catch (const std::exception &e) {
          res.set_content(e.what(), "text/plain");
        } catch (...) {
          res.set_content("internal error", "text/plain");
        }
      });
}

}  // namespace dlhost
