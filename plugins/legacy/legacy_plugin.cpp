// The legacy plugin's C ABI surface: the descriptor and thin entry points
// that check arguments, guard against exceptions (abi_glue) and forward to
// LegacyInstance. dlhost_plugin_entry is the library's only export.
#include <memory>
#include <string>

#include "dlhost/plugin.h"
#include "dlhost/transport/abi_glue.h"
#include "legacy_worker.h"

namespace {

namespace tr = dlhost::transport;
using dlhost::legacy::LegacyInstance;

LegacyInstance *self(dlhost_instance *inst) {
  return reinterpret_cast<LegacyInstance *>(inst);
}

dlhost_status create_instance(const dlhost_create_params *params, dlhost_instance **out,
                              char *errbuf, size_t errbuf_size) {
  std::string error;
  dlhost_create_params p;
  if (out == nullptr) error = "create: out is NULL";
  dlhost_status st =
      out == nullptr ? DLHOST_E_INVALID_ARGUMENT : tr::read_create_params(params, &p, &error);
  if (st != DLHOST_OK) {
    tr::write_error(errbuf, errbuf_size, error);
    return st;
  }
  *out = nullptr;
  tr::TransportConfig cfg;
  if (!tr::parse_transport_config(p.config_json != nullptr ? p.config_json : "", &cfg, &error)) {
    tr::write_error(errbuf, errbuf_size, error);
    return DLHOST_E_CONFIG;
  }
  tr::ensure_curl_global_init();
  auto inst = std::make_unique<LegacyInstance>(std::move(cfg), p.on_event, p.user);
  if (!inst->init(&error)) {
    tr::write_error(errbuf, errbuf_size, error);
    return DLHOST_E_INTERNAL;
  }
  *out = reinterpret_cast<dlhost_instance *>(inst.release());
  return DLHOST_OK;
}

dlhost_status legacy_create(const dlhost_create_params *params, dlhost_instance **out, char *errbuf,
                            size_t errbuf_size) {
  return tr::guard_status(errbuf, errbuf_size,
                          [&] { return create_instance(params, out, errbuf, errbuf_size); });
}

dlhost_status legacy_submit(dlhost_instance *inst, const dlhost_task *task, char *errbuf,
                            size_t errbuf_size) {
  return tr::guard_status(errbuf, errbuf_size, [&] {
    if (inst == nullptr) return DLHOST_E_INVALID_ARGUMENT;
    tr::OwnedTask owned;
    std::string error;
    dlhost_status st = tr::copy_task(task, &owned, &error);
    if (st == DLHOST_OK) st = self(inst)->submit(std::move(owned));
    if (st == DLHOST_E_STATE) error = "submit: the instance is shutting down";
    if (st != DLHOST_OK && st != DLHOST_E_AGAIN) tr::write_error(errbuf, errbuf_size, error);
    return st;
  });
}

dlhost_status legacy_start(dlhost_instance *inst) {
  return tr::guard_status(
      [&] { return inst == nullptr ? DLHOST_E_INVALID_ARGUMENT : self(inst)->start(); });
}

dlhost_status legacy_cancel(dlhost_instance *inst, uint64_t task_id) {
  return tr::guard_status(
      [&] { return inst == nullptr ? DLHOST_E_INVALID_ARGUMENT : self(inst)->cancel(task_id); });
}

dlhost_status legacy_wait(dlhost_instance *inst, int32_t timeout_ms) {
  return tr::guard_status(
      [&] { return inst == nullptr ? DLHOST_E_INVALID_ARGUMENT : self(inst)->wait(timeout_ms); });
}

void legacy_destroy(dlhost_instance *inst) {
  tr::guard_void([&] { delete self(inst); });
}

dlhost_status legacy_stats(dlhost_instance *inst, const dlhost_sink *sink) {
  return tr::guard_status([&] {
    return inst == nullptr ? DLHOST_E_INVALID_ARGUMENT
                           : tr::json_to_sink(self(inst)->stats(), sink);
  });
}

dlhost_status legacy_health(dlhost_instance *inst, const dlhost_sink *sink) {
  return tr::guard_status([&] {
    return inst == nullptr ? DLHOST_E_INVALID_ARGUMENT
                           : tr::json_to_sink(self(inst)->health(), sink);
  });
}

const dlhost_plugin_descriptor kDescriptor = {
    DLHOST_ABI_MAJOR,
    DLHOST_ABI_MINOR,
    sizeof(dlhost_plugin_descriptor),
    0,
    "legacy",
    "Legacy downloader",
    "1.0.0",
    "The original downloader: one connection, one file at a time, no retries",
    &tr::status_strerror,
    &legacy_create,
    &legacy_submit,
    &legacy_start,
    &legacy_cancel,
    &legacy_wait,
    &legacy_destroy,
    &legacy_stats,
    &legacy_health,
};

}  // namespace

extern "C" DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(
    uint32_t host_abi_major, uint32_t /*host_abi_minor*/) {
  return host_abi_major == DLHOST_ABI_MAJOR ? &kDescriptor : nullptr;
}
