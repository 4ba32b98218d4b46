// Instance creation from the configuration JSON (see instance.h).
#include "instance.h"

#include <dlhost/transport/transport_config.h>

namespace dlhost::mp {
namespace {

bool scheduler_config(const transport::TransportConfig &c, SchedulerConfig *s, std::string *error) {
  auto kind = parse_strategy(c.proxy_strategy);
  if (!kind) {
    *error = "PROXY_STRATEGY: must be load-balanced, round-robin or first-available";
    return false;
  }
  s->strategy = *kind;
  s->post_limit = static_cast<int>(c.post_limit);
  s->attachment_limit = static_cast<int>(c.attachment_limit);
  s->max_retries = static_cast<int>(c.max_retries);
  s->health_failures = static_cast<int>(c.health_failures);
  s->rate_limit = c.rate_limit;
  s->backoff.base = Millis(c.retry_base_delay_ms);
  s->backoff.factor = c.retry_backoff;
  s->max_retry_after = Millis(c.max_retry_after_ms);
  s->outage_timeout = Millis(c.outage_timeout_ms);
  return true;
}

// An empty PROXY_LIST is the direct line, at create() and at set_proxies().
std::vector<transport::ProxySpec> paths_of(std::vector<transport::ProxySpec> proxies) {
  if (!proxies.empty()) return proxies;
  transport::ProxySpec direct;
  direct.direct = true;
  direct.id = "direct";
  return {direct};
}

}  // namespace

dlhost_status MultiProxyPlugin::create(std::string_view config_json, dlhost_event_fn on_event,
                                       void *user, std::unique_ptr<MultiProxyPlugin> *out,
                                       std::string *error) {
  transport::TransportConfig cfg;
  if (!transport::parse_transport_config(config_json, &cfg, error)) return DLHOST_E_CONFIG;
  SchedulerConfig scfg;
  if (!scheduler_config(cfg, &scfg, error)) return DLHOST_E_CONFIG;
  std::vector<transport::ProxySpec> paths = paths_of(cfg.proxies);
  *out = std::make_unique<MultiProxyPlugin>(std::move(cfg), std::move(paths), scfg, on_event, user);
  return DLHOST_OK;
}

// The text create() gets inside config_json's PROXY_LIST, parsed by the same
// function (parse_transport_config calls it): one format, one set of checks.
dlhost_status MultiProxyPlugin::set_proxies(std::string_view proxy_list_json, std::string *error) {
  std::vector<transport::ProxySpec> proxies;
  if (!transport::parse_proxy_list(proxy_list_json, &proxies, error)) return DLHOST_E_CONFIG;
  set_paths(paths_of(std::move(proxies)));
  return DLHOST_OK;
}

dlhost_status MultiProxyPlugin::submit(transport::OwnedTask t, std::string *error) {
  // A pin to an id that is not listed fails the file (FAILED from the loop),
  // not the call: the list may change between here and the loop.
  return EventLoop::submit(
      TaskSpec{t.id, std::move(t.url), std::move(t.dest_path), std::move(t.group),
               std::move(t.sha256), t.size, std::move(t.proxy_id)},
      error);
}

}  // namespace dlhost::mp
