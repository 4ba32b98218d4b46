// The job engine: a manifest in, files on disk, stats and an exit code out.
//
// For each manifest entry, in order, the job skips the lines the validating
// pass found to repeat an earlier one (same path and URL), files already
// complete at their destination (size and sha256 match; no request at all)
// and URLs in the skip cache; takes a lease on the rest, creates their parent directories
// and submits them to the plugin. Submission honours the plugin's
// back-pressure: on DLHOST_E_AGAIN the job sleeps on a condition variable that
// terminal events signal, so a million-line manifest never sits in memory.
//
// Threads (docs/ARCHITECTURE.md): the caller's thread feeds: reads the
// manifest, claims files from the coordinator, submits; the plugin's event
// thread only updates counters and hands each settled file to the recorder,
// because an event callback must return quickly and a coordinator may do
// network I/O; the recorder's thread records (completion records, skip
// marks, lease releases, in the Coordinator's order) and then acknowledges
// the work source's entries, in batches. A renew thread extends the leases
// of running transfers. No lock is ever held across a call into the plugin.
//
// A bad manifest or a plugin that cannot be created throws before anything is
// downloaded (exit status 2 in the CLI). A CoordinationError mid-run stops
// new submissions; running transfers finish; the result says so (status 1).
// interrupt() (from a signal-watching thread) stops submitting and lets
// running transfers finish for `interrupt_grace`; then, or at once after
// stop_now(), it cancels every task, waits a few seconds for the CANCELLED
// events and returns exit status 130; the plugin keeps `.part` files for a
// later resume.
// stats_now() and health_now() may be called from any thread while run()
// runs (the progress display and the status server do).
//
// Events (JobOptions::events): every manifest line ends in exactly one
// terminal event (file.completed, file.failed or file.skipped), published
// after the bookkeeping that makes it true; the plugin's reports become
// file.started/progress (at most 4 a second a file)/retrying; a thread polls
// the plugin's health() and publishes proxy.state for every change; the last
// event is job.summary. Publishing never holds the job's lock. See
// docs/EVENTS.md for the schema and job_stream.cpp for the mapping.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlhost/host/coordination.hpp"
#include "dlhost/host/events.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/progress.hpp"
#include "dlhost/host/stats.hpp"
#include "dlhost/host/work_source.hpp"

namespace dlhost {

enum ExitCode : int {
  kExitOk = 0,
  kExitSomeFailed = 1,
  kExitUsage = 2,
  kExitInterrupted = 130,
};

struct JobOptions {
  std::filesystem::path out_dir = "downloads";
  bool follow_symlinks = false;  // DOWNLOAD_FOLLOW_SYMLINKS: links to directories inside out_dir
  std::string plugin_config_json = "{}";
  std::chrono::seconds skip_cache_ttl{3600};
  std::chrono::milliseconds lease_ttl{60000};
  std::chrono::milliseconds cancel_grace{5000};  // how long to wait after cancel
  // After interrupt(): how long running transfers may still finish.
  std::chrono::milliseconds interrupt_grace{5000};
  // Manifest entries per coordinator batch; 0 = a quarter of the
  // outstanding window, at least 8 (a shared queue's entries wait in this
  // host until it has room, and no other host can have them meanwhile).
  std::size_t batch_size = 256;
  std::size_t max_failure_messages = 1000;  // kept for the final report
  ProgressMode progress = ProgressMode::kNone;
  bool verbose = false;
  std::optional<std::filesystem::path> stats_json;
  // Where the job's events go; null = nowhere. The caller owns closing it
  // (after run() returns: job.summary is then queued).
  std::shared_ptr<EventBus> events;
  // How often the plugin's health() is compared for proxy.state events.
  std::chrono::milliseconds proxy_watch_interval{500};
};

struct JobResult {
  int exit_code = kExitOk;
  RunTotals totals;
  std::uint64_t duplicates = 0;
  // "path: message", one per failed file (at most max_failure_messages).
  std::vector<std::string> failures;
  std::uint64_t failures_not_kept = 0;
  // Set when the coordinator failed mid-run (exit status 1).
  std::string coordination_error;
  // Set when --stats-json could not be written.
  std::string stats_write_error;
  nlohmann::ordered_json stats;
  // Per event sink (events, hooks, webhook): the events it lost because it
  // could not keep up, as of the end of the job. Empty with no sink.
  std::vector<std::pair<std::string, std::uint64_t>> events_dropped;
};

class Job {
 public:
  Job(JobOptions options, std::shared_ptr<LoadedPlugin> plugin,
      std::shared_ptr<Coordinator> coordinator);
  ~Job();
  Job(const Job &) = delete;
  Job &operator=(const Job &) = delete;

  // Runs the whole job. Throws ManifestError, PluginError or ConfigError
  // before anything is downloaded; afterwards, problems are per file.
  JobResult run(const ManifestSource &manifest);
  // The same for any source of files (worker mode: a Redis Stream). The
  // source must outlive the call.
  JobResult run(WorkSource &source);
  // Thread-safe; not async-signal-safe (call it from a thread that waits for
  // signals, not from a signal handler).
  void interrupt();
  // The same with its own grace instead of interrupt_grace (the service's
  // shutdownOrchestrator {grace_ms}).
  void interrupt(std::chrono::milliseconds grace);
  // Cancels the file at `path` if it is with the plugin now: it ends as
  // file.failed with failure "cancelled", counted as cancelled, its .part
  // kept. False when no such file is in flight (thread-safe).
  bool cancel(const std::string &path);
  // A second interrupt: cancel running transfers now (thread-safe).
  void stop_now();
  // The stats document as --stats-json would write it now (thread-safe).
  nlohmann::ordered_json stats_now();
  // The plugin's health() JSON now; empty when it has none (thread-safe).
  std::string health_now();
  // Prints a line on stderr without garbling the progress display (thread-safe).
  void notice(std::string_view line);
  // Replaces the running plugin's proxies (PROXY_LIST JSON text) through its
  // "dlhost.proxies/1" extension (thread-safe). DLHOST_E_UNSUPPORTED with
  // "... cannot change proxies while running" when the plugin lacks it, or
  // when no instance runs; any failure leaves the old list in force.
  dlhost_status set_proxies(const std::string &proxy_list_json, std::string &error);
  // Waits until run() has started the plugin (true), at most `timeout`
  // (thread-safe). A service that listens before its job runs asks this
  // before changing proxies.
  bool wait_running(std::chrono::milliseconds timeout);
  // A line of a streamed manifest that could not be read (`dlhost run
  // --follow`): counted as failed, kept for the report, and published as
  // file.failed with failure "manifest" (thread-safe).
  void report_bad_line(std::uint64_t line, const std::string &message);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Files submitted to the plugin and not yet finished, at most: a few times
// what the plugin transfers at once (its "dlhost.capacity/1"), so it never
// runs dry while the host refills. Leases are taken just before submission,
// so this is also how many leases a host holds: alone, at least 64 (cheap,
// and a plugin may run more than it says); sharing a job (`shared`: the
// coordinator shares state), 4x and at least 8, as every file beyond what
// runs is leased but idle while another host could be downloading it.
std::size_t outstanding_window(std::uint32_t running_capacity, bool shared);

// The one-line summary printed at the end of `dlhost run`.
std::string summary_line(const JobResult &result);

}  // namespace dlhost
