// libFuzzer target: the manifest reader (ManifestReader, host/src/input).
//
// The input is a whole manifest. Each line becomes an entry or raises a
// ManifestError; nothing else may escape (no other exception, no crash, no
// undefined behaviour: the build runs it under ASan and UBSan). Every entry
// it accepts keeps the trust rule: a URL, a non-empty destination path that
// stays beneath the output directory, and a group.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "dlhost/host/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char *>(data), size));
  dlhost::ManifestReader reader(in, "fuzz.jsonl");
  dlhost::ManifestEntry entry;
  try {
    while (reader.next(entry)) {
      if (entry.url.empty() || entry.path.empty() || entry.group.empty() ||
          dlhost::unsafe_path_reason(entry.path))
        __builtin_trap();
    }
  } catch (const dlhost::ManifestError &) {
    // a bad line: the answer a user gets, with its line number
  }
  return 0;
}
