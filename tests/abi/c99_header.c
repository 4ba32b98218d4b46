/* Proves plugin.h is plain C99: this file is compiled with
 * -std=c99 -pedantic -Werror -Wall -Wextra (see CMakeLists.txt). It touches
 * every type so that a C++-ism anywhere in the header breaks the build. */
#include <dlhost/plugin.h>

/* C99 has no static_assert; a negative array size fails the build instead. */
typedef char dlhost_c99_prefix_is_16_bytes[(offsetof(dlhost_plugin_descriptor, id) == 16) ? 1 : -1];

static const char *c99_strerror(dlhost_status status) {
  return status == DLHOST_OK ? "ok" : "error";
}

static void c99_on_event(void *user, const dlhost_event *event) {
  (void)user;
  (void)event;
}

const dlhost_plugin_descriptor *dlhost_c99_descriptor(void);
const dlhost_plugin_descriptor *dlhost_c99_descriptor(void) {
  static dlhost_plugin_descriptor d;
  dlhost_task task;
  dlhost_create_params params;
  dlhost_sink sink;
  dlhost_event_fn fn = c99_on_event;
  d.abi_major = DLHOST_ABI_MAJOR;
  d.abi_minor = DLHOST_ABI_MINOR;
  d.struct_size = (uint32_t)sizeof d;
  d.strerror = c99_strerror;
  task.struct_size = (uint32_t)sizeof task;
  task.id = DLHOST_TASK_ALL;
  params.struct_size = (uint32_t)sizeof params;
  params.on_event = fn;
  sink.struct_size = (uint32_t)sizeof sink;
  (void)task;
  (void)params;
  (void)sink;
  return &d;
}
