// The one redaction rule set (see redact.h).
#include "dlhost/util/redact.h"

namespace dlhost::util {
namespace {

// Where a URL inside free text ends: white space, quotes and brackets are
// not part of a URL as messages write them.
bool ends_url(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\'' || c == '<' ||
         c == '>' || c == '(' || c == ')';
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_scheme_char(char c) {
  return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

}  // namespace

std::string redacted(const Userinfo &userinfo) {
  if (!userinfo.password) return std::string(kRedacted);
  return std::string(userinfo.user) + ":" + std::string(kRedacted);
}

std::string redacted(const UrlParts &parts) {
  std::string out(parts.scheme);
  out += "://";
  if (parts.userinfo) out += redacted(*parts.userinfo) + "@";
  out += parts.host_port;
  out += parts.rest;
  return out;
}

std::string redact_urls(std::string_view text) {
  std::string out;
  std::size_t copied = 0;  // text[0, copied) is in `out`
  for (auto sep = text.find("://"); sep != std::string_view::npos;
       sep = text.find("://", sep + 3)) {
    std::size_t begin = sep;
    while (begin > copied && is_scheme_char(text[begin - 1])) --begin;
    // A scheme starts with a letter: "x9http://" holds the scheme "http".
    while (begin < sep && !is_alpha(text[begin])) ++begin;
    std::size_t end = sep + 3;
    while (end < text.size() && !ends_url(text[end])) ++end;
    const auto parts = split_url(text.substr(begin, end - begin), UserinfoEnd::kAuthority);
    if (!parts || !parts->userinfo) continue;
    out.append(text.substr(copied, begin - copied));
    out += redacted(*parts);
    copied = end;
    sep = end - 3;  // the next search starts at `end`
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace dlhost::util
