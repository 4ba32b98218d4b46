/* The plugin instance and the ABI functions that act on it (instance.c). */
#ifndef EXAMPLE_INSTANCE_H
#define EXAMPLE_INSTANCE_H

#include <dlhost/plugin.h>

dlhost_status ex_create(const dlhost_create_params *params, dlhost_instance **out, char *errbuf,
                        size_t errbuf_size);
dlhost_status ex_submit(dlhost_instance *inst, const dlhost_task *task, char *errbuf,
                        size_t errbuf_size);
dlhost_status ex_start(dlhost_instance *inst);
dlhost_status ex_cancel(dlhost_instance *inst, uint64_t task_id);
dlhost_status ex_wait(dlhost_instance *inst, int32_t timeout_ms);
void ex_destroy(dlhost_instance *inst);
dlhost_status ex_stats(dlhost_instance *inst, const dlhost_sink *sink);
dlhost_status ex_health(dlhost_instance *inst, const dlhost_sink *sink);

#endif
