/*
 * The bounded task queue. submit() copies the host's borrowed task into an
 * ex_task and pushes it; when `capacity` tasks wait, submit() answers
 * DLHOST_E_AGAIN instead (back-pressure: the host retries after a terminal
 * event, so a huge manifest never sits in memory at once). The caller holds
 * the instance lock around every function here.
 */
#define _POSIX_C_SOURCE 200809L
#include "task_queue.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

ex_task *ex_task_copy(const dlhost_task *task) {
  ex_task *t = calloc(1, sizeof *t);
  size_t i;
  if (!t) return NULL;
  t->id = task->id;
  t->url = strdup(task->url);
  t->dest = strdup(task->dest_path);
  t->size = task->size;
  if (task->sha256) {
    for (i = 0; i < 64 && task->sha256[i]; i++)
      t->sha256[i] = (char)tolower((unsigned char)task->sha256[i]);
  }
  if (!t->url || !t->dest) {
    ex_task_free(t);
    return NULL;
  }
  return t;
}

void ex_task_free(ex_task *task) {
  if (!task) return;
  free(task->url);
  free(task->dest);
  free(task);
}

int ex_queue_full(const ex_queue *q) {
  return q->count >= q->capacity;
}

void ex_queue_push(ex_queue *q, ex_task *task) {
  task->next = NULL;
  if (q->tail) q->tail->next = task;
  else q->head = task;
  q->tail = task;
  q->count++;
}

ex_task *ex_queue_pop(ex_queue *q) {
  ex_task *t = q->head;
  if (!t) return NULL;
  q->head = t->next;
  if (!q->head) q->tail = NULL;
  q->count--;
  t->next = NULL;
  return t;
}

ex_task *ex_queue_find(const ex_queue *q, uint64_t id) {
  ex_task *t;
  for (t = q->head; t; t = t->next)
    if (t->id == id) return t;
  return NULL;
}

void ex_queue_cancel_all(ex_queue *q) {
  ex_task *t;
  for (t = q->head; t; t = t->next) t->cancelled = 1;
}

void ex_queue_clear(ex_queue *q) {
  ex_task *t;
  while ((t = ex_queue_pop(q)) != NULL) ex_task_free(t);
}
