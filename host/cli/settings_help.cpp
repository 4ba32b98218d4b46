// The settings part of every job command's --help, generated from the
// settings table so the help cannot drift from what the host accepts.
#include <cstdio>

#include "commands.hpp"

namespace dlhost::cli {

std::string settings_help() {
  std::string out =
      "Settings (flag > environment > .env > default; `dlhost check-config` shows the values\n"
      "in effect and where each came from; .env.dist documents each):\n";
  for (const auto &spec : setting_table()) {
    std::string value = spec.default_value;
    if (std::string_view(spec.name) == "DOWNLOAD_USER_AGENT") value = "dlhost/VERSION";
    if (value.empty()) value = "(empty)";
    char line[512];
    std::snprintf(line, sizeof line, "  %-24s default %-14s %s\n", spec.name, value.c_str(),
                  spec.help);
    out += line;
  }
  out +=
      "Exit status: 0 all done or already present, 1 some file failed, 2 usage/config/"
      "manifest/plugin error (nothing downloaded), 130 interrupted.";
  return out;
}

}  // namespace dlhost::cli
