// One plugin instance under test, and the recorder of everything it does.
//
// Subject calls the plugin's functions directly (not through PluginInstance)
// so the checks see raw status codes and errbuf contents; every call is
// wrapped so that an escaping C++ exception becomes a recorded violation
// instead of ending the suite. The Recorder is the event callback: it counts
// terminal events per task and notes every breach of the header's rules it
// can observe from the outside — an event before start(), for a task that
// was never accepted, delivered while another callback of the instance runs,
// delivered from inside a call into the plugin on the same thread, or after
// destroy() returned.
#pragma once

#include <dlhost/plugin.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace dlhost::conformance {

struct TaskRecord {
  std::vector<dlhost_event_type> events;
  int terminals = 0;
  dlhost_event_type last_terminal = 0;
  dlhost_failure failure = DLHOST_FAILURE_NONE;
  int http_status = 0;
  std::string message;
};

class Recorder {
 public:
  static void on_event(void *user, const dlhost_event *event);

  void accepted(std::uint64_t id);
  void rejected(std::uint64_t id);  // submit() did not take it after all
  void started() { std::lock_guard l(mutex_); started_ = true; }
  void destroyed() { std::lock_guard l(mutex_); destroyed_ = true; }

  // Waits until every id in `ids` has a terminal event; false on timeout.
  bool wait_terminal(const std::vector<std::uint64_t> &ids, std::chrono::milliseconds timeout);
  // Waits until `n` terminal events in total have arrived.
  bool wait_terminal_count(std::size_t n, std::chrono::milliseconds timeout);
  bool wait_event(std::uint64_t id, dlhost_event_type type, std::chrono::milliseconds timeout);
  TaskRecord task(std::uint64_t id);
  std::size_t terminal_total();
  // Violations seen so far, one line each, plus "task N: K terminal events"
  // for every accepted task with more than one (or none, when
  // every_task_must_end).
  std::vector<std::string> problems(bool every_task_must_end = true);

 private:
  void note(const std::string &problem);
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::uint64_t, TaskRecord> tasks_;
  std::set<std::uint64_t> accepted_;
  std::vector<std::string> problems_;
  std::size_t terminals_ = 0;
  int in_callback_ = 0;
  bool started_ = false, destroyed_ = false;
};

// A status no plugin returns: the call threw a C++ exception.
constexpr dlhost_status kThrew = -100000;

class Subject {
 public:
  Subject(const dlhost_plugin_descriptor &d, Recorder &recorder)
      : d_(d), recorder_(recorder) {}
  ~Subject();  // destroy() if still alive
  Subject(const Subject &) = delete;
  Subject &operator=(const Subject &) = delete;

  dlhost_status create(const std::string &config_json, std::string &error);
  dlhost_status submit(std::uint64_t id, const std::string &url, const std::string &dest,
                       const std::string &sha256, std::int64_t size, std::string &error);
  dlhost_status start();
  dlhost_status cancel(std::uint64_t id);
  dlhost_status wait(std::int32_t timeout_ms);
  // stats()/health() text; status UNSUPPORTED when the plugin has none.
  dlhost_status stats(std::string &json);
  dlhost_status health(std::string &json);
  // destroy(); false if it did not return within `timeout` (the suite then
  // cannot go on safely).
  bool destroy(std::chrono::milliseconds timeout);
  bool alive() const { return inst_ != nullptr; }
  const std::vector<std::string> &exceptions() const { return exceptions_; }

 private:
  template <class F>
  dlhost_status call(const char *what, F &&f);
  dlhost_status sink_call(const char *what,
                          dlhost_status (*fn)(dlhost_instance *, const dlhost_sink *),
                          std::string &json);
  const dlhost_plugin_descriptor &d_;
  Recorder &recorder_;
  dlhost_instance *inst_ = nullptr;
  std::mutex exceptions_mutex_;
  std::vector<std::string> exceptions_;
};

}  // namespace dlhost::conformance
