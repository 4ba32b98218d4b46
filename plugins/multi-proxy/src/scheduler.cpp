// The scheduler (see scheduler.h for the rules it implements).
#include "scheduler.h"

#include <algorithm>

namespace dlhost::mp {
namespace {

// How many unbound groups one next() call looks at before giving up; keeps a
// long queue of groups blocked by a host's rate brake from costing O(n).
constexpr int kScanBudget = 256;

// A home paused (a ban, a Retry-After) for longer than this for a file's host
// is no home for it: the group's fresh files may go to another path. Pacing
// waits are not pauses: the fresh files wait for their home's pace.
constexpr Millis kStickyWait{2000};

std::string seconds_text(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

// Answers that tell whether the host works (HostSignal): the origin answered
// well, or failed in a way any file could.
std::optional<bool> host_answer(const AttemptResult &r) {
  switch (r.outcome) {
    case Outcome::kSuccess:
      return true;
    case Outcome::kFatal:
      if (r.http_status > 0) return true;  // a definite answer (404): the host works
      return std::nullopt;
    case Outcome::kRetryable:
    case Outcome::kThrottled:
      return false;
    default:
      return std::nullopt;  // the path's or the file's business, not the host's
  }
}

HealthSignal signal_for(Outcome o) {
  switch (o) {
    case Outcome::kProxyFault:
      return HealthSignal::kFault;
    case Outcome::kProxyAuth:
      return HealthSignal::kAuth;
    case Outcome::kCancelled:
      return HealthSignal::kNeutral;
    case Outcome::kFatal:
      return HealthSignal::kOk;  // an origin answered (or local I/O)
    default:
      return HealthSignal::kOk;
  }
}

}  // namespace

Scheduler::Scheduler(SchedulerConfig cfg, std::vector<std::string> path_ids, Backoff::Rng rng)
    : cfg_(cfg),
      strategy_(cfg.strategy),
      backoff_(cfg.backoff, std::move(rng)),
      limits_(cfg.rate_limit) {
  cfg_.post_limit = std::max(1, cfg_.post_limit);
  cfg_.attachment_limit = std::max(1, cfg_.attachment_limit);
  cfg_.max_retries = std::max(0, cfg_.max_retries);
  set_paths(path_ids);
}

void Scheduler::add(TaskSpec spec) {
  uint64_t id = spec.id;
  auto [it, inserted] = tasks_.try_emplace(id);
  if (!inserted) return;  // the caller guarantees unique ids
  Task &t = it->second;
  t.host = url_host(spec.url);
  t.failed_on.assign(paths_.size(), 0);
  t.refused.assign(paths_.size(), 0);
  auto [git, gnew] = groups_.try_emplace(spec.group);
  if (gnew) git->second.name = spec.group;
  t.group = &git->second;
  t.spec = std::move(spec);
  ++t.group->live;
  make_ready(t, false);
  if (t.spec.pin.empty()) return;
  for (size_t p : listed_)
    if (paths_[p].id == t.spec.pin) t.pinned = p;
  if (t.pinned == SIZE_MAX)
    doom(t, DLHOST_FAILURE_PROXY, "proxy \"" + t.spec.pin + "\" is not in PROXY_LIST");
}

void Scheduler::make_ready(Task &t, bool front) {
  Group &g = *t.group;
  t.state = TaskState::kReady;
  if (front) {
    g.ready.push_front(t.spec.id);
  } else {
    g.ready.push_back(t.spec.id);
  }
  if (!g.listed) {
    g.listed = true;
    g.pos = order_.insert(front ? order_.begin() : order_.end(), &g);
  }
}

void Scheduler::promote_due(TimePoint now) {
  while (!waiting_.empty() && waiting_.top().at <= now) {
    uint64_t id = waiting_.top().id;
    waiting_.pop();
    auto it = tasks_.find(id);
    if (it != tasks_.end() && it->second.state == TaskState::kWaiting) make_ready(it->second, true);
  }
}

// Every listed path is dead. With none listed the files wait for a new list
// instead (set_paths()): nothing says the next list will be dead too.
bool Scheduler::all_dead() const {
  return !listed_.empty() && std::none_of(listed_.begin(), listed_.end(),
                                          [&](size_t p) { return paths_[p].health.usable(); });
}

bool Scheduler::any_free_post(TimePoint now) const {
  return std::any_of(listed_.begin(), listed_.end(), [&](size_t p) {
    return paths_[p].posts < cfg_.post_limit && paths_[p].health.can_attempt(now);
  });
}

void Scheduler::doom_queued(dlhost_failure f, const std::string &msg) {
  for (auto &[id, t] : tasks_)
    if (t.state == TaskState::kReady || t.state == TaskState::kWaiting) doom(t, f, msg);
  while (!order_.empty()) {  // try_group forgets doomed files as it meets them
    Group &g = *order_.front();
    while (!g.ready.empty()) {
      const uint64_t id = g.ready.front();
      g.ready.pop_front();
      forget(id);
    }
    unlist(g);
    maybe_drop_group(g);
  }
  std::vector<uint64_t> waiting;  // their entries in waiting_ are skipped when due
  for (auto &[id, t] : tasks_)
    if (t.state == TaskState::kDoomed) waiting.push_back(id);
  for (uint64_t id : waiting) forget(id);
}

// Each listed path's time since it was last up, and the time since no listed
// path was (outage_since_). Called by next(): up/down changes with time alone.
void Scheduler::note_outages(TimePoint now) {
  bool any_up = false;
  for (size_t p : listed_) {
    PathState &ps = paths_[p];
    if (ps.health.up(now)) {
      ps.not_up_since = kNever;
      any_up = true;
    } else if (ps.not_up_since == kNever) {
      ps.not_up_since = now;
    }
  }
  if (any_up) {
    outage_since_ = kNever;
  } else if (outage_since_ == kNever) {
    outage_since_ = now;
  }
}

void Scheduler::end_outage_if_due(TimePoint now) {
  if (outage_since_ == kNever) return;
  const TimePoint deadline = outage_since_ + cfg_.outage_timeout;
  if (now < deadline) {
    wake_ = std::min(wake_, deadline);
    return;
  }
  doom_queued(DLHOST_FAILURE_PROXY, "no usable path for " + seconds_text(now - outage_since_) +
                                        " s (PROXY_OUTAGE_TIMEOUT)");
}

std::optional<Dispatch> Scheduler::next(TimePoint now) {
  promote_due(now);
  if (all_dead()) {
    doom_queued(DLHOST_FAILURE_PROXY_AUTH,
                "no usable path left: every proxy rejected its credentials (407)");
    wake_ = kNever;
    return std::nullopt;
  }
  note_outages(now);
  wake_ = waiting_.empty() ? kNever : waiting_.top().at;
  for (size_t p : listed_) wake_ = std::min(wake_, paths_[p].health.next_change(now));
  // Groups already running somewhere first: they only need an attachment slot.
  for (Group *g : active_) {
    if (auto d = try_group(*g, now)) return d;
  }
  int budget = kScanBudget;
  for (auto it = order_.begin(); it != order_.end() && budget > 0;) {
    Group &g = **it++;                  // advance first: try_group may unlist g
    if (!g.bindings.empty()) continue;  // tried above
    if (!any_free_post(now)) break;
    if (auto d = try_group(g, now)) return d;
    --budget;
  }
  end_outage_if_due(now);
  return std::nullopt;
}

std::optional<Dispatch> Scheduler::try_group(Group &g, TimePoint now) {
  while (!g.ready.empty()) {
    Task &t = tasks_.at(g.ready.front());
    auto p = choose_path(g, t, now);
    if (p) {
      g.ready.pop_front();
      Dispatch d = start(t, g, *p, now);
      if (g.ready.empty()) unlist(g);
      return d;
    }
    if (t.state == TaskState::kReady) return std::nullopt;  // blocked for now
    g.ready.pop_front();                                    // doomed: already moved to doomed_
    forget(t.spec.id);
  }
  unlist(g);
  maybe_drop_group(g);
  return std::nullopt;
}

// The home takes the group's fresh files: listed, up, and not refusing or
// pausing this file's host for long.
bool Scheduler::home_open(const Group &g, const Task &t, TimePoint now) const {
  if (g.home == SIZE_MAX) return false;
  const PathState &home = paths_[g.home];
  if (home.retired || !home.health.up(now) || t.refused[g.home]) return false;
  const PairLimiter *lim = limits_.find(g.home, t.host);
  return lim == nullptr || lim->adaptive.paused_for(now) <= kStickyWait;
}

bool Scheduler::has_fresh_path(const Task &t, bool avoid_failed) const {
  for (size_t p : listed_) {
    if (!paths_[p].health.usable() || t.refused[p]) continue;
    if (avoid_failed && t.failed_on[p]) continue;
    return true;
  }
  return false;
}

bool Scheduler::path_open_for(const Group &g, size_t p, TimePoint now) const {
  if (!paths_[p].health.can_attempt(now)) return false;
  const Binding *b = binding(g, p);
  return b ? b->in_flight < cfg_.attachment_limit : paths_[p].posts < cfg_.post_limit;
}

std::optional<size_t> Scheduler::choose_path(Group &g, Task &t, TimePoint now) {
  if (t.pinned != SIZE_MAX) return choose_pinned(g, t, now);
  if (listed_.empty()) return std::nullopt;  // no path at all: wait for a list
  if (!has_fresh_path(t, false)) {
    if (all_dead())
      doom(t, DLHOST_FAILURE_PROXY_AUTH,
           "no usable path left: every proxy rejected its credentials (407)");
    else
      doom(t, DLHOST_FAILURE_HTTP, "every path refused this file (403 or a block page)");
    return std::nullopt;
  }
  const bool fresh = std::none_of(t.failed_on.begin(), t.failed_on.end(), [](auto v) { return v; });
  if (fresh && home_open(g, t, now)) return choose_listed(g, t, now, false, true);
  const bool avoid_failed = has_fresh_path(t, true);
  if (auto p = choose_listed(g, t, now, avoid_failed, false)) return p;
  // A throttled file goes elsewhere only if some path has spare rate now;
  // else the first pace that allows it, its own path's included.
  if (avoid_failed && t.throttled) return choose_listed(g, t, now, false, false);
  return std::nullopt;
}

std::optional<size_t> Scheduler::choose_listed(Group &g, Task &t, TimePoint now, bool avoid_failed,
                                               bool stick_home) {
  // Indexed like listed_, so the strategies see the list's order.
  std::vector<ProxyLoad> loads(listed_.size());
  for (size_t i = 0; i < listed_.size(); ++i) {
    const size_t p = listed_[i];
    if (!paths_[p].health.usable() || t.refused[p]) continue;
    if ((avoid_failed && t.failed_on[p]) || (stick_home && p != g.home)) continue;
    if (!path_open_for(g, p, now) || kept_off(t, p, now)) continue;
    TimePoint ready = limits_.ready_at(p, t.host, now);
    if (ready > now) {
      wake_ = std::min(wake_, ready);
      continue;
    }
    loads[i] = ProxyLoad{true, paths_[p].in_flight};
  }
  auto i = strategy_.choose(loads);
  if (!i) return std::nullopt;
  return listed_[*i];
}

std::optional<size_t> Scheduler::choose_pinned(Group &g, Task &t, TimePoint now) {
  const size_t p = t.pinned;
  const PathState &ps = paths_[p];
  const std::string proxy = "proxy " + ps.id;
  if (ps.retired) {
    doom(t, DLHOST_FAILURE_PROXY, proxy + " was removed from PROXY_LIST");
  } else if (!ps.health.usable()) {
    doom(t, DLHOST_FAILURE_PROXY_AUTH, proxy + " rejected its credentials (407)");
  } else if (t.refused[p]) {
    doom(t, DLHOST_FAILURE_HTTP, proxy + " refused this file (403 or a block page)");
  } else if (ps.not_up_since != kNever && now - ps.not_up_since >= cfg_.outage_timeout) {
    doom(t, DLHOST_FAILURE_PROXY,
         proxy + " not usable for " + seconds_text(now - ps.not_up_since) +
             " s (PROXY_OUTAGE_TIMEOUT)");
  }
  if (t.state == TaskState::kDoomed) return std::nullopt;
  if (ps.not_up_since != kNever) wake_ = std::min(wake_, ps.not_up_since + cfg_.outage_timeout);
  if (!path_open_for(g, p, now) || kept_off(t, p, now)) return std::nullopt;
  TimePoint ready = limits_.ready_at(p, t.host, now);
  if (ready > now) {
    wake_ = std::min(wake_, ready);
    return std::nullopt;
  }
  return p;
}

Dispatch Scheduler::start(Task &t, Group &g, size_t p, TimePoint now) {
  const bool fresh = std::none_of(t.failed_on.begin(), t.failed_on.end(), [](auto v) { return v; });
  if (t.pinned == SIZE_MAX && (g.home == SIZE_MAX || (fresh && !home_open(g, t, now))))
    g.home = p;  // a new home only for a fresh file the old one could not take
  Dispatch d{t.spec.id, p, t.attempts + 1};
  if (t.last_path != SIZE_MAX && t.last_path != p) d.moved_from = t.last_path;
  t.last_path = p;
  t.started = now;
  t.state = TaskState::kRunning;
  t.path = p;
  ++t.attempts;
  PathState &ps = paths_[p];
  ps.health.on_attempt_start(now);
  ++ps.in_flight;
  limits_.at(p, t.host).on_start(now);
  if (Binding *b = binding(g, p)) {
    ++b->in_flight;
  } else {
    if (g.bindings.empty()) active_.push_back(&g);
    g.bindings.push_back(Binding{p, 1});
    ++ps.posts;
  }
  return d;
}

void Scheduler::release(Task &t, TimePoint) {
  Group &g = *t.group;
  PathState &ps = paths_[t.path];
  --ps.in_flight;
  Binding *b = binding(g, t.path);
  if (b && --b->in_flight == 0) {
    g.bindings.erase(g.bindings.begin() + (b - g.bindings.data()));
    --ps.posts;  // the group keeps its home: its next file goes back there
    if (g.bindings.empty()) active_.erase(std::find(active_.begin(), active_.end(), &g));
  }
}

void Scheduler::apply_health_and_limits(Task &t, const AttemptResult &r, TimePoint now,
                                        Verdict &v) {
  v.path_died = paths_[t.path].health.on_attempt_end(now, signal_for(r.outcome));
  PairLimiter &lim = limits_.at(t.path, t.host);
  if (auto ok = host_answer(r)) lim.signal.on_answer(t.spec.id, *ok);
  t.throttled = r.outcome == Outcome::kThrottled;
  if (t.throttled) throttle(t, r, lim, now);
  if (r.outcome == Outcome::kRetryable && lim.signal.failing())
    lim.adaptive.on_throttled(now, t.started, false);  // an outage, not a rate
  if (r.outcome != Outcome::kSuccess) return;
  lim.adaptive.on_success(now, t.started);
  // The file came through here after other paths refused it: that proves they
  // are banned on this host (not that the file is forbidden), so cool them down.
  for (size_t p = 0; p < paths_.size(); ++p)
    if (t.refused[p]) limits_.at(p, t.host).adaptive.on_ban(now);
}

// The pair cuts its pace. A Retry-After (at most max_retry_after) keeps the
// file off the pair that long, and pauses the whole pair when its cut did not
// help or the site asked for longer than the cap.
void Scheduler::throttle(Task &t, const AttemptResult &r, PairLimiter &lim, TimePoint now) {
  lim.adaptive.on_throttled(now, t.started, true);
  if (!r.retry_after) return;
  const TimePoint until = now + std::min(*r.retry_after, cfg_.max_retry_after);
  t.kept_off.resize(paths_.size());
  t.kept_off[t.path] = until;
  if (lim.adaptive.cut_failed() || *r.retry_after > cfg_.max_retry_after)
    lim.adaptive.pause_until(until);
}

// A Retry-After keeps the file off the pair that sent it for a while.
bool Scheduler::kept_off(const Task &t, size_t p, TimePoint now) {
  if (p >= t.kept_off.size() || now >= t.kept_off[p]) return false;
  wake_ = std::min(wake_, t.kept_off[p]);
  return true;
}

Verdict Scheduler::retry_verdict(Task &t, const AttemptResult &r, bool budgeted) {
  Verdict v;
  v.failure = r.failure;
  v.message = r.message;
  t.failed_on[t.path] = 1;
  if (t.pinned != SIZE_MAX) t.failed_on[t.path] = 0;  // its only path: never "elsewhere"
  if (budgeted && t.retries >= cfg_.max_retries) {
    v.kind = Verdict::kFailed;
    v.message += " (after " + std::to_string(t.attempts) + " attempts)";
    return v;
  }
  if (!budgeted && ++t.path_moves > cfg_.max_path_moves) {
    v.kind = Verdict::kFailed;
    return v;
  }
  v.kind = Verdict::kRetry;
  if (budgeted) {
    std::optional<Millis> wait = r.retry_after;
    if (wait && *wait > cfg_.max_retry_after) wait.reset();  // the pair is paused instead
    v.delay = backoff_.next(t.retries++, wait);
  }
  return v;
}

Verdict Scheduler::decide(Task &t, const AttemptResult &r) {
  Verdict v;
  v.failure = r.failure;
  v.message = r.message;
  switch (r.outcome) {
    case Outcome::kSuccess:
      v.kind = Verdict::kCompleted;
      return v;
    case Outcome::kCancelled:
      v.kind = Verdict::kCancelled;
      return v;
    case Outcome::kFatal:
      v.kind = Verdict::kFailed;
      return v;
    case Outcome::kBanned:
      t.refused[t.path] = 1;
      if (t.pinned != SIZE_MAX || !has_fresh_path(t, false)) {
        v.kind = Verdict::kFailed;
        v.message = "every path refused this file; last: " + r.message;
        return v;
      }
      v.kind = Verdict::kRetry;
      return v;
    case Outcome::kProxyFault:
    case Outcome::kProxyAuth:
      return retry_verdict(t, r, false);
    case Outcome::kThrottled:
      // Past PROXY_MAX_RETRY_AFTER the pair is paused that long and the file
      // counts it as its own failure there; else the rate was the trouble.
      if (r.retry_after && *r.retry_after > cfg_.max_retry_after) return retry_verdict(t, r, true);
      return retry_verdict(t, r, false);
    case Outcome::kRetryable:
      return retry_verdict(t, r, true);
  }
  return v;
}

Verdict Scheduler::finish(uint64_t task_id, const AttemptResult &r, TimePoint now) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.state != TaskState::kRunning) {
    Verdict v;
    v.kind = Verdict::kFailed;
    v.failure = DLHOST_FAILURE_OTHER;
    v.message = "internal: finish() for a task that is not running";
    return v;
  }
  Task &t = it->second;
  release(t, now);
  Verdict v;
  apply_health_and_limits(t, r, now, v);
  bool died = v.path_died;
  v = decide(t, r);
  v.path_died = died;
  if (v.kind == Verdict::kRetry) {
    t.state = TaskState::kWaiting;
    t.not_before = now + v.delay;
    if (v.delay.count() <= 0) {
      make_ready(t, true);
    } else {
      waiting_.push(Due{t.not_before, task_id});
    }
  } else {
    forget(task_id);
  }
  return v;
}

