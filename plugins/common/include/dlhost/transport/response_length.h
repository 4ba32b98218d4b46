// What a response says about the length of the file: Content-Length and
// Content-Range, read strictly.
//
// A partial answer must never be stored as the whole file, so the transport
// compares what it stored with what the server declared for the whole file
// (easy_setup.cpp). That comparison is only as good as the parse: libcurl
// reads these headers leniently ("12abc" is 12; of two Content-Length
// headers the last wins), which is what let a lying server cut a file short.
// Here a length is a plain decimal with no sign, no fraction and no
// trailing junk, at most 2^53 (the largest integer a JSON reader keeps
// exactly; no real file comes near it). Surrounding spaces and tabs (HTTP's
// optional whitespace) are allowed. Pure functions, no libcurl: fuzzed by
// tests/fuzz/fuzz_content_range.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dlhost::transport {

inline constexpr uint64_t kMaxDeclaredLength = uint64_t{1} << 53;

// "1234" -> 1234. nullopt for anything else.
std::optional<uint64_t> parse_content_length(std::string_view value);

// Content-Range of a 206 ("bytes FIRST-LAST/TOTAL" or ".../*"), RFC 9110
// 14.4. total is -1 for "*". FIRST <= LAST, and LAST < TOTAL when it is
// known. The unit is case-insensitive.
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  int64_t total = -1;
};
std::optional<ContentRange> parse_content_range(std::string_view value);

// Content-Range of a 416 ("bytes */TOTAL"): TOTAL, or nullopt.
std::optional<uint64_t> parse_unsatisfied_range(std::string_view value);

}  // namespace dlhost::transport
