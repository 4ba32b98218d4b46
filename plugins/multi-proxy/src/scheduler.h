// Which file runs next, and on which path — the multi-proxy plugin's brain.
//
// Pure logic: no libcurl, no threads, no clock of its own (every call takes
// `now`). The event loop feeds it tasks and attempt results and asks it what
// to start; unit tests do the same with a fake clock.
//
// Limits. Files belong to groups (posts). A group runs on a path ("binds" to
// it) while it has files in flight there; each path carries at most
// PROXY_POST_LIMIT groups at once and at most PROXY_ATTACHMENT_LIMIT files of
// one group at once. A group's first file picks the path with the strategy:
// that path is the group's home for as long as the group has files. Its other
// fresh files run there, waiting for a post or attachment slot or the pair's
// pace if need be, while the home is listed, up and neither banned nor paused
// (Retry-After) for the file's host for more than kStickyWait. A file leaves
// the home only to retry after failing there; Dispatch::moved_from counts it.
//
// Failures. A result is classified by the transfer code; here it becomes a
// verdict:
//  - success -> completed; 404/410 or a local I/O error -> failed at once.
//  - throttled (429, a 503 with Retry-After) -> the pair (path, host) cuts
//    its pace (rate_limit.h); a Retry-After up to PROXY_MAX_RETRY_AFTER keeps
//    the file off that pair until then, and pauses the whole pair when the
//    pair's cut did not help (rate_limit.h, "Pauses"). The file is retried at
//    once, on another path with spare rate if there is one, else on the
//    first path whose pace (and Retry-After) allows it. It uses no
//    retry budget (the rate was the trouble, not the file), up to
//    max_path_moves throttles. A Retry-After beyond PROXY_MAX_RETRY_AFTER
//    pauses the pair for PROXY_MAX_RETRY_AFTER and counts as a failure of
//    the file on that path (a budgeted retry, elsewhere if possible).
//  - transient (other 5xx, 408, timeouts, resets, truncation, verify
//    mismatch) -> the file's own trouble: retried up to PROXY_MAX_RETRIES
//    times after a full-jitter backoff, preferring a path it has not failed
//    on. Other files of the host are not slowed, unless most recent answers
//    of that pair fail from several files (HostSignal): then the pair's pace
//    is cut as for a throttle.
//  - proxy fault / 407 -> counts against the path's health (health.h) and
//    moves the file to another path at once without using its retry budget
//    (it was not the file's fault). If every path is dead (407), remaining
//    work fails with that reason instead of waiting forever.
//  - bans: a 403 or a block page marks the path as refusing this file; the
//    file moves to another path without using its retry budget. When it then
//    succeeds elsewhere, the refusing paths were banned (not the file
//    forbidden), so those (path, host) pairs cool down. Only a file every
//    live path refused fails, and then no path is cooled (the file itself is
//    refused, e.g. a real 403).
//
// Outages. While no listed path is up (down, probing, dead, or none listed),
// files wait and the probes go on. Once that has lasted PROXY_OUTAGE_TIMEOUT,
// every file not in flight fails with "no usable path for N s", and so does
// each file that comes while it lasts; the first path back up ends it.
//
// Pins. A file with a proxy id (TaskSpec::pin, ABI 1.1's task.proxy_id) runs
// only on that path, whatever its group does. It fails at once if the id is
// not listed, when the path is removed or dead, when the path refused it, or
// when the path has not been up for PROXY_OUTAGE_TIMEOUT.
//
// Paths change while a job runs (set_paths(), from the plugin's
// set_proxies()). A path is a slot, matched by its id ("direct",
// "http://host:port"); slots are never erased or reused for another id, so
// every index held by a task, a group, a rate limiter or the event loop stays
// valid. A new id gets a new slot: healthy, no rate brake, no posts, its own
// post and attachment limits. An id still listed keeps all its state. An id no
// longer listed is retired: it is skipped for every new attempt (fresh files,
// retries, a post's next attachment), while the files already in flight there
// finish there and are settled as usual. A post whose home path was retired
// takes a new home at its next file, and its other files follow it there, so
// a post stays whole on one path where the limits allow. A retired id listed
// again comes back as it was while files are still finishing on it, and fresh
// (healthy, no brakes, its tasks' failure marks cleared) once it was idle.
// With no path listed at all, files wait in the queue until a list gives one.
#pragma once

#include <dlhost/plugin.h>

#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backoff.h"
#include "clock.h"
#include "health.h"
#include "rate_limit.h"
#include "strategy.h"

