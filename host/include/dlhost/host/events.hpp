// The job's event stream: what programs that drive dlhost read.
//
// The engine publishes one JobEvent for each thing a program may want to
// react to: a file started, made progress, is retried, completed, failed or
// was skipped; a proxy changed state; the job ended. Schema version 1 is
// documented in docs/EVENTS.md; to_json_line() is the only place that
// writes it, so the NDJSON file, the webhooks and the service's
// Server-Sent Events all carry the same objects.
//
// EventBus fans events out to sinks (the NDJSON writer, command hooks,
// webhooks) on a thread of its own, in the order they were published, so a
// slow sink never holds up the thread that published: the plugin's event
// thread must return quickly. The queue is bounded: beyond kProgressBacklog
// queued events, progress events are dropped (the next one says the same,
// only newer); beyond kBacklog, publish() waits for the sinks, so a reader
// that stops reading slows the job down instead of growing memory without
// bound. Every other event is delivered exactly once. Sinks that do network
// or process work (hooks, webhooks) queue it and bound it themselves.
//
// Threads: publish() from any thread; add_sink() before the first publish;
// close() once, from the thread that owns the bus (it drains the queue and
// gives each sink until the deadline to finish). With no sink, publish() is
// a no-op.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace dlhost {

enum class EventType {
  kFileStarted,
  kFileProgress,
  kFileRetrying,
  kFileCompleted,
  kFileFailed,
  kFileSkipped,
  kProxyState,
  kJobSummary,
};

// "file.started", "file.progress", ..., "proxy.state", "job.summary".
const char *event_type_name(EventType type);
bool is_file_terminal(EventType type);  // completed, failed or skipped

inline constexpr int kEventSchemaVersion = 1;

struct JobEvent {
  EventType type = EventType::kFileStarted;
  double ts = 0;  // Unix time in seconds; publish() fills it in when 0
  // file.*: the file (its destination relative to the output directory,
  // its URL with credentials removed, its post)
  std::string path, url, group;
  std::string proxy;               // the path that carried it ("direct", a proxy id), or none
  std::uint64_t bytes = 0;         // bytes in the file so far (started/progress/completed)
  std::int64_t total = -1;         // expected size, -1 when unknown
  int attempt = 0;                 // 1 for the first attempt; 0 = none was made
  int http_status = 0;             // last status seen; 0 = none
  std::string failure;             // file.retrying/file.failed: http, timeout, verify, ...
  std::string message;             // human text, one line, no credentials
  std::string sha256;              // file.completed: the manifest's digest, when it gave one
  std::int64_t retry_in_ms = -1;   // file.retrying: delay before the next attempt
  std::string reason;              // file.skipped: present, recorded, duplicate
  std::uint64_t line = 0;          // the manifest line, when the file came from one
  std::string id;                  // set by the service: the id downloadFile returned
  std::string state, previous;     // proxy.state
  nlohmann::ordered_json summary;  // job.summary: the final stats' files, bytes, ...
};

// The event as one line of NDJSON (compact JSON and '\n'). File events carry
// every file field, null where it does not apply, so a reader needs no
// per-type cases to find "path" or "failure".
std::string to_json_line(const JobEvent &event);
nlohmann::ordered_json to_json(const JobEvent &event);

class EventSink {
 public:
  virtual ~EventSink() = default;
  // On the bus's thread, one event at a time, in publication order. Must not
  // call publish() (it may wait for this very thread).
  virtual void deliver(const JobEvent &event) = 0;
  // After a burst of deliver() calls, when the queue is momentarily empty.
  virtual void flush() {}
  // The bus is closing: finish what is queued, return by `deadline`.
  virtual void close(std::chrono::steady_clock::time_point deadline) { (void)deadline; }
};

class EventBus {
 public:
  static constexpr std::size_t kProgressBacklog = 4096;
  static constexpr std::size_t kBacklog = 65536;

  EventBus() = default;
  ~EventBus();  // close(0) if still open
  EventBus(const EventBus &) = delete;
  EventBus &operator=(const EventBus &) = delete;

  void add_sink(std::shared_ptr<EventSink> sink);
  bool active() const { return !sinks_.empty(); }
  void publish(JobEvent event);
  // Delivers everything queued, then closes every sink; sinks get until
  // `grace` from now. Idempotent.
  void close(std::chrono::milliseconds grace);
  // Progress events dropped because the sinks were behind.
  std::uint64_t dropped_progress() const;

 private:
  void run();

  std::vector<std::shared_ptr<EventSink>> sinks_;
  mutable std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<JobEvent> queue_;
  std::uint64_t dropped_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  std::thread thread_;
};

// The stream carries at most 4 progress events a second per file: the
// caller keeps `last` with the file's state and publishes only when this
// says so (it then moves `last` to `now`).
inline constexpr std::chrono::milliseconds kProgressInterval{250};
bool progress_due(std::chrono::steady_clock::time_point &last,
                  std::chrono::steady_clock::time_point now);

}  // namespace dlhost
