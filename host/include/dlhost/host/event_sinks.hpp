// Where the event stream goes (see events.hpp for the stream itself):
//
//  - NdjsonSink: `--events FILE` (or `-`, stdout), one JSON object a line,
//    written after every burst so a reader sees events as they happen. A
//    reader that stops reading holds up only this sink's lane (events.hpp);
//    at the end it gets the bus's grace (2 s) to read what is left, then
//    the rest is dropped, counted and said once.
//  - CommandHooks: `--on-file-done CMD` for every file that settles
//    (completed, failed, skipped) and `--on-job-done CMD` once at the end.
//    CMD is split into words like a shell would (quotes, backslashes) but
//    run with no shell: nothing is expanded, and the details come in
//    DLHOST_* environment variables. At most DOWNLOAD_HOOK_CONCURRENCY hooks
//    run at once, each for at most DOWNLOAD_HOOK_TIMEOUT (then its process
//    group is killed). A hook's stdout and stderr go through a pipe dlhost
//    copies onto its stderr while the hook runs (so `--events -` stays
//    clean, and a child left in the background cannot hold stderr open).
//    At the end every queued file hook still runs, bounded in all by
//    DOWNLOAD_HOOK_DRAIN_TIMEOUT (0 = no limit); the job hook runs last.
//  - WebhookSink: DOWNLOAD_WEBHOOK_URL receives the job summary, and with
//    DOWNLOAD_WEBHOOK_EVENTS=1 every file event but progress, and proxy
//    state changes, as JSON POSTs: a body is a JSON array of events in the
//    stream's schema, up to 100 per POST, sent at least once a second. A
//    POST that fails (no answer, 5xx, 429) is retried after 1, 2, then 4 s;
//    then its events are dropped and the failure reported. When the job
//    ends, what is queued (the summary last) has one DOWNLOAD_HOOK_TIMEOUT
//    in all, retries and the POST in flight included.
//
// None of them can fail, slow down or lose a file: they run on their own
// threads, every wait is bounded, and what they cannot do is reported once
// through the notice callback (a line on stderr) and counted. When hooks or
// webhooks fall behind by more than a bounded backlog, work is dropped and
// counted (dropped(), in job.summary's events_dropped) rather than growing
// memory. Each close() keeps the bound documented above, so the end of the
// job waits at most: 2 s for a stalled reader, DOWNLOAD_HOOK_TIMEOUT for
// hooks already running (the queued ones as DOWNLOAD_HOOK_DRAIN_TIMEOUT
// allows), one DOWNLOAD_HOOK_TIMEOUT for the webhook; lanes close at once.
#pragma once

#include <sys/types.h>
#include <atomic>
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

class NdjsonSink final : public EventSink {
 public:
  // `target` is a file name, or "-" for stdout. Throws ConfigError when the
  // file cannot be created.
  NdjsonSink(const std::string &target, NoticeFn notice);
  ~NdjsonSink() override;
  const char *name() const override { return "events"; }
  void deliver(const JobEvent &event) override;
  void flush() override;
  void closing(std::chrono::steady_clock::time_point deadline) override;
  void close(std::chrono::steady_clock::time_point deadline) override;
  std::uint64_t dropped() const override { return dropped_; }

 private:
  bool write_out();
  void give_up(const std::string &why);

  std::string name_;
  int fd_ = -1;
  bool owned_ = false;
  bool pipe_like_ = false;  // a pipe, FIFO or socket: written a page at a time
  bool broken_ = false;
  std::string buffer_;                                // lines not written yet
  std::atomic<std::int64_t> deadline_ns_{INT64_MAX};  // steady clock; set by closing()
  std::atomic<std::uint64_t> dropped_{0};
  NoticeFn notice_;
};

// CMD as words: 'single' and "double" quotes and backslash escapes as in a
// POSIX shell, nothing else (no variables, globs or redirections). Throws
// ConfigError naming `setting` for an empty command or an open quote.
std::vector<std::string> split_command(std::string_view text, const std::string &setting);

struct HookOptions {
  std::vector<std::string> on_file_done;  // argv; empty = no hook
  std::vector<std::string> on_job_done;
  std::string out_dir;                         // DLHOST_OUT_DIR
  int concurrency = 4;                         // DOWNLOAD_HOOK_CONCURRENCY (>= 1)
  std::chrono::milliseconds timeout{30000};    // DOWNLOAD_HOOK_TIMEOUT
  std::chrono::milliseconds drain_timeout{0};  // DOWNLOAD_HOOK_DRAIN_TIMEOUT (0 = no limit)
};

class CommandHooks final : public EventSink {
 public:
  static constexpr std::size_t kBacklog = 65536;  // file hooks waiting to run

  CommandHooks(HookOptions options, NoticeFn notice);
  ~CommandHooks() override;  // close() now if not closed
  const char *name() const override { return "hooks"; }
  void deliver(const JobEvent &event) override;
  // Runs every queued file hook (bounded by DOWNLOAD_HOOK_DRAIN_TIMEOUT, not
  // by `deadline`), then the job hook.
  void close(std::chrono::steady_clock::time_point deadline) override;
  std::uint64_t dropped() const override { return counts().dropped; }

  struct Counts {
    std::uint64_t ran = 0, failed = 0, timed_out = 0, dropped = 0;
  };
  Counts counts() const;

 private:
  struct Run {
    const std::vector<std::string> *argv;
    std::vector<std::string> env;  // DLHOST_*=...
    std::string what;              // "--on-file-done for p1/a.jpg"
    std::string path;              // the file's, for "not run" lines
  };
  void worker();
  void run_one(const Run &run);
  std::string wait_for(pid_t pid, int output_fd);
  void kill_running();
  void not_run(const std::string &path);  // under mutex_
  void say_not_run();

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
  std::uint64_t past_backlog_ = 0, past_drain_ = 0;
  std::vector<std::string> not_run_;  // the first few paths whose hook did not run
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
  const char *name() const override { return "webhook"; }
  void deliver(const JobEvent &event) override;
  void close(std::chrono::steady_clock::time_point deadline) override;

  struct Counts {
    std::uint64_t posted = 0, failed_posts = 0, dropped_events = 0;
  };
  Counts counts() const;
  std::uint64_t dropped() const override { return counts().dropped_events; }

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
  std::atomic<std::int64_t> abort_at_ns_{INT64_MAX};  // steady ns; the progress callback's
  Counts counts_;
  bool reported_failure_ = false;
  struct EasyDeleter {
    void operator()(void *easy) const;
  };
  std::unique_ptr<void, EasyDeleter> curl_;  // a CURL easy handle, this sink's thread only
  std::thread thread_;
};

}  // namespace dlhost
