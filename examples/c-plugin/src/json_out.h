/* Stats and health JSON written into the host's sink (json_out.c). */
#ifndef EXAMPLE_JSON_OUT_H
#define EXAMPLE_JSON_OUT_H

#include <dlhost/plugin.h>

typedef struct ex_counters {
  uint64_t completed, failed, cancelled, bytes;
  uint64_t consecutive_failures;
} ex_counters;

void ex_write_stats(const dlhost_sink *sink, const ex_counters *c);
void ex_write_health(const dlhost_sink *sink, const ex_counters *c);

#endif
