// dlhost: the command line in front of the job engine.
//
// It only parses arguments, maps flags onto settings (--out -> DOWNLOAD_DIR,
// --plugin -> DOWNLOADER_PLUGIN, so flags win over environment and .env),
// loads the plugin, and turns outcomes into exit statuses: 0 all done or
// present, 1 some file failed, 2 usage/config/manifest/plugin error (nothing
// downloaded), 130 interrupted. Everything else lives in dlhost-engine.
//
// Signals: SIGINT/SIGTERM are blocked in every thread before any thread is
// started (plugin threads inherit the mask) and received by one watcher thread
// with sigwait(), which may then call ordinary code (Job::interrupt). A
// second signal exits at once.
#include <pthread.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

#include "dlhost/host/coordination.hpp"
#include "dlhost/host/job.hpp"
#include "dlhost/host/redis_coordinator.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/settings.hpp"

namespace fs = std::filesystem;
using namespace dlhost;

namespace {

struct RunArgs {
  std::string plugin;
  std::string out;
  std::string env_file;
  std::string stats_json;
  std::string progress = "auto";
  bool verbose = false;
  std::string manifest;
};

int fail_usage(const std::string &message) {
  std::fprintf(stderr, "dlhost: %s\n", message.c_str());
  return kExitUsage;
}

sigset_t job_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // our own wake-up at shutdown
  return set;
}

// Must run before any thread exists so that every thread inherits the mask.
void block_job_signals() {
  const auto set = job_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Receives SIGINT/SIGTERM on its own thread while a job runs. Declared after
// the Job it interrupts, so it is joined before the Job is destroyed.
class SignalWatcher {
 public:
  explicit SignalWatcher(Job &job) : set_(job_signals()) {
    thread_ = std::thread([this, &job] { loop(job); });
  }
  ~SignalWatcher() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

 private:
  void loop(Job &job) {
    int signals = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0 || done_) return;
      if (sig == SIGUSR1) continue;
      if (++signals > 1) _exit(kExitInterrupted);
      std::fputs("\ndlhost: interrupted, stopping transfers (.part files are kept)\n", stderr);
      job.interrupt();
    }
  }
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

void print_failures(const JobResult &result) {
  for (const auto &line : result.failures) std::fprintf(stderr, "failed: %s\n", line.c_str());
  if (result.failures_not_kept) {
    std::fprintf(stderr, "failed: ... and %llu more\n",
                 static_cast<unsigned long long>(result.failures_not_kept));
  }
  if (!result.coordination_error.empty()) {
    std::fprintf(stderr, "dlhost: coordination lost, stopped handing out files: %s\n",
                 result.coordination_error.c_str());
  }
  if (!result.stats_write_error.empty()) {
    std::fprintf(stderr, "dlhost: warning: %s\n", result.stats_write_error.c_str());
  }
  std::fprintf(stderr, "dlhost: %s\n", summary_line(result).c_str());
}

// Twice what the plugin can run at once (posts x files per post x paths, as
// the multi-proxy plugin counts them), and at least 64.
std::size_t outstanding_window(const Settings &settings) {
  std::size_t paths = 1;
  const auto list = nlohmann::json::parse(settings.get("PROXY_LIST"), nullptr, false);
  if (list.is_array()) paths = std::max<std::size_t>(1, list.size());
  const auto per_path = static_cast<std::size_t>(settings.get_int("PROXY_POST_LIMIT")) *
                        static_cast<std::size_t>(settings.get_int("PROXY_ATTACHMENT_LIMIT"));
  return std::max<std::size_t>(64, 2 * per_path * paths);
}

// In-process unless REDIS_URL is set; Redis unreachable is a configuration
// error (exit 2): a silent fallback would let two hosts download one file.
std::shared_ptr<Coordinator> make_coordinator(const Settings &settings,
                                              const ManifestSource &manifest,
                                              const fs::path &out_dir) {
  const auto url = settings.get("REDIS_URL");
  if (url.empty())
    return std::make_shared<InProcessCoordinator>(out_dir / ".dlhost" / "skip-cache");
  RedisAddress address;
  try {
    address = parse_redis_url(url);
  } catch (const std::invalid_argument &e) {
    throw ConfigError(e.what());
  }
  auto job = settings.get("DOWNLOAD_JOB");
  if (job.empty()) job = manifest_job_id(manifest);
  return std::make_shared<RedisCoordinator>(address, job);
}

std::map<std::string, std::string> flag_settings(const RunArgs &args) {
  std::map<std::string, std::string> flags;
  if (!args.out.empty()) flags["DOWNLOAD_DIR"] = args.out;
  if (!args.plugin.empty()) flags["DOWNLOADER_PLUGIN"] = args.plugin;
  return flags;
}

