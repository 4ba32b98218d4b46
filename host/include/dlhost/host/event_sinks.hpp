// Where the event stream goes (see events.hpp for the stream itself):
//
//  - NdjsonSink: `--events FILE` (or `-`, stdout), one JSON object a line,
//    flushed after every burst so a reader sees events as they happen.
//  - CommandHooks: `--on-file-done CMD` for every file that settles
//    (completed, failed, skipped) and `--on-job-done CMD` once at the end.
//    CMD is split into words like a shell would (quotes, backslashes) but
//    run with no shell: nothing is expanded, and the details come in
//    DLHOST_* environment variables. At most DOWNLOAD_HOOK_CONCURRENCY hooks
//    run at once, each for at most DOWNLOAD_HOOK_TIMEOUT (then its process
//    group is killed). A hook's stdout goes to dlhost's stderr, so
//    `--events -` stays clean.
//  - WebhookSink: DOWNLOAD_WEBHOOK_URL receives the job summary, and with
//    DOWNLOAD_WEBHOOK_EVENTS=1 every file event but progress, and proxy
//    state changes, as JSON POSTs: a body is a JSON array of events in the
//    stream's schema, up to 100 per POST, sent at least once a second. A
//    POST that fails (no answer, 5xx, 429) is retried after 1, 2, then 4 s;
//    then its events are dropped and the failure reported.
//
// None of them can fail, slow down or lose a file: they run on their own
// threads, every wait is bounded, and what they cannot do is reported once
// through the notice callback (a line on stderr) and counted. When hooks or
// webhooks fall behind by more than a bounded backlog, the oldest work is
// dropped and counted rather than growing memory. close() gives each of
// them until the deadline (plus one DOWNLOAD_HOOK_TIMEOUT for the job hook
// and the summary POST), so a hanging hook delays the end of the job by at
// most its bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dlhost/host/events.hpp"

namespace dlhost {

// How a sink reports a problem (one line, no credentials).
using NoticeFn = std::function<void(const std::string &line)>;

class NdjsonSink final : public EventSink {
 public:
  // `target` is a file name, or "-" for stdout. Throws ConfigError when the
  // file cannot be created.
  NdjsonSink(const std::string &target, NoticeFn notice);
  ~NdjsonSink() override;
  void deliver(const JobEvent &event) override;
  void flush() override;
  void close(std::chrono::steady_clock::time_point deadline) override;

 private:
  void give_up(int err);

  std::string name_;
  std::FILE *file_ = nullptr;
  bool owned_ = false;
  bool broken_ = false;
  NoticeFn notice_;
};

// CMD as words: 'single' and "double" quotes and backslash escapes as in a
// POSIX shell, nothing else (no variables, globs or redirections). Throws
// ConfigError naming `setting` for an empty command or an open quote.
std::vector<std::string> split_command(std::string_view text, const std::string &setting);

struct HookOptions {
  std::vector<std::string> on_file_done;  // argv; empty = no hook
  std::vector<std::string> on_job_done;
  std::string out_dir;                       // DLHOST_OUT_DIR
  int concurrency = 4;                       // DOWNLOAD_HOOK_CONCURRENCY (>= 1)
  std::chrono::milliseconds timeout{30000};  // DOWNLOAD_HOOK_TIMEOUT
};

class CommandHooks final : public EventSink {
 public:
  static constexpr std::size_t kBacklog = 4096;  // file hooks waiting to run

  CommandHooks(HookOptions options, NoticeFn notice);
  ~CommandHooks() override;  // close() now if not closed
  void deliver(const JobEvent &event) override;
  void close(std::chrono::steady_clock::time_point deadline) override;

  struct Counts {
    std::uint64_t ran = 0, failed = 0, timed_out = 0, dropped = 0;
  };
  Counts counts() const;

 private:
  struct Run {
    const std::vector<std::string> *argv;
    std::vector<std::string> env;  // DLHOST_*=...
    std::string what;              // "--on-file-done for p1/a.jpg"
  };
  void worker();
  void run_one(const Run &run);
  void kill_running();

  HookOptions options_;
  NoticeFn notice_;
  mutable std::mutex mutex_;
  std::condition_variable work_, idle_;
  std::deque<Run> queue_;
  std::vector<int> running_pids_;
  int busy_ = 0;
  bool stop_ = false;
  bool closed_ = false;
  Counts counts_;
  std::vector<std::string> job_env_;  // from job.summary
  bool job_done_ = false;
  std::vector<std::thread> workers_;
};

struct WebhookOptions {
  std::string url;                           // DOWNLOAD_WEBHOOK_URL
  bool file_events = false;                  // DOWNLOAD_WEBHOOK_EVENTS
  std::string ca_bundle;                     // DOWNLOAD_CA_BUNDLE
  std::chrono::milliseconds timeout{30000};  // DOWNLOAD_HOOK_TIMEOUT: one POST
  // Retry delays; tests shorten them.
  std::vector<std::chrono::milliseconds> retry_delays{
      std::chrono::seconds(1), std::chrono::seconds(2), std::chrono::seconds(4)};
};

class WebhookSink final : public EventSink {
 public:
  static constexpr std::size_t kBatch = 100;
  static constexpr std::size_t kBacklog = 100000;  // events waiting to be sent

  WebhookSink(WebhookOptions options, NoticeFn notice);
  ~WebhookSink() override;
  void deliver(const JobEvent &event) override;
  void close(std::chrono::steady_clock::time_point deadline) override;

  struct Counts {
    std::uint64_t posted = 0, failed_posts = 0, dropped_events = 0;
  };
  Counts counts() const;

 private:
  void run();
  enum class PostResult { kOk, kRetry, kGiveUp };
  bool post_with_retries(const std::string &body, std::chrono::steady_clock::time_point deadline);
  PostResult post_once(const std::string &body, std::string &why);

  WebhookOptions options_;
  std::string shown_url_;  // without credentials
  NoticeFn notice_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;  // event objects as JSON text
  bool summary_queued_ = false;
  bool stop_ = false;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  Counts counts_;
  bool reported_failure_ = false;
  struct EasyDeleter {
    void operator()(void *easy) const;
  };
  std::unique_ptr<void, EasyDeleter> curl_;  // a CURL easy handle, this sink's thread only
  std::thread thread_;
};

}  // namespace dlhost
