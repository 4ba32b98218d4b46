// One entry of PROXY_LIST, and the parser for the whole list: the plugins
// configure their paths with it, and `dlhost serve` names the proxies its
// listProxies, addProxy and removeProxy show and change by the same ids.
//
// PROXY_LIST is a JSON array whose entries take one of three shapes:
//   {"isLocalhost": true}                                   -> direct line
//   {"ip","port","username","password","protocol"}          -> a proxy
//   {"url": "socks5h://user:pass@host:port"}                -> a proxy
// protocol is http (default), https, socks5 or socks5h. Credentials are kept
// apart from the URL so they go only into libcurl options; `id` (and `url`)
// never contain them and are what logs, events and stats show.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dlhost::util {

struct ProxySpec {
  bool direct = false;   // {"isLocalhost": true}: no proxy
  std::string id;        // "direct" or "http://127.0.0.2:8888" (no credentials)
  std::string url;       // proxy URL for CURLOPT_PROXY, without credentials; "" if direct
  std::string username;  // for CURLOPT_PROXYUSERNAME, "" if none
  std::string password;  // for CURLOPT_PROXYPASSWORD
};

// Parses PROXY_LIST text ("" = empty list = direct only). On error returns
// false with a message naming PROXY_LIST and the entry index (no credentials).
bool parse_proxy_list(std::string_view json_text, std::vector<ProxySpec> *out, std::string *error);

}  // namespace dlhost::util