namespace dlhost::mp {

struct SchedulerConfig {
  int post_limit = 2;
  int attachment_limit = 4;
  int max_retries = 3;
  int health_failures = 3;
  double rate_limit = 0;  // requests/s per (path, host); 0 = adaptive only
  BackoffParams backoff;
  StrategyKind strategy = StrategyKind::kLoadBalanced;
  // Proxy-fault moves (and throttles) allowed per file before it gives up.
  int max_path_moves = 100;
  Millis max_retry_after{300000};  // PROXY_MAX_RETRY_AFTER
  Millis outage_timeout{300000};   // PROXY_OUTAGE_TIMEOUT
};

struct TaskSpec {
  uint64_t id = 0;
  std::string url;
  std::string dest;
  std::string group;
  std::string sha256;  // "" = unknown
  int64_t size = -1;   // -1 = unknown
  std::string pin;     // a path id: run only there; "" = any path
};

enum class Outcome {
  kSuccess,
  kFatal,       // 404/410, I/O error: fail now
  kRetryable,   // transient: retry with backoff
  kThrottled,   // 429, 503 + Retry-After: retry at once elsewhere, brake the pair
  kBanned,      // 403 / block page: move to another path
  kProxyFault,  // the path failed
  kProxyAuth,   // 407
  kCancelled,
};

struct AttemptResult {
  Outcome outcome = Outcome::kSuccess;
  dlhost_failure failure = DLHOST_FAILURE_NONE;
  int http_status = 0;
  std::optional<Millis> retry_after;
  std::string message;
};

struct Dispatch {
  uint64_t task_id = 0;
  size_t path = 0;
  int attempt = 0;               // 1 for the first attempt
  size_t moved_from = SIZE_MAX;  // the path its last attempt failed on, if another
};

// One (path, host) pair's brakes, for stats.
struct PairView {
  std::string host;
  double rate = 0;     // requests/s the pace allows; 0 = unlimited
  double ceiling = 0;  // the rate of the last throttle; 0 = none
  Millis paused{0};    // Retry-After or ban cooldown left
  int bans = 0;
};

struct Verdict {
  enum Kind { kCompleted, kRetry, kFailed, kCancelled } kind = kCompleted;
  Millis delay{0};
  dlhost_failure failure = DLHOST_FAILURE_NONE;
  std::string message;
  bool path_died = false;  // this result made the path dead (log it once)
};

// What set_paths() did with one id of the new list.
struct PathSlot {
  enum Kind {
    kKept,      // listed before: keeps its state
    kAdded,     // a new id: a new slot at the end
    kReturned,  // retired, files still in flight on it: back as it was
    kRenewed,   // retired and idle: back in its slot with fresh state
  } kind = kKept;
  size_t path = 0;
};

struct PathChange {
  std::vector<PathSlot> listed;  // one per id of the new list, in its order
  std::vector<size_t> retired;   // slots this change took out of the list
};

struct Doomed {
  uint64_t task_id;
  dlhost_failure failure;
  std::string message;
  std::string dest;  // the caller removes "<dest>.part", as for any failed file
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig cfg, std::vector<std::string> path_ids, Backoff::Rng rng);

  void add(TaskSpec spec);
  // The next file to start and its path, or nullopt when nothing can start now.
  std::optional<Dispatch> next(TimePoint now);
  // After next() returned nullopt: the earliest time something blocked may be
  // able to start (a retry falls due, a cooldown or rate brake ends), or kNever.
  TimePoint wake_at() const { return wake_; }
  // Files that no path can ever serve; the caller emits FAILED for them.
  std::vector<Doomed> take_doomed() { return std::exchange(doomed_, {}); }

  Verdict finish(uint64_t task_id, const AttemptResult &r, TimePoint now);

  // Makes `ids` (in order: first-available and round-robin follow it) the
  // listed paths; see "Paths change" above. A repeated id counts once.
  PathChange set_paths(const std::vector<std::string> &ids);
  // A dead path (407) whose credentials changed: healthy again, because the
  // reason it died may be gone. Other states are left alone.
  void revive(size_t path);
  bool listed(size_t path) const { return !paths_[path].retired; }
  std::vector<PairView> pairs(size_t path, TimePoint now) const;
  size_t listed_count() const { return listed_.size(); }

  enum class CancelState { kNotFound, kRemoved, kRunning };
  CancelState cancel(uint64_t task_id);
  std::vector<uint64_t> task_ids() const;

