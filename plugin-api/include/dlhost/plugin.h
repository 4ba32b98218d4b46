/*
 * dlhost plugin ABI, version 1.2 (1.1 plus the "dlhost.capacity/1" extension).
 *
 * A downloader plugin is a shared library that exports exactly one symbol,
 * DLHOST_PLUGIN_ENTRY_SYMBOL, a function returning a pointer to a static
 * descriptor. The descriptor begins with a frozen prefix (ABI major, minor,
 * struct size) so that any host can tell whether it understands the rest.
 *
 * Compatibility rules (they never change within a major version):
 *  - Same major = compatible. A host accepts a plugin whose minor is lower or
 *    higher than its own; it reads only the fields both know.
 *  - Every struct carries its size in its first field and only ever grows at
 *    the end. A reader copies min(struct_size, sizeof(struct)) bytes into a
 *    zeroed struct, so fields a writer does not know read as 0 / NULL.
 *  - Each struct's size as ABI 1.0 defined it is a named constant
 *    (DLHOST_*_SIZE_1_0 below): a reader checks a struct_size against the
 *    smallest version it accepts, never against its own sizeof, so a newer
 *    reader keeps accepting older writers.
 *  - Optional features beyond the function table are extensions, looked up
 *    by a versioned id with get_extension() (ABI 1.1), in CLAP's style: an
 *    incompatible change of an extension gets a new id, never a new layout.
 *  - Status codes, event types and failure kinds are fixed-width integers and
 *    are only ever appended. Treat unknown values as "internal error" /
 *    "ignore event" / "other failure".
 *  - No C++ type, exception or allocation crosses this boundary. Every string
 *    is UTF-8 and NUL-terminated. Who owns each pointer is stated on the
 *    function or field that carries it.
 *
 * Threads, in the words used below:
 *  - "host thread": any thread the host owns. Unless a function says
 *    otherwise, calls on one instance must not overlap (the host serialises
 *    them), but they may come from different host threads.
 *  - "plugin thread": a thread the plugin owns. Events are delivered from
 *    plugin threads, one at a time per instance (never two callbacks of one
 *    instance at once), and never from inside a call the host made into the
 *    plugin on the same thread.
 *
 * This header is C99 and compiles with -std=c99 -pedantic -Werror.
 */
#ifndef DLHOST_PLUGIN_H
#define DLHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLHOST_ABI_MAJOR 1u
#define DLHOST_ABI_MINOR 2u

/* The one symbol a plugin exports. */
#define DLHOST_PLUGIN_ENTRY_SYMBOL "dlhost_plugin_entry"

#if defined(_WIN32)
#define DLHOST_EXPORT __declspec(dllexport)
#else
#define DLHOST_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

typedef int32_t dlhost_status;

#define DLHOST_OK 0
#define DLHOST_E_INVALID_ARGUMENT 1 /* a NULL or malformed argument */
#define DLHOST_E_CONFIG 2           /* the configuration JSON is invalid */
#define DLHOST_E_AGAIN 3            /* queue full: retry after a terminal event */
#define DLHOST_E_TIMEOUT 4          /* wait() ran out of time; work goes on */
#define DLHOST_E_STATE 5            /* the call is not valid in this state */
#define DLHOST_E_NOT_FOUND 6        /* no such task */
#define DLHOST_E_NO_MEMORY 7
#define DLHOST_E_INTERNAL 8    /* a bug or an unexpected condition in the plugin */
#define DLHOST_E_UNSUPPORTED 9 /* the plugin does not implement this call */
#define DLHOST_E_IO 10         /* the file system refused (open, write, rename) */

/* ------------------------------------------------------------------------ */
/* Tasks                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * One file to download. Passed to submit(); every pointer is borrowed for the
 * duration of that call only: the plugin copies what it keeps.
 */
