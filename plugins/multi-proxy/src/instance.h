// A multi-proxy instance as the C ABI sees it: settings in, an EventLoop out.
//
// create() reads the configuration JSON with plugins/common's
// parse_transport_config (every key, with its checks and the PROXY_LIST
// parser), adds the settings only this plugin has (the strategy and the
// scheduler limits), and builds the EventLoop. An empty PROXY_LIST means the
// direct line only.
#pragma once

#include <dlhost/plugin.h>

#include <memory>
#include <string>
#include <string_view>

#include "event_loop.h"

struct dlhost_instance {
  std::unique_ptr<dlhost::mp::EventLoop> loop;
};

namespace dlhost::mp {

// Returns DLHOST_OK and *out, or DLHOST_E_CONFIG with a one-line *error.
dlhost_status make_instance(std::string_view config_json, dlhost_event_fn on_event, void *user,
                            dlhost_instance **out, std::string *error);

}  // namespace dlhost::mp