void Scheduler::doom(Task &t, dlhost_failure f, std::string msg) {
  doomed_.push_back(Doomed{t.spec.id, f, std::move(msg), t.spec.dest});
  t.state = TaskState::kDoomed;  // try_group forgets it when it meets it
}

void Scheduler::forget(uint64_t id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  Group &g = *it->second.group;
  --g.live;
  tasks_.erase(it);
  maybe_drop_group(g);
}

PathChange Scheduler::set_paths(const std::vector<std::string> &ids) {
  PathChange c;
  std::vector<uint8_t> in_list(paths_.size(), 0);
  std::vector<size_t> listed;
  for (const std::string &id : ids) {
    auto it =
        std::find_if(paths_.begin(), paths_.end(), [&](const PathState &p) { return p.id == id; });
    PathSlot s;
    if (it == paths_.end()) {
      s = PathSlot{PathSlot::kAdded, paths_.size()};
      paths_.push_back(PathState{id, Health(cfg_.health_failures)});
      in_list.push_back(0);
    } else {
      s.path = static_cast<size_t>(it - paths_.begin());
      if (in_list[s.path]) {  // a repeated id: already placed
        c.listed.push_back(s);
        continue;
      }
      if (it->retired) {
        // Idle: nothing refers to the slot any more (no binding, no attempt),
        // so it can start over as a new path would.
        s.kind = it->in_flight > 0 ? PathSlot::kReturned : PathSlot::kRenewed;
        if (s.kind == PathSlot::kRenewed) renew(s.path);
        it->retired = false;
      }
    }
    in_list[s.path] = 1;
    listed.push_back(s.path);
    c.listed.push_back(s);
  }
  for (size_t p = 0; p < paths_.size(); ++p) {
    if (in_list[p] || paths_[p].retired) continue;
    paths_[p].retired = true;
    c.retired.push_back(p);
  }
  listed_ = std::move(listed);
  for (auto &[id, t] : tasks_) {  // per-path marks cover the new slots too
    t.failed_on.resize(paths_.size(), 0);
    t.refused.resize(paths_.size(), 0);
  }
  return c;
}

