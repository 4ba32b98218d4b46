/*
 * A host that speaks only ABI 1.0: built against the frozen 1.0 header in
 * tests/abi/1.0, it loads a plugin the way a 1.0 host would, reading only the
 * descriptor's 1.0 prefix, and downloads a few files through it. Today's
 * plugins (ABI 1.1) must serve it unchanged: that is the "newer plugin, older
 * host" half of the compatibility promise (the other half, an old plugin in
 * this host, is test-plugin-1.0.so).
 *
 *   host_1_0 PLUGIN.so OUT_DIR URL...
 *
 * Each URL goes to OUT_DIR/fileN (N from 0). Prints one line per terminal
 * event ("completed 1", "failed 2: message") and a last line "stats: JSON".
 * Exit status 0 when every task completed, 1 when one did not, 2 when the
 * plugin could not be loaded or driven.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlhost/plugin.h"

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;
static int terminal_events = 0;
static int completed = 0;

static void on_event(void *user, const dlhost_event *e) {
  (void)user;
  if (e->type != DLHOST_EVENT_COMPLETED && e->type != DLHOST_EVENT_FAILED &&
      e->type != DLHOST_EVENT_CANCELLED)
    return;
  pthread_mutex_lock(&mutex);
  if (e->type == DLHOST_EVENT_COMPLETED) {
    completed++;
    printf("completed %llu\n", (unsigned long long)e->task_id);
  } else {
    printf("failed %llu: %s\n", (unsigned long long)e->task_id, e->message ? e->message : "?");
  }
  fflush(stdout);
  terminal_events++;
  pthread_cond_broadcast(&ended);
  pthread_mutex_unlock(&mutex);
}

static void collect(void *user, const char *data, size_t len) {
  fwrite(data, 1, len, (FILE *)user);
}

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "host_1_0: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  return 2;
}

static int submit_all(const dlhost_plugin_descriptor *d, dlhost_instance *inst, const char *out,
                      char **urls, int n) {
  int i;
  for (i = 0; i < n; i++) {
    char dest[4096], err[256] = "";
    dlhost_task task;
    dlhost_status st;
    memset(&task, 0, sizeof task);
    snprintf(dest, sizeof dest, "%s/file%d", out, i);
    task.struct_size = (uint32_t)sizeof task; /* 1.0's size: this host knows no other */
    task.id = (uint64_t)i + 1;
    task.url = urls[i];
    task.dest_path = dest;
    task.group = "g";
    task.size = -1;
    while ((st = d->submit(inst, &task, err, sizeof err)) == DLHOST_E_AGAIN) {
      pthread_mutex_lock(&mutex);
      pthread_cond_wait(&ended, &mutex);
      pthread_mutex_unlock(&mutex);
    }
    if (st != DLHOST_OK) return fail("submit() failed", err);
  }
  return 0;
}

int main(int argc, char **argv) {
  void *lib;
  dlhost_plugin_entry_fn entry;
  const dlhost_plugin_descriptor *d;
  dlhost_create_params params;
  dlhost_instance *inst = NULL;
  dlhost_sink sink;
  char err[1024] = "", config[4200];
  int n, rc;
  if (argc < 4) return fail("usage: host_1_0 PLUGIN.so OUT_DIR URL...", NULL);
  n = argc - 3;
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) return fail("cannot load", dlerror());
  *(void **)&entry = dlsym(lib, DLHOST_PLUGIN_ENTRY_SYMBOL);
  if (!entry) return fail("no entry", dlerror());
  d = entry(DLHOST_ABI_MAJOR, DLHOST_ABI_MINOR);
  if (!d) return fail("the plugin refused ABI 1.0", NULL);
  if (d->abi_major != DLHOST_ABI_MAJOR || d->struct_size < sizeof(dlhost_plugin_descriptor))
    return fail("descriptor too small or another major", NULL);
  printf("plugin %s %s speaks ABI %u.%u\n", d->id, d->version, (unsigned)d->abi_major,
         (unsigned)d->abi_minor);

  snprintf(config, sizeof config, "{\"DOWNLOAD_DIR\": \"%s\", \"PROXY_MAX_RETRIES\": 0}", argv[2]);
  memset(&params, 0, sizeof params);
  params.struct_size = (uint32_t)sizeof params;
  params.config_json = config;
  params.on_event = on_event;
  if (d->create(&params, &inst, err, sizeof err) != DLHOST_OK || !inst)
    return fail("create() failed", err);
  if (d->start(inst) != DLHOST_OK) return fail("start() failed", NULL);
  rc = submit_all(d, inst, argv[2], argv + 3, n);
  if (rc == 0 && d->wait(inst, 60000) != DLHOST_OK) rc = fail("wait() timed out", NULL);
  if (rc == 0 && d->stats) {
    memset(&sink, 0, sizeof sink);
    sink.struct_size = (uint32_t)sizeof sink;
    sink.user = stdout;
    sink.write = collect;
    fputs("stats: ", stdout);
    if (d->stats(inst, &sink) != DLHOST_OK) rc = fail("stats() failed", NULL);
    fputs("\n", stdout);
  }
  d->destroy(inst);
  if (rc != 0) return rc;
  pthread_mutex_lock(&mutex);
  rc = terminal_events == n && completed == n ? 0 : 1;
  pthread_mutex_unlock(&mutex);
  return rc;
}
