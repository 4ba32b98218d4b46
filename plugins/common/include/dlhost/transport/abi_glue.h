// Pieces every plugin's descriptor needs, written once.
//
//  - status_strerror(): the static text for each dlhost_status (the
//    descriptor's strerror points straight at it).
//  - write_error(): copy a one-line message into a caller's errbuf safely.
//  - json_to_sink(): serialise a JSON value into a host-owned dlhost_sink.
//  - guard_status()/guard_void(): run a C++ body and make sure no exception
//    crosses the C ABI; std::bad_alloc becomes DLHOST_E_NO_MEMORY, anything
//    else DLHOST_E_INTERNAL with "internal error: <what>" in errbuf.
//  - OwnedTask / copy_task(): the plugin's own copy of a borrowed
//    dlhost_task, read with the size rule (min(struct_size, sizeof)).
//  - read_create_params(): the same rule for dlhost_create_params.
//  - ensure_curl_global_init(): curl_global_init exactly once per process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dlhost/plugin.h"

namespace dlhost::transport {

const char *status_strerror(dlhost_status status);

void write_error(char *errbuf, size_t errbuf_size, std::string_view message);

// Writes `value` as compact JSON into `sink`. Returns DLHOST_E_INVALID_ARGUMENT
// for a NULL or too-small sink.
dlhost_status json_to_sink(const nlohmann::json &value, const dlhost_sink *sink);

template <class Body>
dlhost_status guard_status(char *errbuf, size_t errbuf_size, Body &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    write_error(errbuf, errbuf_size, "out of memory");
    return DLHOST_E_NO_MEMORY;
  } catch (const std::exception &e) {
    write_error(errbuf, errbuf_size, std::string("internal error: ") + e.what());
    return DLHOST_E_INTERNAL;
  } catch (...) {
    write_error(errbuf, errbuf_size, "internal error: unknown exception");
    return DLHOST_E_INTERNAL;
  }
}

template <class Body>
dlhost_status guard_status(Body &&body) noexcept {
  return guard_status(nullptr, 0, static_cast<Body &&>(body));
}

template <class Body>
void guard_void(Body &&body) noexcept {
  try {
    body();
  } catch (...) {
  }
}

struct OwnedTask {
  uint64_t id = 0;
  std::string url;
  std::string dest_path;
  std::string group;
  std::string sha256;  // "" = unknown
  int64_t size = -1;   // -1 = unknown
  std::string proxy_id;  // ABI 1.1: "" = any path; else only that one
};

// Copies and checks a borrowed task. Returns DLHOST_OK or
// DLHOST_E_INVALID_ARGUMENT with a message naming the problem.
dlhost_status copy_task(const dlhost_task *task, OwnedTask *out, std::string *error);

// Reads params with the size rule; NULL or a too-small struct is invalid.
dlhost_status read_create_params(const dlhost_create_params *params, dlhost_create_params *out,
                                 std::string *error);

void ensure_curl_global_init();

}  // namespace dlhost::transport
