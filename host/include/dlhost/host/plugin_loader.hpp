// Plugin loading: find a plugin, check it, and call it safely.
//
// A plugin is found by name (`legacy` -> `dlhost-legacy.so`) in the directory
// of the running binary (the build tree) and in the installed plugin
// directory (computed relative to the binary, plus the configured install
// path), or given as a path. Loading checks, in order: the file exists, it
// loads (Boost.DLL, RTLD_NOW | RTLD_LOCAL, so a missing symbol fails now and
// two plugins cannot clash), it exports `dlhost_plugin_entry`, the entry
// returns a descriptor, the ABI major matches, the descriptor is at least as
// large as ABI 1.0's, and every required function is present. Each failure
// is a PluginError whose what() is one line naming the file.
//
// PluginInstance wraps every call into the plugin: a C++ exception escaping a
// plugin becomes DLHOST_E_INTERNAL instead of taking the host down, and
// status codes are turned into text on the host side, so an unknown code
// reads "unknown status N".
#pragma once

#include <dlhost/plugin.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dlhost {

struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Text for a status code, from <dlhost/status_text.h> (the table plugins use
// too); "unknown status N" for codes this host does not know.
std::string status_text(dlhost_status status);

// Directories searched for plugins by name, in order, without duplicates.
std::vector<std::filesystem::path> plugin_search_dirs();
// The plugins the project ships; `dlhost plugins` always lists these.
std::vector<std::string> builtin_plugin_names();
// A name or a path -> the file to load. Throws PluginError if a name is not
// found (naming the directories searched).
std::filesystem::path resolve_plugin(const std::string &name_or_path);

class LoadedPlugin {
 public:
  // Loads and checks the library; throws PluginError.
  static std::shared_ptr<LoadedPlugin> load(const std::filesystem::path &path);
  ~LoadedPlugin();

  const dlhost_plugin_descriptor &descriptor() const { return desc_; }
  const std::filesystem::path &path() const { return path_; }
  std::string id() const;       // never empty (file stem if the plugin gives none)
  std::string version() const;  // "?" if the plugin gives none
  std::string abi() const;      // "1.1"
  // The "dlhost.proxies/1" extension, or NULL (an ABI 1.0 plugin, or one
  // that cannot change its proxies while running).
  const dlhost_proxies_ext *proxies_extension() const { return proxies_ext_; }
  // The "dlhost.capacity/1" extension, or NULL (a plugin before ABI 1.2, or
  // one that does not say).
  const dlhost_capacity_ext *capacity_extension() const { return capacity_ext_; }

 private:
  struct Library;
  LoadedPlugin() = default;
  void find_extensions();
  std::unique_ptr<Library> library_;
  std::filesystem::path path_;
  dlhost_plugin_descriptor desc_{};
  const dlhost_proxies_ext *proxies_ext_ = nullptr;
  const dlhost_capacity_ext *capacity_ext_ = nullptr;
};

// One instance of a plugin. All methods are safe against plugin exceptions.
class PluginInstance {
 public:
  // Calls create(); throws PluginError with the plugin's message on failure.
  PluginInstance(std::shared_ptr<LoadedPlugin> plugin, const std::string &config_json,
                 dlhost_event_fn on_event, void *user);
  ~PluginInstance();  // destroy()
  PluginInstance(const PluginInstance &) = delete;
  PluginInstance &operator=(const PluginInstance &) = delete;

  // On a status other than OK/AGAIN, `error` gets a one-line message.
  dlhost_status submit(const dlhost_task &task, std::string &error);
  dlhost_status start();
  dlhost_status cancel(std::uint64_t task_id);
  dlhost_status wait(std::int32_t timeout_ms);
  // The stats JSON text, or empty with `error` set (no stats(), or it failed).
  std::string stats_json(std::string &error);
  // The health JSON text, or empty with `error` set (no health(), or it failed).
  std::string health_json(std::string &error);
  // Replaces the running instance's proxies (PROXY_LIST JSON text) through
  // the "dlhost.proxies/1" extension. DLHOST_E_UNSUPPORTED with "... cannot
  // change proxies while running" when the plugin lacks it; any other
  // failure leaves the old list in force, with the plugin's message.
  // Thread: any host thread while the instance lives.
  dlhost_status set_proxies(const std::string &proxy_list_json, std::string &error);
  // How many files the instance transfers at once now ("dlhost.capacity/1"),
  // or DLHOST_DEFAULT_RUNNING_CAPACITY when the plugin does not say; never 0.
  // Thread: any host thread while the instance lives.
  std::uint32_t running_capacity();

  const LoadedPlugin &plugin() const { return *plugin_; }

 private:
  std::string sink_json(dlhost_status (*fn)(dlhost_instance *, const dlhost_sink *),
                        const char *name, std::string &error);
  std::shared_ptr<LoadedPlugin> plugin_;
  dlhost_instance *instance_ = nullptr;
};

}  // namespace dlhost
