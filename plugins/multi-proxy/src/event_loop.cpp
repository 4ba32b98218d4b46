// The event loop (see event_loop.h).
#include "event_loop.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace dlhost::mp {
namespace {

constexpr int kIdlePollMs = 60000;  // nothing scheduled: sleep until woken
// While transfers run, libcurl must look at them this often: PROXY_STALL_TIMEOUT
// is judged in their progress callback (easy_setup.cpp, stalled()), which
// libcurl calls only when it runs the handle, and a silent socket with no
// timer of libcurl's own gives it no reason to. Without this, a 3 s stall
// was abandoned when the server closed, 20 s later.
constexpr long kStallCheckMs = 250;

std::vector<std::string> ids_of(const std::vector<transport::ProxySpec> &paths) {
  std::vector<std::string> ids;
  for (const auto &p : paths) ids.push_back(p.id);
  return ids;
}

long total_concurrency(const SchedulerConfig &c, size_t paths) {
  return static_cast<long>(paths) * c.post_limit * c.attachment_limit;
}

}  // namespace

size_t queue_capacity(const SchedulerConfig &cfg, size_t paths) {
  long c = total_concurrency(cfg, paths);
  return static_cast<size_t>(std::clamp(4 * c, 256L, 65536L));
}

EventLoop::EventLoop(transport::TransportConfig cfg, std::vector<transport::ProxySpec> paths,
                     SchedulerConfig scfg, dlhost_event_fn on_event, void *user)
    : cfg_(std::move(cfg)),
      paths_(std::move(paths)),
      scfg_(scfg),
      emit_(on_event, user),
      inbox_(queue_capacity(scfg, paths_.size())),
      stats_(ids_of(paths_), scfg.health_failures),
      rng_(std::random_device{}()),
      sched_(scfg, ids_of(paths_),
             [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }),
      pool_(cfg_, paths_, emit_),
      committer_([this] {
        if (sleeping_.load()) curl_multi_wakeup(multi_);
      }) {
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  resize_limits();
}

// The caps count every slot, removed ones too: a removed path may still
// have files in flight, and the scheduler keeps the real limits anyway.
void EventLoop::resize_limits() {
  long total = total_concurrency(scfg_, sched_.path_count());
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, total);
  // Through a proxy libcurl counts connections by origin host, so a per-host
  // cap below the total would throttle the proxies against each other.
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, total);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, std::max(16L, 2 * total));
  const long listed = total_concurrency(scfg_, std::max<size_t>(1, sched_.listed_count()));
  commit_backlog_to_help_ = static_cast<size_t>(std::max(1L, listed / 2));
  running_capacity_ = static_cast<uint32_t>(std::clamp(listed, 1L, long{UINT32_MAX}));
  inbox_.set_capacity(queue_capacity(scfg_, std::max<size_t>(1, sched_.listed_count())));
}

EventLoop::~EventLoop() {
  inbox_.request_stop();
  if (thread_.joinable()) {
    curl_multi_wakeup(multi_);
    thread_.join();
  }
  committer_.drain();  // the commits in progress finish; their events are dropped
  drop_all();
  curl_multi_cleanup(multi_);
}

void EventLoop::drop_all() {
  for (auto &[id, t] : running_) {
    t->mute();
    curl_multi_remove_handle(multi_, t->easy());
    t->abandon();
  }
  running_.clear();
  committer_.take_done(&committed_);
  for (transport::CommitJob *job : committed_) delete Transfer::of(job);
  committed_.clear();
}

dlhost_status EventLoop::submit(TaskSpec task, std::string *error) {
  bool wake = false;
  dlhost_status s = inbox_.submit(std::move(task), &wake, error);
  if (s == DLHOST_OK && wake) curl_multi_wakeup(multi_);
  return s;
}

dlhost_status EventLoop::start() {
  if (started_.exchange(true)) return DLHOST_E_STATE;
  thread_ = std::thread([this] { run(); });
  return DLHOST_OK;
}

