// Progress: what the operator sees while a job runs.
//
// Kept apart from the engine: a ticker thread samples the job's counters (a
// cheap copy of a few atomics) and, at most every 0.5 s, the plugin's stats()
// JSON for the per-proxy lines; the job never waits on the display, and the
// samplers are called without the display's lock held, so an event thread
// printing a -v line can never wait behind a plugin call.
//
//   bar    (a terminal) a block of lines redrawn in place at most 10 times a
//          second: files done/total, bytes, rate, ETA, then one line per proxy
//          (id, state, files in flight, rate). Lines are cut to the terminal's
//          width so the redraw (cursor up N lines) stays exact.
//   plain  (a pipe or a log file) one summary line every 5 seconds, no
//          carriage returns or escape sequences.
//   none   nothing but what the caller prints itself.
// With -v each finished file gets a line of its own (above the bar).
// Everything goes to stderr: stdout stays clean for `dlhost compare` and
// friends. The formatting functions are free functions over a snapshot so
// they can be tested without a terminal.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dlhost/host/counts.hpp"

namespace dlhost {

enum class ProgressMode { kAuto, kBar, kPlain, kNone };
std::optional<ProgressMode> parse_progress_mode(std::string_view text);

// One proxy (path) as the plugin's stats() reports it, plus the rate the
// display measured from its byte counter.
struct ProxyProgress {
  std::string id;
  std::string state;
  std::int64_t in_flight = 0;
  std::uint64_t bytes = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t retries = 0;
  double rate = 0;  // bytes/s
};

struct ProgressSnapshot {
  Counts counts;  // the job's; progress shows bytes as counts.transferred()
  double elapsed_s = 0;
  // Filled in by the display (recent rates); negative = not measured yet,
  // then the average over the whole run is used.
  double rate = -1;       // bytes/s
  double file_rate = -1;  // files settled per second
  std::vector<ProxyProgress> proxies;
  // Files other workers hold leases on that this job waits for (REDIS_URL),
  // and the first few of their paths.
  std::uint64_t waiting = 0;
  std::vector<std::string> waiting_for;
};

// "waiting for 2 files other workers hold: p1/a.jpg, p1/b.jpg"; "" when none.
std::string format_waiting(const ProgressSnapshot &s);

std::string format_bytes(double bytes);
// "1h02m", "3m05s", "42s"; "?" when unknown (negative or not finite).
std::string format_duration(double seconds);
// Seconds until every file is settled at the current file rate; -1 unknown.
double eta_seconds(const ProgressSnapshot &s);
// The job in one line: files, bytes, rate, ETA (the first line of the bar).
std::string format_progress_line(const ProgressSnapshot &s);
// What plain mode prints every few seconds: "progress: " + the line above and
// a count of proxies per state.
std::string format_plain_line(const ProgressSnapshot &s);
// One line per proxy for the bar.
std::string format_proxy_line(const ProxyProgress &p);
// The bar's lines, each cut to `width` columns (0 = no limit).
std::vector<std::string> format_bar_lines(const ProgressSnapshot &s, std::size_t width);
// Terminal bytes that replace a block of `previous_lines` lines drawn before
// (0 = nothing drawn yet) with `lines`; the cursor ends on the last line.
std::string render_bar(const std::vector<std::string> &lines, std::size_t previous_lines);
// The plugin's stats() JSON -> its "proxies" (empty when absent or invalid).
std::vector<ProxyProgress> parse_proxy_stats(const std::string &stats_json);

// Measures recent rates from (time, counter) samples over a sliding window.
class RateMeter {
 public:
  explicit RateMeter(double window_s = 5.0) : window_s_(window_s) {}
  // Adds a sample; returns the rate over the window, or -1 while the samples
  // span less than 0.5 s.
  double add(double t, double value);

 private:
  double window_s_;
  std::deque<std::pair<double, double>> samples_;
};

class Progress {
 public:
  using Sampler = std::function<ProgressSnapshot()>;
  // The plugin's stats() JSON text (may be empty).
  using StatsSampler = std::function<std::string()>;
  // kAuto picks kBar when `out` is a terminal, else kPlain.
  Progress(ProgressMode mode, bool verbose, std::FILE *out = stderr);
  ~Progress();

  ProgressMode mode() const { return mode_; }
  void start(Sampler sampler, StatsSampler stats = {});
  void stop();  // final redraw; ends the bar
  // Thread-safe; prints only with -v.
  void file_finished(std::string_view path, std::string_view outcome, std::string_view detail);
  // Thread-safe; prints one line without garbling the bar.
  void message(std::string_view line);

 private:
  void run();
  ProgressSnapshot take_sample();
  void refresh_proxies(double now_s);
  void draw(const ProgressSnapshot &s, bool final);
  void clear_bar_locked();
  std::size_t terminal_width() const;

  ProgressMode mode_;
  bool verbose_;
  std::FILE *out_;
  Sampler sampler_;
  StatsSampler stats_sampler_;
  std::mutex mutex_;  // guards output and the fields below
  std::condition_variable cv_;
  bool stopping_ = false;
  std::size_t bar_lines_ = 0;  // lines of the bar on screen now
  std::thread thread_;
  // Touched only by whichever thread samples (the ticker, then stop()).
  RateMeter byte_rate_, file_rate_;
  std::vector<ProxyProgress> proxies_;
  std::vector<RateMeter> proxy_rates_;
  double proxies_sampled_at_ = -1;
};

}  // namespace dlhost
