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
// redacted(parts) of the very parts it connects with. A URL handed to
// libcurl as it is (a manifest's) is shown by redacted_url(): split as
// libcurl would (kAuthority), unless its authority is malformed
// ("http://u:pa/SECRET@host/f": a password with an unencoded '/', '?' or
// '#' cuts the authority short, at "u:pa"); then nobody can tell where the
// password ends, so everything up to the last '@' is taken for the userinfo
// (kLastAt), as PROXY_LIST does. So too when a URL with a userinfo has
// another '@' further on ("http://u:p@ss/SE@CRET@host/"). Without a ':' or an
// '@' in its authority, "http://tok/SECRET@host/" cannot be told from a path
// holding an '@' ("https://host/@user/a.jpg") and is shown as it is. Text that merely holds URLs (a
// libcurl error, a message naming a manifest URL) goes through redact_urls(), which finds each
// "scheme://" in it and shows it by redacted_url().
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
// One URL, as it may be shown (see above); `url` unchanged when it has no
// userinfo or is not a URL.
std::string redacted_url(std::string_view url);
// `text` with the userinfo of every URL in it redacted; anything else as it is.
std::string redact_urls(std::string_view text);

}  // namespace dlhost::util