dlhost_status EventLoop::cancel(uint64_t task_id) {
  dlhost_status s = inbox_.cancel(task_id);
  if (s == DLHOST_OK) curl_multi_wakeup(multi_);
  return s;
}

void EventLoop::set_paths(std::vector<transport::ProxySpec> paths) {
  if (!started_.load()) {  // no loop thread yet, and start() is not concurrent with us
    apply_paths(std::move(paths), false);  // events come from the loop thread only
    return;
  }
  const uint64_t serial = inbox_.set_paths(std::move(paths));
  curl_multi_wakeup(multi_);
  if (std::this_thread::get_id() != loop_thread_.load()) inbox_.wait_paths_applied(serial);
}

void EventLoop::apply_paths(std::vector<transport::ProxySpec> paths, bool log) {
  std::vector<std::string> ids = ids_of(paths);
  const PathChange change = sched_.set_paths(ids);
  std::string what;
  for (size_t i = 0; i < change.listed.size(); ++i) {
    const PathSlot &s = change.listed[i];
    transport::ProxySpec &spec = paths[i];
    if (s.kind == PathSlot::kAdded) {
      paths_.push_back(spec);
      pool_.set_spec(s.path, spec);
    } else if (paths_[s.path].username != spec.username ||
               paths_[s.path].password != spec.password) {
      // The credentials of a listed path changed: new handles for the next
      // attempts, and a 407 that made the path dead may be fixed now.
      paths_[s.path] = spec;
      pool_.set_spec(s.path, spec);
      sched_.revive(s.path);
      what += " ~" + spec.id;  // the id only: never a credential
    }
    if (s.kind != PathSlot::kKept) what += " +" + spec.id;
    stats_.set_path(s.path, spec.id, sched_.health(s.path), false);
  }
  for (size_t p : change.retired) {
    pool_.set_spec(p, paths_[p]);  // frees its idle handles; busy ones go when they end
    stats_.set_path(p, paths_[p].id, sched_.health(p), true);
    what += " -" + paths_[p].id;
    if (sched_.in_flight(p) > 0)
      what += " (" + std::to_string(sched_.in_flight(p)) + " in flight finish there)";
  }
  resize_limits();
  if (log && !what.empty()) emit_.log(DLHOST_LOG_INFO, 0, "proxies changed:" + what);
}

nlohmann::json EventLoop::stats_json() const {
  nlohmann::json j = stats_.stats_json(Clock::now());
  auto &totals = j["totals"];
  size_t live = inbox_.live();
  size_t in_flight = totals["in_flight"].get<size_t>();
  totals["queued"] = live > in_flight ? live - in_flight : 0;
  return j;
}

void EventLoop::run() {
  pthread_setname_np(pthread_self(), "dlhost-mp-loop");  // top -H, perf
  loop_thread_.store(std::this_thread::get_id());
  for (;;) {
    if (!take_requests()) return;
    dispatch();
    int running = 0;
    curl_multi_perform(multi_, &running);
    harvest();
    collect_commits();
    dispatch();
    sleep();
  }
}

// A busy loop collects commits on its next turn anyway, so the CommitWorker
// wakes it only when it sleeps: the flag is raised before the last look at
// the done list, and the worker reads it after adding to that list.
// Before sleeping, the loop runs one queued commit itself, but only once
// half the transfer slots wait on commits (the worker is starved of CPU).
// Helping earlier delays the sends and receives that keep the server busy:
// on 2 cores (2000 x 64 KiB, 16 in flight) helping at every idle moment took
// 1.05x curl's time, never helping 1.02x, helping from half the slots 0.96x.
void EventLoop::sleep() {
  if (committer_.run_one_here(commit_backlog_to_help_)) return;
  sleeping_.store(true);
  if (!committer_.has_done()) curl_multi_poll(multi_, nullptr, 0, poll_timeout_ms(), nullptr);
  sleeping_.store(false);
}

