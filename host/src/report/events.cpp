// The event stream's schema and its bus; see dlhost/host/events.hpp.
//
// A lane's thread takes its whole queue at once and delivers it outside the
// lock, so publishers wait only for a push, and a sink's flush() (the NDJSON
// writer's write) runs once per burst rather than once per event.
#include "dlhost/host/events.hpp"

#include <pthread.h>

namespace dlhost {
namespace {

using Json = nlohmann::ordered_json;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Json text_or_null(const std::string &s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

template <class N>
Json number_or_null(N n, bool present) {
  return present ? Json(n) : Json(nullptr);
}

void add_file_fields(Json &j, const JobEvent &e) {
  j["path"] = text_or_null(e.path);  // null only for a manifest line that could not be read
  j["url"] = text_or_null(e.url);
  j["group"] = text_or_null(e.group);
  if (e.line) j["line"] = e.line;
  if (!e.id.empty()) j["id"] = e.id;
  j["proxy"] = text_or_null(e.proxy);
  j["bytes"] = e.bytes;
  j["total"] = number_or_null(e.total, e.total >= 0);
  j["attempt"] = number_or_null(e.attempt, e.attempt > 0);
  j["http_status"] = number_or_null(e.http_status, e.http_status > 0);
  j["failure"] = text_or_null(e.failure);
  j["message"] = text_or_null(e.message);
}

void add_type_fields(Json &j, const JobEvent &e) {
  switch (e.type) {
    case EventType::kFileRetrying:
      j["retry_in_ms"] = number_or_null(e.retry_in_ms, e.retry_in_ms >= 0);
      break;
    case EventType::kFileCompleted:
      j["sha256"] = text_or_null(e.sha256);
      break;
    case EventType::kFileSkipped:
      j["reason"] = text_or_null(e.reason);
      break;
    default:
      break;
  }
}

}  // namespace

const char *event_type_name(EventType type) {
  switch (type) {
    case EventType::kFileStarted:
      return "file.started";
    case EventType::kFileProgress:
      return "file.progress";
    case EventType::kFileRetrying:
      return "file.retrying";
    case EventType::kFileCompleted:
      return "file.completed";
    case EventType::kFileFailed:
      return "file.failed";
    case EventType::kFileSkipped:
      return "file.skipped";
    case EventType::kProxyState:
      return "proxy.state";
    case EventType::kJobSummary:
      return "job.summary";
  }
  return "unknown";
}

bool is_file_terminal(EventType type) {
  return type == EventType::kFileCompleted || type == EventType::kFileFailed ||
         type == EventType::kFileSkipped;
}

Json to_json(const JobEvent &e) {
  Json j;
  j["v"] = kEventSchemaVersion;
  j["type"] = event_type_name(e.type);
  j["ts"] = e.ts;
  switch (e.type) {
    case EventType::kProxyState:
      j["proxy"] = e.proxy;
      j["state"] = e.state;
      j["previous"] = text_or_null(e.previous);
      j["message"] = text_or_null(e.message);
      break;
    case EventType::kJobSummary:
      for (const auto &[key, value] : e.summary.items()) j[key] = value;
      break;
    default:
      add_file_fields(j, e);
      add_type_fields(j, e);
  }
  return j;
}

std::string to_json_line(const JobEvent &e) {
  // Invalid UTF-8 from a manifest or a server must not make the line
  // unreadable: replace it rather than throw.
  std::string line = to_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  return line;
}

bool progress_due(std::chrono::steady_clock::time_point &last,
                  std::chrono::steady_clock::time_point now) {
  if (last != std::chrono::steady_clock::time_point{} && now - last < kProgressInterval)
    return false;
  last = now;
  return true;
}

// One sink's queue and thread.
struct EventBus::Lane {
  std::shared_ptr<EventSink> sink;
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<JobEvent> queue;
  std::size_t progress_queued = 0;
  std::uint64_t dropped = 0;
  bool closing = false;
  std::chrono::steady_clock::time_point deadline{};
  std::thread thread;

  // True when this push dropped an event for the first time (warn once).
  bool push(JobEvent &&event);
  void run();
};

bool EventBus::Lane::push(JobEvent &&event) {
  std::lock_guard lock(mutex);
  if (closing) return false;  // close() comes after the last publish
  const std::uint64_t before = dropped;
  const bool progress = event.type == EventType::kFileProgress;
  if (progress && progress_queued >= kProgressBacklog) {
    ++dropped;
    return before == 0;
  }
  if (queue.size() >= kBacklog) {
    if (queue.front().type == EventType::kFileProgress) --progress_queued;
    queue.pop_front();
    ++dropped;
  }
  progress_queued += progress ? 1 : 0;
  queue.push_back(std::move(event));
  if (queue.size() == 1) ready.notify_one();
  return before == 0 && dropped > 0;
}

void EventBus::Lane::run() {
  pthread_setname_np(pthread_self(), "dlhost-events");
  std::deque<JobEvent> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex);
      ready.wait(lock, [&] { return !queue.empty() || closing; });
      if (queue.empty()) break;  // closing, and everything delivered
      batch.swap(queue);
      progress_queued = 0;
    }
    for (const auto &event : batch) sink->deliver(event);
    sink->flush();
    batch.clear();
  }
  std::chrono::steady_clock::time_point until;
  {
    std::lock_guard lock(mutex);
    until = deadline;
  }
  sink->close(until);
}

EventBus::EventBus(NoticeFn notice) : notice_(std::move(notice)) {}

EventBus::~EventBus() {
  close(std::chrono::milliseconds(0));
}

void EventBus::add_sink(std::shared_ptr<EventSink> sink) {
  auto lane = std::make_shared<Lane>();
  lane->sink = std::move(sink);
  lane->thread = std::thread([lane] { lane->run(); });
  lanes_.push_back(std::move(lane));
}

void EventBus::publish(JobEvent event) {
  if (lanes_.empty()) return;
  if (event.ts == 0) event.ts = unix_now();
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const bool first_drop =
        lanes_[i]->push(i + 1 < lanes_.size() ? JobEvent(event) : std::move(event));
    if (first_drop && notice_)
      notice_(std::string("dlhost: warning: events: ") + lanes_[i]->sink->name() +
              " cannot keep up; its oldest events are dropped (counted in job.summary's "
              "events_dropped); the job goes on");
  }
}

void EventBus::close(std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  {
    std::lock_guard lock(close_mutex_);
    if (closed_) return;
    closed_ = true;
  }
  for (const auto &lane : lanes_) {
    {
      std::lock_guard lock(lane->mutex);
      lane->closing = true;
      lane->deadline = deadline;
    }
    lane->ready.notify_all();
    lane->sink->closing(deadline);
  }
  for (const auto &lane : lanes_)
    if (lane->thread.joinable()) lane->thread.join();
}

std::vector<std::pair<std::string, std::uint64_t>> EventBus::dropped() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto &lane : lanes_) {
    std::uint64_t n = 0;
    {
      std::lock_guard lock(lane->mutex);
      n = lane->dropped;
    }
    out.emplace_back(lane->sink->name(), n + lane->sink->dropped());
  }
  return out;
}

}  // namespace dlhost
