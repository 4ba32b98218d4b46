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
// webhooks). Each sink has a lane of its own: a bounded queue and a thread
// that delivers to it in publication order. So a sink that stalls (a reader
// that stops reading, a webhook that answers after a minute) holds up only
// its own lane, never another sink, and never the thread that published:
// publish() only pushes, and the plugin's event thread must return quickly.
// When a lane is full, that sink loses events, counted (dropped()) and said
// once on stderr: beyond kProgressBacklog queued events its progress events
// are refused (the next one says the same, only newer); beyond kBacklog its
// oldest event goes. job.summary is the last event and is never dropped.
// The downloads' speed does not depend on any reader.
//
// close() ends every lane at once, each sink within its own bound: a sink
// that writes to a reader gives up `grace` after close() began (the command
// line passes 2 s); hooks and the webhook keep their own bounds (see
// event_sinks.hpp). So dlhost exits within the largest of those bounds.
//
// Threads: publish() from any thread; add_sink() before the first publish;
// close() once, from the thread that owns the bus. With no sink, publish()
// is a no-op.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
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

// How a sink reports a problem (one line, no credentials).
using NoticeFn = std::function<void(const std::string &line)>;

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Its name in job.summary's "events_dropped" and in warnings.
  virtual const char *name() const { return "sink"; }
  // On the sink's lane thread, one event at a time, in publication order.
  // Must not call publish().
  virtual void deliver(const JobEvent &event) = 0;
  // After a burst of deliver() calls, when the queue is momentarily empty.
  virtual void flush() {}
  // From the thread closing the bus, while deliver() may be running on the
  // lane: blocking work (a write to a reader) must give up by `deadline`.
  virtual void closing(std::chrono::steady_clock::time_point deadline) { (void)deadline; }
  // On the lane thread, after the last event: finish what is queued, by
  // `deadline` or by the sink's own documented bound.
  virtual void close(std::chrono::steady_clock::time_point deadline) { (void)deadline; }
  // Events the sink itself could not deliver (not the lane's drops).
  virtual std::uint64_t dropped() const { return 0; }
};

class EventBus {
 public:
  static constexpr std::size_t kProgressBacklog = 4096;  // per sink
  static constexpr std::size_t kBacklog = 65536;         // per sink

  explicit EventBus(NoticeFn notice = {});
  ~EventBus();  // close(0) if still open
  EventBus(const EventBus &) = delete;
  EventBus &operator=(const EventBus &) = delete;

  void add_sink(std::shared_ptr<EventSink> sink);
  bool active() const { return !lanes_.empty(); }
  // Never waits for a sink.
  void publish(JobEvent event);
  // Delivers what each lane can, then closes every sink (see above).
  // Idempotent.
  void close(std::chrono::milliseconds grace);
  // Per sink, in the order they were added: (name, events it lost so far,
  // in its lane and in the sink itself).
  std::vector<std::pair<std::string, std::uint64_t>> dropped() const;

 private:
  struct Lane;
  NoticeFn notice_;
  std::vector<std::shared_ptr<Lane>> lanes_;
  std::mutex close_mutex_;
  bool closed_ = false;
};

// The stream carries at most 4 progress events a second per file: the
// caller keeps `last` with the file's state and publishes only when this
// says so (it then moves `last` to `now`).
inline constexpr std::chrono::milliseconds kProgressInterval{250};
bool progress_due(std::chrono::steady_clock::time_point &last,
                  std::chrono::steady_clock::time_point now);

}  // namespace dlhost
