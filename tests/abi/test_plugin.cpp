// A tiny, well-behaved dlhost plugin for end-to-end tests of the host, with
// no network: it "downloads" a URL by writing the URL's text into
// "<dest>.part" and renaming it to dest. One worker thread, a queue of two
// tasks (so the host's E_AGAIN back-pressure is exercised), and behaviours
// chosen by words in the URL:
//   "fail"          FAILED, HTTP 404          "timeout"  FAILED, TIMEOUT
//   "slow"          takes ~3 s, cancellable    "throw-submit"  submit() throws
//   "badstats"      stats() writes invalid JSON
//   "status-999"    submit() returns 999, a status code no host knows
//   "throw-wait"    wait() and stats() throw from then on (containment)
// A manifest "size" other than the URL's length fails verification.
// Built with DLHOST_TEST_PLUGIN_MISBEHAVE=1 it delivers every COMPLETED twice,
// with =2 it never delivers the terminal event of a "fail" or "missing" task: the broken
// plugins `dlhost conformance` must reject (tests/kit).
// stats() reports {"submits": N, "config": <the config JSON>, "proxies": [...]}
// so tests can count submissions and see the configuration the host passed.
// Built against ABI 1.1 it also has the "dlhost.proxies/1" extension: a
// change is recorded (stats: "proxy_changes", "proxy_list") and a list that
// is not a JSON array is refused. The same source is built against the
// frozen ABI 1.0 header (tests/abi/1.0) as test-plugin-1.0.so, which has no
// get_extension() at all: an old plugin binary, for the compatibility tests.
#include <dlhost/plugin.h>

#ifndef DLHOST_TEST_PLUGIN_MISBEHAVE
#define DLHOST_TEST_PLUGIN_MISBEHAVE 0
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

struct Item {
  std::uint64_t id;
  std::string url, dest;
  std::int64_t size;
};

constexpr std::size_t kQueueCapacity = 2;

}  // namespace

struct dlhost_instance {
  dlhost_event_fn on_event = nullptr;
  void *user = nullptr;
  std::string config;
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Item> queue;
  bool started = false, busy = false;
  // Written under `mutex`, read without it by a sleeping transfer.
  std::atomic<bool> stopping{false};
  std::atomic<bool> cancel_all{false};
  std::atomic<bool> bad_stats{false};
  std::atomic<bool> throw_wait{false};
  std::atomic<std::uint64_t> submits{0}, completed{0}, failed{0}, bytes{0};
  std::string proxy_list;  // the last set_proxies() list; under `mutex`
  std::uint64_t proxy_changes = 0;
  std::thread worker;
};