bool EventLoop::take_requests() {
  Inbox::Batch b = inbox_.take();
  if (b.stop) return false;
  if (b.paths) {  // first: the tasks below and this turn's dispatch see the new list
    apply_paths(std::move(*b.paths), true);
    inbox_.paths_applied(b.paths_serial);
  }
  for (auto &t : b.tasks) sched_.add(std::move(t));
  for (uint64_t id : b.cancels) cancel_task(id);
  return true;
}

void EventLoop::dispatch() {
  TimePoint now = Clock::now();
  while (auto d = sched_.next(now)) launch(*d, now);
  fail_doomed();
}

void EventLoop::launch(const Dispatch &d, TimePoint now) {
  (void)now;
  const TaskSpec &spec = *sched_.spec(d.task_id);
  std::unique_ptr<Transfer> t = pool_.acquire(d.path);
  std::string error;
  stats_.attempt_started(d.path, sched_.in_flight(d.path));
  if (d.moved_from != SIZE_MAX) stats_.moved(d.moved_from);
  if (!t->begin(spec, d.attempt, &error)) {
    AttemptResult r;
    r.outcome = Outcome::kFatal;
    r.failure = DLHOST_FAILURE_IO;
    r.message = error;
    settle(std::move(t), r);
    return;
  }
  emit_.started(d.task_id, d.attempt, t->bytes_done(), t->bytes_total(), paths_[d.path].id.c_str());
  if (t->whole()) {  // the .part is the whole file, verified: commit it, no request
    committer_.post(t.release()->commit_job());
    return;
  }
  CURLMcode mc = curl_multi_add_handle(multi_, t->easy());
  if (mc != CURLM_OK) {
    t->abandon();
    AttemptResult r;
    r.outcome = Outcome::kRetryable;
    r.failure = DLHOST_FAILURE_OTHER;
    r.message = std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc);
    settle(std::move(t), r);
    return;
  }
  t->mark_running();
  running_.emplace(d.task_id, std::move(t));
}

void EventLoop::harvest() {
  int left = 0;
  while (CURLMsg *m = curl_multi_info_read(multi_, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    Transfer *raw = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &raw);
    CURLcode code = m->data.result;
    curl_multi_remove_handle(multi_, m->easy_handle);
    if (raw->again(code)) {  // a redirect, or a fresh connection: the same slot runs again
      if (curl_multi_add_handle(multi_, raw->easy()) == CURLM_OK) continue;
      code = CURLE_FAILED_INIT;
    }
    auto it = running_.find(raw->task_id());
    std::unique_ptr<Transfer> t = std::move(it->second);
    running_.erase(it);
    AttemptResult r = t->conclude(code);
    if (r.outcome == Outcome::kSuccess) {
      to_commit_.push_back(t.release()->commit_job());
    } else {
      settle(std::move(t), r);
    }
  }
  committer_.post(to_commit_.data(), to_commit_.size());
  to_commit_.clear();
}

void EventLoop::collect_commits() {
  committer_.take_done(&committed_);
  for (transport::CommitJob *job : committed_) {
    std::unique_ptr<Transfer> t(Transfer::of(job));
    AttemptResult r = t->committed();
    const bool cancelled =
        !cancelled_in_commit_.empty() && cancelled_in_commit_.erase(t->task_id()) > 0;
    if (cancelled && r.outcome != Outcome::kSuccess) r.outcome = Outcome::kCancelled;
    settle(std::move(t), r);
  }
  committed_.clear();
}

void EventLoop::settle(std::unique_ptr<Transfer> t, const AttemptResult &r) {
  const size_t path = t->path();
  const uint64_t id = t->task_id();
  const TimePoint now = Clock::now();
  const HealthState before = sched_.health(path).state(now);
  Verdict v = sched_.finish(id, r, now);
  stats_.attempt_ended(path, sched_.in_flight(path), t->bytes_received(), sched_.health(path));
  if (r.http_status == 429) stats_.rate_limited(path);
  if (auto c = failure_class(r)) stats_.attempt_failed(path, *c);
  stats_.set_hosts(path, sched_.pairs(path, now), now);
  log_health_change(path, before, v.path_died);
  deliver(id, v, *t, r.http_status);
  pool_.release(std::move(t));
}

