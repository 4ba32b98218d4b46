/*
 * The ABI baseline's probe: a tiny shared object, compiled with -g from
 * plugin.h, whose one exported function mentions every type of the ABI, so
 * libabigail's abidw records them all (abidw only sees types reachable from
 * exported symbols). tests/kit compares its abidw output with the committed
 * baselines, dlhost-plugin-abi-<version>.xml. The body is irrelevant; only
 * the types. A type added in a later minor gets a probe function of its own
 * (an added function is an addition; a changed parameter list is not).
 */
#include <dlhost/plugin.h>

DLHOST_EXPORT uint32_t dlhost_abi_probe(const dlhost_plugin_descriptor *descriptor,
                                        dlhost_plugin_entry_fn entry,
                                        const dlhost_task *task, const dlhost_event *event,
                                        dlhost_event_fn on_event, const dlhost_sink *sink,
                                        const dlhost_create_params *params,
                                        dlhost_instance *instance, dlhost_status status,
                                        dlhost_event_type event_type, dlhost_failure failure,
                                        dlhost_log_level level);

uint32_t dlhost_abi_probe(const dlhost_plugin_descriptor *descriptor, dlhost_plugin_entry_fn entry,
                          const dlhost_task *task, const dlhost_event *event,
                          dlhost_event_fn on_event, const dlhost_sink *sink,
                          const dlhost_create_params *params, dlhost_instance *instance,
                          dlhost_status status, dlhost_event_type event_type,
                          dlhost_failure failure, dlhost_log_level level) {
  (void)entry;
  (void)on_event;
  (void)instance;
  return descriptor->struct_size + task->struct_size + event->struct_size + sink->struct_size +
         params->struct_size + (uint32_t)status + (uint32_t)event_type + (uint32_t)failure +
         (uint32_t)level;
}

/* ABI 1.1: the "dlhost.proxies/1" extension. */
DLHOST_EXPORT uint32_t dlhost_abi_probe_1_1(const dlhost_proxies_ext *proxies);

uint32_t dlhost_abi_probe_1_1(const dlhost_proxies_ext *proxies) {
  return proxies->struct_size;
}

/* ABI 1.2: the "dlhost.capacity/1" extension. */
DLHOST_EXPORT uint32_t dlhost_abi_probe_1_2(const dlhost_capacity_ext *capacity);

uint32_t dlhost_abi_probe_1_2(const dlhost_capacity_ext *capacity) {
  return capacity->struct_size;
}
