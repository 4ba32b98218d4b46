/* Proves status_text.h is plain C99 and stands alone: this file includes it
 * first and nothing else, and is compiled like c99_header.c with
 * -std=c99 -pedantic -Werror -Wall -Wextra (see CMakeLists.txt). */
#include <dlhost/status_text.h>

/* A plugin may wrap the kit's text... */
static const char *c99_wrapped_strerror(dlhost_status status) {
  return status == DLHOST_E_CONFIG ? "bad settings" : dlhost_status_text(status);
}

/* ...or point its descriptor straight at it, in a static initializer. */
static const dlhost_plugin_descriptor c99_text_descriptor = {
    .abi_major = DLHOST_ABI_MAJOR,
    .abi_minor = DLHOST_ABI_MINOR,
    .struct_size = (uint32_t)sizeof(dlhost_plugin_descriptor),
    .strerror = dlhost_status_text,
};

const char *dlhost_c99_status_text(dlhost_status status, int wrapped);
const char *dlhost_c99_status_text(dlhost_status status, int wrapped) {
  const char *text = wrapped ? c99_wrapped_strerror(status) : c99_text_descriptor.strerror(status);
  return text != NULL ? text : DLHOST_STATUS_TEXT_UNKNOWN;
}
