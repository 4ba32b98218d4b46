// `dlhost serve`: a long-running host that programs feed over JSON-RPC and
// watch through Server-Sent Events (dlhost/host/service.hpp).
//
// It is `run --follow` with the service for input: one Job over a
// QueueWorkSource that stays open until shutdownOrchestrator, SIGTERM or
// SIGINT. The first of those stops taking files and gives the running ones
// their grace (the RPC's grace_ms, else DOWNLOAD_INTERRUPT_GRACE); what did
// not finish keeps its .part. A shutdown is how a service ends, so it exits
// 0; 2 for a configuration error before it listens.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>

#include "commands.hpp"
#include "dlhost/host/listen_address.hpp"
#include "dlhost/host/queue_source.hpp"
#include "dlhost/host/service.hpp"
#include "signals.hpp"

namespace dlhost::cli {
namespace {

bool is_loopback(const ListenAddress &a) {
  if (a.addr.ss_family == AF_INET) {
    const auto *in = reinterpret_cast<const sockaddr_in *>(&a.addr);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.addr.ss_family == AF_INET6) {
    const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&a.addr);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

std::string serve_needs_a_job_name() {
  throw ConfigError(
      "DOWNLOAD_JOB: `dlhost serve` with REDIS_URL needs the job's name (--job NAME): "
      "files that arrive over RPC have no manifest to derive it from");
}

}  // namespace

int serve_command(const ServeArgs &args) {
  block_job_signals();
  return guard_command([&] {
    const auto settings = resolve_settings(args.job);
    auto plugin = LoadedPlugin::load(resolve_plugin(settings.get("DOWNLOADER_PLUGIN")));
    auto options = job_options(settings, args.job);
    ServiceOptions service_options;
    service_options.listen = parse_listen_address(args.listen, "--listen");
    if (!args.token_file.empty()) service_options.token = read_token_file(args.token_file);
    if (service_options.token.empty() && !is_loopback(service_options.listen))
      throw ConfigError("--listen " + args.listen +
                        ": an address beyond loopback needs --token-file (a bearer token)");
    JobNotices notices;
    options.events = open_event_bus(event_setup(settings, args.job), notices.fn());
    if (!options.events) options.events = std::make_shared<EventBus>(notices.fn());
    Job job(options, plugin, make_coordinator(settings, serve_needs_a_job_name, options.out_dir));
    notices.attach(&job);
    QueueWorkSource queue;
    ServiceBackend backend;
    backend.stats = [&job] { return job.stats_now(); };
    backend.health = [&job] { return job.health_now(); };
    backend.set_proxies = [&job](const std::string &list, std::string &error) {
      // The service listens before run() has started the plugin: a call
      // that early waits for it (it failed "no job is running" under TSan).
      if (!job.wait_running(std::chrono::seconds(30))) {
        error = "the job has not started: proxies cannot change now";
        return false;
      }
      return job.set_proxies(list, error) == DLHOST_OK;
    };
    backend.cancel = [&job](const std::string &path) { return job.cancel(path); };
    backend.shutdown = [&](std::chrono::milliseconds grace) {
      job.interrupt(grace);  // first: the job must end as interrupted, not as a finished input
      queue.close();
    };
    Service service(service_options, queue, backend, settings.get("PROXY_LIST"));
    options.events->add_sink(service.event_sink());
    std::fprintf(stderr,
                 "dlhost: serving at %s (POST /rpc, GET /events, /stats /health /metrics)\n",
                 printable(service.url()).c_str());
    const int code = run_job(job, options, args.job, settings, [&](Job &j) {
      JobResult r = j.run(queue);
      queue.cancel();  // calls still waiting for room in the queue end now
      return r;
    });
    return code == kExitInterrupted || code == kExitSomeFailed ? kExitOk : code;
  });
}

}  // namespace dlhost::cli
