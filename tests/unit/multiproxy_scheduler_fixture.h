// The scheduler tests' fixture: fake time, a fixed random number, tasks by
// group, and helpers that drain what may start and end attempts. Shared by
// multiproxy_scheduler_test.cpp and multiproxy_paths_test.cpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scheduler.h"

namespace dlhost::mp::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

inline TimePoint t0() {
  return TimePoint{} + std::chrono::hours(1);
}

// "g" + std::to_string(i), built by appending: GCC 12 in Release warns
// (-Werror=restrict, a false positive, PR 105651) on `"g" + std::string&&`.
inline std::string group_name(int i) {
  std::string name = "g";
  name += std::to_string(i);
  return name;
}

inline SchedulerConfig config(int posts, int attachments) {
  SchedulerConfig c;
  c.post_limit = posts;
  c.attachment_limit = attachments;
  c.max_retries = 2;
  c.health_failures = 2;
  c.backoff = BackoffParams{milliseconds(1000), 2.0, milliseconds(60000)};
  return c;
}

struct Fixture {
  Scheduler s;
  TimePoint now = t0();
  uint64_t next_id = 1;

  Fixture(SchedulerConfig c, std::vector<std::string> paths)
      : s(c, std::move(paths), [] { return 0.5; }) {}

  uint64_t add(const std::string &group, const std::string &url = "http://origin/f",
              const std::string &pin = "") {
    uint64_t id = next_id++;
    s.add(TaskSpec{id, url, "/tmp/x" + std::to_string(id), group, "", -1, pin});
    return id;
  }
  std::vector<Dispatch> drain() {
    std::vector<Dispatch> out;
    while (auto d = s.next(now)) out.push_back(*d);
    return out;
  }
  Verdict end(uint64_t id, Outcome o, int status = 0, std::optional<Millis> ra = {}) {
    AttemptResult r;
    r.outcome = o;
    r.http_status = status;
    r.retry_after = ra;
    r.failure = o == Outcome::kSuccess ? DLHOST_FAILURE_NONE : DLHOST_FAILURE_HTTP;
    r.message = "x";
    return s.finish(id, r, now);
  }
};

}  // namespace dlhost::mp::test
