/* Deliberately broken plugins, one per BROKEN_KIND, for the loader tests:
 * each must be refused with a one-line error naming the file (exit 2). */
#include <dlhost/plugin.h>
#include <stddef.h>

#define KIND_NO_ENTRY 1
#define KIND_WRONG_MAJOR 2
#define KIND_SMALL_STRUCT 3
#define KIND_NULL_FUNCTION 4
#define KIND_NULL_ENTRY 5

#if BROKEN_KIND == KIND_NO_ENTRY

DLHOST_EXPORT int not_a_dlhost_plugin(void);
int not_a_dlhost_plugin(void) {
  return 42;
}

#else

static const char *b_strerror(dlhost_status s) {
  return s == DLHOST_OK ? "ok" : "error";
}
static dlhost_status b_create(const dlhost_create_params *p, dlhost_instance **out, char *e,
                              size_t n) {
  (void)p;
  (void)out;
  (void)e;
  (void)n;
  return DLHOST_E_INTERNAL;
}
#if BROKEN_KIND != KIND_NULL_FUNCTION
static dlhost_status b_submit(dlhost_instance *i, const dlhost_task *t, char *e, size_t n) {
  (void)i;
  (void)t;
  (void)e;
  (void)n;
  return DLHOST_E_INTERNAL;
}
#endif
static dlhost_status b_start(dlhost_instance *i) {
  (void)i;
  return DLHOST_E_INTERNAL;
}
static dlhost_status b_cancel(dlhost_instance *i, uint64_t id) {
  (void)i;
  (void)id;
  return DLHOST_E_INTERNAL;
}
static dlhost_status b_wait(dlhost_instance *i, int32_t ms) {
  (void)i;
  (void)ms;
  return DLHOST_E_INTERNAL;
}
static void b_destroy(dlhost_instance *i) {
  (void)i;
}

static dlhost_plugin_descriptor descriptor = {
#if BROKEN_KIND == KIND_WRONG_MAJOR
    2u,
    0u,
#else
    DLHOST_ABI_MAJOR,
    DLHOST_ABI_MINOR,
#endif
#if BROKEN_KIND == KIND_SMALL_STRUCT
    16u,
#else
    (uint32_t)sizeof(dlhost_plugin_descriptor),
#endif
    0u,
    "broken",
    "Broken test plugin",
    "0.0.1",
    "refused by the loader",
    b_strerror,
    b_create,
#if BROKEN_KIND == KIND_NULL_FUNCTION
    NULL,
#else
    b_submit,
#endif
    b_start,
    b_cancel,
    b_wait,
    b_destroy,
    NULL,
    NULL,
    NULL};

DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(uint32_t major, uint32_t minor);
const dlhost_plugin_descriptor *dlhost_plugin_entry(uint32_t major, uint32_t minor) {
  (void)major;
  (void)minor;
#if BROKEN_KIND == KIND_NULL_ENTRY
  (void)descriptor;
  return NULL;
#else
  return &descriptor;
#endif
}

#endif