  const TaskSpec *spec(uint64_t task_id) const;
  size_t size() const { return tasks_.size(); }
  size_t path_count() const { return paths_.size(); }
  int in_flight(size_t path) const { return paths_[path].in_flight; }
  int posts(size_t path) const { return paths_[path].posts; }
  const Health &health(size_t path) const { return paths_[path].health; }
  const std::string &path_id(size_t path) const { return paths_[path].id; }
  // Files of `group` in flight on `path`.
  int group_in_flight(const std::string &group, size_t path) const;

 private:
  enum class TaskState { kReady, kWaiting, kRunning, kDoomed };
  struct Group;
  struct Task {
    TaskSpec spec;
    std::string host;
    Group *group = nullptr;
    TaskState state = TaskState::kReady;
    size_t path = 0;
    int attempts = 0;
    int retries = 0;                  // budgeted retries used
    int path_moves = 0;               // proxy-fault moves and throttles used
    size_t pinned = SIZE_MAX;         // the only path it may run on
    size_t last_path = SIZE_MAX;      // where its last attempt ran
    bool throttled = false;           // its last attempt was throttled
    std::vector<TimePoint> kept_off;  // per path: Retry-After's end; empty until one
    TimePoint started{};              // when its current (or last) attempt started
    std::vector<uint8_t> failed_on;   // per path: an attempt failed there
    std::vector<uint8_t> refused;     // per path: banned this file
    TimePoint not_before{};
  };
  struct Binding {
    size_t path;
    int in_flight;
  };
  struct Group {
    std::string name;
    std::deque<uint64_t> ready;
    std::vector<Binding> bindings;
    size_t home = SIZE_MAX;
    int live = 0;
    bool listed = false;
    std::list<Group *>::iterator pos;
  };
  struct PathState {
    std::string id;
    Health health;
    int in_flight = 0;
    int posts = 0;
    bool retired = false;             // not in the current list: no new attempt here
    TimePoint not_up_since = kNever;  // kNever while up; see note_outages()
  };
  struct Due {
    TimePoint at;
    uint64_t id;
    bool operator>(const Due &o) const { return at > o.at; }
  };

  void promote_due(TimePoint now);
  void make_ready(Task &t, bool front);
  std::optional<Dispatch> try_group(Group &g, TimePoint now);
  std::optional<size_t> choose_path(Group &g, Task &t, TimePoint now);
  std::optional<size_t> choose_pinned(Group &g, Task &t, TimePoint now);
  std::optional<size_t> choose_listed(Group &g, Task &t, TimePoint now, bool avoid_failed,
                                      bool stick_home);
  bool home_open(const Group &g, const Task &t, TimePoint now) const;
  void note_outages(TimePoint now);
  void end_outage_if_due(TimePoint now);
  void throttle(Task &t, const AttemptResult &r, PairLimiter &lim, TimePoint now);
  bool kept_off(const Task &t, size_t p, TimePoint now);
  bool path_open_for(const Group &g, size_t p, TimePoint now) const;
  bool any_free_post(TimePoint now) const;
  bool all_dead() const;
  bool has_fresh_path(const Task &t, bool avoid_failed) const;
  Dispatch start(Task &t, Group &g, size_t p, TimePoint now);
  void release(Task &t, TimePoint now);
  void apply_health_and_limits(Task &t, const AttemptResult &r, TimePoint now, Verdict &v);
  Verdict decide(Task &t, const AttemptResult &r);
  Verdict retry_verdict(Task &t, const AttemptResult &r, bool budgeted);
  void doom(Task &t, dlhost_failure f, std::string msg);
  // Fails every file not in flight (ready or waiting for a retry).
  void doom_queued(dlhost_failure f, const std::string &msg);
  void forget(uint64_t id);
  Binding *binding(Group &g, size_t p);
  const Binding *binding(const Group &g, size_t p) const;
  void unlist(Group &g);
  void maybe_drop_group(Group &g);
  void renew(size_t p);

  SchedulerConfig cfg_;
  Strategy strategy_;
  Backoff backoff_;
  RateLimits limits_;
  std::vector<PathState> paths_;  // every slot ever listed, retired ones too
  std::vector<size_t> listed_;    // the current list: slots in list order
  std::unordered_map<uint64_t, Task> tasks_;
  std::unordered_map<std::string, Group> groups_;
  std::list<Group *> order_;     // groups with ready files, oldest first
  std::vector<Group *> active_;  // groups with files in flight
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> waiting_;
  std::vector<Doomed> doomed_;
  TimePoint wake_ = kNever;
  TimePoint outage_since_ = kNever;  // no listed path up since then
};

}  // namespace dlhost::mp
