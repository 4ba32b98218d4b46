// `dlhost run MANIFEST`: one job from a manifest, coordinated in-process or,
// with REDIS_URL, with every other host running the same job.
//
// `--follow` reads the manifest as it grows (a pipe, a FIFO, stdin, a file
// still being written) and downloads lines as they arrive; the job ends at
// the end of a pipe, and for a regular file (followed like `tail -F`) at
// SIGINT/SIGTERM or after --follow-idle seconds without a new line. There is no validating pass
// then: a bad line is reported and the rest goes on (Job::report_bad_line), and the job's name in
// Redis cannot come from bytes not written yet, so REDIS_URL needs DOWNLOAD_JOB.
#include "commands.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/queue_source.hpp"
#include "dlhost/host/redis_coordinator.hpp"
#include "signals.hpp"

namespace dlhost::cli {
namespace {

std::string no_derived_job() {
  throw ConfigError(
      "DOWNLOAD_JOB: `dlhost run --follow` with REDIS_URL needs the job's name (--job NAME): "
      "a manifest still being written has no content to derive it from");
}

int run_followed(const Settings &settings, const JobArgs &args, JobOptions &options,
                 std::shared_ptr<LoadedPlugin> plugin, JobNotices &notices) {
  Job job(options, std::move(plugin), make_coordinator(settings, no_derived_job, options.out_dir));
  notices.attach(&job);
  QueueWorkSource queue;
  return run_job(job, options, args, settings, [&](Job &j) {
    const auto idle = std::chrono::milliseconds(static_cast<long long>(args.follow_idle_s * 1000));
    FollowReader reader(
        args.manifest, queue,
        [&j](std::uint64_t line, const ManifestError &e) { j.report_bad_line(line, e.what()); },
        idle);
    return j.run(queue);
  });
}

}  // namespace

int run_command(const JobArgs &args) {
  block_job_signals();
  return guard_command([&] {
    const auto settings = resolve_settings(args);
    auto plugin = LoadedPlugin::load(resolve_plugin(settings.get("DOWNLOADER_PLUGIN")));
    auto options = job_options(settings, args);
    JobNotices notices;
    if (args.follow) {
      options.events = open_event_bus(event_setup(settings, args), notices.fn());
      return run_followed(settings, args, options, std::move(plugin), notices);
    }
    const auto manifest = ManifestSource::open(args.manifest);
    options.events = open_event_bus(event_setup(settings, args), notices.fn());
    Job job(options, plugin,
            make_coordinator(
                settings, [&] { return manifest_job_id(manifest); }, options.out_dir));
    notices.attach(&job);
    return run_job(job, options, args, settings, [&](Job &j) { return j.run(manifest); });
  });
}

}  // namespace dlhost::cli
