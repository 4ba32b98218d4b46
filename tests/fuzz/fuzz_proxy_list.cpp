// libFuzzer target: PROXY_LIST, as the plugins parse it (parse_proxy_list,
// plugins/common) and as check-config shows it (redact_setting, host).
//
// Any text is a list or one error message: nothing throws, nothing crashes,
// no undefined behaviour (ASan, UBSan). A parsed entry is the direct line or
// a proxy with an id and a URL.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dlhost/host/redact.hpp"
#include "dlhost/transport/proxy_list.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  std::vector<dlhost::transport::ProxySpec> proxies;
  std::string error;
  if (dlhost::transport::parse_proxy_list(text, &proxies, &error)) {
    for (const auto &p : proxies)
      if (p.id.empty() || (!p.direct && p.url.empty())) __builtin_trap();
  } else if (error.empty()) {
    __builtin_trap();  // a refusal always says why
  }
  (void)dlhost::redact_setting("PROXY_LIST", text);
  return 0;
}
