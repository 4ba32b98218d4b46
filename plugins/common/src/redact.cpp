// redact_url: util's one rule set (dlhost/util/redact.h) under the name the
// transports know.
#include "dlhost/transport/redact.h"

#include "dlhost/util/redact.h"
#include "dlhost/util/text.h"

namespace dlhost::transport {

std::string redact_url(std::string_view url) {
  return util::echo(util::redact_urls(url));
}

}  // namespace dlhost::transport
