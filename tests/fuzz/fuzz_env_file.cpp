// libFuzzer target: `.env` files (parse_env_file, host/src/config).
//
// Any text is a map of settings or a ConfigError "FILE:LINE: message";
// nothing else escapes, nothing crashes (ASan, UBSan). Every key it returns
// is a non-empty name.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "dlhost/host/settings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char *>(data), size));
  try {
    for (const auto &[key, value] : dlhost::parse_env_file(in, "fuzz.env"))
      if (key.empty()) __builtin_trap();
  } catch (const dlhost::ConfigError &e) {
    if (std::string(e.what()).rfind("fuzz.env:", 0) != 0) __builtin_trap();
  }
  return 0;
}
