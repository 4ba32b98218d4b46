// The commands of the `dlhost` command line, one file each. Each returns an
// exit status: 0 all done or present, 1 some file failed, 2 usage,
// configuration, manifest or plugin error (nothing downloaded), 130
// interrupted.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "dlhost/host/coordination.hpp"
#include "dlhost/host/event_sinks.hpp"
#include "dlhost/host/job.hpp"
#include "dlhost/host/redis_connection.hpp"
#include "dlhost/host/settings.hpp"
#include "dlhost/util/text.h"

namespace dlhost::cli {

namespace fs = std::filesystem;

// Options shared by `run` and `work`.
struct JobArgs {
  std::string plugin;
  std::string out;
  std::string env_file;
  std::string stats_json;
  std::string progress = "auto";
  bool verbose = false;
  std::string job;                        // --job (enqueue, work): overrides DOWNLOAD_JOB
  std::string manifest;                   // run, enqueue
  std::string status;                     // --status HOST:PORT (run, work)
  std::string events;                     // --events FILE|- (run, work)
  bool follow = false;                    // --follow (run): read the manifest as it grows
  double follow_idle_s = 0;               // --follow-idle (run): end after this quiet; 0 = never
  std::string on_file_done, on_job_done;  // flags over DOWNLOAD_ON_FILE_DONE / _JOB_DONE
};

// `dlhost compare`.
struct CompareArgs {
  std::string a, b;
  std::string out = "compare";
  std::string env_file;
  std::string progress = "auto";
  bool verbose = false;
  std::string manifest;
};

int run_command(const JobArgs &args);
int enqueue_command(const JobArgs &args);
int work_command(const JobArgs &args);
int plugins_command();
int compare_command(const CompareArgs &args);                        // compare_command.cpp
int check_config_command(const JobArgs &args);                       // check_config_command.cpp
int conformance_command(const std::string &plugin, int patience_s);  // conformance_command.cpp

// `dlhost serve`.
struct ServeArgs {
  JobArgs job;  // --plugin, --out, --env-file, --events, --stats-json, ...
  std::string listen = "127.0.0.1:6801";
  std::string token_file;  // --token-file; required beyond loopback
};
int serve_command(const ServeArgs &args);  // serve_command.cpp

// --- shared by the commands (job_setup.cpp) ---------------------------------

// Every string a command prints that came from a manifest, a server, a
// plugin or a setting goes through this: control characters become visible
// \xNN text (util::printable), so none of them reaches the terminal raw.
using util::printable;

int fail_usage(const std::string &message);
// Settings from flags (--out, --plugin, --job), environment, .env, defaults.
Settings resolve_settings(const JobArgs &args);
// JobOptions from settings and flags; throws ConfigError.
JobOptions job_options(const Settings &settings, const JobArgs &args);
// REDIS_URL parsed; throws ConfigError naming REDIS_URL.
RedisAddress parse_redis_setting(const Settings &settings);
// Runs a job under the signal watcher (SIGINT/SIGTERM interrupt it, SIGHUP
// re-reads PROXY_LIST and hands the change to the running plugin) and the
// status server when --status is set, prints its report, then closes the
// event bus (hooks and webhooks get their bounded time to finish).
// `settings` are those the job was made from: SIGHUP compares against their
// PROXY_LIST.
int run_job(Job &job, const JobOptions &options, const JobArgs &args, const Settings &settings,
            const std::function<JobResult(Job &)> &body);

// --- the event stream's sinks (event_setup.cpp) -----------------------------

// Where sinks report their troubles: through the job once it exists (so the
// progress display is not garbled), on stderr before. Thread-safe.
class JobNotices {
 public:
  void attach(Job *job);
  void operator()(const std::string &line);
  NoticeFn fn() {
    return [this](const std::string &line) { (*this)(line); };
  }

 private:
  std::mutex mutex_;
  Job *job_ = nullptr;
};

struct EventSetup {
  std::string events_file;  // --events; empty = none
  HookOptions hooks;
  WebhookOptions webhook;
  bool any() const;
};
// The event settings read and checked; throws ConfigError naming the setting.
EventSetup event_setup(const Settings &settings, const JobArgs &args);
// The bus with its sinks, or null when no sink is wanted. Throws ConfigError
// when the --events file cannot be created.
std::shared_ptr<EventBus> open_event_bus(const EventSetup &setup, NoticeFn notice);
// Failures, warnings and the summary line on stderr; `label` names the run
// ("a (legacy)") when there is more than one. With `failures_shown` (-v
// printed each one as it happened) the failures are not listed again.
void print_report(const JobResult &result, const std::string &label = {},
                  bool failures_shown = false);
// The --help footer: every setting with its default (settings_help.cpp).
std::string settings_help();
// The job's coordinator: in-process, or Redis with REDIS_URL (named by
// DOWNLOAD_JOB, else by `derived_job()`, which may throw ConfigError).
std::shared_ptr<Coordinator> make_coordinator(const Settings &settings,
                                              const std::function<std::string()> &derived_job,
                                              const fs::path &out_dir);
// Maps the exceptions that mean "nothing was downloaded" to exit status 2.
int guard_command(const std::function<int()> &command);

}  // namespace dlhost::cli
