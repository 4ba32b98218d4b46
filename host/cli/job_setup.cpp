// What `run`, `work` and `compare` share: settings, job options, the signal
// watcher, the status server and the final report.
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/redact.hpp"
#include "dlhost/host/redis_connection.hpp"
#include "dlhost/host/redis_coordinator.hpp"
#include "dlhost/host/status_server.hpp"
#include "signals.hpp"

namespace dlhost::cli {

void print_report(const JobResult &result, const std::string &label, bool failures_shown) {
  const std::string prefix = label.empty() ? "dlhost: " : "dlhost: " + label + ": ";
  if (!failures_shown) {
    for (const auto &line : result.failures)
      std::fprintf(stderr, "failed: %s\n", printable(line).c_str());
  }
  if (result.failures_not_kept && !failures_shown) {
    std::fprintf(stderr, "failed: ... and %llu more\n",
                 static_cast<unsigned long long>(result.failures_not_kept));
  }
  if (!result.coordination_error.empty()) {
    std::fprintf(stderr, "dlhost: coordination lost, stopped handing out files: %s\n",
                 printable(result.coordination_error).c_str());
  }
  if (!result.stats_write_error.empty()) {
    std::fprintf(stderr, "dlhost: warning: %s\n", printable(result.stats_write_error).c_str());
  }
  std::fprintf(stderr, "%s%s\n", printable(prefix).c_str(), summary_line(result).c_str());
}

int fail_usage(const std::string &message) {
  std::fprintf(stderr, "dlhost: %s\n", printable(message).c_str());
  return kExitUsage;
}

Settings resolve_settings(const JobArgs &args) {
  std::map<std::string, std::string> flags;
  if (!args.out.empty()) flags["DOWNLOAD_DIR"] = args.out;
  if (!args.plugin.empty()) flags["DOWNLOADER_PLUGIN"] = args.plugin;
  if (!args.job.empty()) flags["DOWNLOAD_JOB"] = args.job;
  if (!args.on_file_done.empty()) flags["DOWNLOAD_ON_FILE_DONE"] = args.on_file_done;
  if (!args.on_job_done.empty()) flags["DOWNLOAD_ON_JOB_DONE"] = args.on_job_done;
  std::optional<fs::path> env_file;
  if (!args.env_file.empty()) env_file = args.env_file;
  return Settings::resolve_from_process(flags, env_file);
}

JobOptions job_options(const Settings &settings, const JobArgs &args) {
  JobOptions options;
  options.out_dir = settings.get("DOWNLOAD_DIR");
  options.follow_symlinks = settings.get_int("DOWNLOAD_FOLLOW_SYMLINKS") == 1;
  options.plugin_config_json = settings.plugin_config_json();
  options.skip_cache_ttl = std::chrono::seconds(settings.get_int("PROXY_SKIP_CACHE_TTL"));
  options.progress = *parse_progress_mode(args.progress);
  options.verbose = args.verbose;
  if (!args.stats_json.empty()) options.stats_json = args.stats_json;
  options.lease_ttl = std::chrono::milliseconds(settings.get_int("DOWNLOAD_LEASE_TTL"));
  options.interrupt_grace = std::chrono::milliseconds(settings.get_int("DOWNLOAD_INTERRUPT_GRACE"));
  if (options.lease_ttl < std::chrono::seconds(1))
    throw ConfigError("DOWNLOAD_LEASE_TTL: must be at least 1000 (ms)");
  event_setup(settings, args);  // hooks and webhook checked before anything runs
  return options;
}

RedisAddress parse_redis_setting(const Settings &settings) {
  try {
    return parse_redis_url(settings.get("REDIS_URL"));
  } catch (const std::invalid_argument &e) {
    throw ConfigError(e.what());
  }
}

namespace {

// How long an events reader that stopped reading gets, once the job ends,
// to read what is left; the hooks and the webhook keep their own bounds
// (event_sinks.hpp).
constexpr auto kEventsGrace = std::chrono::seconds(2);

// SIGHUP: PROXY_LIST resolved again (flags, environment, the same .env or
// --env-file) and, when it changed, handed to the running plugin. Anything
// wrong leaves the running list in force and says why, on one line.
class ProxyReloader {
 public:
  ProxyReloader(Job &job, const JobArgs &args, std::string running)
      : job_(job), args_(args), running_(std::move(running)) {}