void Scheduler::renew(size_t p) {
  paths_[p].health = Health(cfg_.health_failures);
  limits_.forget_path(p);
  for (auto &[id, t] : tasks_) {
    t.failed_on[p] = 0;
    t.refused[p] = 0;
    if (p < t.kept_off.size()) t.kept_off[p] = TimePoint{};
  }
}

void Scheduler::revive(size_t path) {
  if (!paths_[path].health.usable()) paths_[path].health = Health(cfg_.health_failures);
}

Scheduler::CancelState Scheduler::cancel(uint64_t task_id) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return CancelState::kNotFound;
  Task &t = it->second;
  if (t.state == TaskState::kRunning) return CancelState::kRunning;
  if (t.state == TaskState::kReady) {
    auto &q = t.group->ready;
    q.erase(std::find(q.begin(), q.end(), task_id));
  }
  forget(task_id);  // a waiting entry left in waiting_ is skipped when it falls due
  return CancelState::kRemoved;
}

std::vector<uint64_t> Scheduler::task_ids() const {
  std::vector<uint64_t> ids;
  ids.reserve(tasks_.size());
  for (const auto &[id, t] : tasks_) ids.push_back(id);
  return ids;
}

std::vector<PairView> Scheduler::pairs(size_t path, TimePoint now) const {
  std::vector<PairView> out;
  limits_.for_path(path, [&](const std::string &host, const PairLimiter &lim) {
    out.push_back(PairView{host, lim.adaptive.rate(), lim.adaptive.ceiling(),
                           lim.adaptive.paused_for(now), lim.adaptive.bans()});
  });
  return out;
}

const TaskSpec *Scheduler::spec(uint64_t task_id) const {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? nullptr : &it->second.spec;
}

int Scheduler::group_in_flight(const std::string &group, size_t path) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return 0;
  const Binding *b = binding(it->second, path);
  return b ? b->in_flight : 0;
}

Scheduler::Binding *Scheduler::binding(Group &g, size_t p) {
  for (auto &b : g.bindings)
    if (b.path == p) return &b;
  return nullptr;
}

const Scheduler::Binding *Scheduler::binding(const Group &g, size_t p) const {
  for (const auto &b : g.bindings)
    if (b.path == p) return &b;
  return nullptr;
}

void Scheduler::unlist(Group &g) {
  if (!g.listed) return;
  order_.erase(g.pos);
  g.listed = false;
}

void Scheduler::maybe_drop_group(Group &g) {
  if (g.live > 0 || g.listed || !g.bindings.empty()) return;
  groups_.erase(g.name);  // g is gone after this line
}

}  // namespace dlhost::mp
