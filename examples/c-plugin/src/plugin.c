/*
 * The entry point and descriptor of the C example plugin: the only symbol
 * the library exports (hidden visibility everywhere else, plus the kit's
 * version script). It speaks ABI 1.x and refuses any other major.
 */
#include <dlhost/plugin.h>
#include <dlhost/status_text.h>
#include <stddef.h>

#include "instance.h"

static const dlhost_plugin_descriptor descriptor = {
    DLHOST_ABI_MAJOR,
    DLHOST_ABI_MINOR,
    (uint32_t)sizeof(dlhost_plugin_descriptor),
    0u,
    "c-example",
    "C example plugin",
    "0.1.0",
    "a plain C99 HTTP downloader: libcurl easy, one worker thread, no retries",
    dlhost_status_text, /* the kit's text for every code, never NULL */
    ex_create,
    ex_submit,
    ex_start,
    ex_cancel,
    ex_wait,
    ex_destroy,
    ex_stats,
    ex_health};

DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor);

const dlhost_plugin_descriptor *dlhost_plugin_entry(uint32_t host_abi_major,
                                                    uint32_t host_abi_minor) {
  (void)host_abi_minor;
  return host_abi_major == DLHOST_ABI_MAJOR ? &descriptor : NULL;
}
