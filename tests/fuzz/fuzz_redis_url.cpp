// libFuzzer target: REDIS_URL (parse_redis_url, host/src/redis).
//
// Any text is an address or a std::invalid_argument naming REDIS_URL;
// nothing else escapes, nothing crashes (ASan, UBSan). A parsed address is
// a TCP host and port in range, or an absolute unix socket path.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "dlhost/host/redis_connection.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  try {
    const auto a = dlhost::parse_redis_url(text);
    if (a.socket_path.empty() ? (a.host.empty() || a.port < 1 || a.port > 65535)
                              : a.socket_path[0] != '/')
      __builtin_trap();
  } catch (const std::invalid_argument &e) {
    if (std::string(e.what()).rfind("REDIS_URL", 0) != 0) __builtin_trap();
  }
  return 0;
}
