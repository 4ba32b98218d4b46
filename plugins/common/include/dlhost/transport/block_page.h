// Is a 2xx answer a block page instead of the file?
//
// DDoS protection in front of a file host answers a banned client with a
// 200 text/html page ("complete the security check"). A block page is a page
// that fails verification:
//  - when the manifest gives a sha256 or a size, verification decides: a body
//    that verifies is the file whatever its Content-Type (a file served as
//    text/html is still the file). Only a body that fails it (a wrong size,
//    seen before the commit, or a wrong sha256, seen by it) and came as
//    HTML for a file URL is called a block page rather than a mismatch;
//  - with nothing to verify against, the Content-Type decides alone.
// "Came as HTML for a file URL" is looks_like_block_page(): text/html (or
// XHTML) for a URL that does not name a page (ending in "/", .html, .htm,
// .php, .xhtml). The type read is the final response's (dlhost follows
// redirects itself, request.h), never a redirect's.
// Multi-proxy moves a file that got a block page to another path; legacy
// fails it with the same message.
#pragma once

#include <cstdint>
#include <string_view>

namespace dlhost::transport {

// The Content-Type heuristic alone.
bool looks_like_block_page(std::string_view content_type, std::string_view url);

// The rule above, before the commit: `stored` bytes arrived. content_type
// may be null (no header). A wrong sha256 is found by the commit; ask
// looks_like_block_page() then.
bool is_block_page(const char *content_type, std::string_view url, int64_t expected_size,
                   std::string_view expected_sha256, uint64_t stored);

// The start of the failure message; the redacted URL follows.
std::string_view block_page_text();

}  // namespace dlhost::transport
