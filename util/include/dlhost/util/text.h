// Small text helpers shared by the host and the plugins.
//
// They exist once so that every part of dlhost reads settings, manifests and
// URLs the same way: trim() knows the same white space everywhere, and
// one_line() is how a message that may hold a server's or a manifest's text
// becomes a single line before it is stored.
//
// printable() is how any such text reaches a person (a terminal, a log, a
// page): a manifest or a server must not be able to move the cursor, retitle
// the terminal or forge a line, so every control character becomes visible
// text ("\x1b", four characters). It is applied where text leaves dlhost
// (the progress display, the command line's messages, check-config), and it is
// idempotent: text escaped once comes out of a second pass unchanged, so a
// message built from escaped parts may be escaped again at its sink.
#pragma once

#include <cstddef>
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

// `s` with every C0 control character (tab, CR and LF included), DEL, every C1
// control (U+0080..U+009F), the invisible characters that reorder or hide
// text (bidi controls U+202A..U+202E and U+2066..U+2069, zero-width
// U+200B..U+200F and U+2060..U+2064, U+2028, U+2029, U+FEFF) and every byte
// that is not part of valid UTF-8 written as \xNN (lowercase hex, one escape
// per byte). Everything else, backslashes and printable UTF-8 included, is
// kept.
std::string printable(std::string_view s);

// How text from a manifest is echoed in a message: printable(), and cut to at
// most `max_chars` characters (code points), the last of them an ellipsis
// ("…") when anything was cut. A 200 MB bad line costs 200 characters.
inline constexpr std::size_t kEchoChars = 200;
std::string echo(std::string_view s, std::size_t max_chars = kEchoChars);

// `line` without a UTF-8 byte order mark at its start (editors on Windows
// write one at the start of a file).
std::string_view strip_bom(std::string_view line);

}  // namespace dlhost::util