namespace {

void emit(dlhost_instance *inst, dlhost_event_type type, const Item &item, dlhost_failure failure,
          const char *message, std::uint64_t bytes) {
  dlhost_event e{};
  e.struct_size = sizeof e;
  e.type = type;
  e.task_id = item.id;
  e.bytes_done = bytes;
  e.bytes_total = bytes;
  e.attempt = 1;
  e.failure = failure;
  e.message = message;
  e.proxy_id = "direct";
  inst->on_event(inst->user, &e);
}

bool sleep_cancellable(dlhost_instance *inst, int ms) {
  for (int waited = 0; waited < ms; waited += 20) {
    if (inst->cancel_all || inst->stopping) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void transfer(dlhost_instance *inst, const Item &item) {
  const auto has = [&](const char *word) { return item.url.find(word) != std::string::npos; };
  const std::string part = item.dest + ".part";
  if (inst->cancel_all) return emit(inst, DLHOST_EVENT_CANCELLED, item, 0, nullptr, 0);
  emit(inst, DLHOST_EVENT_STARTED, item, 0, nullptr, 0);
#if DLHOST_TEST_PLUGIN_MISBEHAVE == 2
  if (has("fail") || has("missing")) return;
#endif
  if (has("fail")) {
    inst->failed++;
    return emit(inst, DLHOST_EVENT_FAILED, item, DLHOST_FAILURE_HTTP, "HTTP 404 Not Found", 0);
  }
  if (has("timeout")) {
    inst->failed++;
    return emit(inst, DLHOST_EVENT_FAILED, item, DLHOST_FAILURE_TIMEOUT, "timed out after 0 ms", 0);
  }
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    out << item.url;
  }
  if (has("slow") && !sleep_cancellable(inst, 3000)) {
    return emit(inst, DLHOST_EVENT_CANCELLED, item, 0, nullptr, item.url.size());
  }
  if (item.size >= 0 && static_cast<std::size_t>(item.size) != item.url.size()) {
    std::remove(part.c_str());
    inst->failed++;
    return emit(inst, DLHOST_EVENT_FAILED, item, DLHOST_FAILURE_VERIFY, "size mismatch", 0);
  }
  if (std::rename(part.c_str(), item.dest.c_str()) != 0) {
    inst->failed++;
    return emit(inst, DLHOST_EVENT_FAILED, item, DLHOST_FAILURE_IO, "rename failed", 0);
  }
  inst->completed++;
  inst->bytes += item.url.size();
  emit(inst, DLHOST_EVENT_COMPLETED, item, 0, nullptr, item.url.size());
#if DLHOST_TEST_PLUGIN_MISBEHAVE == 1
  emit(inst, DLHOST_EVENT_COMPLETED, item, 0, nullptr, item.url.size());
#endif
}

void worker_loop(dlhost_instance *inst) {
  std::unique_lock lock(inst->mutex);
  while (true) {
    inst->cv.wait(lock, [&] { return inst->stopping || (inst->started && !inst->queue.empty()); });
    if (inst->stopping) return;
    Item item = std::move(inst->queue.front());
    inst->queue.pop_front();
    inst->busy = true;
    lock.unlock();
    transfer(inst, item);
    lock.lock();
    inst->busy = false;
    inst->cv.notify_all();
  }
}

const char *t_strerror(dlhost_status s) {
  return s == DLHOST_OK ? "ok" : "test plugin error";
}

dlhost_status t_create(const dlhost_create_params *p, dlhost_instance **out, char *errbuf,
                       size_t errbuf_size) {
  if (!p || !out || !p->on_event) {
    if (errbuf && errbuf_size) std::snprintf(errbuf, errbuf_size, "missing parameters");
    return DLHOST_E_INVALID_ARGUMENT;
  }
  auto *inst = new dlhost_instance();
  inst->on_event = p->on_event;
  inst->user = p->user;
  inst->config = p->config_json ? p->config_json : "{}";
  inst->worker = std::thread(worker_loop, inst);
  *out = inst;
  return DLHOST_OK;
}

dlhost_status t_submit(dlhost_instance *inst, const dlhost_task *task, char *, size_t) {
  const std::string url = task->url;
  if (url.find("throw-submit") != std::string::npos) throw std::runtime_error("boom");
  if (url.find("badstats") != std::string::npos) inst->bad_stats = true;
  if (url.find("status-999") != std::string::npos) return 999;
  if (url.find("throw-wait") != std::string::npos) inst->throw_wait = true;
  std::lock_guard lock(inst->mutex);
  if (inst->queue.size() >= kQueueCapacity) return DLHOST_E_AGAIN;
  inst->queue.push_back(Item{task->id, url, task->dest_path, task->size});
  inst->submits++;
  inst->cv.notify_all();
  return DLHOST_OK;
}

dlhost_status t_start(dlhost_instance *inst) {
  std::lock_guard lock(inst->mutex);
  if (inst->started) return DLHOST_E_STATE;
  inst->started = true;
  inst->cv.notify_all();
  return DLHOST_OK;
}

dlhost_status t_cancel(dlhost_instance *inst, std::uint64_t task_id) {
  if (task_id != DLHOST_TASK_ALL) return DLHOST_E_UNSUPPORTED;
  inst->cancel_all = true;
  return DLHOST_OK;
}

dlhost_status t_wait(dlhost_instance *inst, std::int32_t timeout_ms) {
  if (inst->throw_wait) throw std::runtime_error("wait() throws");
  std::unique_lock lock(inst->mutex);
  const auto idle = [&] { return inst->queue.empty() && !inst->busy; };
  if (timeout_ms < 0) {
    inst->cv.wait(lock, idle);
    return DLHOST_OK;
  }
  return inst->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), idle) ? DLHOST_OK
                                                                              : DLHOST_E_TIMEOUT;
}

