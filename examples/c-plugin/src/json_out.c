/*
 * Stats and health as JSON, in the shape the host merges into its stats
 * document: one path, "direct" (this plugin uses no proxies). The text is
 * formatted into a stack buffer and handed to the host-owned sink, so the
 * host never frees plugin memory.
 */
#include "json_out.h"

#include <stdio.h>

static void put(const dlhost_sink *sink, const char *text, int len) {
  if (len > 0) sink->write(sink->user, text, (size_t)len);
}

void ex_write_stats(const dlhost_sink *sink, const ex_counters *c) {
  char buf[512];
  int n = snprintf(buf, sizeof buf,
                   "{\"proxies\":[{\"id\":\"direct\",\"state\":\"healthy\",\"completed\":%llu,"
                   "\"failed\":%llu,\"cancelled\":%llu,\"retries\":0,\"rate_limited\":0,"
                   "\"bytes\":%llu,\"latency_ms\":{\"p50\":0,\"p95\":0}}]}",
                   (unsigned long long)c->completed, (unsigned long long)c->failed,
                   (unsigned long long)c->cancelled, (unsigned long long)c->bytes);
  put(sink, buf, n);
}

void ex_write_health(const dlhost_sink *sink, const ex_counters *c) {
  char buf[256];
  int n = snprintf(buf, sizeof buf,
                   "{\"proxies\":[{\"id\":\"direct\",\"state\":\"healthy\","
                   "\"consecutive_failures\":%llu,\"cooldown_ms\":0}]}",
                   (unsigned long long)c->consecutive_failures);
  put(sink, buf, n);
}
