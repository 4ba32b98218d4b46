// The C ABI surface of a plugin, written once for every plugin here.
//
// A plugin of this repository is a C++ class (its "Impl") with plain C++
// methods; PluginShim<Impl> turns it into the static dlhost_plugin_descriptor
// the ABI wants. Every function of the table is a thin, exception-proof
// shim (guard_status): it checks its arguments, copies what the host only
// lends (copy_task, read_create_params), calls the Impl and turns the result
// into a dlhost_status, writing one-line messages into the host's errbuf.
// Nothing C++ crosses the boundary. The instance handle the host holds is the
// Impl itself, cast to the ABI's opaque dlhost_instance and back.
//
// What an Impl provides:
//   static constexpr const char *kId, *kName, *kVersion, *kDescription;
//   static dlhost_status create(std::string_view config_json,
//                               dlhost_event_fn on_event, void *user,
//                               std::unique_ptr<Impl> *out, std::string *error);
//   dlhost_status submit(OwnedTask task, std::string *error);
//   dlhost_status start();
//   dlhost_status cancel(uint64_t task_id);
//   dlhost_status wait(int32_t timeout_ms);
//   nlohmann::json stats() const;    // the stats() JSON
//   nlohmann::json health() const;   // the health() JSON
// and, optionally, the "dlhost.proxies/1" extension (ABI 1.1):
//   dlhost_status set_proxies(std::string_view proxy_list_json, std::string *error);
// An Impl with set_proxies() answers get_extension(DLHOST_EXT_PROXIES); one
// without it answers NULL, and the host tells the user it cannot change
// proxies while running. And, optionally, "dlhost.capacity/1" (ABI 1.2):
//   uint32_t running_capacity() const;  // files transferring at once, now
// without which the host assumes DLHOST_DEFAULT_RUNNING_CAPACITY.
//
// The plugin's one export stays in its own source file:
//   extern "C" DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(
//       uint32_t major, uint32_t minor) {
//     return dlhost::transport::PluginShim<MyImpl>::entry(major, minor);
//   }
#pragma once

#include <concepts>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "dlhost/plugin.h"
#include "dlhost/transport/abi_glue.h"

namespace dlhost::transport {

template <class Impl>
concept HasSetProxies = requires(Impl &impl, std::string_view json, std::string *error) {
  { impl.set_proxies(json, error) } -> std::same_as<dlhost_status>;
};

template <class Impl>
concept HasRunningCapacity = requires(const Impl &impl) {
  { impl.running_capacity() } -> std::same_as<uint32_t>;
};

template <class Impl>
class PluginShim {
 public:
  // The entry point's body: the descriptor for a host of the same major.
  static const dlhost_plugin_descriptor *entry(uint32_t host_abi_major, uint32_t) {
    return host_abi_major == DLHOST_ABI_MAJOR ? &kDescriptor : nullptr;
  }

 private:
  static Impl *self(dlhost_instance *inst) { return reinterpret_cast<Impl *>(inst); }

  // Runs `call` on the instance, or answers INVALID_ARGUMENT for a NULL one.
  template <class Call>
  static dlhost_status on(dlhost_instance *inst, Call &&call) {
    return guard_status([&] { return inst ? call(*self(inst)) : DLHOST_E_INVALID_ARGUMENT; });
  }

  static dlhost_status create(const dlhost_create_params *params, dlhost_instance **out,
                              char *errbuf, size_t errbuf_size) {
    return guard_status(errbuf, errbuf_size, [&]() -> dlhost_status {
      std::string error = "create: out is NULL";
      dlhost_create_params p{};
      dlhost_status s =
          out == nullptr ? DLHOST_E_INVALID_ARGUMENT : read_create_params(params, &p, &error);
      if (s == DLHOST_OK) {
        *out = nullptr;
        ensure_curl_global_init();
        std::unique_ptr<Impl> inst;
        s = Impl::create(p.config_json != nullptr ? p.config_json : "", p.on_event, p.user, &inst,
                         &error);
        if (s == DLHOST_OK) *out = reinterpret_cast<dlhost_instance *>(inst.release());
      }
      if (s != DLHOST_OK) write_error(errbuf, errbuf_size, error);
      return s;
    });
  }

