// A fast scanner for the one shape of JSON that big manifests are made of: a
// flat object whose values are plain strings, integers, true, false or null,
// e.g. {"url": "http://h/a.bin", "path": "a.bin", "size": 65536}.
//
// It is a fast path, not a parser: it accepts a line only when it understands
// all of it, and answers "not sure" for anything else (an escape or a byte
// outside printable ASCII in a string, a nested value, a fraction or an
// exponent, a leading zero, a very long number, a repeated key, a syntax
// error). The caller then parses the line with nlohmann::json, so what is
// accepted, what is rejected and every error message stay nlohmann's; this
// only saves the DOM (a std::map and a string per key) on the common line.
// Views point into the scanned line.
#pragma once

#include <cstdint>
#include <string_view>

namespace dlhost {

struct FlatJsonValue {
  enum class Kind { kString, kInteger, kBool, kNull } kind = Kind::kNull;
  std::string_view text;  // the string's bytes (no quotes); the number's digits
  std::int64_t integer = 0;
};

struct FlatJsonField {
  std::string_view key;
  FlatJsonValue value;
};

class FlatJsonObject {
 public:
  static constexpr int kMaxFields = 16;  // more than this: not sure

  // True when `line` (already trimmed) is a flat object this scanner fully
  // understands; false means "parse it properly".
  bool scan(std::string_view line);

  // The value of `key`, or nullptr when the object has no such key.
  const FlatJsonValue *find(std::string_view key) const;

 private:
  bool add(std::string_view key, const FlatJsonValue &value);

  FlatJsonField fields_[kMaxFields];
  int count_ = 0;
};

}  // namespace dlhost
