// Small text helpers shared by the host and the plugins.
//
// They exist once so that every part of dlhost reads settings, manifests and
// URLs the same way: trim() knows the same white space everywhere, and
// one_line() is how a message that may hold a server's or a manifest's text
// becomes a single line before it is printed or stored.
#pragma once

#include <string>
#include <string_view>

namespace dlhost::util {

// `s` without leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view s);

// The value of one hex digit (either case), or -1.
int hex_value(char c);

// `s` with every %XX escape decoded (a '%' not followed by two hex digits
// stays as it is).
std::string percent_decode(std::string_view s);

// `s` with every CR, LF and tab replaced by a space.
std::string one_line(std::string s);

// ASCII lower case of `s`.
std::string lower(std::string_view s);

}  // namespace dlhost::util
