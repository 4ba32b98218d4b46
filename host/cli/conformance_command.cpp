// `dlhost conformance PLUGIN`: runs the conformance suite
// (dlhost/host/conformance.hpp) against one plugin, by name or path, and
// prints one PASS/FAIL line per check (failures indented below it). Exit
// status: 0 every check passed, 1 some failed, 2 the plugin did not load.
#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "dlhost/host/conformance.hpp"
#include "dlhost/host/plugin_loader.hpp"

namespace dlhost::cli {
namespace {

void print_result(const conformance::CheckResult &r) {
  if (r.passed) {
    std::printf("PASS  %s\n", r.name.c_str());
  } else {
    std::printf("FAIL  %s: %s\n", r.name.c_str(), printable(r.failures.front()).c_str());
    for (std::size_t i = 1; i < r.failures.size(); i++)
      std::printf("        %s\n", printable(r.failures[i]).c_str());
  }
  std::fflush(stdout);
}

fs::path make_work_dir() {
  std::string pattern = (fs::temp_directory_path() / "dlhost-conformance-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
  return pattern;
}

}  // namespace

int conformance_command(const std::string &plugin_name, int patience_s) {
  std::shared_ptr<LoadedPlugin> plugin;
  try {
    plugin = LoadedPlugin::load(resolve_plugin(plugin_name));
  } catch (const PluginError &e) {
    std::fprintf(stderr, "dlhost: %s\n", printable(e.what()).c_str());
    std::printf("FAIL  handshake: %s\n", printable(e.what()).c_str());
    return kExitUsage;
  }
  std::printf("conformance of %s (%s %s, ABI %s)\n", printable(plugin->path().string()).c_str(),
              printable(plugin->id()).c_str(), printable(plugin->version()).c_str(),
              plugin->abi().c_str());
  const auto work = make_work_dir();
  const auto results =
      conformance::run_suite(*plugin, work, std::chrono::seconds(patience_s), print_result);
  std::error_code ec;
  fs::remove_all(work, ec);
  std::size_t passed = 0;
  for (const auto &r : results) passed += r.passed ? 1 : 0;
  std::printf("%s: %zu of %zu checks passed\n", passed == results.size() ? "PASS" : "FAIL", passed,
              results.size());
  return passed == results.size() ? kExitOk : kExitSomeFailed;
}

}  // namespace dlhost::cli
