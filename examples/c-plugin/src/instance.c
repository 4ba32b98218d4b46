/*
 * The instance: one worker thread, one bounded queue, one reused curl easy
 * handle.
 *
 * Threads and locks. Every field below the lock is guarded by `lock`.
 * Host threads call submit/start/cancel/wait/stats/health (cancel, wait,
 * stats and health may overlap, as the header allows); they only touch the
 * queue and flags under the lock and never block on I/O. The worker (created
 * by create(), idle until start()) pops a task, runs it with the lock
 * released, and delivers every event itself, so events of one instance never
 * overlap and never come from inside a host call. `outstanding` counts
 * accepted tasks whose terminal event has not returned yet; wait() sleeps on
 * `idle` until it is 0. destroy() sets `stopping`, which aborts the running
 * transfer from libcurl's progress callback, joins the worker and frees
 * everything: no event is delivered after it returns.
 */
#define _POSIX_C_SOURCE 200809L
#include "instance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "json_out.h"
#include "task_queue.h"
#include "transfer.h"

#define EX_QUEUE_CAPACITY 8

struct dlhost_instance {
  dlhost_event_fn on_event;
  void *user;
  ex_config config;
  CURL *easy; /* used by the worker only */
  pthread_t worker;

  pthread_mutex_t lock;
  pthread_cond_t work; /* the worker waits for tasks or stopping */
  pthread_cond_t idle; /* wait() waits for outstanding == 0 */
  ex_queue queue;
  ex_task *current; /* the task the worker runs, or NULL */
  size_t outstanding;
  int started, stopping;
  ex_counters counters;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void init_curl(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void set_error(char *errbuf, size_t size, const char *message) {
  if (errbuf && size) snprintf(errbuf, size, "%s", message);
}

/* ---- events (worker thread only) ----------------------------------------- */

static void emit(dlhost_instance *inst, dlhost_event_type type, const ex_task *task,
                 const ex_transfer_result *r) {
  dlhost_event e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  e.type = type;
  e.task_id = task->id;
  e.attempt = 1;
  e.proxy_id = "direct";
  if (r) {
    e.bytes_done = r->bytes;
    e.bytes_total = task->size >= 0 ? (uint64_t)task->size : 0;
    e.http_status = (int32_t)r->http_status;
    e.failure = type == DLHOST_EVENT_FAILED ? r->failure : DLHOST_FAILURE_NONE;
    e.message = type == DLHOST_EVENT_FAILED ? r->message : NULL;
  }
  inst->on_event(inst->user, &e);
}

typedef struct hook_ctx {
  dlhost_instance *inst;
  ex_task *task;
} hook_ctx;

static int hook_should_stop(void *ctx) {
  hook_ctx *h = ctx;
  int stop;
  pthread_mutex_lock(&h->inst->lock);
  stop = h->inst->stopping || h->task->cancelled;
  pthread_mutex_unlock(&h->inst->lock);
  return stop;
}

static void hook_progress(void *ctx, uint64_t done, uint64_t total) {
  hook_ctx *h = ctx;
  dlhost_event e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  e.type = DLHOST_EVENT_PROGRESS;
  e.task_id = h->task->id;
  e.bytes_done = done;
  e.bytes_total = total;
  e.attempt = 1;
  e.proxy_id = "direct";
  h->inst->on_event(h->inst->user, &e);
}

/* ---- the worker ---------------------------------------------------------- */

static void count(dlhost_instance *inst, dlhost_event_type type, const ex_transfer_result *r) {
  pthread_mutex_lock(&inst->lock);
  if (type == DLHOST_EVENT_COMPLETED) {
    inst->counters.completed++;
    inst->counters.bytes += r->bytes;
    inst->counters.consecutive_failures = 0;
  } else if (type == DLHOST_EVENT_FAILED) {
    inst->counters.failed++;
    inst->counters.consecutive_failures++;
  } else {
    inst->counters.cancelled++;
  }
  pthread_mutex_unlock(&inst->lock);
}

/* Runs one task and delivers its events; returns 0 if destroy() stopped it
 * (then no terminal event is delivered). */
static int run_task(dlhost_instance *inst, ex_task *task, int cancelled) {
  hook_ctx ctx;
  ex_transfer_hooks hooks;
  ex_transfer_result r;
  dlhost_event_type type;
  int stopping;
  memset(&r, 0, sizeof r);
  if (!cancelled) {
    ctx.inst = inst;
    ctx.task = task;
    hooks.ctx = &ctx;
    hooks.should_stop = hook_should_stop;
    hooks.progress = hook_progress;
    emit(inst, DLHOST_EVENT_STARTED, task, NULL);
    ex_transfer_run(inst->easy, &inst->config, task, &hooks, &r);
  }
  type = cancelled || r.outcome == EX_STOPPED ? DLHOST_EVENT_CANCELLED
         : r.outcome == EX_COMPLETED         ? DLHOST_EVENT_COMPLETED
                                             : DLHOST_EVENT_FAILED;
  pthread_mutex_lock(&inst->lock);
  stopping = inst->stopping;
  inst->current = NULL; /* it is ending: cancel() now answers E_NOT_FOUND */
  pthread_mutex_unlock(&inst->lock);
  if (stopping) return 0;
  count(inst, type, &r);
  emit(inst, type, task, &r);
  return 1;
}

static void *worker_main(void *arg) {
  dlhost_instance *inst = arg;
  pthread_mutex_lock(&inst->lock);
  for (;;) {
    ex_task *task;
    int cancelled;
    while (!inst->stopping && !(inst->started && inst->queue.head))
      pthread_cond_wait(&inst->work, &inst->lock);
    if (inst->stopping) break;
    task = ex_queue_pop(&inst->queue);
    inst->current = task;
    cancelled = task->cancelled;
    pthread_mutex_unlock(&inst->lock);
    run_task(inst, task, cancelled);
    pthread_mutex_lock(&inst->lock);
    inst->current = NULL;
    ex_task_free(task);
    inst->outstanding--;
    pthread_cond_broadcast(&inst->idle);
  }
  pthread_mutex_unlock(&inst->lock);
  return NULL;
}

/* ---- the ABI functions --------------------------------------------------- */

static int init_sync(dlhost_instance *inst) {
  pthread_condattr_t attr;
  int ok = pthread_condattr_init(&attr) == 0;
  ok = ok && pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0;
  ok = ok && pthread_mutex_init(&inst->lock, NULL) == 0;
  ok = ok && pthread_cond_init(&inst->work, NULL) == 0;
  ok = ok && pthread_cond_init(&inst->idle, &attr) == 0;
  pthread_condattr_destroy(&attr);
  return ok ? 0 : -1;
}

dlhost_status ex_create(const dlhost_create_params *params, dlhost_instance **out, char *errbuf,
                        size_t errbuf_size) {
  dlhost_instance *inst;
  char message[256] = "";
  if (out) *out = NULL;
  if (!params || !out || !params->on_event) {
    set_error(errbuf, errbuf_size, "create: params, out and on_event are required");
    return DLHOST_E_INVALID_ARGUMENT;
  }
  inst = calloc(1, sizeof *inst);
  if (!inst) return DLHOST_E_NO_MEMORY;
  if (ex_config_parse(params->config_json, &inst->config, message, sizeof message) != 0) {
    set_error(errbuf, errbuf_size, message);
    free(inst);
    return DLHOST_E_CONFIG;
  }
  pthread_once(&curl_once, init_curl);
  inst->on_event = params->on_event;
  inst->user = params->user;
  inst->queue.capacity = EX_QUEUE_CAPACITY;
  inst->easy = curl_easy_init();
  if (!inst->easy || init_sync(inst) != 0 ||
      pthread_create(&inst->worker, NULL, worker_main, inst) != 0) {
    if (inst->easy) curl_easy_cleanup(inst->easy);
    free(inst);
    set_error(errbuf, errbuf_size, "create: cannot set up libcurl or the worker thread");
    return DLHOST_E_INTERNAL;
  }
  *out = inst;
  return DLHOST_OK;
}

dlhost_status ex_submit(dlhost_instance *inst, const dlhost_task *task, char *errbuf,
                        size_t errbuf_size) {
  ex_task *copy;
  if (!inst || !task || !task->url || !task->dest_path) {
    set_error(errbuf, errbuf_size, "submit: task, url and dest_path are required");
    return DLHOST_E_INVALID_ARGUMENT;
  }
  pthread_mutex_lock(&inst->lock);
  if (ex_queue_full(&inst->queue)) {
    pthread_mutex_unlock(&inst->lock);
    return DLHOST_E_AGAIN;
  }
  copy = ex_task_copy(task);
  if (copy) {
    ex_queue_push(&inst->queue, copy);
    inst->outstanding++;
    pthread_cond_signal(&inst->work);
  }
  pthread_mutex_unlock(&inst->lock);
  if (!copy) set_error(errbuf, errbuf_size, "submit: out of memory");
  return copy ? DLHOST_OK : DLHOST_E_NO_MEMORY;
}

dlhost_status ex_start(dlhost_instance *inst) {
  dlhost_status status = DLHOST_OK;
  if (!inst) return DLHOST_E_INVALID_ARGUMENT;
  pthread_mutex_lock(&inst->lock);
  if (inst->started) status = DLHOST_E_STATE;
  inst->started = 1;
  pthread_cond_signal(&inst->work);
  pthread_mutex_unlock(&inst->lock);
  return status;
}

dlhost_status ex_cancel(dlhost_instance *inst, uint64_t task_id) {
  dlhost_status status = DLHOST_OK;
  ex_task *task;
  if (!inst) return DLHOST_E_INVALID_ARGUMENT;
  pthread_mutex_lock(&inst->lock);
  if (task_id == DLHOST_TASK_ALL) {
    ex_queue_cancel_all(&inst->queue);
    if (inst->current) inst->current->cancelled = 1;
  } else {
    task = inst->current && inst->current->id == task_id ? inst->current
                                                         : ex_queue_find(&inst->queue, task_id);
    if (task) task->cancelled = 1;
    else status = DLHOST_E_NOT_FOUND;
  }
  pthread_mutex_unlock(&inst->lock);
  return status;
}

dlhost_status ex_wait(dlhost_instance *inst, int32_t timeout_ms) {
  struct timespec deadline;
  int timed_out = 0;
  if (!inst) return DLHOST_E_INVALID_ARGUMENT;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  if (timeout_ms > 0) {
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&inst->lock);
  while (inst->outstanding > 0 && !timed_out) {
    if (timeout_ms < 0) pthread_cond_wait(&inst->idle, &inst->lock);
    else timed_out = pthread_cond_timedwait(&inst->idle, &inst->lock, &deadline) != 0;
  }
  timed_out = inst->outstanding > 0;
  pthread_mutex_unlock(&inst->lock);
  return timed_out ? DLHOST_E_TIMEOUT : DLHOST_OK;
}

void ex_destroy(dlhost_instance *inst) {
  if (!inst) return;
  pthread_mutex_lock(&inst->lock);
  inst->stopping = 1;
  pthread_cond_broadcast(&inst->work);
  pthread_mutex_unlock(&inst->lock);
  pthread_join(inst->worker, NULL);
  ex_queue_clear(&inst->queue);
  curl_easy_cleanup(inst->easy);
  pthread_cond_destroy(&inst->work);
  pthread_cond_destroy(&inst->idle);
  pthread_mutex_destroy(&inst->lock);
  free(inst);
}

static dlhost_status write_json(dlhost_instance *inst, const dlhost_sink *sink,
                                void (*writer)(const dlhost_sink *, const ex_counters *)) {
  ex_counters snapshot;
  if (!inst || !sink || !sink->write) return DLHOST_E_INVALID_ARGUMENT;
  pthread_mutex_lock(&inst->lock);
  snapshot = inst->counters;
  pthread_mutex_unlock(&inst->lock);
  writer(sink, &snapshot); /* the sink is called without our lock held */
  return DLHOST_OK;
}

dlhost_status ex_stats(dlhost_instance *inst, const dlhost_sink *sink) {
  return write_json(inst, sink, ex_write_stats);
}

dlhost_status ex_health(dlhost_instance *inst, const dlhost_sink *sink) {
  return write_json(inst, sink, ex_write_health);
}