  void operator()() {
    std::string list;
    SettingSource source = SettingSource::kDefault;
    try {
      const auto settings = resolve_settings(args_);
      list = settings.get("PROXY_LIST");
      source = settings.source("PROXY_LIST");
    } catch (const std::exception &e) {
      return say(std::string("settings not reloaded: ") + e.what() + keeps);
    }
    if (list == running_) return say(unchanged_because(source));
    std::string error;
    if (job_.set_proxies(list, error) != DLHOST_OK)
      return say("PROXY_LIST not applied: " + util::redact_urls(error) + keeps);
    running_ = list;
    say("PROXY_LIST applied: " + redact_setting("PROXY_LIST", list));
  }

 private:
  static constexpr const char *keeps = "; the old list stays in force";
  // Why a reload found the same list: where it comes from, and whether
  // that can change while dlhost runs.
  static std::string unchanged_because(SettingSource source) {
    const std::string from(to_string(source));
    if (source == SettingSource::kEnvironment || source == SettingSource::kFlag)
      return "PROXY_LIST unchanged: it is set in the " + from +
             ", which outranks .env and cannot change while dlhost runs; to change proxies "
             "live, set PROXY_LIST in .env (or --env-file), not in the " +
             from;
    return "PROXY_LIST unchanged (from " + from + ")";
  }
  void say(const std::string &what) { job_.notice(printable("dlhost: SIGHUP: " + what)); }

  Job &job_;
  const JobArgs &args_;
  std::string running_;
};

}  // namespace

int run_job(Job &job, const JobOptions &options, const JobArgs &args, const Settings &settings,
            const std::function<JobResult(Job &)> &body) {
  std::unique_ptr<StatusServer> status;
  if (!args.status.empty()) {
    status = std::make_unique<StatusServer>(
        args.status, StatusServer::Handlers{[&job] { return job.stats_now(); },
                                            [&job] { return job.health_now(); }});
    std::fprintf(stderr, "dlhost: status at %s (/stats /health /metrics)\n",
                 printable(status->url()).c_str());
  }
  JobResult result;
  {
    ProxyReloader reload(job, args, settings.get("PROXY_LIST"));
    SignalWatcher watcher(job, options.interrupt_grace, [&reload] { reload(); });
    result = body(job);
  }
  print_report(result, {}, options.verbose);
  if (options.events) options.events->close(kEventsGrace);
  return result.exit_code;
}

// In-process unless REDIS_URL is set; Redis unreachable is a configuration
// error (exit 2): a silent fallback would let two hosts download one file.
std::shared_ptr<Coordinator> make_coordinator(const Settings &settings,
                                              const std::function<std::string()> &derived_job,
                                              const fs::path &out_dir) {
  if (settings.get("REDIS_URL").empty()) return std::make_shared<InProcessCoordinator>(out_dir);
  const auto address = parse_redis_setting(settings);
  auto job = settings.get("DOWNLOAD_JOB");
  if (job.empty()) job = derived_job();
  return std::make_shared<RedisCoordinator>(address, job);
}

int guard_command(const std::function<int()> &command) {
  try {
    return command();
  } catch (const ConfigError &e) {
    return fail_usage(e.what());
  } catch (const ManifestError &e) {
    return fail_usage(e.what());
  } catch (const PluginError &e) {
    return fail_usage(e.what());
  } catch (const CoordinationError &e) {
    return fail_usage(e.what());  // a backend unreachable at start: nothing downloaded
  } catch (const std::exception &e) {
    std::fprintf(stderr, "dlhost: error: %s\n", printable(e.what()).c_str());
    return kExitSomeFailed;
  }
}

}  // namespace dlhost::cli
