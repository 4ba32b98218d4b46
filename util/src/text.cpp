// Text helpers (see text.h).
#include "dlhost/util/text.h"

namespace dlhost::util {

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string one_line(std::string s) {
  for (char &c : s) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace {

// The length of the valid UTF-8 sequence at `s[i]` (2..4), or 0 when the bytes
// there are not one (overlong forms, surrogates and code points past U+10FFFF
// are not valid either).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

// A valid UTF-8 character that acts on the display instead of showing: C1
// controls (U+0080..U+009F; some terminals obey them), and the invisible
// format characters that can reorder or hide text (bidi embeddings, overrides
// and isolates, zero-width characters, line and paragraph separators, the
// byte order mark).
bool is_invisible_control(std::string_view c) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(c[k]); };
  if (c.size() == 2) return byte(0) == 0xc2 && byte(1) < 0xa0;
  if (c.size() != 3) return false;
  const unsigned cp = (byte(0) & 0x0fu) << 12 | (byte(1) & 0x3fu) << 6 | (byte(2) & 0x3fu);
  return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

// The unit of text at s[i] (one byte, or one UTF-8 character): returns its
// length in bytes and sets `escape` when it must be written as \xNN escapes.
std::size_t next_unit(std::string_view s, std::size_t i, bool &escape) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    escape = b < 0x20 || b == 0x7f;
    return 1;
  }
  const std::size_t n = utf8_sequence(s, i);
  escape = n == 0 || is_invisible_control(s.substr(i, n));
  return n == 0 ? 1 : n;
}

void append_escape(std::string &out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    bool escape = false;
    const std::size_t n = next_unit(s, i, escape);
    if (escape) {
      append_escape(out, s.substr(i, n));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string echo(std::string_view s, std::size_t max_chars) {
  constexpr std::string_view kEllipsis = "\xe2\x80\xa6";  // U+2026
  std::string out;
  std::size_t chars = 0;      // characters in `out`
  std::size_t cut_bytes = 0;  // `out`'s size while it still had room for the ellipsis
  bool cut_known = false;
  for (std::size_t i = 0; i < s.size();) {
    bool escape = false;
    const std::size_t n = next_unit(s, i, escape);
    const std::size_t width = escape ? 4 * n : 1;
    if (!cut_known && chars + width > max_chars - 1) {
      cut_bytes = out.size();
      cut_known = true;
    }
    if (chars + width > max_chars) {
      out.resize(cut_bytes);
      out += kEllipsis;
      return out;
    }
    if (escape) {
      append_escape(out, s.substr(i, n));
    } else {
      out.append(s.substr(i, n));
    }
    chars += width;
    i += n;
  }
  return out;
}

std::string_view strip_bom(std::string_view line) {
  constexpr std::string_view kBom = "\xef\xbb\xbf";
  return line.starts_with(kBom) ? line.substr(kBom.size()) : line;
}

}  // namespace dlhost::util
