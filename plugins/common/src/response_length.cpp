// Strict Content-Length and Content-Range parsing (see response_length.h).
#include "dlhost/transport/response_length.h"

#include <cctype>

namespace dlhost::transport {
namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Leading digits of *v as a number (consumed), at most kMaxDeclaredLength.
std::optional<uint64_t> take_number(std::string_view *v) {
  uint64_t n = 0;
  size_t i = 0;
  for (; i < v->size() && std::isdigit(static_cast<unsigned char>((*v)[i])); ++i) {
    n = n * 10 + static_cast<uint64_t>((*v)[i] - '0');
    if (n > kMaxDeclaredLength) return std::nullopt;
  }
  if (i == 0) return std::nullopt;
  v->remove_prefix(i);
  return n;
}

bool take(std::string_view *v, char c) {
  if (v->empty() || v->front() != c) return false;
  v->remove_prefix(1);
  return true;
}

bool take_unit(std::string_view *v) {
  constexpr std::string_view kUnit = "bytes ";
  if (v->size() < kUnit.size()) return false;
  for (size_t i = 0; i < kUnit.size(); ++i)
    if (std::tolower(static_cast<unsigned char>((*v)[i])) != kUnit[i]) return false;
  v->remove_prefix(kUnit.size());
  while (take(v, ' ')) {
  }
  return true;
}

}  // namespace

std::optional<uint64_t> parse_content_length(std::string_view value) {
  std::string_view v = trim(value);
  auto n = take_number(&v);
  if (!n || !v.empty()) return std::nullopt;
  return n;
}

std::optional<ContentRange> parse_content_range(std::string_view value) {
  std::string_view v = trim(value);
  if (!take_unit(&v)) return std::nullopt;
  ContentRange r;
  auto first = take_number(&v);
  if (!first || !take(&v, '-')) return std::nullopt;
  auto last = take_number(&v);
  if (!last || !take(&v, '/') || *last < *first) return std::nullopt;
  r.first = *first;
  r.last = *last;
  if (take(&v, '*')) return v.empty() ? std::optional<ContentRange>(r) : std::nullopt;
  auto total = take_number(&v);
  if (!total || !v.empty() || *last >= *total) return std::nullopt;
  r.total = static_cast<int64_t>(*total);
  return r;
}

std::optional<uint64_t> parse_unsatisfied_range(std::string_view value) {
  std::string_view v = trim(value);
  if (!take_unit(&v) || !take(&v, '*') || !take(&v, '/')) return std::nullopt;
  auto total = take_number(&v);
  if (!total || !v.empty()) return std::nullopt;
  return total;
}

}  // namespace dlhost::transport
