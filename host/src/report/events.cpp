// The event stream's schema and its bus; see dlhost/host/events.hpp.
//
// The bus thread takes the whole queue at once and delivers it outside the
// lock, so publishers wait only for a push, and a sink's flush() (the NDJSON
// writer's fflush) runs once per burst rather than once per event.
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

EventBus::~EventBus() {
  close(std::chrono::milliseconds(0));
}

void EventBus::add_sink(std::shared_ptr<EventSink> sink) {
  sinks_.push_back(std::move(sink));
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void EventBus::publish(JobEvent event) {
  if (sinks_.empty()) return;
  if (event.ts == 0) event.ts = unix_now();
  std::unique_lock lock(mutex_);
  if (closing_) return;  // close() comes after the last publish
  if (event.type == EventType::kFileProgress && queue_.size() >= kProgressBacklog) {
    ++dropped_;
    return;
  }
  room_.wait(lock, [&] { return queue_.size() < kBacklog || closed_; });
  queue_.push_back(std::move(event));
  if (queue_.size() == 1) ready_.notify_one();
}

void EventBus::run() {
  pthread_setname_np(pthread_self(), "dlhost-events");
  std::deque<JobEvent> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing, and everything delivered
      batch.swap(queue_);
      room_.notify_all();
    }
    for (const auto &event : batch)
      for (const auto &sink : sinks_) sink->deliver(event);
    for (const auto &sink : sinks_) sink->flush();
    batch.clear();
  }
}

void EventBus::close(std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closing_ = true;
  }
  ready_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  room_.notify_all();
  for (const auto &sink : sinks_) sink->close(deadline);
}

std::uint64_t EventBus::dropped_progress() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace dlhost
