// `dlhost serve`: a long-running host fed over JSON-RPC 2.0, that tells what
// happens as Server-Sent Events.
//
// The service is a job like `run --follow`'s: one Job reading a
// QueueWorkSource that stays open until shutdown, with the same settings,
// coordination (in-process or Redis) and guarantees. Each downloadFile call
// is one manifest line: read by the manifest's own reader (the same rules
// for URLs and safe paths, the same defaults), then held to the batch rules
// by the FileRegistry (the same path and URL again returns the first call's
// id; a path another file has for another URL, or another file's working
// name, is refused), and queued. The queue is bounded: a call waits while it
// is full, so clients faster than the downloads are slowed, not buffered.
//
//   POST /rpc      JSON-RPC 2.0, single calls and batches (json_rpc.hpp);
//                  bodies over kMaxBody bytes are refused (413)
//   GET  /events   Server-Sent Events: every event of docs/EVENTS.md, file
//                  events with the "id" downloadFile returned. Each carries
//                  "id: SEQ"; a client that reconnects with Last-Event-ID
//                  gets what it missed from the last kReplay events
//   GET  /, /stats, /health, /metrics   the status server's answers, from
//                  the same job
//
// Security. It listens on loopback unless an address is written out
// (listen_address.hpp). With a token, every request must carry
// "Authorization: Bearer TOKEN"; the comparison takes the same time wherever
// the strings differ (HMAC-SHA-256 of both under a per-process key, compared
// with CRYPTO_memcmp), and the token appears in no output.
//
// Threads: the methods run on the HTTP pool's threads, at once; the event
// sink on its EventBus lane. Everything here is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "dlhost/host/events.hpp"
#include "dlhost/host/listen_address.hpp"
#include "dlhost/host/queue_source.hpp"

namespace dlhost {

struct ServiceOptions {
  ListenAddress listen;
  std::string token;  // empty: no Authorization asked (loopback only)
};

// What the service drives: the running job. Every function is thread-safe.
struct ServiceBackend {
  std::function<nlohmann::ordered_json()> stats;
  std::function<std::string()> health;  // JSON text; empty = the plugin has none
  // Replaces PROXY_LIST (JSON text); false with a message when refused.
  std::function<bool(const std::string &proxy_list, std::string &error)> set_proxies;
  // Cancels the file at `path` if the plugin has it now (Job::cancel).
  std::function<bool(const std::string &path)> cancel;
  // Stop taking work; running files get `grace` to finish (the rest keep
  // their .part), then the job ends and `dlhost serve` exits 0.
  std::function<void(std::chrono::milliseconds grace)> shutdown;
};

class Service {
 public:
  static constexpr std::size_t kMaxBody = 1 << 20;
  static constexpr std::size_t kReplay = 4096;

  // Binds and listens (throws ConfigError). `display` names the service's
  // manifest lines in errors ("rpc"). `proxy_list` is the PROXY_LIST the
  // job started with (listProxies, addProxy and removeProxy edit it).
  Service(ServiceOptions options, QueueWorkSource &queue, ServiceBackend backend,
          std::string proxy_list);
  ~Service();  // stops serving: open event streams end
  Service(const Service &) = delete;
  Service &operator=(const Service &) = delete;

  // Add to the job's EventBus before it runs: it keeps each file's state
  // (getFile, downloadFile's id on events) and feeds GET /events.
  std::shared_ptr<EventSink> event_sink();
  std::string url() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The token from --token-file: the file's first line, without surrounding
// white space. Throws ConfigError naming the file when it cannot be read, is
// empty, or can be read by others than its owner (mode & 077).
std::string read_token_file(const std::string &path);

}  // namespace dlhost
