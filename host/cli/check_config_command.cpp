// `dlhost check-config [--env-file F] [--plugin X] [--out DIR]`: the settings
// in effect, where each came from, and whether the plugin accepts them.
//
// Every setting is printed with its source (flag, environment, .env, default)
// and its value with secrets redacted (redact.hpp) and control characters
// escaped. Then, without downloading anything: the host's own checks
// (DOWNLOAD_LEASE_TTL, the files DOWNLOAD_CA_BUNDLE and DOWNLOAD_COOKIES name,
// REDIS_URL's syntax; with REDIS_URL set, a connection to Redis), and the
// plugin is loaded and an instance created with exactly the configuration
// `run` would give it, then destroyed without start(): that is where
// PROXY_LIST and the transport settings are validated. A warning, not an
// error: legacy given several proxies uses only the first. Exit 0 when all is
// well; 2 with the one-line error otherwise.
#include <cstdio>

#include "commands.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "dlhost/host/redact.hpp"
#include "dlhost/host/redis_connection.hpp"

namespace dlhost::cli {
namespace {

std::string source_text(const Settings &settings, const SettingSpec &spec) {
  const auto source = settings.source(spec.name);
  if (source == SettingSource::kFlag) {
    const std::string_view name = spec.name;
    if (name == "DOWNLOAD_DIR") return "flag --out";
    if (name == "DOWNLOADER_PLUGIN") return "flag --plugin";
    return "flag";
  }
  if (source == SettingSource::kEnvFile && settings.env_file_used())
    return ".env " + settings.env_file_used()->string();
  return std::string(to_string(source));
}

void print_settings(const Settings &settings) {
  std::printf("%-26s %-24s %s\n", "SETTING", "SOURCE", "VALUE");
  for (const auto &spec : setting_table()) {
    const auto value = redact_setting(spec.name, settings.get(spec.name));
    std::printf("%-26s %-24s %s\n", spec.name, printable(source_text(settings, spec)).c_str(),
                value.empty() ? "(empty)" : printable(value).c_str());
  }
  if (const auto &env = settings.env_file_used()) {
    std::printf("\n.env: %s\n", printable(env->string()).c_str());
  } else {
    std::printf("\n.env: none (no ./.env, no --env-file)\n");
  }
}

void check_redis(const Settings &settings) {
  if (settings.get("REDIS_URL").empty()) return;
  const auto address = parse_redis_setting(settings);
  RedisConnection probe(address);  // connect, AUTH, SELECT; throws CoordinationError
  std::printf("redis: %s reachable\n", printable(address.redacted).c_str());
}

std::size_t proxy_count(const Settings &settings) {
  const auto list = nlohmann::json::parse(settings.get("PROXY_LIST"), nullptr, false);
  return list.is_array() ? list.size() : 0;
}

void check_plugin(const Settings &settings) {
  auto plugin = LoadedPlugin::load(resolve_plugin(settings.get("DOWNLOADER_PLUGIN")));
  const auto ignore_events = [](void *, const dlhost_event *) noexcept {};
  {
    PluginInstance instance(plugin, settings.plugin_config_json(), ignore_events, nullptr);
  }  // destroyed without start(): nothing is fetched
  const auto proxies = proxy_count(settings);
  std::printf("plugin: %s %s (%s) accepts this configuration (%s)\n",
              printable(plugin->id()).c_str(), printable(plugin->version()).c_str(),
              printable(plugin->path().string()).c_str(),
              proxies ? (std::to_string(proxies) + " proxies").c_str() : "direct connection");
  if (plugin->id() == "legacy" && proxies > 1)
    std::printf(
        "warning: legacy uses only the first of the %zu proxies in PROXY_LIST; the others "
        "are never used (multi-proxy uses them all)\n",
        proxies);
}

}  // namespace

int check_config_command(const JobArgs &args) {
  return guard_command([&] {
    const auto settings = resolve_settings(args);
    print_settings(settings);
    std::fflush(stdout);
    job_options(settings, args);
    check_redis(settings);
    check_plugin(settings);
    std::printf("configuration OK\n");
    return static_cast<int>(kExitOk);
  });
}

}  // namespace dlhost::cli
