// `dlhost plugins`: the built-in and discovered plugins with their versions.
#include <cstdio>
#include <set>

#include "commands.hpp"
#include "dlhost/host/plugin_loader.hpp"

namespace dlhost::cli {
namespace {

std::vector<fs::path> discovered_plugin_files() {
  std::vector<fs::path> files;
  for (const auto &dir : plugin_search_dirs()) {
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
      const auto name = entry.path().filename().string();
      if (name.rfind("dlhost-", 0) == 0 && entry.path().extension() == ".so") {
        files.push_back(entry.path());
      }
    }
  }
  return files;
}

std::string plugin_name_of(const fs::path &file) {
  return file.stem().string().substr(std::string("dlhost-").size());
}

}  // namespace

int plugins_command() {
  const auto files = discovered_plugin_files();
  std::set<std::string> found;
  std::printf("%-14s %-10s %-5s %s\n", "NAME", "VERSION", "ABI", "PATH");
  for (const auto &file : files) {
    found.insert(plugin_name_of(file));
    try {
      const auto plugin = LoadedPlugin::load(file);
      std::printf("%-14s %-10s %-5s %s\n", printable(plugin_name_of(file)).c_str(),
                  printable(plugin->version()).c_str(), plugin->abi().c_str(),
                  printable(file.string()).c_str());
    } catch (const PluginError &e) {
      std::printf("%-14s %-10s %-5s %s (unusable: %s)\n", printable(plugin_name_of(file)).c_str(),
                  "-", "-", printable(file.string()).c_str(), printable(e.what()).c_str());
    }
  }
  for (const auto &name : builtin_plugin_names()) {
    if (!found.count(name))
      std::printf("%-14s %-10s %-5s (not installed)\n", name.c_str(), "-", "-");
  }
  std::string dirs;
  for (const auto &dir : plugin_search_dirs()) dirs += (dirs.empty() ? "" : ", ") + dir.string();
  std::printf("searched: %s\n", printable(dirs).c_str());
  return kExitOk;
}

}  // namespace dlhost::cli
