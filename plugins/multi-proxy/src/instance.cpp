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
  return true;
}

std::vector<transport::ProxySpec> paths_of(const transport::TransportConfig &c) {
  if (!c.proxies.empty()) return c.proxies;
  transport::ProxySpec direct;
  direct.direct = true;
  direct.id = "direct";
  return {direct};
}

}  // namespace

dlhost_status make_instance(std::string_view config_json, dlhost_event_fn on_event, void *user,
                            dlhost_instance **out, std::string *error) {
  transport::TransportConfig cfg;
  if (!transport::parse_transport_config(config_json, &cfg, error)) return DLHOST_E_CONFIG;
  SchedulerConfig scfg;
  if (!scheduler_config(cfg, &scfg, error)) return DLHOST_E_CONFIG;
  std::vector<transport::ProxySpec> paths = paths_of(cfg);
  auto inst = std::make_unique<dlhost_instance>();
  inst->loop = std::make_unique<EventLoop>(std::move(cfg), std::move(paths), scfg, on_event, user);
  *out = inst.release();
  return DLHOST_OK;
}

}  // namespace dlhost::mp
