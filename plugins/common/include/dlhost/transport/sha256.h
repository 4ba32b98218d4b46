// Streaming SHA-256 for the transports: util's (dlhost/util/digest.h), which
// the host uses too, under the name the plugins know.
//
// Bytes are fed with update() as they arrive from the network, so a download
// is hashed in the same pass that writes it, never by reading the file back.
#pragma once

#include "dlhost/util/digest.h"

namespace dlhost::transport {

using util::is_sha256_hex;
using util::Sha256;

}  // namespace dlhost::transport
