// The job's event stream; see job.hpp and docs/EVENTS.md.
//
// Events are built from the job's own records (the task in `in_flight`, the
// manifest entry) under the job's lock and published after it is released:
// EventBus::publish() may wait when every sink is far behind, and the
// plugin's event thread must never wait while holding what the submitter
// needs. Each file's events come from one thread at a time (the plugin's
// event thread while it is in flight, the caller's thread before and when it
// is skipped), so their order in the stream is the order they happened.
//
// proxy.state is not something the plugin reports as an event: a thread of
// its own reads health() (which every plugin may have) and publishes each
// path whose state changed since the last look, and paths that vanished as
// "removed", so the stream works the same for any plugin.
#include <pthread.h>

#include <nlohmann/json.hpp>

#include "dlhost/util/redact.h"
#include "job_state.hpp"

namespace dlhost {
namespace {

std::string shown(std::string_view text) {
  return util::one_line(util::redact_urls(text));
}

JobEvent file_event(EventType type, const std::string &path, const std::string &url,
                    const std::string &group, std::uint64_t line, std::int64_t total) {
  JobEvent ev;
  ev.type = type;
  ev.path = path;
  ev.url = shown(url);
  ev.group = group;
  ev.line = line;
  ev.total = total;
  return ev;
}

}  // namespace

void Job::State::publish(JobEvent event) {
  if (options.events) options.events->publish(std::move(event));
}

JobEvent Job::State::entry_event(EventType type, const ManifestEntry &entry) const {
  return file_event(type, entry.path, entry.url, entry.group, entry.line, entry.size);
}

JobEvent Job::State::task_event_locked(EventType type, Task &task, const dlhost_event &e) {
  if (e.attempt > 0) task.attempt = e.attempt;
  if (e.http_status > 0) task.http_status = e.http_status;
  if (e.proxy_id && *e.proxy_id) task.proxy = shown(e.proxy_id);
  if (task.total < 0 && e.bytes_total > 0) task.total = static_cast<std::int64_t>(e.bytes_total);
  auto ev = file_event(type, task.key, task.url, task.group, task.line, task.total);
  ev.proxy = task.proxy;
  ev.bytes = e.bytes_done;
  ev.attempt = task.attempt;
  ev.http_status = task.http_status;
  if (type == EventType::kFileRetrying || type == EventType::kFileFailed) {
    ev.failure = failure_class(e.failure);
    if (e.message && *e.message) ev.message = shown(e.message);
  }
  if (type == EventType::kFileRetrying) ev.retry_in_ms = e.retry_delay_ms;
  if (type == EventType::kFileCompleted) {
    ev.sha256 = task.sha256;
    if (!ev.bytes) ev.bytes = e.bytes_total;
  }
  return ev;
}

void Job::State::publish_skip(const ManifestEntry &entry, const char *reason,
                              const std::string &message) {
  if (!streaming()) return;
  auto ev = entry_event(EventType::kFileSkipped, entry);
  ev.reason = reason;
  if (entry.size >= 0) ev.bytes = static_cast<std::uint64_t>(entry.size);
  ev.message = message;
  publish(std::move(ev));
}

void Job::State::publish_failure(const ManifestEntry &entry, const char *failure,
                                 const std::string &message) {
  if (!streaming()) return;
  auto ev = entry_event(EventType::kFileFailed, entry);
  ev.failure = failure;
  ev.message = shown(message);
  publish(std::move(ev));
}

void Job::State::publish_summary(const JobResult &result) {
  if (!streaming()) return;
  JobEvent ev;
  ev.type = EventType::kJobSummary;
  ev.summary = result.totals.counts.to_json();  // "files", "bytes"
  ev.summary["duplicates"] = result.duplicates;
  ev.summary["elapsed_s"] = result.totals.elapsed_s;
  ev.summary["interrupted"] = result.totals.interrupted;
  ev.summary["exit_code"] = result.exit_code;
  auto &dropped = ev.summary["events_dropped"] = nlohmann::ordered_json::object();
  for (const auto &[sink, n] : result.events_dropped) dropped[sink] = n;
  publish(std::move(ev));
}

// One look at health(): a proxy.state event for every path that is new, has
// changed state, or is gone.
void Job::State::watch_proxies_once() {
  const auto text = plugin_json(true);
  if (text.empty()) return;
  const auto health = nlohmann::json::parse(text, nullptr, false);
  if (!health.is_object() || !health.contains("proxies") || !health["proxies"].is_array()) return;
  std::unordered_map<std::string, std::string> now;
  for (const auto &p : health["proxies"]) {
    if (!p.is_object() || !p.contains("id") || !p["id"].is_string()) continue;
    const auto state = p.value("state", std::string("unknown"));
    now[shown(p["id"].get<std::string>())] = state;
  }
  const auto state_event = [](const std::string &id, const std::string &state,
                              const std::string *previous) {
    JobEvent ev;
    ev.type = EventType::kProxyState;
    ev.proxy = id;
    ev.state = state;
    if (previous) ev.previous = *previous;
    return ev;
  };
  for (const auto &[id, state] : now) {
    const auto it = proxy_states.find(id);
    if (it == proxy_states.end()) {
      publish(state_event(id, state, nullptr));
    } else if (it->second != state) {
      publish(state_event(id, state, &it->second));
    }
  }
  for (const auto &[id, state] : proxy_states) {
    if (!now.count(id)) publish(state_event(id, "removed", &state));
  }
  proxy_states = std::move(now);
}

void Job::State::start_proxy_watch() {
  if (!streaming()) return;
  watch_proxies_once();  // the paths as the job starts, before any file
  watch_thread = std::thread([this] {
    pthread_setname_np(pthread_self(), "dlhost-watch");
    std::unique_lock lock(watch_mutex);
    while (!watch_cv.wait_for(lock, options.proxy_watch_interval, [&] { return watch_stop; })) {
      lock.unlock();
      watch_proxies_once();
      lock.lock();
    }
  });
}

void Job::State::stop_proxy_watch() {
  if (!watch_thread.joinable()) return;
  {
    std::lock_guard lock(watch_mutex);
    watch_stop = true;
  }
  watch_cv.notify_all();
  watch_thread.join();
  watch_proxies_once();  // the last changes, before job.summary
}

}  // namespace dlhost
