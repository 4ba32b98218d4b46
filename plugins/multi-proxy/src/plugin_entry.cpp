// The one export of dlhost-multi-proxy: plugins/common's PluginShim turns
// MultiProxyPlugin (instance.h) into the C ABI descriptor.
#include <dlhost/plugin.h>
#include <dlhost/transport/plugin_shim.h>

#include "instance.h"

extern "C" DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(
    uint32_t host_abi_major, uint32_t host_abi_minor) {
  return dlhost::transport::PluginShim<dlhost::mp::MultiProxyPlugin>::entry(host_abi_major,
                                                                            host_abi_minor);
}
