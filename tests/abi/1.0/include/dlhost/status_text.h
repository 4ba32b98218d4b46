/*
 * dlhost status text: one short phrase for each dlhost_status.
 *
 * The host and the bundled plugins both take their text from this table, so
 * a status reads the same in a plugin's strerror() and in the host's
 * messages. A plugin may point its descriptor's strerror straight at
 * dlhost_status_text, or call it from its own function.
 *
 * Header-only: a static inline function, so there is nothing to link and no
 * symbol to export, and the ABI in plugin.h is unchanged. The wording is not
 * part of the ABI: it may be improved in any version, so compare status
 * codes, never their text.
 *
 * This header is C99 and compiles with -std=c99 -pedantic -Werror.
 */
#ifndef DLHOST_STATUS_TEXT_H
#define DLHOST_STATUS_TEXT_H

#include "dlhost/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The text of every code this header does not know (a code appended in a
 * later ABI minor, or a bug). The host appends the number to it. */
#define DLHOST_STATUS_TEXT_UNKNOWN "unknown status"

/*
 * Static text for a status code: lowercase, one line, no trailing period, no
 * number. Codes this header does not know give DLHOST_STATUS_TEXT_UNKNOWN.
 * Thread: any, at any time (no state, no locale). Returned pointer: a static
 * string, never NULL; the caller must not free or modify it.
 */
static inline const char *dlhost_status_text(dlhost_status status) {
  switch (status) {
    case DLHOST_OK:
      return "ok";
    case DLHOST_E_INVALID_ARGUMENT:
      return "invalid argument";
    case DLHOST_E_CONFIG:
      return "invalid configuration";
    case DLHOST_E_AGAIN:
      return "queue full, try again after a task ends";
    case DLHOST_E_TIMEOUT:
      return "timed out";
    case DLHOST_E_STATE:
      return "call not valid in this state";
    case DLHOST_E_NOT_FOUND:
      return "no such task";
    case DLHOST_E_NO_MEMORY:
      return "out of memory";
    case DLHOST_E_INTERNAL:
      return "internal error";
    case DLHOST_E_UNSUPPORTED:
      return "not supported by this plugin";
    case DLHOST_E_IO:
      return "file system error";
    default:
      return DLHOST_STATUS_TEXT_UNKNOWN;
  }
}

#ifdef __cplusplus
}
#endif

#endif /* DLHOST_STATUS_TEXT_H */
