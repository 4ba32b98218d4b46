// redact_url: drop the userinfo of a URL's authority (see redact.h).
#include "dlhost/transport/redact.h"

namespace dlhost::transport {

std::string redact_url(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  size_t auth_begin = scheme_end + 3;
  size_t auth_end = url.find_first_of("/?#", auth_begin);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  std::string_view authority = url.substr(auth_begin, auth_end - auth_begin);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, auth_begin));
  out += "***";
  out += url.substr(auth_begin + at);
  return out;
}

}  // namespace dlhost::transport
