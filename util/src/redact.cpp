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

namespace {

// The split that hides every possible password (see redact.h).
std::optional<UrlParts> shown_split(std::string_view url) {
  auto parts = split_url(url, UserinfoEnd::kAuthority);
  const bool unclear =
      parts && (!valid_host_port(parts->host_port) ||
                (parts->userinfo && parts->rest.find('@') != std::string_view::npos));
  return unclear ? split_url(url, UserinfoEnd::kLastAt) : parts;
}

}  // namespace

std::string redacted_url(std::string_view url) {
  const auto parts = shown_split(url);
  return parts && parts->userinfo ? redacted(*parts) : std::string(url);
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
    const auto parts = shown_split(text.substr(begin, end - begin));
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
