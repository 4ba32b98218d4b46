// A multi-proxy instance as the C ABI sees it: settings in, an EventLoop out.
//
// create() reads the configuration JSON with plugins/common's
// parse_transport_config (every key, with its checks and the PROXY_LIST
// parser), adds the settings only this plugin has (the strategy and the
// scheduler limits), and builds the EventLoop. An empty PROXY_LIST means the
// direct line only. plugins/common's PluginShim turns this class into the
// plugin's descriptor (plugin_entry.cpp).
#pragma once

#include <dlhost/plugin.h>
#include <dlhost/transport/abi_glue.h>

#include <memory>
#include <string>
#include <string_view>

#include "event_loop.h"

namespace dlhost::mp {

class MultiProxyPlugin final : public EventLoop {
 public:
  static constexpr const char *kId = "multi-proxy";
  static constexpr const char *kName = "dlhost multi-proxy";
  static constexpr const char *kVersion = "0.1.0";
  static constexpr const char *kDescription =
      "one libcurl event loop over a pool of proxies: per-proxy limits, retries, health, failover";

  using EventLoop::EventLoop;

  // DLHOST_OK and *out, or DLHOST_E_CONFIG with a one-line *error.
  static dlhost_status create(std::string_view config_json, dlhost_event_fn on_event, void *user,
                              std::unique_ptr<MultiProxyPlugin> *out, std::string *error);

  dlhost_status submit(transport::OwnedTask task, std::string *error);
  nlohmann::json stats() const { return stats_json(); }
  nlohmann::json health() const { return health_json(); }
};

}  // namespace dlhost::mp