typedef struct dlhost_task {
  uint32_t struct_size; /* sizeof(dlhost_task) as the host knows it */
  uint32_t reserved;    /* 0 */
  uint64_t id;          /* chosen by the host, unique within one instance */
  const char *url;      /* http:// or https:// */
  /* The final path of the file. The plugin writes "<dest_path>.part", checks
   * it, then renames it to dest_path; it never leaves a partial or unverified
   * file at dest_path. Parent directories already exist. */
  const char *dest_path;
  const char *group;  /* the post this file belongs to; never NULL */
  const char *sha256; /* expected lowercase hex digest, or NULL if unknown */
  int64_t size;       /* expected size in bytes, or -1 if unknown */
  /* --- v1.1: read only when struct_size >= DLHOST_TASK_SIZE_1_1 --- */
  /* Run this task only on the path with this id ("direct",
   * "http://host:port", as stats() names paths), retries included; NULL lets
   * the plugin choose. A plugin that has no path of that id rejects the task
   * in submit() with DLHOST_E_INVALID_ARGUMENT and says so in errbuf. */
  const char *proxy_id;
} dlhost_task;

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

typedef int32_t dlhost_event_type;
#define DLHOST_EVENT_STARTED 1   /* a transfer attempt began */
#define DLHOST_EVENT_PROGRESS 2  /* bytes arrived (rate-limited by the plugin) */
#define DLHOST_EVENT_RETRYING 3  /* an attempt failed; another will follow */
#define DLHOST_EVENT_COMPLETED 4 /* terminal: dest_path holds the verified file */
#define DLHOST_EVENT_FAILED 5    /* terminal: nothing was left at dest_path */
#define DLHOST_EVENT_CANCELLED 6 /* terminal: cancel() stopped it; .part kept */
#define DLHOST_EVENT_LOG 7       /* a message for the operator; task_id may be 0 */

/* Why a task failed (DLHOST_EVENT_FAILED) or an attempt did (RETRYING). */
typedef int32_t dlhost_failure;
#define DLHOST_FAILURE_NONE 0
#define DLHOST_FAILURE_HTTP 1       /* the origin answered a non-2xx status */
#define DLHOST_FAILURE_TIMEOUT 2    /* the transfer ran out of time */
#define DLHOST_FAILURE_TRANSPORT 3  /* connect, reset, truncated body, TLS */
#define DLHOST_FAILURE_VERIFY 4     /* size or sha256 did not match */
#define DLHOST_FAILURE_IO 5         /* writing or renaming the file failed */
#define DLHOST_FAILURE_PROXY 6      /* the proxy refused, failed or timed out */
#define DLHOST_FAILURE_PROXY_AUTH 7 /* the proxy rejected its credentials */
#define DLHOST_FAILURE_OTHER 8

typedef int32_t dlhost_log_level;
#define DLHOST_LOG_DEBUG 0
#define DLHOST_LOG_INFO 1
#define DLHOST_LOG_WARN 2
#define DLHOST_LOG_ERROR 3

/*
 * Every pointer in an event is owned by the plugin and valid only until the
 * callback returns. Messages never contain credentials.
 * Exactly one terminal event (COMPLETED, FAILED or CANCELLED) is delivered
 * for every task that submit() accepted.
 */
typedef struct dlhost_event {
  uint32_t struct_size; /* sizeof(dlhost_event) as the plugin knows it */
  dlhost_event_type type;
  uint64_t task_id;        /* 0 for LOG events not tied to a task */
  uint64_t bytes_done;     /* bytes in the file so far (including resumed) */
  uint64_t bytes_total;    /* expected total, 0 if unknown */
  int32_t attempt;         /* 1 for the first attempt */
  int32_t http_status;     /* last HTTP status seen, 0 if none */
  dlhost_failure failure;  /* FAILED and RETRYING: why */
  dlhost_log_level level;  /* LOG: severity; others: 0 */
  uint32_t retry_delay_ms; /* RETRYING: delay before the next attempt */
  uint32_t reserved;       /* 0 */
  const char *message;     /* FAILED, RETRYING, LOG: human text; else may be NULL */
  const char *proxy_id;    /* the path used ("direct", "http://127.0.0.2:8888"), or NULL */
} dlhost_event;

