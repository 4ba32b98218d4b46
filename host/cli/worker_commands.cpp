// Worker mode: `dlhost enqueue MANIFEST` puts a job on a Redis Stream;
// `dlhost work` (on any number of machines) takes its files through a
// consumer group. Both need REDIS_URL; see redis_queue.hpp for the design.
#include <cstdio>

#include "commands.hpp"
#include "dlhost/host/manifest.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/redis_coordinator.hpp"
#include "dlhost/host/redis_queue.hpp"
#include "signals.hpp"

namespace dlhost::cli {
namespace {

void require_redis(const Settings &settings, const char *command) {
  if (settings.get("REDIS_URL").empty())
    throw ConfigError(std::string("REDIS_URL: `dlhost ") + command +
                      "` needs Redis (REDIS_URL=redis://host:port/db)");
}

}  // namespace

int enqueue_command(const JobArgs &args) {
  return guard_command([&] {
    const auto settings = resolve_settings(args);
    require_redis(settings, "enqueue");
    const auto manifest = ManifestSource::open(args.manifest);
    const auto summary = validate_manifest(manifest);  // a bad line: exit 2, nothing enqueued
    RedisConnection redis(parse_redis_setting(settings));
    auto job = settings.get("DOWNLOAD_JOB");
    if (job.empty()) job = manifest_job_id(manifest);
    const auto result = enqueue_manifest(redis, job, manifest, summary.duplicate_lines);
    if (result.already_sealed) {
      std::printf("job %s: already enqueued (%llu files); nothing added\n", printable(job).c_str(),
                  static_cast<unsigned long long>(result.enqueued));
    } else {
      std::printf("job %s: enqueued %llu files; run `DOWNLOAD_JOB=%s dlhost work`\n",
                  printable(job).c_str(), static_cast<unsigned long long>(result.added),
                  printable(job).c_str());
    }
    return static_cast<int>(kExitOk);
  });
}

int work_command(const JobArgs &args) {
  block_job_signals();
  return guard_command([&] {
    const auto settings = resolve_settings(args);
    require_redis(settings, "work");
    const auto job_name = settings.get("DOWNLOAD_JOB");
    if (job_name.empty())
      throw ConfigError("DOWNLOAD_JOB: `dlhost work` needs the job's name (enqueue prints it)");
    auto plugin = LoadedPlugin::load(resolve_plugin(settings.get("DOWNLOADER_PLUGIN")));
    auto options = job_options(settings, args);
    // Small batches: entries taken from the stream wait in this worker until
    // it has room, and other workers cannot have them meanwhile.
    options.batch_size = 0;
    const auto address = parse_redis_setting(settings);
    auto coordinator = std::make_shared<RedisCoordinator>(address, job_name);
    {
      RedisConnection probe(address);
      if (!job_queue_exists(probe, job_name))
        throw ConfigError("DOWNLOAD_JOB: job " + job_name + " has no queue in Redis " +
                          address.redacted + " (run `dlhost enqueue MANIFEST` first)");
    }
    RedisStreamSource source(address, job_name, options.lease_ttl * 2);
    JobNotices notices;
    options.events = open_event_bus(event_setup(settings, args), notices.fn());
    Job job(options, plugin, coordinator);
    notices.attach(&job);
    return run_job(job, options, args, settings, [&](Job &j) { return j.run(source); });
  });
}

}  // namespace dlhost::cli
