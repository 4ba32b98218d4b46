// Redaction: settings as they may be shown to a person or written to a log.
//
// `dlhost check-config` prints every setting; three of them carry secrets:
// PROXY_LIST (a "password" field, or a password inside a "url"), REDIS_URL
// (the password of redis://user:PASSWORD@host) and DOWNLOAD_HEADERS (the
// values of Authorization, Cookie, API keys and tokens). Each secret becomes
// "***"; everything else (user names, hosts, ports, other headers) stays, so
// the operator can still see which proxy or server is meant. A value that is
// not valid JSON where JSON is expected is not shown at all.
#pragma once

#include <string>
#include <string_view>

namespace dlhost {

inline constexpr std::string_view kRedacted = "***";

// `value` of setting `name`, safe to print.
std::string redact_setting(std::string_view name, const std::string &value);
// scheme://user:PASSWORD@host... -> scheme://user:***@host...; with
// `bare_user_is_secret`, scheme://SECRET@host -> scheme://***@host (Redis).
std::string redact_url(const std::string &url, bool bare_user_is_secret = false);
// True for header names whose value is a credential (Authorization, Cookie,
// X-Api-Key, anything with token, secret, auth, session, key or password).
bool is_secret_header(std::string_view name);

}  // namespace dlhost