/*
 * The host's event callback. Called on a plugin thread, never concurrently
 * for one instance. It must return quickly and must not call into the plugin.
 * `event` is borrowed for the call.
 */
typedef void (*dlhost_event_fn)(void *user, const dlhost_event *event);

/* ------------------------------------------------------------------------ */
/* Output sinks                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A host-owned sink for JSON text. The plugin calls write() zero or more
 * times during stats()/health() on the calling thread; the host concatenates
 * the pieces. `data` is borrowed for the call and is not NUL-terminated.
 */
typedef struct dlhost_sink {
  uint32_t struct_size;
  void *user;
  void (*write)(void *user, const char *data, size_t len);
} dlhost_sink;

/* ------------------------------------------------------------------------ */
/* Instance creation                                                        */
/* ------------------------------------------------------------------------ */

typedef struct dlhost_instance dlhost_instance; /* opaque, owned by the plugin */

/*
 * What the host gives create(). Borrowed for the call; the plugin copies the
 * callback and user pointer. `user` is passed back unchanged to on_event and
 * must stay valid until destroy() returns.
 */
typedef struct dlhost_create_params {
  uint32_t struct_size;
  uint32_t reserved;
  /* A JSON object of resolved settings, keyed by their names
   * (e.g. {"PROXY_MAX_REDIRECTS": 1, "PROXY_LIST": "[...]"}). Integers are
   * JSON numbers; everything else is a JSON string. Unknown keys must be
   * ignored. Plugins never read the environment. */
  const char *config_json;
  dlhost_event_fn on_event;
  void *user;
} dlhost_create_params;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */
/* ------------------------------------------------------------------------ */

#define DLHOST_TASK_ALL UINT64_MAX /* cancel(): every task */

