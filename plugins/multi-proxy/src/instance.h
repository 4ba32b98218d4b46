// A multi-proxy instance as the C ABI sees it: settings in, an EventLoop out.
//
// create() reads the configuration JSON with plugins/common's
// parse_transport_config (every key, with its checks and the PROXY_LIST
// parser), adds the settings only this plugin has (the strategy and the
// scheduler limits), and builds the EventLoop. An empty PROXY_LIST means the
// direct line only. plugins/common's PluginShim turns this class into the
// plugin's descriptor (plugin_entry.cpp); set_proxies() makes it answer the
// "dlhost.proxies/1" extension.
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

  // dlhost.proxies/1 (plugin.h): `proxy_list_json` is PROXY_LIST text, read by
  // the same parser as at create() ("" or "[]" = the direct line only).
  //  - Failure: DLHOST_E_CONFIG and one line in *error naming the entry
  //    ("PROXY_LIST: entry 2: ..."), never a credential; nothing changed.
  //  - Success: DLHOST_OK once the list is in force, i.e. the event loop has
  //    applied it (it waits for one loop turn, which is short: the loop
  //    never blocks but in curl_multi_poll, and is woken for this); no file
  //    starts on a removed path after the return. Before start() the list is
  //    applied on the calling thread.
  //  - Thread: any host thread, concurrently with submit(), cancel(), wait(),
  //    stats() and health(); not with itself, create(), start() or destroy().
  //    Ownership: proxy_list_json is borrowed for the call; *error is ours.
  dlhost_status set_proxies(std::string_view proxy_list_json, std::string *error);
  nlohmann::json stats() const { return stats_json(); }
  nlohmann::json health() const { return health_json(); }
};

}  // namespace dlhost::mp
