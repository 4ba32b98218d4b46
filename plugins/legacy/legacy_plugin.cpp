// The one export of dlhost-legacy: plugins/common's PluginShim turns
// LegacyPlugin into the C ABI descriptor. LegacyPlugin is LegacyInstance
// (legacy_worker.h) plus what the shim asks of a plugin: its names and
// create().
#include <memory>
#include <string>
#include <string_view>

#include "dlhost/plugin.h"
#include "dlhost/transport/plugin_shim.h"
#include "legacy_worker.h"

namespace {

namespace tr = dlhost::transport;

class LegacyPlugin final : public dlhost::legacy::LegacyInstance {
 public:
  static constexpr const char *kId = "legacy";
  static constexpr const char *kName = "Legacy downloader";
  static constexpr const char *kVersion = "1.0.0";
  static constexpr const char *kDescription =
      "The original downloader: one connection, one file at a time, no retries";

  using LegacyInstance::LegacyInstance;

  static dlhost_status create(std::string_view config_json, dlhost_event_fn on_event, void *user,
                              std::unique_ptr<LegacyPlugin> *out, std::string *error) {
    tr::TransportConfig cfg;
    if (!tr::parse_transport_config(config_json, &cfg, error)) return DLHOST_E_CONFIG;
    auto inst = std::make_unique<LegacyPlugin>(std::move(cfg), on_event, user);
    if (!inst->init(error)) return DLHOST_E_INTERNAL;
    *out = std::move(inst);
    return DLHOST_OK;
  }

  // dlhost.capacity/1: one connection, one file at a time.
  uint32_t running_capacity() const { return 1; }

  dlhost_status submit(tr::OwnedTask task, std::string *error) {
    if (!task.proxy_id.empty() && task.proxy_id != path_id()) {
      *error = "no proxy " + task.proxy_id + " (legacy has one path: " + path_id() + ")";
      return DLHOST_E_INVALID_ARGUMENT;
    }
    const dlhost_status st = LegacyInstance::submit(std::move(task));
    if (st == DLHOST_E_STATE) *error = "submit: the instance is shutting down";
    return st;
  }
};

}  // namespace

extern "C" DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(
    uint32_t host_abi_major, uint32_t host_abi_minor) {
  return tr::PluginShim<LegacyPlugin>::entry(host_abi_major, host_abi_minor);
}
