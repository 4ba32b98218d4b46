/*
 * A deliberately tiny reader for the host's config JSON.
 *
 * The host hands create() a flat JSON object of resolved settings: integers
 * are JSON numbers, everything else is a JSON string. This plugin needs four
 * keys, so instead of a JSON library it
 *   1. checks the text is one well-formed-looking object (braces and brackets
 *      balance outside strings, strings are closed, nothing follows), and
 *   2. finds each key it wants with strstr("\"KEY\"") and reads the value
 *      after the colon (a number, or a string with \" \\ \/ escapes).
 * Limitations, by design: it does not validate everything JSON forbids
 * (e.g. trailing commas), \uXXXX escapes are refused, and a key name that
 * also appears inside a string value earlier in the text would be found
 * there. A real plugin should use a JSON parser (cJSON, jansson, ...).
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p) {
  while (*p && isspace((unsigned char)*p)) p++;
  return p;
}

/* 0 if `json` is one object with balanced brackets and closed strings. */
static int check_object(const char *json) {
  const char *p = skip_ws(json);
  int depth = 0, in_string = 0;
  if (*p != '{') return -1;
  for (; *p; p++) {
    if (in_string) {
      if (*p == '\\' && p[1]) p++;
      else if (*p == '"') in_string = 0;
      continue;
    }
    if (*p == '"') in_string = 1;
    else if (*p == '{' || *p == '[') depth++;
    else if ((*p == '}' || *p == ']') && --depth == 0) break;
    if (depth < 0) return -1;
  }
  if (in_string || depth != 0 || *p == '\0') return -1;
  return *skip_ws(p + 1) == '\0' ? 0 : -1;
}

/* The text after `"key":`, or NULL when the key is absent. */
static const char *find_value(const char *json, const char *key) {
  char pattern[96];
  const char *p;
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  for (p = strstr(json, pattern); p; p = strstr(p + 1, pattern)) {
    const char *q = skip_ws(p + strlen(pattern));
    if (*q == ':') return skip_ws(q + 1);
  }
  return NULL;
}

static int read_long(const char *json, const char *key, long *out, char *err, size_t n) {
  const char *v = find_value(json, key);
  char *end;
  long value;
  if (!v) return 0;
  errno = 0;
  value = strtol(v, &end, 10);
  if (end == v || errno != 0 || value < 0) {
    snprintf(err, n, "%s: expected a non-negative integer", key);
    return -1;
  }
  *out = value;
  return 0;
}

static int read_string(const char *json, const char *key, char *out, size_t size, char *err,
                       size_t n) {
  const char *v = find_value(json, key);
  size_t len = 0;
  if (!v) return 0;
  if (*v++ != '"') {
    snprintf(err, n, "%s: expected a string", key);
    return -1;
  }
  for (; *v && *v != '"'; v++) {
    if (*v == '\\') {
      v++;
      if (*v != '"' && *v != '\\' && *v != '/') {
        snprintf(err, n, "%s: unsupported escape in string", key);
        return -1;
      }
    }
    if (len + 1 >= size) {
      snprintf(err, n, "%s: value too long", key);
      return -1;
    }
    out[len++] = *v;
  }
  out[len] = '\0';
  return 0;
}

int ex_config_parse(const char *json, ex_config *out, char *err, size_t err_size) {
  memset(out, 0, sizeof *out);
  out->timeout_ms = 600000;
  out->max_redirects = 1;
  if (!json) json = "{}";
  if (check_object(json) != 0) {
    snprintf(err, err_size, "config is not a JSON object");
    return -1;
  }
  if (read_string(json, "DOWNLOAD_USER_AGENT", out->user_agent, sizeof out->user_agent, err,
                  err_size) ||
      read_string(json, "DOWNLOAD_CA_BUNDLE", out->ca_bundle, sizeof out->ca_bundle, err,
                  err_size) ||
      read_long(json, "PROXY_DOWNLOAD_TIMEOUT", &out->timeout_ms, err, err_size) ||
      read_long(json, "PROXY_MAX_REDIRECTS", &out->max_redirects, err, err_size)) {
    return -1;
  }
  return 0;
}