typedef struct dlhost_plugin_descriptor {
  /* --- frozen prefix: never changes, in any major version --------------- */
  uint32_t abi_major;   /* DLHOST_ABI_MAJOR the plugin was built against */
  uint32_t abi_minor;   /* DLHOST_ABI_MINOR the plugin was built against */
  uint32_t struct_size; /* sizeof(dlhost_plugin_descriptor) for the plugin */
  uint32_t reserved;    /* 0 */

  /* --- v1.0 -------------------------------------------------------------- */
  const char *id;          /* short stable id, [a-z0-9-], e.g. "multi-proxy" */
  const char *name;        /* human name */
  const char *version;     /* the plugin's own version, e.g. "1.2.0" */
  const char *description; /* one line */

  /*
   * Static text for a status code, never NULL (unknown codes too).
   * Thread: any, at any time. Returned pointer: static, owned by the plugin.
   */
  const char *(*strerror)(dlhost_status status);

  /*
   * Create an instance. On failure returns non-OK, leaves *out NULL and
   * writes a one-line NUL-terminated message (no credentials) into
   * errbuf[0..errbuf_size) when errbuf is not NULL. DLHOST_E_CONFIG names the
   * offending setting. No event is delivered before start().
   * Thread: host thread. Ownership: params borrowed; *out owned by the plugin
   * until destroy(); errbuf owned by the caller.
   */
  dlhost_status (*create)(const dlhost_create_params *params, dlhost_instance **out, char *errbuf,
                          size_t errbuf_size);

  /*
   * Queue one task. Valid before and after start(). Returns DLHOST_E_AGAIN
   * when the plugin's queue is full (back-pressure): the task was not taken,
   * and at least one terminal event will follow before the plugin accepts
   * more, so the host retries after one. Any other non-OK status rejects the
   * task (message in errbuf); no event is delivered for a rejected task.
   * Thread: host thread. Ownership: task and its strings borrowed for the call.
   */
  dlhost_status (*submit)(dlhost_instance *inst, const dlhost_task *task, char *errbuf,
                          size_t errbuf_size);

  /*
   * Begin transferring. Events flow from now on. Calling it twice is
   * DLHOST_E_STATE. Thread: host thread.
   */
  dlhost_status (*start)(dlhost_instance *inst);

  /*
   * Stop one task (task_id) or every task (DLHOST_TASK_ALL). Returns at once;
   * each stopped task gets a CANCELLED event (its .part file is kept for a
   * later resume). A task that already ended is DLHOST_E_NOT_FOUND.
   * Thread: any host thread, also concurrently with wait() and stats()
   * (this is how a signal handler's thread stops a job), but never from
   * inside the event callback.
   */
  dlhost_status (*cancel)(dlhost_instance *inst, uint64_t task_id);

  /*
   * Block until every accepted task has had its terminal event delivered
   * (and the callback returned), or timeout_ms passes (-1 = forever).
   * Returns DLHOST_OK when idle, DLHOST_E_TIMEOUT otherwise.
   * Thread: host thread; may run concurrently with cancel(), stats() and
   * health().
   */
  dlhost_status (*wait)(dlhost_instance *inst, int32_t timeout_ms);

  /*
   * Stop everything and free the instance. Blocks until no plugin thread
   * runs; no callback is delivered once it returns (tasks still running are
   * dropped without a terminal event). `inst` is invalid afterwards.
   * Thread: host thread, not concurrently with any other call on `inst`.
   */
  void (*destroy)(dlhost_instance *inst);

  /*
   * Write a JSON object with the plugin's statistics into `sink`, e.g.
   * {"proxies":[{"id","state","completed","failed","retries","rate_limited",
   *  "bytes","latency_ms":{"p50","p95"}}]}. Proxy ids never carry
   * credentials. Optional (may be NULL).
   * Thread: any host thread, concurrently with any other call on `inst`
   * except create() and destroy(): the host's progress display and status
   * server call it while the job's thread submit()s, wait()s and cancel()s.
   * Two stats()/health() calls may overlap each other too.
   * Ownership: sink borrowed for the call.
   */
  dlhost_status (*stats)(dlhost_instance *inst, const dlhost_sink *sink);

  /*
   * Write a JSON object describing each path's health into `sink`, e.g.
   * {"proxies":[{"id","state","consecutive_failures","cooldown_ms"}]}.
   * Optional (may be NULL). Threads and ownership as stats().
   */
  dlhost_status (*health)(dlhost_instance *inst, const dlhost_sink *sink);

  /* --- v1.1: read only when struct_size >= DLHOST_DESCRIPTOR_SIZE_1_1 ----- */

  /*
   * The plugin's optional features, by id: returns a pointer to a static,
   * plugin-owned struct for `id` (for example DLHOST_EXT_PROXIES below), or
   * NULL when the plugin does not implement it. An extension's struct starts
   * with its struct_size and only grows at the end; its id carries a version
   * ("/1"), and an incompatible change gets a new id. A host assumes no
   * extension: without it, the feature is simply not available.
   * May be NULL (no extensions). Thread: any, at any time.
   * Ownership: `id` borrowed for the call; the result static, owned by the
   * plugin, valid until the library is unloaded.
   */
  const void *(*get_extension)(const char *id);
} dlhost_plugin_descriptor;

/* ------------------------------------------------------------------------ */
/* Extension "dlhost.proxies/1": change a running instance's proxies        */
/* ------------------------------------------------------------------------ */

#define DLHOST_EXT_PROXIES "dlhost.proxies/1"

typedef struct dlhost_proxies_ext {
  uint32_t struct_size; /* sizeof(dlhost_proxies_ext) as the plugin knows it */
  uint32_t reserved;    /* 0 */
  /*
   * Replace the paths of a running (or not yet started) instance with
   * `proxy_list_json`: a PROXY_LIST JSON array as config_json carries it
   * ("" or "[]" = the direct line only). Paths are matched by their id
   * ("direct", "http://host:port"; never credentials):
   *  - a path in both lists keeps its state (health, rates, statistics) and
   *    takes the new entry's settings (weight, credentials);
   *  - a new path starts healthy and takes work at once;
   *  - a removed path takes no new file; files in flight on it finish there,
   *    and a retry of one goes elsewhere. No task is lost or ended by the
   *    change itself.
   * Returns DLHOST_OK once the new list is in force for every file not yet
   * started. On DLHOST_E_CONFIG (the list is invalid) nothing changed, and
   * errbuf holds one line naming the entry, without credentials.
   * Thread: any host thread, concurrently with submit(), wait(), cancel(),
   * stats() and health(); not concurrently with itself, create() or
   * destroy(). Ownership: proxy_list_json borrowed for the call; errbuf
   * owned by the caller.
   */
  dlhost_status (*set_proxies)(dlhost_instance *inst, const char *proxy_list_json, char *errbuf,
                               size_t errbuf_size);
} dlhost_proxies_ext;

