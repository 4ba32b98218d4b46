// The flat JSON fast path (see flat_json.hpp). A hand-written scanner over
// the line; every "return false" means "not sure", never "invalid".
#include "flat_json.hpp"

namespace dlhost {
namespace {

constexpr int kMaxDigits = 18;  // always fits std::int64_t

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool at_end() const { return i_ == s_.size(); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    skip_space();
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
      ++i_;
  }

  // A string of printable ASCII with no escapes.
  bool plain_string(std::string_view &out) {
    if (!eat('"')) return false;
    const size_t start = i_;
    for (; i_ < s_.size(); ++i_) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        out = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x7f) return false;
    }
    return false;
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  // -?(0|[1-9][0-9]*), at most kMaxDigits digits, not followed by a fraction
  // or an exponent.
  bool integer(FlatJsonValue &v) {
    const size_t start = i_;
    const bool negative = peek() == '-';
    if (negative) ++i_;
    const size_t digits_start = i_;
    std::int64_t n = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      // Counted before the digit is added: a 19th would overflow n (UB).
      if (i_ - digits_start == kMaxDigits) return false;
      n = n * 10 + (s_[i_] - '0');
      ++i_;
    }
    const size_t digits = i_ - digits_start;
    if (digits == 0 || (digits > 1 && s_[digits_start] == '0')) return false;
    const char next = peek();
    if (next == '.' || next == 'e' || next == 'E') return false;
    v.kind = FlatJsonValue::Kind::kInteger;
    v.text = s_.substr(start, i_ - start);
    v.integer = negative ? -n : n;
    return true;
  }

  bool value(FlatJsonValue &v) {
    skip_space();
    switch (peek()) {
      case '"':
        v.kind = FlatJsonValue::Kind::kString;
        return plain_string(v.text);
      case 't':
        v.kind = FlatJsonValue::Kind::kBool;
        return literal("true");
      case 'f':
        v.kind = FlatJsonValue::Kind::kBool;
        return literal("false");
      case 'n':
        v.kind = FlatJsonValue::Kind::kNull;
        return literal("null");
      default:
        return integer(v);  // anything else ('{', '[', ...) fails here
    }
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

bool FlatJsonObject::add(std::string_view key, const FlatJsonValue &value) {
  if (count_ == kMaxFields || find(key) != nullptr) return false;
  fields_[count_++] = FlatJsonField{key, value};
  return true;
}

const FlatJsonValue *FlatJsonObject::find(std::string_view key) const {
  for (int i = 0; i < count_; ++i)
    if (fields_[i].key == key) return &fields_[i].value;
  return nullptr;
}

bool FlatJsonObject::scan(std::string_view line) {
  count_ = 0;
  Scanner s(line);
  if (!s.eat('{')) return false;
  if (s.eat('}')) {
    s.skip_space();
    return s.at_end();
  }
  for (;;) {
    std::string_view key;
    FlatJsonValue value;
    if (!s.plain_string(key) || !s.eat(':') || !s.value(value) || !add(key, value)) return false;
    if (s.eat(',')) continue;
    if (!s.eat('}')) return false;
    s.skip_space();
    return s.at_end();
  }
}

}  // namespace dlhost
