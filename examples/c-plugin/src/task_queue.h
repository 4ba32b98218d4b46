/* Tasks copied out of submit() and the bounded FIFO they wait in. */
#ifndef EXAMPLE_TASK_QUEUE_H
#define EXAMPLE_TASK_QUEUE_H

#include <dlhost/plugin.h>

typedef struct ex_task {
  uint64_t id;
  char *url;
  char *dest;
  char sha256[65]; /* lowercase hex, "" = unknown */
  int64_t size;    /* -1 = unknown */
  int cancelled;   /* set by cancel(); read by the worker under the lock */
  struct ex_task *next;
} ex_task;

typedef struct ex_queue {
  ex_task *head, *tail;
  size_t count, capacity;
} ex_queue;

/* A deep copy of the borrowed task, or NULL when out of memory. */
ex_task *ex_task_copy(const dlhost_task *task);
void ex_task_free(ex_task *task);

int ex_queue_full(const ex_queue *q);
void ex_queue_push(ex_queue *q, ex_task *task);
ex_task *ex_queue_pop(ex_queue *q); /* NULL when empty */
ex_task *ex_queue_find(const ex_queue *q, uint64_t id);
void ex_queue_cancel_all(ex_queue *q);
void ex_queue_clear(ex_queue *q); /* frees every task */

#endif
