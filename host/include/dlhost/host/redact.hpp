// Redaction: settings as they may be shown to a person or written to a log.
//
// `dlhost check-config` prints every setting; three of them carry secrets,
// and each is redacted from the same parse that uses it:
//  - PROXY_LIST: a "password" field becomes "***"; a "url" is split as the
//    plugins split it to connect (util::UserinfoEnd::kLastAt) and rebuilt
//    with util's one rule set (scheme://user:***@host:port); an "ip" that
//    holds "user:pass@" (refused by the plugins) shows "***@host".
//  - REDIS_URL: rebuilt from parse_redis_url's own split (redis_url.hpp).
//  - DOWNLOAD_HEADERS: every value becomes "***", names stay. Which header
//    carries a credential cannot be known from its name (X-Pass,
//    X-Signature), so none is shown.
// A value that is not valid JSON where JSON is expected is not shown at all.
#pragma once

#include <string>
#include <string_view>

#include "dlhost/util/redact.h"

namespace dlhost {

using util::kRedacted;

// A webhook URL as it may be shown: scheme, host and port only. Webhook
// services put their secret in the path (Discord's /api/webhooks/ID/TOKEN,
// Slack's /services/T/B/KEY) or the query, so neither is ever shown.
std::string redact_webhook_url(const std::string &url);

// `value` of setting `name`, safe to print.
std::string redact_setting(std::string_view name, const std::string &value);

}  // namespace dlhost
