/* One download with libcurl's easy interface (see transfer.c). */
#ifndef EXAMPLE_TRANSFER_H
#define EXAMPLE_TRANSFER_H

#include <curl/curl.h>
#include <dlhost/plugin.h>

#include "config.h"
#include "task_queue.h"

/* What the transfer asks of its caller while it runs (on the worker thread). */
typedef struct ex_transfer_hooks {
  void *ctx;
  int (*should_stop)(void *ctx); /* non-zero: cancel or destroy asked to stop */
  void (*progress)(void *ctx, uint64_t done, uint64_t total);
} ex_transfer_hooks;

typedef enum ex_outcome { EX_COMPLETED, EX_FAILED, EX_STOPPED } ex_outcome;

typedef struct ex_transfer_result {
  ex_outcome outcome;
  dlhost_failure failure; /* EX_FAILED: why */
  long http_status;       /* 0 if no response */
  uint64_t bytes;         /* bytes written to the file */
  char message[512];      /* EX_FAILED: one line, URL without credentials */
} ex_transfer_result;

/* Downloads task->url into "<dest>.part", verifies size and sha256 while
 * streaming, renames to dest. Reuses `easy` (and its connections). */
void ex_transfer_run(CURL *easy, const ex_config *cfg, const ex_task *task,
                     const ex_transfer_hooks *hooks, ex_transfer_result *result);

#endif
