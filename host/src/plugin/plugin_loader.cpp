// Plugin discovery, loading checks and exception-safe calls; see
// plugin_loader.hpp for the design.
#define BOOST_DLL_USE_STD_FS
#include "dlhost/host/plugin_loader.hpp"

#include <dlhost/status_text.h>

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <cstring>

#ifndef DLHOST_PLUGIN_RELATIVE_DIR
#define DLHOST_PLUGIN_RELATIVE_DIR "lib/dlhost/plugins"
#endif
#ifndef DLHOST_PLUGIN_ABSOLUTE_DIR
#define DLHOST_PLUGIN_ABSOLUTE_DIR "/usr/local/lib/dlhost/plugins"
#endif

namespace fs = std::filesystem;

namespace dlhost {

struct LoadedPlugin::Library {
  boost::dll::shared_library lib;
};

namespace {

constexpr const char *kPrefix = "dlhost-";
constexpr const char *kSuffix = ".so";

fs::path executable_dir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

bool looks_like_path(const std::string &s) {
  return s.find('/') != std::string::npos ||
         (s.size() > 3 && s.compare(s.size() - 3, 3, kSuffix) == 0);
}

std::string quote(const fs::path &p) {
  return p.string();
}

// Calls `f`, turning any C++ exception from the plugin into E_INTERNAL.
template <class F>
dlhost_status guarded(F &&f) noexcept {
  try {
    return f();
  } catch (...) {
    return DLHOST_E_INTERNAL;
  }
}

void check_required_functions(const dlhost_plugin_descriptor &d, const fs::path &path) {
  const std::pair<const char *, bool> required[] = {
      {"strerror", d.strerror != nullptr}, {"create", d.create != nullptr},
      {"submit", d.submit != nullptr},     {"start", d.start != nullptr},
      {"cancel", d.cancel != nullptr},     {"wait", d.wait != nullptr},
      {"destroy", d.destroy != nullptr},
  };
  for (const auto &[name, present] : required) {
    if (!present) {
      throw PluginError("plugin " + quote(path) + ": required function " + name + "() is NULL");
    }
  }
}

const dlhost_plugin_descriptor *call_entry(dlhost_plugin_entry_fn entry, const fs::path &path) {
  try {
    return entry(DLHOST_ABI_MAJOR, DLHOST_ABI_MINOR);
  } catch (...) {
    throw PluginError("plugin " + quote(path) + ": its entry point threw an exception");
  }
}

void append_unique(std::vector<fs::path> &dirs, fs::path dir) {
  dir = dir.lexically_normal();
  if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(std::move(dir));
}

}  // namespace

std::string status_text(dlhost_status status) {
  std::string text = dlhost_status_text(status);
  // Appended piece by piece: GCC 12 in Release warns (-Werror=restrict, a
  // false positive, GCC PR 105651) on `" " + std::to_string(...)`.
  if (text == DLHOST_STATUS_TEXT_UNKNOWN) text.append(" ").append(std::to_string(status));
  return text;
}

std::vector<fs::path> plugin_search_dirs() {
  std::vector<fs::path> dirs;
  const auto exe_dir = executable_dir();
  append_unique(dirs, exe_dir);
  append_unique(dirs, exe_dir / ".." / "lib" / "dlhost" / "plugins");
  append_unique(dirs, exe_dir / ".." / DLHOST_PLUGIN_RELATIVE_DIR);
  append_unique(dirs, DLHOST_PLUGIN_ABSOLUTE_DIR);
  return dirs;
}

std::vector<std::string> builtin_plugin_names() {
  return {"legacy", "multi-proxy"};
}

fs::path resolve_plugin(const std::string &name_or_path) {
  if (looks_like_path(name_or_path)) return fs::path(name_or_path);
  const std::string file = kPrefix + name_or_path + kSuffix;
  std::string searched;
  for (const auto &dir : plugin_search_dirs()) {
    std::error_code ec;
    if (fs::is_regular_file(dir / file, ec)) return dir / file;
    searched += (searched.empty() ? "" : ", ") + dir.string();
  }
  throw PluginError("plugin " + name_or_path + ": " + file + " not found in " + searched);
}

// RTLD_NODELETE: a plugin stays mapped until the process exits, even after
// its last handle is closed. Its thread-local storage and any thread it
// forgot to join then stay valid; unloading code that may still be
// referenced buys nothing for a process that loads a plugin or two.
// (Boost.DLL passes the mode to dlopen() as it is.)
constexpr auto kLoadMode = static_cast<boost::dll::load_mode::type>(
    boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local | RTLD_NODELETE);

std::shared_ptr<LoadedPlugin> LoadedPlugin::load(const fs::path &path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw PluginError("plugin " + quote(path) + ": no such file");
  std::shared_ptr<LoadedPlugin> plugin(new LoadedPlugin());
  plugin->path_ = path;
  plugin->library_ = std::make_unique<Library>();
  auto &lib = plugin->library_->lib;
  try {
    lib.load(fs::absolute(path), kLoadMode);
  } catch (const std::exception &e) {
    throw PluginError("plugin " + quote(path) + ": cannot load: " + e.what());
  }
  if (!lib.has(DLHOST_PLUGIN_ENTRY_SYMBOL)) {
    throw PluginError("plugin " + quote(path) +
                      ": no entry symbol " DLHOST_PLUGIN_ENTRY_SYMBOL " (not a dlhost plugin)");
  }
  auto &entry = lib.get<const dlhost_plugin_descriptor *(std::uint32_t, std::uint32_t)>(
      DLHOST_PLUGIN_ENTRY_SYMBOL);
  const auto *raw = call_entry(&entry, path);
  if (!raw) {
    throw PluginError(
        "plugin " + quote(path) + ": its entry returned no descriptor (it refused host ABI " +
        std::to_string(DLHOST_ABI_MAJOR) + "." + std::to_string(DLHOST_ABI_MINOR) + ")");
  }
  if (raw->abi_major != DLHOST_ABI_MAJOR) {
    throw PluginError("plugin " + quote(path) + " speaks ABI " + std::to_string(raw->abi_major) +
                      "." + std::to_string(raw->abi_minor) + ", this host speaks " +
                      std::to_string(DLHOST_ABI_MAJOR) + "." + std::to_string(DLHOST_ABI_MINOR));
  }
  if (raw->struct_size < DLHOST_DESCRIPTOR_SIZE_1_0) {
    throw PluginError("plugin " + quote(path) + ": descriptor is " +
                      std::to_string(raw->struct_size) + " bytes, smaller than the " +
                      std::to_string(DLHOST_DESCRIPTOR_SIZE_1_0) + " bytes of ABI 1.0");
  }
  // Read only what both sides know; newer fields of a newer plugin are ignored.
  std::memcpy(&plugin->desc_, raw, std::min<std::size_t>(raw->struct_size, sizeof(plugin->desc_)));
  check_required_functions(plugin->desc_, path);
  plugin->find_extensions();
  return plugin;
}

LoadedPlugin::~LoadedPlugin() = default;

std::string LoadedPlugin::id() const {
  if (desc_.id && *desc_.id) return desc_.id;
  return path_.stem().string();
}

std::string LoadedPlugin::version() const {
  return desc_.version && *desc_.version ? desc_.version : "?";
}

namespace {

// The extension `id` as a T, or NULL: get_extension() exists from ABI 1.1
// on (a 1.0 descriptor, shorter, reads as NULL, since load() copied only the
// bytes the plugin has); a plugin may not know the id, hand back a struct
// older than `min_size`, or throw.
template <class T>
const T *find_extension(const dlhost_plugin_descriptor &d, const char *id, std::size_t min_size) {
  if (!d.get_extension) return nullptr;
  const T *ext = nullptr;
  try {
    ext = static_cast<const T *>(d.get_extension(id));
  } catch (...) {
    return nullptr;
  }
  return ext && ext->struct_size >= min_size ? ext : nullptr;
}

}  // namespace

// Once, at load: the job asks for the capacity at every refill. The
// capacity extension is ABI 1.2's; an older plugin answers NULL for its id.
void LoadedPlugin::find_extensions() {
  const auto *proxies =
      find_extension<dlhost_proxies_ext>(desc_, DLHOST_EXT_PROXIES, DLHOST_PROXIES_EXT_SIZE_1);
  proxies_ext_ = proxies && proxies->set_proxies ? proxies : nullptr;
  const auto *capacity =
      find_extension<dlhost_capacity_ext>(desc_, DLHOST_EXT_CAPACITY, DLHOST_CAPACITY_EXT_SIZE_1);
  capacity_ext_ = capacity && capacity->running_capacity ? capacity : nullptr;
}

std::string LoadedPlugin::abi() const {
  return std::to_string(desc_.abi_major) + "." + std::to_string(desc_.abi_minor);
}

PluginInstance::PluginInstance(std::shared_ptr<LoadedPlugin> plugin, const std::string &config_json,
                               dlhost_event_fn on_event, void *user)
    : plugin_(std::move(plugin)) {
  dlhost_create_params params{};
  params.struct_size = sizeof(params);
  params.config_json = config_json.c_str();
  params.on_event = on_event;
  params.user = user;
  char errbuf[1024] = {};
  const auto &d = plugin_->descriptor();
  const auto status =
      guarded([&] { return d.create(&params, &instance_, errbuf, sizeof(errbuf)); });
  if (status != DLHOST_OK || !instance_) {
    errbuf[sizeof(errbuf) - 1] = '\0';
    std::string msg = errbuf[0] ? std::string(errbuf) : status_text(status);
    if (status == DLHOST_OK) msg = "create() returned no instance";
    instance_ = nullptr;
    throw PluginError("plugin " + plugin_->path().string() + ": " + msg);
  }
}

PluginInstance::~PluginInstance() {
  if (!instance_) return;
  try {
    plugin_->descriptor().destroy(instance_);
  } catch (...) {
    // Nothing sensible is left to do with a plugin that throws in destroy().
  }
}

dlhost_status PluginInstance::submit(const dlhost_task &task, std::string &error) {
  char errbuf[1024] = {};
  const auto status = guarded(
      [&] { return plugin_->descriptor().submit(instance_, &task, errbuf, sizeof(errbuf)); });
  if (status != DLHOST_OK && status != DLHOST_E_AGAIN) {
    errbuf[sizeof(errbuf) - 1] = '\0';
    error = errbuf[0] ? std::string(errbuf) : status_text(status);
  }
  return status;
}

dlhost_status PluginInstance::start() {
  return guarded([&] { return plugin_->descriptor().start(instance_); });
}

dlhost_status PluginInstance::cancel(std::uint64_t task_id) {
  return guarded([&] { return plugin_->descriptor().cancel(instance_, task_id); });
}

dlhost_status PluginInstance::wait(std::int32_t timeout_ms) {
  return guarded([&] { return plugin_->descriptor().wait(instance_, timeout_ms); });
}

std::uint32_t PluginInstance::running_capacity() {
  const dlhost_capacity_ext *ext = plugin_->capacity_extension();
  std::uint32_t n = DLHOST_DEFAULT_RUNNING_CAPACITY;
  if (ext) {
    try {
      n = ext->running_capacity(instance_);
    } catch (...) {
      n = DLHOST_DEFAULT_RUNNING_CAPACITY;
    }
  }
  return n > 0 ? n : 1;
}

dlhost_status PluginInstance::set_proxies(const std::string &proxy_list_json, std::string &error) {
  const dlhost_proxies_ext *ext = plugin_->proxies_extension();
  if (!ext) {
    error = "plugin " + plugin_->id() + " (ABI " + plugin_->abi() +
            ") cannot change proxies while running";
    return DLHOST_E_UNSUPPORTED;
  }
  char errbuf[1024] = {};
  const auto status = guarded(
      [&] { return ext->set_proxies(instance_, proxy_list_json.c_str(), errbuf, sizeof errbuf); });
  if (status != DLHOST_OK) {
    errbuf[sizeof(errbuf) - 1] = '\0';
    error = errbuf[0] ? std::string(errbuf) : status_text(status);
  }
  return status;
}

namespace {

using SinkFn = dlhost_status (*)(dlhost_instance *, const dlhost_sink *);

}  // namespace

std::string PluginInstance::stats_json(std::string &error) {
  return sink_json(plugin_->descriptor().stats, "stats", error);
}

std::string PluginInstance::health_json(std::string &error) {
  return sink_json(plugin_->descriptor().health, "health", error);
}

std::string PluginInstance::sink_json(SinkFn fn, const char *name, std::string &error) {
  if (!fn) {
    error = std::string("the plugin provides no ") + name + "()";
    return {};
  }
  std::string text;
  dlhost_sink sink{};
  sink.struct_size = sizeof(sink);
  sink.user = &text;
  sink.write = [](void *user, const char *data, size_t len) {
    static_cast<std::string *>(user)->append(data, len);
  };
  const auto status = guarded([&] { return fn(instance_, &sink); });
  if (status != DLHOST_OK) {
    error = std::string(name) + "() failed: " + status_text(status);
    return {};
  }
  return text;
}

}  // namespace dlhost