int run_command(const RunArgs &args) {
  block_job_signals();
  try {
    std::optional<fs::path> env_file;
    if (!args.env_file.empty()) env_file = args.env_file;
    const auto settings = Settings::resolve_from_process(flag_settings(args), env_file);
    auto plugin = LoadedPlugin::load(resolve_plugin(settings.get("DOWNLOADER_PLUGIN")));
    const auto manifest = ManifestSource::open(args.manifest);

    JobOptions options;
    options.out_dir = settings.get("DOWNLOAD_DIR");
    options.plugin_config_json = settings.plugin_config_json();
    options.skip_cache_ttl = std::chrono::seconds(settings.get_int("PROXY_SKIP_CACHE_TTL"));
    options.progress = *parse_progress_mode(args.progress);
    options.verbose = args.verbose;
    if (!args.stats_json.empty()) options.stats_json = args.stats_json;
    options.max_outstanding = outstanding_window(settings);
    options.lease_ttl = std::chrono::milliseconds(settings.get_int("DOWNLOAD_LEASE_TTL"));
    if (options.lease_ttl < std::chrono::seconds(1))
      throw ConfigError("DOWNLOAD_LEASE_TTL: must be at least 1000 (ms)");
    const auto coordinator = make_coordinator(settings, manifest, options.out_dir);

    Job job(options, plugin, coordinator);
    SignalWatcher watcher(job);
    const auto result = job.run(manifest);
    print_failures(result);
    return result.exit_code;
  } catch (const ConfigError &e) {
    return fail_usage(e.what());
  } catch (const ManifestError &e) {
    return fail_usage(e.what());
  } catch (const PluginError &e) {
    return fail_usage(e.what());
  } catch (const CoordinationError &e) {
    return fail_usage(e.what());  // a backend unreachable at start: nothing downloaded
  } catch (const std::exception &e) {
    std::fprintf(stderr, "dlhost: error: %s\n", e.what());
    return kExitSomeFailed;
  }
}

std::vector<fs::path> discovered_plugin_files() {
  std::vector<fs::path> files;
  for (const auto &dir : plugin_search_dirs()) {
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
      const auto name = entry.path().filename().string();
      if (name.rfind("dlhost-", 0) == 0 && entry.path().extension() == ".so") {
        files.push_back(entry.path());
      }
    }
  }
  return files;
}

std::string plugin_name_of(const fs::path &file) {
  return file.stem().string().substr(std::string("dlhost-").size());
}

int plugins_command() {
  const auto files = discovered_plugin_files();
  std::set<std::string> found;
  std::printf("%-14s %-10s %-5s %s\n", "NAME", "VERSION", "ABI", "PATH");
  for (const auto &file : files) {
    found.insert(plugin_name_of(file));
    try {
      const auto plugin = LoadedPlugin::load(file);
      std::printf("%-14s %-10s %-5s %s\n", plugin_name_of(file).c_str(), plugin->version().c_str(),
                  plugin->abi().c_str(), file.c_str());
    } catch (const PluginError &e) {
      std::printf("%-14s %-10s %-5s %s (unusable: %s)\n", plugin_name_of(file).c_str(), "-", "-",
                  file.c_str(), e.what());
    }
  }
  for (const auto &name : builtin_plugin_names()) {
    if (!found.count(name))
      std::printf("%-14s %-10s %-5s (not installed)\n", name.c_str(), "-", "-");
  }
  std::string dirs;
  for (const auto &dir : plugin_search_dirs()) dirs += (dirs.empty() ? "" : ", ") + dir.string();
  std::printf("searched: %s\n", dirs.c_str());
  return kExitOk;
}

void add_run_options(CLI::App &run, RunArgs &args) {
  run.add_option("--plugin", args.plugin,
                 "plugin name (legacy, multi-proxy) or path to a .so; overrides DOWNLOADER_PLUGIN");
  run.add_option("--out", args.out, "output directory; overrides DOWNLOAD_DIR");
  run.add_option("--env-file", args.env_file,
                 "read settings from this file instead of ./.env (it must exist)");
  run.add_option("--stats-json", args.stats_json, "write the final stats document to this file");
  run.add_option("--progress", args.progress,
                 "auto (bar on a terminal, else plain), bar, plain (a line every 5 s) or none")
      ->check(CLI::IsMember({"auto", "bar", "plain", "none"}));
  run.add_flag("-v,--verbose", args.verbose, "print one line per finished file");
  run.add_option("manifest", args.manifest,
                 "JSON Lines or plain URL list, one file per line; '-' reads stdin")
      ->required();
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{"dlhost: a downloader host with interchangeable downloader plugins"};
  app.set_version_flag("--version", std::string("dlhost ") + DLHOST_VERSION);
  app.require_subcommand(1);
  RunArgs run_args;
  auto *run = app.add_subcommand("run", "download every file of a manifest");
  add_run_options(*run, run_args);
  auto *plugins = app.add_subcommand(
      "plugins", "list built-in and discovered plugins: name, version, ABI, path");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (run->parsed()) return run_command(run_args);
  if (plugins->parsed()) return plugins_command();
  return kExitUsage;
}
