// Shared descriptor pieces (see abi_glue.h).
#include "dlhost/transport/abi_glue.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "dlhost/status_text.h"
#include "dlhost/transport/redact.h"
#include "dlhost/transport/sha256.h"

namespace dlhost::transport {
namespace {

// Copies min(size-field, sizeof(T)) bytes of `in` into a zeroed T.
template <class T>
bool read_sized(const T *in, T *out) {
  *out = T{};
  uint32_t size = in->struct_size;
  if (size < sizeof(uint32_t)) return false;
  std::memcpy(out, in, std::min<size_t>(size, sizeof(T)));
  out->struct_size = static_cast<uint32_t>(std::min<size_t>(size, sizeof(T)));
  return true;
}

bool is_http_url(std::string_view url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

}  // namespace

const char *status_strerror(dlhost_status status) {
  return dlhost_status_text(status);
}

void write_error(char *errbuf, size_t errbuf_size, std::string_view message) {
  if (errbuf == nullptr || errbuf_size == 0) return;
  size_t n = std::min(message.size(), errbuf_size - 1);
  std::memcpy(errbuf, message.data(), n);
  errbuf[n] = '\0';
  for (size_t i = 0; i < n; ++i)  // one line
    if (errbuf[i] == '\n' || errbuf[i] == '\r') errbuf[i] = ' ';
}

dlhost_status json_to_sink(const nlohmann::json &value, const dlhost_sink *sink) {
  if (sink == nullptr || sink->struct_size < DLHOST_SINK_SIZE_1_0 || sink->write == nullptr)
    return DLHOST_E_INVALID_ARGUMENT;
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  sink->write(sink->user, text.data(), text.size());
  return DLHOST_OK;
}

dlhost_status copy_task(const dlhost_task *task, OwnedTask *out, std::string *error) {
  dlhost_task t;
  if (task == nullptr || !read_sized(task, &t) ||
      t.struct_size < DLHOST_TASK_SIZE_1_0) {
    *error = "task: NULL or struct_size too small";
    return DLHOST_E_INVALID_ARGUMENT;
  }
  if (t.url == nullptr || !is_http_url(t.url)) {
    *error = "task " + std::to_string(t.id) + ": url must be http:// or https://";
    return DLHOST_E_INVALID_ARGUMENT;
  }
  if (t.dest_path == nullptr || t.dest_path[0] == '\0') {
    *error = "task " + std::to_string(t.id) + ": dest_path is empty (" + redact_url(t.url) + ")";
    return DLHOST_E_INVALID_ARGUMENT;
  }
  if (t.sha256 != nullptr && t.sha256[0] != '\0' && !is_sha256_hex(t.sha256)) {
    *error = "task " + std::to_string(t.id) + ": sha256 must be 64 hex digits";
    return DLHOST_E_INVALID_ARGUMENT;
  }
  out->id = t.id;
  out->url = t.url;
  out->dest_path = t.dest_path;
  out->group = t.group != nullptr ? t.group : "";
  out->sha256 = t.sha256 != nullptr ? t.sha256 : "";
  out->size = t.size < 0 ? -1 : t.size;
  // proxy_id is 1.1's: a 1.0 host's smaller task reads it as NULL (zeroed).
  out->proxy_id = t.proxy_id != nullptr ? t.proxy_id : "";
  return DLHOST_OK;
}

dlhost_status read_create_params(const dlhost_create_params *params, dlhost_create_params *out,
                                 std::string *error) {
  if (params == nullptr || !read_sized(params, out) ||
      out->struct_size < DLHOST_CREATE_PARAMS_SIZE_1_0) {
    *error = "create: params NULL or struct_size too small";
    return DLHOST_E_INVALID_ARGUMENT;
  }
  return DLHOST_OK;
}

void ensure_curl_global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace dlhost::transport
