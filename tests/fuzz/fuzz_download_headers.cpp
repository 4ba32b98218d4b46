// libFuzzer target: DOWNLOAD_HEADERS, as a plugin gets it (a string inside
// the configuration JSON, parsed by parse_transport_config, plugins/common)
// and as check-config shows it (redact_setting, host).
//
// Any text is a set of headers or one error message: nothing throws or
// crashes (ASan, UBSan). An accepted header cannot smuggle another request
// line or header: its name is a non-empty token and its value one line.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "dlhost/host/redact.hpp"
#include "dlhost/transport/transport_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  // As the host builds it; invalid UTF-8 is replaced, as nlohmann would not
  // write it at all.
  const auto config = nlohmann::json{{"DOWNLOAD_HEADERS", text}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  dlhost::transport::TransportConfig parsed;
  std::string error;
  if (dlhost::transport::parse_transport_config(config, &parsed, &error)) {
    for (const auto &[name, value] : parsed.headers) {
      if (name.empty() || name.find_first_of(":\r\n \t") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos)
        __builtin_trap();
    }
  } else if (error.empty()) {
    __builtin_trap();
  }
  (void)dlhost::redact_setting("DOWNLOAD_HEADERS", text);
  return 0;
}
