// Redaction: how a credential inside a URL is shown, once for all of dlhost.
//
// One rule set, applied to parsed parts (url.h), never to raw text:
//  - "user:password@" is shown as "user:***@" (an empty user stays empty:
//    ":***@");
//  - a userinfo without ':' ("token@", Redis's "password@") is all secret
//    and shown as "***@";
//  - scheme, host, port, path, query and fragment are kept, so a person can
//    still tell which proxy or server is meant.
// Code that parses a URL to connect (PROXY_LIST, REDIS_URL) shows
// redacted(parts) of the very parts it connects with. Text that merely holds
// URLs (a libcurl error, a message naming a manifest URL) goes through
// redact_urls(), which finds each "scheme://" in it and splits it as libcurl
// would (kAuthority).
#pragma once

#include <string>
#include <string_view>

#include "dlhost/util/url.h"

namespace dlhost::util {

inline constexpr std::string_view kRedacted = "***";

// "user:***" or "***".
std::string redacted(const Userinfo &userinfo);
// scheme://[redacted userinfo@]host_port rest
std::string redacted(const UrlParts &parts);
// `text` with the userinfo of every URL in it redacted; anything else as it is.
std::string redact_urls(std::string_view text);

}  // namespace dlhost::util
