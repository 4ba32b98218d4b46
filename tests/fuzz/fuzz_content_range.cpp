// libFuzzer target: Content-Length and Content-Range as servers send them
// (parse_content_length, parse_content_range, parse_unsatisfied_range in
// plugins/common/src/response_length.cpp).
//
// Any text is a length or nothing; nothing crashes (ASan, UBSan). What
// parses holds the invariants the transport relies on: at most 2^53,
// first <= last, last < total when the total is known, and printing the
// result back parses to the same values.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dlhost/transport/response_length.h"

namespace tr = dlhost::transport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  if (auto n = tr::parse_content_length(text)) {
    if (*n > tr::kMaxDeclaredLength) __builtin_trap();
    if (tr::parse_content_length(std::to_string(*n)) != n) __builtin_trap();
  }
  if (auto r = tr::parse_content_range(text)) {
    if (r->first > r->last || r->last > tr::kMaxDeclaredLength) __builtin_trap();
    if (r->total >= 0 && r->last >= static_cast<uint64_t>(r->total)) __builtin_trap();
    const std::string again = "bytes " + std::to_string(r->first) + "-" + std::to_string(r->last) +
                              "/" + (r->total < 0 ? std::string("*") : std::to_string(r->total));
    auto back = tr::parse_content_range(again);
    if (!back || back->first != r->first || back->last != r->last || back->total != r->total)
      __builtin_trap();
  }
  if (auto t = tr::parse_unsatisfied_range(text)) {
    if (*t > tr::kMaxDeclaredLength) __builtin_trap();
  }
  return 0;
}
