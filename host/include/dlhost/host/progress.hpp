// Progress: what the operator sees while a job runs.
//
// Minimal for now, kept apart so it can grow (per-proxy lines, ETA) without
// touching the engine. A ticker thread samples the job's counters; the job
// never waits on the display. On a terminal ("bar") one line is redrawn at
// most 10 times a second; elsewhere ("plain", e.g. a log file) a summary line
// is printed every 5 seconds with no carriage returns. With -v each finished
// file gets a line of its own. Everything goes to stderr (stdout stays clean
// for `dlhost plugins` and friends).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace dlhost {

enum class ProgressMode { kAuto, kBar, kPlain, kNone };
std::optional<ProgressMode> parse_progress_mode(std::string_view text);

struct ProgressSnapshot {
  std::uint64_t total = 0;
  std::uint64_t completed = 0;
  std::uint64_t skipped = 0;
  std::uint64_t deferred = 0;
  std::uint64_t failed = 0;
  std::uint64_t bytes = 0;  // bytes transferred so far (finished and in flight)
  double elapsed_s = 0;
};

std::string format_bytes(double bytes);
std::string format_progress_line(const ProgressSnapshot &s);

class Progress {
 public:
  using Sampler = std::function<ProgressSnapshot()>;
  // kAuto picks kBar when `out` is a terminal, else kPlain.
  Progress(ProgressMode mode, bool verbose, std::FILE *out = stderr);
  ~Progress();

  void start(Sampler sampler);
  void stop();  // final redraw; ends the bar line
  // Thread-safe; prints only with -v.
  void file_finished(std::string_view path, std::string_view outcome, std::string_view detail);
  // Thread-safe; prints one line without garbling the bar.
  void message(std::string_view line);

 private:
  void run();
  void draw_locked(bool final);
  void clear_bar_locked();

  ProgressMode mode_;
  bool verbose_;
  std::FILE *out_;
  Sampler sampler_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool bar_drawn_ = false;
  std::thread thread_;
};

}  // namespace dlhost
