// The instance under test and its event recorder; see conformance_subject.hpp.
#include "conformance_subject.hpp"

#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

namespace dlhost::conformance {
namespace {

// Set while this thread is inside a call into the plugin: an event arriving
// on the same thread then was delivered from inside the call.
thread_local bool tl_in_plugin_call = false;

bool is_terminal(dlhost_event_type t) {
  return t == DLHOST_EVENT_COMPLETED || t == DLHOST_EVENT_FAILED || t == DLHOST_EVENT_CANCELLED;
}

const char *event_name(dlhost_event_type t) {
  static const char *names[] = {"?",         "STARTED", "PROGRESS",  "RETRYING",
                                "COMPLETED", "FAILED",  "CANCELLED", "LOG"};
  return t >= 1 && t <= 7 ? names[t] : "unknown";
}

struct CallScope {
  CallScope() { tl_in_plugin_call = true; }
  ~CallScope() { tl_in_plugin_call = false; }
};

}  // namespace

// --- Recorder -----------------------------------------------------------------

void Recorder::on_event(void *user, const dlhost_event *e) {
  auto &r = *static_cast<Recorder *>(user);
  std::lock_guard lock(r.mutex_);
  const std::string what = std::string(event_name(e->type)) + " for task " +
                           std::to_string(e->task_id);
  if (++r.in_callback_ > 1) r.note("two callbacks ran at once (" + what + ")");
  if (tl_in_plugin_call) r.note(what + " was delivered from inside a call into the plugin");
  if (r.destroyed_) r.note(what + " was delivered after destroy() returned");
  if (!r.started_) r.note(what + " was delivered before start()");
  if (e->type != DLHOST_EVENT_LOG && !r.accepted_.count(e->task_id))
    r.note(what + ": no such task was accepted");
  auto &t = r.tasks_[e->task_id];
  t.events.push_back(e->type);
  if (is_terminal(e->type)) {
    if (++t.terminals == 2) r.note("task " + std::to_string(e->task_id) +
                                   ": a second terminal event (" + event_name(e->type) + ")");
    t.last_terminal = e->type;
    t.failure = e->failure;
    t.http_status = e->http_status;
    t.message = e->message ? e->message : "";
    if (e->type == DLHOST_EVENT_FAILED && !e->message)
      r.note("task " + std::to_string(e->task_id) + ": FAILED without a message");
    r.terminals_++;
  }
  r.in_callback_--;
  r.cv_.notify_all();
}

void Recorder::note(const std::string &problem) {
  if (problems_.size() < 20) problems_.push_back(problem);
}

void Recorder::accepted(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  accepted_.insert(id);
}

void Recorder::rejected(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  accepted_.erase(id);
}

bool Recorder::wait_terminal(const std::vector<std::uint64_t> &ids,
                             std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    for (auto id : ids) {
      auto it = tasks_.find(id);
      if (it == tasks_.end() || it->second.terminals == 0) return false;
    }
    return true;
  });
}

bool Recorder::wait_terminal_count(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return terminals_ >= n; });
}

bool Recorder::wait_event(std::uint64_t id, dlhost_event_type type,
                          std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return false;
    for (auto t : it->second.events)
      if (t == type) return true;
    return false;
  });
}

TaskRecord Recorder::task(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(id);
  return it == tasks_.end() ? TaskRecord{} : it->second;
}

std::size_t Recorder::terminal_total() {
  std::lock_guard lock(mutex_);
  return terminals_;
}

std::vector<std::string> Recorder::problems(bool every_task_must_end) {
  std::lock_guard lock(mutex_);
  auto out = problems_;
  for (auto id : accepted_) {
    auto it = tasks_.find(id);
    const int n = it == tasks_.end() ? 0 : it->second.terminals;
    if (n > 1 || (n == 0 && every_task_must_end))
      out.push_back("task " + std::to_string(id) + ": " + std::to_string(n) +
                    " terminal events, expected exactly 1");
  }
  return out;
}

// --- Subject ------------------------------------------------------------------

template <class F>
dlhost_status Subject::call(const char *what, F &&f) {
  CallScope scope;
  try {
    return f();
  } catch (const std::exception &e) {
    std::lock_guard lock(exceptions_mutex_);
    exceptions_.push_back(std::string(what) + "() threw: " + e.what());
  } catch (...) {
    std::lock_guard lock(exceptions_mutex_);
    exceptions_.push_back(std::string(what) + "() threw a non-std exception");
  }
  return kThrew;
}

Subject::~Subject() {
  if (inst_) destroy(std::chrono::seconds(30));
}

dlhost_status Subject::create(const std::string &config_json, std::string &error) {
  dlhost_create_params params{};
  params.struct_size = sizeof params;
  params.config_json = config_json.c_str();
  params.on_event = &Recorder::on_event;
  params.user = &recorder_;
  char errbuf[1024] = {};
  const auto st = call("create", [&] { return d_.create(&params, &inst_, errbuf, sizeof errbuf); });
  errbuf[sizeof errbuf - 1] = '\0';
  error = errbuf;
  if (st != DLHOST_OK) inst_ = nullptr;
  return st;
}

dlhost_status Subject::submit(std::uint64_t id, const std::string &url, const std::string &dest,
                              const std::string &sha256, std::int64_t size, std::string &error) {
  dlhost_task task{};
  task.struct_size = sizeof task;
  task.id = id;
  task.url = url.c_str();
  task.dest_path = dest.c_str();
  task.group = "conformance";
  task.sha256 = sha256.empty() ? nullptr : sha256.c_str();
  task.size = size;
  char errbuf[512] = {};
  // Accepted before the call returns: an event may race the return.
  recorder_.accepted(id);
  const auto st = call("submit", [&] { return d_.submit(inst_, &task, errbuf, sizeof errbuf); });
  if (st != DLHOST_OK) recorder_.rejected(id);
  errbuf[sizeof errbuf - 1] = '\0';
  error = errbuf;
  return st;
}

dlhost_status Subject::start() {
  recorder_.started();
  return call("start", [&] { return d_.start(inst_); });
}

dlhost_status Subject::cancel(std::uint64_t id) {
  return call("cancel", [&] { return d_.cancel(inst_, id); });
}

dlhost_status Subject::wait(std::int32_t timeout_ms) {
  return call("wait", [&] { return d_.wait(inst_, timeout_ms); });
}

dlhost_status Subject::sink_call(const char *what,
                                 dlhost_status (*fn)(dlhost_instance *, const dlhost_sink *),
                                 std::string &json) {
  json.clear();
  if (!fn) return DLHOST_E_UNSUPPORTED;
  dlhost_sink sink{};
  sink.struct_size = sizeof sink;
  sink.user = &json;
  sink.write = [](void *user, const char *data, size_t len) {
    static_cast<std::string *>(user)->append(data, len);
  };
  return call(what, [&] { return fn(inst_, &sink); });
}

dlhost_status Subject::stats(std::string &json) {
  return sink_call("stats", d_.stats, json);
}

dlhost_status Subject::health(std::string &json) {
  return sink_call("health", d_.health, json);
}

bool Subject::destroy(std::chrono::milliseconds timeout) {
  auto *inst = inst_;
  inst_ = nullptr;
  if (!inst) return true;
  auto done = std::make_shared<std::promise<void>>();
  auto returned = done->get_future();
  std::thread([this, inst, done] {
    call("destroy", [&] {
      d_.destroy(inst);
      return DLHOST_OK;
    });
    done->set_value();
  }).detach();
  if (returned.wait_for(timeout) != std::future_status::ready) return false;
  recorder_.destroyed();
  return true;
}

}  // namespace dlhost::conformance
