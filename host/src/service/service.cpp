// `dlhost serve`'s HTTP side and its methods; see dlhost/host/service.hpp.
#include "dlhost/host/service.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "dlhost/host/http_server.hpp"
#include "dlhost/host/json_rpc.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/settings.hpp"
#include "dlhost/host/status_server.hpp"
#include "dlhost/util/digest.h"
#include "dlhost/util/proxy_list.h"
#include "dlhost/util/text.h"
#include "event_stream.hpp"
#include "file_registry.hpp"

namespace dlhost {
namespace {

using rpc::Json;
using rpc::RpcError;

// Many programs at once: RPC calls are short, but each open /events stream
// holds a pool thread, so at most half the threads stream.
constexpr std::size_t kThreads = 32;
constexpr std::size_t kMaxStreams = kThreads / 2;
constexpr std::chrono::milliseconds kStreamWait{15000};  // a keep-alive comment at least this often
constexpr std::chrono::milliseconds kDefaultGrace{5000};
// At the end, answers being written may finish: shutdownOrchestrator's own.
constexpr std::chrono::milliseconds kFinishAnswers{2000};

http::Limits service_limits() {
  http::Limits limits;
  limits.threads = kThreads;
  limits.head_timeout = std::chrono::seconds(30);
  limits.io_timeout = std::chrono::seconds(10);
  return limits;
}

// Tokens are compared as HMACs under a key of this process: equal-length
// digests, compared in constant time, whatever the lengths of the strings.
class TokenCheck {
 public:
  explicit TokenCheck(const std::string &token) : enabled_(!token.empty()) {
    if (!enabled_) return;
    if (!util::random_bytes(key_.data(), key_.size()))
      throw ConfigError("--token-file: no random bytes for the token's key");
    expected_ = mac(token);
  }
  bool enabled() const { return enabled_; }
  bool accepts(const std::string &authorization) const {
    static const std::string kScheme = "Bearer ";
    if (!enabled_) return true;
    const std::string given = authorization.compare(0, kScheme.size(), kScheme) == 0
                                  ? authorization.substr(kScheme.size())
                                  : std::string();
    const auto got = mac(given);
    return CRYPTO_memcmp(got.data(), expected_.data(), got.size()) == 0;
  }

 private:
  std::array<unsigned char, 32> mac(const std::string &text) const {
    return util::hmac_sha256(key_.data(), key_.size(), text.data(), text.size())
        .value_or(std::array<unsigned char, 32>{});
  }
  bool enabled_;
  std::array<unsigned char, 32> key_{};
  std::array<unsigned char, 32> expected_{};
};

// The manifest line a downloadFile call stands for, as JSON text: the
// manifest's reader then applies every rule a manifest line obeys.
std::string manifest_line(const Json &p) {
  Json line = Json::object();
  line["url"] = rpc::string_param(p, "url");
  for (const char *name : {"path", "group", "sha256"})
    if (auto v = rpc::optional_string(p, name)) line[name] = *v;
  if (auto size = rpc::optional_integer(p, "size", 0, std::int64_t{1} << 53)) line["size"] = *size;
  return line.dump();
}

ManifestEntry read_entry(const Json &params, const char *method) {
  std::istringstream in(manifest_line(params));
  ManifestReader reader(in, method);
  ManifestEntry entry;
  try {
    if (!reader.next(entry)) throw RpcError(rpc::kInvalidParams, "params: no file");
  } catch (const ManifestError &e) {
    throw RpcError(rpc::kInvalidParams, e.what());
  }
  entry.line = 0;  // no manifest line: events carry the id instead
  return entry;
}

}  // namespace

class Service::Impl {
 public:
  Impl(ServiceOptions options, QueueWorkSource &queue, ServiceBackend backend,
       std::string proxy_list)
      : queue_(queue),
        backend_(std::move(backend)),
        proxy_list_(proxy_list.empty() ? "[]" : std::move(proxy_list)),
        token_(options.token),
        events_(std::make_shared<service::EventStream>(files_, kReplay)),
        http_(options.listen, service_limits()) {
    add_methods();
    add_routes(http_.routes());
    http_.start("dlhost-serve");
  }
  ~Impl() {
    events_->stop();  // event streams end, so they hold no pool thread below
    http_.stop(kFinishAnswers);
  }

  std::shared_ptr<EventSink> sink() { return events_; }
  std::string url() const { return http_.address().url(); }

 private:
  void add_methods();
  void add_routes(httplib::Server &routes);
  void stream_events(const httplib::Request &req, httplib::Response &res);

  Json download(const Json &params, bool pinned);
  Json cancel(const Json &params);
  Json proxies() const;
  Json add_proxy(const Json &params);
  Json remove_proxy(const Json &params);
  Json change_proxies(const std::string &list, const std::string &id);

