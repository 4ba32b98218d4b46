/*
 * The entry point and descriptor of the C example plugin: the only symbol
 * the library exports (hidden visibility everywhere else, plus the kit's
 * version script). It speaks ABI 1.x and refuses any other major.
 */
#include <dlhost/plugin.h>
#include <dlhost/status_text.h>
#include <stddef.h>

#include "instance.h"

/* Designated initializers: fields a later ABI minor appends (1.1 added
 * get_extension) are then simply NULL, and the plugin keeps compiling,
 * warning-free, against every 1.x header. */
static const dlhost_plugin_descriptor descriptor = {
    .abi_major = DLHOST_ABI_MAJOR,
    .abi_minor = DLHOST_ABI_MINOR,
    .struct_size = (uint32_t)sizeof(dlhost_plugin_descriptor),
    .id = "c-example",
    .name = "C example plugin",
    .version = "0.1.0",
    .description = "a plain C99 HTTP downloader: libcurl easy, one worker thread, no retries",
    .strerror = dlhost_status_text, /* the kit's text for every code, never NULL */
    .create = ex_create,
    .submit = ex_submit,
    .start = ex_start,
    .cancel = ex_cancel,
    .wait = ex_wait,
    .destroy = ex_destroy,
    .stats = ex_stats,
    .health = ex_health};

DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor);

const dlhost_plugin_descriptor *dlhost_plugin_entry(uint32_t host_abi_major,
                                                    uint32_t host_abi_minor) {
  (void)host_abi_minor;
  return host_abi_major == DLHOST_ABI_MAJOR ? &descriptor : NULL;
}
