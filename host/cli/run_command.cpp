// `dlhost run MANIFEST`: one job from a manifest, coordinated in-process or,
// with REDIS_URL, with every other host running the same job.
#include "commands.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/redis_coordinator.hpp"
#include "signals.hpp"

namespace dlhost::cli {
namespace {

// In-process unless REDIS_URL is set; Redis unreachable is a configuration
// error (exit 2): a silent fallback would let two hosts download one file.
std::shared_ptr<Coordinator> make_coordinator(const Settings &settings,
                                              const ManifestSource &manifest,
                                              const fs::path &out_dir) {
  if (settings.get("REDIS_URL").empty())
    return std::make_shared<InProcessCoordinator>(out_dir / ".dlhost" / "skip-cache");
  const auto address = parse_redis_setting(settings);
  auto job = settings.get("DOWNLOAD_JOB");
  if (job.empty()) job = manifest_job_id(manifest);
  return std::make_shared<RedisCoordinator>(address, job);
}

}  // namespace

int run_command(const JobArgs &args) {
  block_job_signals();
  return guard_command([&] {
    const auto settings = resolve_settings(args);
    auto plugin = LoadedPlugin::load(resolve_plugin(settings.get("DOWNLOADER_PLUGIN")));
    const auto manifest = ManifestSource::open(args.manifest);
    const auto options = job_options(settings, args);
    Job job(options, plugin, make_coordinator(settings, manifest, options.out_dir));
    return run_job(job, options, args.status, [&](Job &j) { return j.run(manifest); });
  });
}

}  // namespace dlhost::cli
