// Which file runs next, and on which path — the multi-proxy plugin's brain.
//
// Pure logic: no libcurl, no threads, no clock of its own (every call takes
// `now`). The event loop feeds it tasks and attempt results and asks it what
// to start; unit tests do the same with a fake clock.
//
// Limits. Files belong to groups (posts). A group runs on a path ("binds" to
// it) while it has files in flight there; each path carries at most
// PROXY_POST_LIMIT groups at once and at most PROXY_ATTACHMENT_LIMIT files of
// one group at once. A group's first file picks the path with the strategy;
// its other fresh files follow it there (its "home") while the home is up.
//
// Failures. A result is classified by the transfer code; here it becomes a
// verdict:
//  - success -> completed; 404/410 or a local I/O error -> failed at once.
//  - transient (5xx, 429, timeouts, resets, truncation, verify mismatch) ->
//    retried up to PROXY_MAX_RETRIES times after a full-jitter backoff (a
//    Retry-After wins when longer); the retry prefers a path it has not
//    failed on. 429/503 also brake that (path, host) pair (rate_limit.h).
//  - proxy fault / 407 -> counts against the path's health (health.h) and
//    moves the file to another path at once without using its retry budget
//    (it was not the file's fault); with every path down the file waits for
//    the first probe. If every path is dead (407), remaining work fails with
//    that reason instead of waiting forever.
//  - bans: a 403 or a block page marks the path as refusing this file; the
//    file moves to another path without using its retry budget. When it then
//    succeeds elsewhere, the refusing paths were banned (not the file
//    forbidden), so those (path, host) pairs cool down. Only a file every
//    live path refused fails, and then no path is cooled (the file itself is
//    refused, e.g. a real 403).
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
  // Proxy-fault moves allowed per file before it gives up (safety net).
  int max_path_moves = 100;
};

struct TaskSpec {
  uint64_t id = 0;
  std::string url;
  std::string dest;
  std::string group;
  std::string sha256;  // "" = unknown
  int64_t size = -1;   // -1 = unknown
};

enum class Outcome {
  kSuccess,
  kFatal,       // 404/410, I/O error: fail now
  kRetryable,   // transient: retry with backoff
  kThrottled,   // 429/503: retry with backoff and brake the pair
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
  int attempt = 0;  // 1 for the first attempt
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
  enum class TaskState { kReady, kWaiting, kRunning };
  struct Group;
  struct Task {
    TaskSpec spec;
    std::string host;
    Group *group = nullptr;
    TaskState state = TaskState::kReady;
    size_t path = 0;
    int attempts = 0;
    int retries = 0;                 // budgeted retries used
    int path_moves = 0;              // proxy-fault moves used
    std::vector<uint8_t> failed_on;  // per path: an attempt failed there
    std::vector<uint8_t> refused;    // per path: banned this file
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
    bool retired = false;  // not in the current list: no new attempt here
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
  void doom_all();
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
};

}  // namespace dlhost::mp
