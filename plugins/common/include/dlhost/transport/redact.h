// Credentials never reach a message: redact_url() shows the userinfo of every
// URL in its text by util's one rule set ("http://user:pass@host/x" ->
// "http://user:***@host/x", "http://token@host/" -> "http://***@host/"; see
// dlhost/util/redact.h). Text without a URL is returned unchanged.
#pragma once

#include <string>
#include <string_view>

namespace dlhost::transport {

std::string redact_url(std::string_view url);

}  // namespace dlhost::transport
