// dlhost: the command line in front of the job engine.
//
// It only parses arguments and dispatches to one command each (run, enqueue,
// work, compare, check-config, plugins); flags map onto settings (--out ->
// DOWNLOAD_DIR, --plugin -> DOWNLOADER_PLUGIN, --job -> DOWNLOAD_JOB), so flags
// win over environment and .env. Everything else lives in dlhost-engine.
#include <malloc.h>

#include <CLI/CLI.hpp>

#include "commands.hpp"

using namespace dlhost;
using namespace dlhost::cli;

namespace {

void add_settings_options(CLI::App &cmd, JobArgs &args) {
  cmd.add_option("--env-file", args.env_file,
                 "read settings from this file instead of ./.env (it must exist)");
}

void add_job_options(CLI::App &run, JobArgs &args) {
  run.add_option("--plugin", args.plugin,
                 "plugin name (legacy, multi-proxy) or path to a .so; overrides DOWNLOADER_PLUGIN");
  run.add_option("--out", args.out, "output directory; overrides DOWNLOAD_DIR");
  add_settings_options(run, args);
  run.add_option("--stats-json", args.stats_json, "write the final stats document to this file");
  run.add_option("--progress", args.progress,
                 "auto (bar on a terminal, else plain), bar, plain (a line every 5 s) or none")
      ->check(CLI::IsMember({"auto", "bar", "plain", "none"}));
  run.add_flag("-v,--verbose", args.verbose, "print one line per finished file");
  run.add_option("--status", args.status,
                 "serve live status while the job runs at HOST:PORT: / (page), /stats, /health, "
                 "/metrics (Prometheus). PORT alone = 127.0.0.1:PORT; only an IP address written "
                 "here (e.g. 0.0.0.0:8080) listens beyond loopback; host names are refused");
  run.add_option("--events", args.events,
                 "write the event stream (NDJSON, docs/EVENTS.md) to FILE; '-' = stdout, with all "
                 "other output on stderr");
  run.add_option("--on-file-done", args.on_file_done,
                 "run CMD (no shell) for every file that ends, details in DLHOST_* variables; "
                 "overrides DOWNLOAD_ON_FILE_DONE");
  run.add_option("--on-job-done", args.on_job_done,
                 "run CMD (no shell) once at the end; overrides DOWNLOAD_ON_JOB_DONE");
  run.footer(settings_help());
}

void add_compare_options(CLI::App &cmd, CompareArgs &args) {
  cmd.add_option("--a", args.a, "plugin A: name (legacy, multi-proxy) or path to a .so")
      ->required();
  cmd.add_option("--b", args.b, "plugin B: name or path")->required();
  cmd.add_option("--out", args.out, "runs go to OUT/a and OUT/b (default ./compare)");
  cmd.add_option("--env-file", args.env_file,
                 "read settings from this file instead of ./.env (it must exist)");
  cmd.add_option("--progress", args.progress, "auto, bar, plain or none (as for run)")
      ->check(CLI::IsMember({"auto", "bar", "plain", "none"}));
  cmd.add_flag("-v,--verbose", args.verbose, "print one line per finished file");
  cmd.add_option("manifest", args.manifest, "the manifest both runs download (a file)")->required();
  cmd.footer(settings_help() +
             "\ncompare: 0 only when both runs succeed and the outputs are identical byte for "
             "byte (.dlhost/ ignored); 1 otherwise. Always in-process coordination.");
}

void add_check_config_options(CLI::App &cmd, JobArgs &args) {
  cmd.add_option("--plugin", args.plugin,
                 "check against this plugin (name or path); overrides DOWNLOADER_PLUGIN");
  cmd.add_option("--out", args.out, "overrides DOWNLOAD_DIR");
  cmd.add_option("--env-file", args.env_file,
                 "read settings from this file instead of ./.env (it must exist)");
  cmd.footer(settings_help() +
             "\ncheck-config: 0 valid, 2 invalid (one line naming the setting). Passwords in "
             "PROXY_LIST and REDIS_URL and every DOWNLOAD_HEADERS value print as ***.");
}

void add_manifest_argument(CLI::App &cmd, JobArgs &args) {
  cmd.add_option("manifest", args.manifest,
                 "JSON Lines or plain URL list, one file per line; '-' reads stdin")
      ->required();
}

void add_job_name_option(CLI::App &cmd, JobArgs &args, const char *help) {
  cmd.add_option("--job", args.job, help);
}

// Memory one transfer frees is soon needed by the next. By default glibc hands
// freed memory at the top of a heap back to the kernel and maps large blocks
// afresh each time, so the next file paid page faults to get it back: 4,600
// faults for 2,000 files of 64 KiB, 1,400 with these limits. Keeping up to
// 64 MiB of freed heap is little next to what a download job moves.
void keep_freed_memory_for_reuse() {
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

}  // namespace

int main(int argc, char **argv) {
  keep_freed_memory_for_reuse();
  CLI::App app{"dlhost: a downloader host with interchangeable downloader plugins"};
  app.set_version_flag("--version", std::string("dlhost ") + DLHOST_VERSION);
  app.require_subcommand(1);
  JobArgs run_args, enqueue_args, work_args;
  auto *run = app.add_subcommand("run", "download every file of a manifest");
  add_job_options(*run, run_args);
  run->add_flag("--follow", run_args.follow,
                "read the manifest as it is written (a pipe, FIFO, stdin or growing file): "
                "download lines as they arrive, report bad lines and go on; a pipe ends at EOF, "
                "a regular file is followed like tail -F until SIGINT/SIGTERM or --follow-idle");
  run->add_option("--follow-idle", run_args.follow_idle_s,
                  "with --follow: end the input after this many seconds without a new line")
      ->check(CLI::NonNegativeNumber);
  add_job_name_option(*run, run_args,
                      "the job's name in Redis; overrides DOWNLOAD_JOB (required with --follow "
                      "and REDIS_URL)");
  add_manifest_argument(*run, run_args);
  auto *enqueue = app.add_subcommand(
      "enqueue", "put a manifest's files on the job's Redis Stream for `dlhost work` (REDIS_URL)");
  add_settings_options(*enqueue, enqueue_args);
  enqueue->footer(settings_help());
  add_job_name_option(*enqueue, enqueue_args,
                      "the job's name in Redis; overrides DOWNLOAD_JOB (default: from the "
                      "manifest's content)");
  add_manifest_argument(*enqueue, enqueue_args);
  auto *work = app.add_subcommand(
      "work", "take files of an enqueued job from Redis until the job is done (REDIS_URL)");
  add_job_options(*work, work_args);
  add_job_name_option(*work, work_args,
                      "the job to work on (as enqueue printed it); overrides DOWNLOAD_JOB");
  ServeArgs serve_args;
  auto *serve = app.add_subcommand(
      "serve",
      "a long-running host: files arrive over JSON-RPC (POST /rpc), events leave as "
      "Server-Sent Events (GET /events)");
  add_job_options(*serve, serve_args.job);
  serve->add_option("--listen", serve_args.listen,
                    "HOST:PORT to listen on (default 127.0.0.1:6801); beyond loopback it needs "
                    "--token-file");
  serve->add_option("--token-file", serve_args.token_file,
                    "a file (mode 600) whose first line is the bearer token every request must "
                    "carry");
  add_job_name_option(*serve, serve_args.job,
                      "the job's name in Redis; overrides DOWNLOAD_JOB (required with REDIS_URL)");
  CompareArgs compare_args;
  auto *compare = app.add_subcommand(
      "compare", "run a manifest with plugin A and with plugin B and compare the results");
  add_compare_options(*compare, compare_args);
  JobArgs check_args;
  auto *check_config = app.add_subcommand(
      "check-config",
      "print every setting's value and source, and validate them with the plugin (no download)");
  add_check_config_options(*check_config, check_args);
  auto *plugins = app.add_subcommand(
      "plugins", "list built-in and discovered plugins: name, version, ABI, path");
  std::string conformance_plugin;
  auto *conformance = app.add_subcommand(
      "conformance", "check a plugin against the ABI contract (PASS/FAIL per check)");
  conformance->add_option("plugin", conformance_plugin, "plugin name or path to a .so")->required();
  int conformance_patience = 30;
  conformance
      ->add_option("--timeout", conformance_patience,
                   "seconds one task may take to end; a broken plugin costs a few of these")
      ->check(CLI::Range(1, 3600));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (run->parsed()) return run_command(run_args);
  if (enqueue->parsed()) return enqueue_command(enqueue_args);
  if (work->parsed()) return work_command(work_args);
  if (serve->parsed()) return serve_command(serve_args);
  if (plugins->parsed()) return plugins_command();
  if (compare->parsed()) return compare_command(compare_args);
  if (check_config->parsed()) return check_config_command(check_args);
  if (conformance->parsed()) return conformance_command(conformance_plugin, conformance_patience);
  return kExitUsage;
}
