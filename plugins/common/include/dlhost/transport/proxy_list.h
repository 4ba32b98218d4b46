// PROXY_LIST's parser lives in util/ (dlhost/util/proxy_list.h), shared with
// the host's service; the transport layer uses it under its old names.
#pragma once

#include "dlhost/util/proxy_list.h"

namespace dlhost::transport {
using util::parse_proxy_list;
using util::ProxySpec;
}  // namespace dlhost::transport
