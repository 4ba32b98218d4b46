// Where `run` and `work` send the job's events: `--events FILE|-`, the hook
// commands (--on-file-done / --on-job-done or their settings) and the
// webhook. The settings are read and checked first (event_setup), so a bad
// hook command or webhook URL stops the job before anything is downloaded,
// and check-config reports it the same way; only then are the sinks opened.
#include <cstdio>

#include "commands.hpp"
#include "dlhost/host/event_sinks.hpp"
#include "dlhost/host/redact.hpp"
#include "dlhost/util/url.h"

namespace dlhost::cli {
namespace {

std::vector<std::string> command_setting(const Settings &settings, const char *name) {
  const auto &text = settings.get(name);
  if (util::trim(text).empty()) return {};
  return split_command(text, name);
}

// http(s)://host[:port]/..., the port 1 to 65535: what libcurl would
// otherwise refuse only at the end of the job, when the summary is sent.
void check_webhook_url(const std::string &url) {
  const auto bad = [&](const char *why) {
    return ConfigError("DOWNLOAD_WEBHOOK_URL: " + redact_webhook_url(url) + ": " + why);
  };
  const auto parts = util::split_url(url, util::UserinfoEnd::kAuthority);
  if (!parts || (parts->scheme != "http" && parts->scheme != "https"))
    throw bad("must be an http:// or https:// URL");
  if (parts->host_port.empty() || !util::valid_host_port(parts->host_port))
    throw bad("has a malformed host or port");
  const auto colon = parts->host_port.rfind(':');
  const auto close = parts->host_port.rfind(']');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    const auto port = parts->host_port.substr(colon + 1);  // digits: valid_host_port
    const int number = port.empty() || port.size() > 5 ? 0 : std::stoi(std::string(port));
    if (!port.empty() && (number < 1 || number > 65535)) throw bad("has a port outside 1..65535");
  }
}

std::chrono::milliseconds positive_ms(const Settings &settings, const char *name) {
  const auto ms = settings.get_int(name);
  if (ms < 1) throw ConfigError(std::string(name) + ": must be at least 1 (ms)");
  return std::chrono::milliseconds(ms);
}

}  // namespace

void JobNotices::attach(Job *job) {
  std::lock_guard lock(mutex_);
  job_ = job;
}

void JobNotices::operator()(const std::string &line) {
  std::lock_guard lock(mutex_);
  if (job_) {
    job_->notice(printable(line));
  } else {
    std::fprintf(stderr, "%s\n", printable(line).c_str());
  }
}

EventSetup event_setup(const Settings &settings, const JobArgs &args) {
  EventSetup setup;
  setup.events_file = args.events;
  setup.hooks.on_file_done = command_setting(settings, "DOWNLOAD_ON_FILE_DONE");
  setup.hooks.on_job_done = command_setting(settings, "DOWNLOAD_ON_JOB_DONE");
  setup.hooks.out_dir = settings.get("DOWNLOAD_DIR");
  const auto concurrency = settings.get_int("DOWNLOAD_HOOK_CONCURRENCY");
  if (concurrency < 1 || concurrency > 256)
    throw ConfigError("DOWNLOAD_HOOK_CONCURRENCY: must be between 1 and 256");
  setup.hooks.concurrency = static_cast<int>(concurrency);
  setup.hooks.timeout = positive_ms(settings, "DOWNLOAD_HOOK_TIMEOUT");
  const auto drain = settings.get_int("DOWNLOAD_HOOK_DRAIN_TIMEOUT");
  if (drain < 0)
    throw ConfigError("DOWNLOAD_HOOK_DRAIN_TIMEOUT: must be 0 (no limit) or more (ms)");
  setup.hooks.drain_timeout = std::chrono::milliseconds(drain);
  setup.webhook.url = settings.get("DOWNLOAD_WEBHOOK_URL");
  if (!setup.webhook.url.empty()) check_webhook_url(setup.webhook.url);
  setup.webhook.file_events = settings.get_int("DOWNLOAD_WEBHOOK_EVENTS") == 1;
  setup.webhook.ca_bundle = settings.get("DOWNLOAD_CA_BUNDLE");
  setup.webhook.timeout = setup.hooks.timeout;
  return setup;
}

bool EventSetup::any() const {
  return !events_file.empty() || !hooks.on_file_done.empty() || !hooks.on_job_done.empty() ||
         !webhook.url.empty();
}

std::shared_ptr<EventBus> open_event_bus(const EventSetup &setup, NoticeFn notice) {
  if (!setup.any()) return nullptr;
  auto bus = std::make_shared<EventBus>(notice);
  if (!setup.events_file.empty())
    bus->add_sink(std::make_shared<NdjsonSink>(setup.events_file, notice));
  if (!setup.hooks.on_file_done.empty() || !setup.hooks.on_job_done.empty())
    bus->add_sink(std::make_shared<CommandHooks>(setup.hooks, notice));
  if (!setup.webhook.url.empty())
    bus->add_sink(std::make_shared<WebhookSink>(setup.webhook, notice));
  return bus;
}

}  // namespace dlhost::cli