  QueueWorkSource &queue_;
  ServiceBackend backend_;
  mutable std::mutex proxies_mutex_;
  std::string proxy_list_;  // the PROXY_LIST in force
  TokenCheck token_;
  service::FileRegistry files_;
  std::shared_ptr<service::EventStream> events_;
  rpc::Dispatcher rpc_;
  std::atomic<std::size_t> streams_{0};
  http::Server http_;
};

Json Service::Impl::download(const Json &raw, bool pinned) {
  const Json &params = rpc::object_params(raw);
  ManifestEntry entry = read_entry(params, pinned ? "downloadFileWithProxy" : "downloadFile");
  if (pinned) {
    entry.proxy = rpc::string_param(params, "proxy");
    const Json listed = proxies();
    const bool known = std::any_of(listed.begin(), listed.end(),
                                   [&](const Json &p) { return p["id"] == entry.proxy; });
    if (!known)
      throw RpcError(rpc::kInvalidParams,
                     "params.proxy: '" + util::printable(entry.proxy) + "' is not a listed proxy");
  }
  auto added = files_.add(entry);
  if (auto *conflict = std::get_if<std::string>(&added))
    throw RpcError(rpc::kServiceError, util::printable(*conflict));
  const auto &file = std::get<service::FileRegistry::Added>(added);
  if (file.is_new && !queue_.push(entry)) {
    files_.forget(file.id);
    throw RpcError(rpc::kShuttingDown, "the service is shutting down: no new files");
  }
  return Json{{"id", file.id}, {"path", entry.path}};
}

// A queued file leaves the queue (and, as the job never saw it, the service
// tells its end itself); one with the plugin is cancelled there and ends
// with the job's own event. Between the two (taken from the queue, not yet
// handed over) it is looked for again for a moment.
Json Service::Impl::cancel(const Json &raw) {
  const std::string id = rpc::string_param(rpc::object_params(raw), "id");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (true) {
    const auto file = files_.lookup(id);
    if (!file) throw RpcError(rpc::kNotFound, "no file with id '" + util::printable(id) + "'");
    const auto &[path, open] = *file;
    if (!open)
      return Json{{"id", id}, {"cancelled", false}, {"state", files_.file(id)->at("state")}};
    if (queue_.remove(path)) {
      JobEvent ev;
      ev.type = EventType::kFileFailed;
      ev.path = path;
      ev.failure = "cancelled";
      ev.message = "cancelled on request before it started";
      if (const auto f = files_.file(id)) {
        ev.url = f->at("url").get<std::string>();
        ev.group = f->at("group").get<std::string>();
      }
      events_->deliver(ev);
      return Json{{"id", id}, {"cancelled", true}};
    }
    if (backend_.cancel(path)) return Json{{"id", id}, {"cancelled", true}};
    if (std::chrono::steady_clock::now() > deadline)
      throw RpcError(rpc::kServiceError,
                     "file " + id + " is being handed to the plugin; try again");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The listed proxies by id, credentials never shown, with the plugin's
// state for each when its health() tells it.
Json Service::Impl::proxies() const {
  std::string list;
  {
    std::lock_guard lock(proxies_mutex_);
    list = proxy_list_;
  }
  std::vector<util::ProxySpec> specs;
  std::string error;
  if (!util::parse_proxy_list(list, &specs, &error)) throw RpcError(rpc::kInternalError, error);
  if (specs.empty()) specs.push_back(util::ProxySpec{true, "direct", "", "", ""});
  Json states = Json::object();
  if (const auto health = backend_.health(); !health.empty()) {
    const Json h = Json::parse(health, nullptr, false);
    if (h.is_object() && h.contains("proxies") && h["proxies"].is_array())
      for (const auto &p : h["proxies"])
        if (p.is_object() && p.contains("id") && p.contains("state"))
          states[p["id"].get<std::string>()] = p["state"];
  }
  Json out = Json::array();
  for (const auto &s : specs)
    out.push_back(Json{{"id", s.id},
                       {"direct", s.direct},
                       {"credentials", !s.username.empty() || !s.password.empty()},
                       {"state", states.contains(s.id) ? states[s.id] : Json()}});
  return out;
}

Json Service::Impl::change_proxies(const std::string &list, const std::string &id) {
  std::string error;
  if (!backend_.set_proxies(list, error))
    throw RpcError(rpc::kServiceError, util::printable(error));
  proxy_list_ = list;
  return Json{{"id", id}, {"proxies", Json::parse(list).size()}};
}

Json Service::Impl::add_proxy(const Json &raw) {
  const Json &params = rpc::object_params(raw);
  const auto it = params.find("entry");
  if (it == params.end() || !it->is_object())
    throw RpcError(rpc::kInvalidParams, "params.entry: expected a PROXY_LIST entry (an object)");
  std::lock_guard lock(proxies_mutex_);
  Json list = Json::parse(proxy_list_);
  list.push_back(*it);
  // The parser refuses an id listed twice ("repeats entry N") as it refuses
  // any bad entry.
  std::vector<util::ProxySpec> after;
  std::string error;
  if (!util::parse_proxy_list(list.dump(), &after, &error))
    throw RpcError(rpc::kInvalidParams, "params.entry: " + util::printable(error));
  const std::string id = after.back().id;
  return change_proxies(list.dump(), id);
}

Json Service::Impl::remove_proxy(const Json &raw) {
  const std::string id = rpc::string_param(rpc::object_params(raw), "id");
  std::lock_guard lock(proxies_mutex_);
  Json list = Json::parse(proxy_list_);
  std::vector<util::ProxySpec> specs;
  std::string error;
  util::parse_proxy_list(list.dump(), &specs, &error);
  Json kept = Json::array();
  bool found = false;
  for (std::size_t i = 0; i < specs.size() && i < list.size(); ++i) {
    if (specs[i].id == id) {
      found = true;
    } else {
      kept.push_back(list[i]);
    }
  }
  if (!found) throw RpcError(rpc::kNotFound, "proxy '" + util::printable(id) + "' is not listed");
  return change_proxies(kept.dump(), id);
}

void Service::Impl::add_methods() {
  rpc_.add("downloadFile", [this](const Json &p) { return download(p, false); });
  rpc_.add("downloadFileWithProxy", [this](const Json &p) { return download(p, true); });
  rpc_.add("getOrchestratorStats", [this](const Json &) { return Json(backend_.stats()); });
  rpc_.add("getProxyHealth", [this](const Json &) {
    const auto health = backend_.health();
    return health.empty() ? Json{{"proxies", Json::array()}} : Json::parse(health);
  });
  rpc_.add("listProxies", [this](const Json &) { return proxies(); });
  rpc_.add("addProxy", [this](const Json &p) { return add_proxy(p); });
  rpc_.add("removeProxy", [this](const Json &p) { return remove_proxy(p); });
  rpc_.add("getFile", [this](const Json &p) {
    const std::string id = rpc::string_param(rpc::object_params(p), "id");
    auto file = files_.file(id);
    if (!file) throw RpcError(rpc::kNotFound, "no file with id '" + util::printable(id) + "'");
    return *file;
  });
  rpc_.add("cancel", [this](const Json &p) { return cancel(p); });
  rpc_.add("shutdownOrchestrator", [this](const Json &p) {
    const auto grace = rpc::optional_integer(rpc::object_params(p), "grace_ms", 0, 86400000);
    backend_.shutdown(grace ? std::chrono::milliseconds(*grace) : kDefaultGrace);
    return Json{{"shutting_down", true}};
  });
}

void Service::Impl::stream_events(const httplib::Request &req, httplib::Response &res) {
  if (streams_.fetch_add(1) >= kMaxStreams) {
    --streams_;
    res.status = 503;
    res.set_content("too many event streams\n", "text/plain");
    return;
  }
  // New events only, unless the client says where it stopped (Last-Event-ID,
  // as EventSource sends on reconnecting) or asks for what is kept (?from=0).
  std::uint64_t after = events_->newest();
  const auto last = req.get_header_value("Last-Event-ID");
  const auto from = req.get_param_value("from");
  try {
    if (!last.empty()) after = std::stoull(last);
    if (!from.empty()) after = std::stoull(from);
  } catch (const std::exception &) {
    --streams_;
    res.status = 400;
    res.set_content("Last-Event-ID and from: expected a number\n", "text/plain");
    return;
  }
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, after](std::size_t, httplib::DataSink &sink) mutable {
        std::string out;
        const auto read = events_->read(after, kStreamWait, out);
        after = read.last;
        if (out.empty() && !read.ended) out = ": keep-alive\n\n";
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (read.ended) sink.done();
        return !read.ended;
      },
      [this](bool) { --streams_; });
}

void Service::Impl::add_routes(httplib::Server &routes) {
  routes.set_default_headers({{"Cache-Control", "no-store"}});
  routes.set_payload_max_length(kMaxBody);
  routes.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
    if (token_.accepts(req.get_header_value("Authorization")))
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    res.set_content("a bearer token is required (Authorization: Bearer TOKEN)\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  routes.Post("/rpc", [this](const httplib::Request &req, httplib::Response &res) {
    const auto body = rpc_.handle(req.body);
    if (!body) {
      res.status = 204;
      return;
    }
    res.set_content(*body + "\n", "application/json");
  });
  routes.Get("/events", [this](const httplib::Request &req, httplib::Response &res) {
    stream_events(req, res);
  });
  add_status_routes(routes, StatusServer::Handlers{backend_.stats, backend_.health});
}

Service::Service(ServiceOptions options, QueueWorkSource &queue, ServiceBackend backend,
                 std::string proxy_list)
    : impl_(std::make_unique<Impl>(std::move(options), queue, std::move(backend),
                                   std::move(proxy_list))) {}

Service::~Service() = default;

std::shared_ptr<EventSink> Service::event_sink() {
  return impl_->sink();
}

std::string Service::url() const {
  return impl_->url();
}

std::string read_token_file(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw ConfigError("--token-file " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 077) != 0)
    throw ConfigError("--token-file " + path +
                      ": readable or writable by others than its owner (chmod 600 it)");
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    throw ConfigError("--token-file " + path + ": cannot read it");
  const std::string token(util::trim(line));
  if (token.empty()) throw ConfigError("--token-file " + path + ": empty");
  return token;
}

}  // namespace dlhost