void EventLoop::deliver(uint64_t id, const Verdict &v, Transfer &t, int status) {
  const size_t path = t.path();
  const char *pid = paths_[path].id.c_str();
  switch (v.kind) {
    case Verdict::kRetry:
      stats_.retried(path);
      emit_.retrying(id, t.attempt(), v.failure, status, static_cast<uint32_t>(v.delay.count()),
                     v.message, pid);
      return;
    case Verdict::kCompleted:
      stats_.completed(path, t.first_byte_ms());
      inbox_.releasing();
      emit_.completed(id, t.attempt(), t.bytes_done(), status, pid);
      break;
    case Verdict::kFailed:
      stats_.failed(path);
      pool_.remove_part(t.dest());
      inbox_.releasing();
      emit_.failed(id, t.attempt(), v.failure, status, 0, v.message, pid);
      break;
    case Verdict::kCancelled:
      stats_.cancelled();
      inbox_.releasing();
      emit_.cancelled(id, t.attempt(), t.bytes_done(), pid);
      break;
  }
  inbox_.finished(id);
}

void EventLoop::log_health_change(size_t path, HealthState before, bool died) {
  const Health &h = sched_.health(path);
  const std::string &pid = paths_[path].id;
  if (died) {
    emit_.log(DLHOST_LOG_ERROR, 0,
              pid + ": the proxy rejected its credentials; not used for the rest of the run");
    return;
  }
  HealthState now = h.state(Clock::now());
  if (now == HealthState::kDown && before != HealthState::kDown) {
    emit_.log(DLHOST_LOG_WARN, 0,
              pid + ": down after " + std::to_string(h.consecutive_failures()) +
                  " consecutive failures; probing again in " +
                  std::to_string(h.cooldown_left(Clock::now()).count()) + " ms");
  } else if (now == HealthState::kHealthy && before != HealthState::kHealthy) {
    emit_.log(DLHOST_LOG_INFO, 0, pid + ": healthy again");
  }
}

void EventLoop::fail_doomed() {
  for (Doomed &d : sched_.take_doomed()) {
    stats_.failed_unrouted();
    pool_.remove_part(d.dest);
    inbox_.releasing();
    emit_.failed(d.task_id, 0, d.failure, 0, 0, d.message, nullptr);
    inbox_.finished(d.task_id);
  }
}

void EventLoop::cancel_task(uint64_t id) {
  switch (sched_.cancel(id)) {
    case Scheduler::CancelState::kNotFound:
      return;
    case Scheduler::CancelState::kRemoved:
      stats_.cancelled();
      inbox_.releasing();
      emit_.cancelled(id, 0, 0, nullptr);
      inbox_.finished(id);
      return;
    case Scheduler::CancelState::kRunning:
      break;
  }
  auto it = running_.find(id);
  if (it == running_.end()) {
    cancelled_in_commit_.insert(id);  // all its bytes are here: see collect_commits()
    return;
  }
  std::unique_ptr<Transfer> t = std::move(it->second);
  running_.erase(it);
  curl_multi_remove_handle(multi_, t->easy());
  t->abandon();
  AttemptResult r;
  r.outcome = Outcome::kCancelled;
  settle(std::move(t), r);
}

int EventLoop::poll_timeout_ms() const {
  long curl_ms = -1;
  curl_multi_timeout(multi_, &curl_ms);
  long ms = curl_ms < 0 ? kIdlePollMs : curl_ms;
  if (!running_.empty() && cfg_.stall_timeout_ms > 0) ms = std::min(ms, kStallCheckMs);
  TimePoint wake = sched_.wake_at();
  if (wake != kNever) {
    auto until = std::chrono::ceil<Millis>(wake - Clock::now()).count();
    ms = std::min<long>(ms, std::max<long>(0, until));
  }
  return static_cast<int>(std::min<long>(ms, kIdlePollMs));
}

}  // namespace dlhost::mp