void t_destroy(dlhost_instance *inst) {
  {
    std::lock_guard lock(inst->mutex);
    inst->stopping = true;
    inst->cv.notify_all();
  }
  inst->worker.join();
  delete inst;
}

dlhost_status t_stats(dlhost_instance *inst, const dlhost_sink *sink) {
  std::string text;
  if (inst->throw_wait) throw std::logic_error("stats() throws");
  if (inst->bad_stats) {
    text = "{\"proxies\": [ this is not json";
  } else {
    text = "{\"submits\":" + std::to_string(inst->submits.load()) + ",\"config\":" + inst->config +
           ",\"proxies\":[{\"id\":\"direct\",\"state\":\"healthy\",\"completed\":" +
           std::to_string(inst->completed.load()) +
           ",\"failed\":" + std::to_string(inst->failed.load()) +
           ",\"retries\":0,\"rate_limited\":0,\"bytes\":" + std::to_string(inst->bytes.load()) +
           ",\"latency_ms\":{\"p50\":0,\"p95\":0}}]";
    std::lock_guard lock(inst->mutex);
    text += ",\"proxy_changes\":" + std::to_string(inst->proxy_changes) + ",\"proxy_list\":" +
            (inst->proxy_list.empty() ? std::string("null") : inst->proxy_list) + "}";
  }
  sink->write(sink->user, text.data(), text.size());
  return DLHOST_OK;
}

#if DLHOST_ABI_MINOR >= 1
dlhost_status t_set_proxies(dlhost_instance *inst, const char *json, char *errbuf,
                            size_t errbuf_size) {
  const std::string list = json ? json : "";
  if (!list.empty() && list.front() != '[') {
    if (errbuf && errbuf_size) std::snprintf(errbuf, errbuf_size, "PROXY_LIST: not a JSON array");
    return DLHOST_E_CONFIG;
  }
  std::lock_guard lock(inst->mutex);
  inst->proxy_list = list.empty() ? "[]" : list;
  inst->proxy_changes++;
  return DLHOST_OK;
}

const dlhost_proxies_ext kProxies = {sizeof(dlhost_proxies_ext), 0, t_set_proxies};

const void *t_get_extension(const char *id) {
  return id && std::strcmp(id, DLHOST_EXT_PROXIES) == 0 ? &kProxies : nullptr;
}
#endif

const dlhost_plugin_descriptor kDescriptor = {
    DLHOST_ABI_MAJOR,
    DLHOST_ABI_MINOR,
    sizeof(dlhost_plugin_descriptor),
    0,
    "test",
    "Test plugin",
    "0.0.1",
    "writes the URL text into the file; no network",
    t_strerror,
    t_create,
    t_submit,
    t_start,
    t_cancel,
    t_wait,
    t_destroy,
    t_stats,
    nullptr,
#if DLHOST_ABI_MINOR >= 1
    t_get_extension,
#endif
};

}  // namespace

extern "C" DLHOST_EXPORT const dlhost_plugin_descriptor *dlhost_plugin_entry(std::uint32_t major,
                                                                             std::uint32_t) {
  return major == DLHOST_ABI_MAJOR ? &kDescriptor : nullptr;
}