  static dlhost_status submit(dlhost_instance *inst, const dlhost_task *task, char *errbuf,
                              size_t errbuf_size) {
    return guard_status(errbuf, errbuf_size, [&] {
      if (inst == nullptr) return DLHOST_E_INVALID_ARGUMENT;
      OwnedTask owned;
      std::string error;
      dlhost_status s = copy_task(task, &owned, &error);
      if (s == DLHOST_OK) s = self(inst)->submit(std::move(owned), &error);
      if (s != DLHOST_OK && s != DLHOST_E_AGAIN) write_error(errbuf, errbuf_size, error);
      return s;
    });
  }

  static dlhost_status start(dlhost_instance *inst) {
    return on(inst, [](Impl &i) { return i.start(); });
  }

  static dlhost_status cancel(dlhost_instance *inst, uint64_t task_id) {
    return on(inst, [&](Impl &i) { return i.cancel(task_id); });
  }

  static dlhost_status wait(dlhost_instance *inst, int32_t timeout_ms) {
    return on(inst, [&](Impl &i) { return i.wait(timeout_ms); });
  }

  static void destroy(dlhost_instance *inst) {
    guard_void([&] { delete self(inst); });
  }

  static dlhost_status stats(dlhost_instance *inst, const dlhost_sink *sink) {
    return on(inst, [&](Impl &i) { return json_to_sink(i.stats(), sink); });
  }

  static dlhost_status health(dlhost_instance *inst, const dlhost_sink *sink) {
    return on(inst, [&](Impl &i) { return json_to_sink(i.health(), sink); });
  }

  // Only an Impl with set_proxies() exposes this (get_extension), so the
  // other branch never runs; if constexpr keeps the call out of other Impls.
  static dlhost_status set_proxies(dlhost_instance *inst, const char *json, char *errbuf,
                                   size_t errbuf_size) {
    return guard_status(errbuf, errbuf_size, [&] {
      if (inst == nullptr) return DLHOST_E_INVALID_ARGUMENT;
      std::string error = "this plugin cannot change proxies while running";
      dlhost_status s = DLHOST_E_UNSUPPORTED;
      if constexpr (HasSetProxies<Impl>) s = self(inst)->set_proxies(json ? json : "", &error);
      if (s != DLHOST_OK) write_error(errbuf, errbuf_size, error);
      return s;
    });
  }

  static constexpr dlhost_proxies_ext kProxiesExt = {sizeof(dlhost_proxies_ext), 0,
                                                     &PluginShim::set_proxies};

  // Never 0 (plugin.h), whatever the Impl says; an exception reads as the
  // host's default.
  static uint32_t running_capacity(dlhost_instance *inst) {
    uint32_t n = DLHOST_DEFAULT_RUNNING_CAPACITY;
    if constexpr (HasRunningCapacity<Impl>) {
      if (inst != nullptr) guard_void([&] { n = self(inst)->running_capacity(); });
    }
    return n > 0 ? n : 1;
  }

  static constexpr dlhost_capacity_ext kCapacityExt = {sizeof(dlhost_capacity_ext), 0,
                                                       &PluginShim::running_capacity};

  static const void *get_extension(const char *id) {
    if (id == nullptr) return nullptr;
    if constexpr (HasSetProxies<Impl>) {
      if (std::strcmp(id, DLHOST_EXT_PROXIES) == 0) return &kProxiesExt;
    }
    if constexpr (HasRunningCapacity<Impl>) {
      if (std::strcmp(id, DLHOST_EXT_CAPACITY) == 0) return &kCapacityExt;
    }
    return nullptr;
  }

  static constexpr dlhost_plugin_descriptor kDescriptor = {
      DLHOST_ABI_MAJOR,
      DLHOST_ABI_MINOR,
      sizeof(dlhost_plugin_descriptor),
      0,
      Impl::kId,
      Impl::kName,
      Impl::kVersion,
      Impl::kDescription,
      &status_strerror,
      &PluginShim::create,
      &PluginShim::submit,
      &PluginShim::start,
      &PluginShim::cancel,
      &PluginShim::wait,
      &PluginShim::destroy,
      &PluginShim::stats,
      &PluginShim::health,
      &PluginShim::get_extension,
  };
};

}  // namespace dlhost::transport
