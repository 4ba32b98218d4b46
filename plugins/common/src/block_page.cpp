// Block-page detection (see block_page.h).
#include "dlhost/transport/block_page.h"

#include <strings.h>

#include <cctype>
#include <string>

namespace dlhost::transport {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

}  // namespace

// Asked for every file: a type that is not HTML costs no allocation.
bool looks_like_block_page(std::string_view content_type, std::string_view url) {
  if (!starts_with_nocase(content_type, "text/html") &&
      !starts_with_nocase(content_type, "application/xhtml"))
    return false;
  std::string path = lower(url.substr(0, url.find_first_of("?#")));
  if (auto sep = path.find("://"); sep != std::string::npos) {
    auto slash = path.find('/', sep + 3);
    path = slash == std::string::npos ? "/" : path.substr(slash);
  }
  // The URL asks for a page, not a file: HTML is the expected answer.
  return !(ends_with(path, "/") || ends_with(path, ".html") || ends_with(path, ".htm") ||
           ends_with(path, ".php") || ends_with(path, ".xhtml"));
}

bool is_block_page(const char *content_type, std::string_view url, int64_t expected_size,
                   std::string_view expected_sha256, uint64_t stored) {
  if (content_type == nullptr) return false;
  const bool verifiable = expected_size >= 0 || !expected_sha256.empty();
  const bool fails_size = expected_size >= 0 && stored != static_cast<uint64_t>(expected_size);
  if (verifiable && !fails_size) return false;  // the commit's check decides
  return looks_like_block_page(content_type, url);
}

std::string_view block_page_text() {
  return "an HTML page came instead of the file (a block page?) from ";
}

}  // namespace dlhost::transport
