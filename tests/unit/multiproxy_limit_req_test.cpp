// The scheduler and its rate control against a model of nginx's limit_req
// (ngx_http_limit_req_module.c: a leaky bucket per client address, R
// requests/s, burst B, nodelay: over the burst it answers 429 at once), on
// simulated time. One model per path, as each path is its own address. What a
// user checks: the job time against the ideal N / (k R), and the share of
// 429s. The origin-side figures are bench/multiproxy_scaling.sh's; this keeps
// the algorithm from regressing where no network is needed.
#include <gtest/gtest.h>

#include <numeric>
#include <queue>

#include "scheduler.h"

namespace dlhost::mp {
namespace {

using std::chrono::milliseconds;

// nginx's arithmetic: excess in thousandths of a request, time in ms; a
// rejected request changes nothing.
class LimitReq {
 public:
  LimitReq(double rate, int burst) : rate_(rate), burst_(burst) {}
  bool accept(int64_t ms) {
    int64_t excess = 0;
    if (last_ >= 0) {
      excess = excess_ -
               static_cast<int64_t>(rate_ * 1000 * static_cast<double>(ms - last_) / 1000) + 1000;
      excess = std::max<int64_t>(excess, 0);
    }
    if (excess > burst_ * 1000) return false;
    excess_ = excess;
    last_ = ms;
    return true;
  }

 private:
  double rate_;
  int64_t burst_;
  int64_t excess_ = 0;
  int64_t last_ = -1;
};

struct JobRun {
  double seconds = 0;
  int requests = 0;
  int rejected = 0;
  std::vector<int> per_path;
};

struct Job {
  int paths = 1;
  double rate = 20;
  int files = 160;
  int burst = 5;
  Millis answer{4};  // a 200's round trip; a 429 takes 1 ms
  std::optional<Millis> retry_after;
};

JobRun simulate(const Job &job) {
  SchedulerConfig cfg;  // the plugin's defaults: 2 posts x 4 files per path
  cfg.max_retries = 3;
  std::vector<std::string> ids;
  for (int i = 0; i < job.paths; ++i) ids.push_back("p" + std::to_string(i));
  uint32_t seed = 1;
  Scheduler s(cfg, ids, [&] {
    seed = seed * 1103515245 + 12345;
    return static_cast<double>((seed >> 8) & 0xffff) / 65536.0;
  });
  for (int i = 0; i < job.files; ++i)
    s.add(TaskSpec{static_cast<uint64_t>(i + 1), "http://site/f" + std::to_string(i), "/x",
                   "post" + std::to_string(i / 4), "", -1, ""});
  std::vector<LimitReq> site(job.paths, LimitReq(job.rate, job.burst));
  struct Answer {
    TimePoint at;
    uint64_t id;
    bool ok;
    bool operator>(const Answer &o) const { return at > o.at; }
  };
  std::priority_queue<Answer, std::vector<Answer>, std::greater<Answer>> answers;
  const TimePoint start = TimePoint{} + std::chrono::hours(1);
  TimePoint now = start;
  JobRun run;
  run.per_path.assign(job.paths, 0);
  int settled = 0;
  while (settled < job.files) {
    while (auto d = s.next(now)) {
      const bool ok = site[d->path].accept((now - start) / milliseconds(1));
      ++run.requests;
      run.rejected += !ok;
      run.per_path[d->path] += ok;
      answers.push(Answer{now + (ok ? job.answer : milliseconds(1)), d->task_id, ok});
    }
    TimePoint next = s.wake_at();
    if (!answers.empty()) next = std::min(next, answers.top().at);
    if (next == kNever) break;  // stuck: the assertions below say so
    now = std::max(now, next);
    while (!answers.empty() && answers.top().at <= now) {
      const Answer a = answers.top();
      answers.pop();
      AttemptResult r;
      r.outcome = a.ok ? Outcome::kSuccess : Outcome::kThrottled;
      r.http_status = a.ok ? 200 : 429;
      if (!a.ok) r.retry_after = job.retry_after;
      const Verdict v = s.finish(a.id, r, now);
      settled += v.kind != Verdict::kRetry;
    }
  }
  run.seconds = std::chrono::duration<double>(now - start).count();
  return run;
}

class LimitReqJob : public ::testing::TestWithParam<std::tuple<int, double, bool>> {};

TEST_P(LimitReqJob, FinishesNearTheIdealWithFewRejections) {
  Job job;
  job.paths = std::get<0>(GetParam());
  job.rate = std::get<1>(GetParam());
  if (std::get<2>(GetParam())) job.retry_after = milliseconds(1000);
  job.files = static_cast<int>(8 * job.rate);  // 8 s on one path, 2 s on four
  const JobRun run = simulate(job);
  const double ideal = job.files / (job.paths * job.rate);
  const int done = std::accumulate(run.per_path.begin(), run.per_path.end(), 0);
  ASSERT_EQ(done, job.files);
  EXPECT_LE(run.seconds, 1.15 * ideal) << "ideal " << ideal << " s";
  EXPECT_LT(run.rejected, 0.15 * run.requests) << run.rejected << " of " << run.requests;
  for (int p = 0; p < job.paths; ++p)  // every path carries about its share
    EXPECT_GT(run.per_path[p], 0.6 * job.files / job.paths) << "path " << p;
}

INSTANTIATE_TEST_SUITE_P(PathsRatesRetryAfter, LimitReqJob,
                         ::testing::Combine(::testing::Values(1, 2, 4),
                                            ::testing::Values(20.0, 50.0), ::testing::Bool()));

}  // namespace
}  // namespace dlhost::mp
