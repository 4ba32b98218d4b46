/* The example's settings, read from the host's config JSON (see config.c). */
#ifndef EXAMPLE_CONFIG_H
#define EXAMPLE_CONFIG_H

#include <stddef.h>

typedef struct ex_config {
  char user_agent[256]; /* DOWNLOAD_USER_AGENT; "" = libcurl's default */
  char ca_bundle[1024]; /* DOWNLOAD_CA_BUNDLE; "" = the system store */
  long timeout_ms;      /* PROXY_DOWNLOAD_TIMEOUT; 0 = no limit */
  long max_redirects;   /* PROXY_MAX_REDIRECTS */
} ex_config;

/* Fills *out from `json` (NULL reads as "{}"). Returns 0, or -1 with a
 * one-line message in err naming the problem. */
int ex_config_parse(const char *json, ex_config *out, char *err, size_t err_size);

#endif
