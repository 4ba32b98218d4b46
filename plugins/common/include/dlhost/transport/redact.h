// Credentials never reach a message: redact_url() replaces the userinfo part
// of a URL ("http://user:pass@host/x" -> "http://***@host/x"). Text that is
// not a URL is returned unchanged.
#pragma once

#include <string>
#include <string_view>

namespace dlhost::transport {

std::string redact_url(std::string_view url);

}  // namespace dlhost::transport
