// Credentials never reach a message: redact_url() shows the userinfo of every
// URL in its text by util's one rule set ("http://user:pass@host/x" ->
// "http://user:***@host/x", "http://token@host/" -> "http://***@host/"; see
// dlhost/util/redact.h), and the text is made printable and cut to 200
// characters (util::echo): a 100 KB URL costs a message 200 characters.
#pragma once

#include <string>
#include <string_view>

namespace dlhost::transport {

std::string redact_url(std::string_view url);

}  // namespace dlhost::transport
