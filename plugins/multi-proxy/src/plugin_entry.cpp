// The exported entry point and the C ABI descriptor of dlhost-multi-proxy.
//
// Every function here is a thin, exception-proof shim (common's guard_status)
// over the EventLoop: it checks arguments, copies borrowed data, and turns the
// result into a dlhost_status. Nothing C++ crosses the boundary.
#include <dlhost/plugin.h>
#include <dlhost/transport/abi_glue.h>

#include "instance.h"

namespace {

using namespace dlhost;
namespace tp = dlhost::transport;

dlhost_status mp_create(const dlhost_create_params *params, dlhost_instance **out, char *errbuf,
                        size_t errbuf_size) {
  return tp::guard_status(errbuf, errbuf_size, [&]() -> dlhost_status {
    if (out == nullptr) return DLHOST_E_INVALID_ARGUMENT;
    *out = nullptr;
    dlhost_create_params p{};
    std::string error;
    if (dlhost_status s = tp::read_create_params(params, &p, &error); s != DLHOST_OK) {
      tp::write_error(errbuf, errbuf_size, error);
      return s;
    }
    tp::ensure_curl_global_init();
    const char *cfg = p.config_json != nullptr ? p.config_json : "";
    dlhost_status s = mp::make_instance(cfg, p.on_event, p.user, out, &error);
    if (s != DLHOST_OK) tp::write_error(errbuf, errbuf_size, error);
    return s;
  });
}

dlhost_status mp_submit(dlhost_instance *inst, const dlhost_task *task, char *errbuf,
                        size_t errbuf_size) {
  return tp::guard_status(errbuf, errbuf_size, [&]() -> dlhost_status {
    if (inst == nullptr) return DLHOST_E_INVALID_ARGUMENT;
    tp::OwnedTask t;
    std::string error;
    dlhost_status s = tp::copy_task(task, &t, &error);
    if (s == DLHOST_OK) {
      mp::TaskSpec spec{
          t.id,  std::move(t.url), std::move(t.dest_path), std::move(t.group), std::move(t.sha256),
          t.size};
      s = inst->loop->submit(std::move(spec), &error);
    }
    if (s != DLHOST_OK && s != DLHOST_E_AGAIN) tp::write_error(errbuf, errbuf_size, error);
    return s;
  });
}

dlhost_status mp_start(dlhost_instance *inst) {
  return tp::guard_status([&] { return inst ? inst->loop->start() : DLHOST_E_INVALID_ARGUMENT; });
}

dlhost_status mp_cancel(dlhost_instance *inst, uint64_t task_id) {
  return tp::guard_status(
      [&] { return inst ? inst->loop->cancel(task_id) : DLHOST_E_INVALID_ARGUMENT; });
}

dlhost_status mp_wait(dlhost_instance *inst, int32_t timeout_ms) {
  return tp::guard_status(
      [&] { return inst ? inst->loop->wait(timeout_ms) : DLHOST_E_INVALID_ARGUMENT; });
}

void mp_destroy(dlhost_instance *inst) {
  tp::guard_void([&] { delete inst; });
}

dlhost_status mp_stats(dlhost_instance *inst, const dlhost_sink *sink) {
  return tp::guard_status([&] {
    return inst ? tp::json_to_sink(inst->loop->stats_json(), sink) : DLHOST_E_INVALID_ARGUMENT;
  });
}

dlhost_status mp_health(dlhost_instance *inst, const dlhost_sink *sink) {
  return tp::guard_status([&] {
    return inst ? tp::json_to_sink(inst->loop->health_json(), sink) : DLHOST_E_INVALID_ARGUMENT;
  });
}

const dlhost_plugin_descriptor kDescriptor = {
    DLHOST_ABI_MAJOR,
    DLHOST_ABI_MINOR,
    sizeof(dlhost_plugin_descriptor),
    0,
    "multi-proxy",
    "dlhost multi-proxy",
    "0.1.0",
    "one libcurl event loop over a pool of proxies: per-proxy limits, retries, health, failover",
    &tp::status_strerror,
    &mp_create,
    &mp_submit,
    &mp_start,
    &mp_cancel,
    &mp_wait,
    &mp_destroy,
    &mp_stats,
    &mp_health,
};

}  // namespace

extern "C" DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(
    uint32_t host_abi_major, uint32_t /*host_abi_minor*/) {
  return host_abi_major == DLHOST_ABI_MAJOR ? &kDescriptor : nullptr;
}
