/*
 * The entry point and descriptor of the C example plugin: the only symbol
 * the library exports (hidden visibility everywhere else, plus the kit's
 * version script). It speaks ABI 1.x and refuses any other major.
 */
#include <dlhost/plugin.h>
#include <stddef.h>

#include "instance.h"

static const char *ex_strerror(dlhost_status status) {
  switch (status) {
    case DLHOST_OK: return "ok";
    case DLHOST_E_INVALID_ARGUMENT: return "invalid argument";
    case DLHOST_E_CONFIG: return "invalid configuration";
    case DLHOST_E_AGAIN: return "queue full, try again";
    case DLHOST_E_TIMEOUT: return "timed out";
    case DLHOST_E_STATE: return "invalid state";
    case DLHOST_E_NOT_FOUND: return "no such task";
    case DLHOST_E_NO_MEMORY: return "out of memory";
    case DLHOST_E_INTERNAL: return "internal error";
    case DLHOST_E_UNSUPPORTED: return "unsupported";
    case DLHOST_E_IO: return "I/O error";
    default: return "unknown status";
  }
}

static const dlhost_plugin_descriptor descriptor = {
    DLHOST_ABI_MAJOR,
    DLHOST_ABI_MINOR,
    (uint32_t)sizeof(dlhost_plugin_descriptor),
    0u,
    "c-example",
    "C example plugin",
    "0.1.0",
    "a plain C99 HTTP downloader: libcurl easy, one worker thread, no retries",
    ex_strerror,
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
