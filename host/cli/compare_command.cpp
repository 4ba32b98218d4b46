// `dlhost compare --a X --b Y [--out DIR] MANIFEST`: is plugin B a drop-in
// replacement for plugin A?
//
// Both plugins are loaded and the manifest validated before anything is
// downloaded (a usage or configuration error is exit 2 with nothing
// fetched). Then the job runs with A into DIR/a and, after it, with B into
// DIR/b (one after the other, so they do not compete for bandwidth and the
// times compare), always with in-process coordination: with REDIS_URL the
// second run would find every file recorded complete by the first. The table
// (stdout) has both runs side by side; then both trees are compared byte for
// byte. Exit 0 only when both runs succeeded and the trees are identical;
// 130 when interrupted (B is not started); 1 otherwise. Files already in
// DIR/a or DIR/b count as skipped, like any rerun: remove DIR for a fresh
// measurement.
#include <cstdio>

#include "commands.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/tree_compare.hpp"
#include "signals.hpp"

namespace dlhost::cli {
namespace {

struct Side {
  std::string label;  // "a", "b"
  JobArgs args;
  std::unique_ptr<Settings> settings;
  std::shared_ptr<LoadedPlugin> plugin;
  JobResult result;
};

Side prepare_side(const CompareArgs &args, const std::string &label, const std::string &plugin) {
  Side side;
  side.label = label;
  side.args.plugin = plugin;
  side.args.out = (fs::path(args.out) / label).string();
  side.args.env_file = args.env_file;
  side.args.progress = args.progress;
  side.args.verbose = args.verbose;
  side.settings = std::make_unique<Settings>(resolve_settings(side.args));
  side.plugin = LoadedPlugin::load(resolve_plugin(side.settings->get("DOWNLOADER_PLUGIN")));
  job_options(*side.settings, side.args);  // validates DOWNLOAD_LEASE_TTL and friends
  return side;
}

void run_side(Side &side, const ManifestSource &manifest) {
  const auto options = job_options(*side.settings, side.args);
  std::fprintf(stderr, "dlhost: %s: %s into %s\n", side.label.c_str(),
               printable(side.plugin->id()).c_str(), printable(options.out_dir.string()).c_str());
  auto coordinator = std::make_shared<InProcessCoordinator>(options.out_dir);
  Job job(options, side.plugin, coordinator);
  SignalWatcher watcher(job, options.interrupt_grace, nullptr);  // SIGHUP: nothing to reload
  side.result = job.run(manifest);
  print_report(side.result, side.label + " (" + side.plugin->id() + ")");
}

std::uint64_t retries_of(const JobResult &r) {
  std::uint64_t sum = 0;
  const auto &proxies = r.stats.value("proxies", nlohmann::ordered_json::array());
  for (const auto &p : proxies) {
    if (p.is_object() && p.contains("retries") && p["retries"].is_number_unsigned())
      sum += p["retries"].get<std::uint64_t>();
  }
  return sum;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

void row(const char *name, const std::string &a, const std::string &b) {
  std::printf("%-14s %20s %20s\n", name, a.c_str(), b.c_str());
}

void print_table(const Side &a, const Side &b) {
  const auto num = [](std::uint64_t v) { return std::to_string(v); };
  const auto &ra = a.result.totals, &rb = b.result.totals;
  const auto rate = [](const RunTotals &t) {
    return format_bytes(t.elapsed_s > 0 ? static_cast<double>(t.counts.bytes) / t.elapsed_s : 0) +
           "/s";
  };
  row("", "a: " + a.plugin->id(), "b: " + b.plugin->id());
  row("files", num(ra.counts.total), num(rb.counts.total));
  row("  ok", num(ra.counts.completed), num(rb.counts.completed));
  row("  skipped", num(ra.counts.skipped), num(rb.counts.skipped));
  row("  failed", num(ra.counts.failed), num(rb.counts.failed));
  if (ra.counts.deferred || rb.counts.deferred)
    row("  deferred", num(ra.counts.deferred), num(rb.counts.deferred));
  row("bytes", format_bytes(static_cast<double>(ra.counts.bytes)),
      format_bytes(static_cast<double>(rb.counts.bytes)));
  row("wall time", seconds_text(ra.elapsed_s), seconds_text(rb.elapsed_s));
  row("throughput", rate(ra), rate(rb));
  row("retries", num(retries_of(a.result)), num(retries_of(b.result)));
  row("exit status", num(a.result.exit_code), num(b.result.exit_code));
}

void print_paths(const char *what, const std::vector<std::string> &paths) {
  constexpr std::size_t kShown = 10;
  for (std::size_t i = 0; i < paths.size() && i < kShown; ++i)
    std::printf("  %s: %s\n", what, printable(paths[i]).c_str());
  if (paths.size() > kShown) std::printf("  %s: ... and %zu more\n", what, paths.size() - kShown);
}

bool print_comparison(const fs::path &dir_a, const fs::path &dir_b) {
  const auto c = compare_trees(dir_a, dir_b);
  if (c.identical()) {
    std::printf("\noutputs: identical (%llu files, %s, byte for byte)\n",
                static_cast<unsigned long long>(c.files),
                format_bytes(static_cast<double>(c.bytes)).c_str());
    return true;
  }
  std::printf("\noutputs: DIFFERENT (%zu only in a, %zu only in b, %zu differ; %llu identical)\n",
              c.only_a.size(), c.only_b.size(), c.differ.size(),
              static_cast<unsigned long long>(c.files));
  print_paths("only in a", c.only_a);
  print_paths("only in b", c.only_b);
  print_paths("differs", c.differ);
  return false;
}

}  // namespace

int compare_command(const CompareArgs &args) {
  block_job_signals();
  return guard_command([&] {
    if (args.manifest == "-")
      throw ConfigError("compare: the manifest is read twice, so it must be a file, not '-'");
    auto a = prepare_side(args, "a", args.a);
    auto b = prepare_side(args, "b", args.b);
    const auto manifest = ManifestSource::open(args.manifest);
    validate_manifest(manifest);  // a bad line: exit 2 before either run
    run_side(a, manifest);
    if (a.result.exit_code == kExitInterrupted) return static_cast<int>(kExitInterrupted);
    run_side(b, manifest);
    std::printf("\n");
    print_table(a, b);
    const bool same =
        print_comparison(a.settings->get("DOWNLOAD_DIR"), b.settings->get("DOWNLOAD_DIR"));
    std::fflush(stdout);
    if (b.result.exit_code == kExitInterrupted) return static_cast<int>(kExitInterrupted);
    const bool ok = a.result.exit_code == kExitOk && b.result.exit_code == kExitOk && same;
    return static_cast<int>(ok ? kExitOk : kExitSomeFailed);
  });
}

}  // namespace dlhost::cli