/* ------------------------------------------------------------------------ */
/* Extension "dlhost.capacity/1" (ABI 1.2): how many files run at once      */
/* ------------------------------------------------------------------------ */

#define DLHOST_EXT_CAPACITY "dlhost.capacity/1"

/*
 * A host without this figure must guess how many files to hand over ahead of
 * those running; it uses DLHOST_DEFAULT_RUNNING_CAPACITY for a plugin that
 * lacks the extension.
 */
#define DLHOST_DEFAULT_RUNNING_CAPACITY 16u

typedef struct dlhost_capacity_ext {
  uint32_t struct_size; /* sizeof(dlhost_capacity_ext) as the plugin knows it */
  uint32_t reserved;    /* 0 */
  /*
   * How many tasks `inst` can have transferring at once, as configured now
   * (multi-proxy: paths x PROXY_POST_LIMIT x PROXY_ATTACHMENT_LIMIT; legacy:
   * 1). Tasks submitted beyond it wait in the plugin's queue. It may change
   * while the instance runs (dlhost.proxies/1 adds or removes paths), so the
   * host asks again whenever it refills; it must be cheap (no lock held for
   * long, no I/O). Never 0.
   * Thread: any host thread, concurrently with every call on `inst` but
   * create() and destroy().
   */
  uint32_t (*running_capacity)(dlhost_instance *inst);
} dlhost_capacity_ext;

/* ------------------------------------------------------------------------ */
/* Sizes by ABI version                                                     */
/* ------------------------------------------------------------------------ */

/*
 * The size of each struct as a version of the ABI defined it: the end of its
 * last field in that version. A reader accepts any struct_size at least as
 * large as the oldest version it supports, and reads fields beyond that only
 * when struct_size covers them.
 */
#define DLHOST_END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define DLHOST_TASK_SIZE_1_0 DLHOST_END_OF(dlhost_task, size)
#define DLHOST_TASK_SIZE_1_1 DLHOST_END_OF(dlhost_task, proxy_id)
#define DLHOST_EVENT_SIZE_1_0 DLHOST_END_OF(dlhost_event, proxy_id)
#define DLHOST_SINK_SIZE_1_0 DLHOST_END_OF(dlhost_sink, write)
#define DLHOST_CREATE_PARAMS_SIZE_1_0 DLHOST_END_OF(dlhost_create_params, user)
#define DLHOST_DESCRIPTOR_SIZE_1_0 DLHOST_END_OF(dlhost_plugin_descriptor, health)
#define DLHOST_DESCRIPTOR_SIZE_1_1 DLHOST_END_OF(dlhost_plugin_descriptor, get_extension)
#define DLHOST_PROXIES_EXT_SIZE_1 DLHOST_END_OF(dlhost_proxies_ext, set_proxies)
#define DLHOST_CAPACITY_EXT_SIZE_1 DLHOST_END_OF(dlhost_capacity_ext, running_capacity)

/*
 * The entry point: returns a pointer to a static descriptor, or NULL if the
 * plugin cannot run at all. `host_abi_major`/`host_abi_minor` tell the plugin
 * which ABI the host speaks; a plugin may refuse (return NULL) a host it
 * cannot serve. Thread: any. Ownership: the descriptor is static, owned by
 * the plugin, valid until the library is unloaded.
 */
typedef const dlhost_plugin_descriptor *(*dlhost_plugin_entry_fn)(uint32_t host_abi_major,
                                                                  uint32_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* DLHOST_PLUGIN_H */
