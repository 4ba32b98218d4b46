// Progress display; see progress.hpp for the design.
//
// Paths, URLs, proxy ids and messages come from manifests, servers and
// plugins: every line is escaped (util::printable) where it is written, so no
// control character of theirs reaches the terminal; the bar's own cursor
// movements are the only escape sequences dlhost writes.
#include "dlhost/host/progress.hpp"

#include <pthread.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cinttypes>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "dlhost/util/text.h"

namespace dlhost {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kBarInterval = std::chrono::milliseconds(100);
constexpr auto kPlainInterval = std::chrono::seconds(5);
constexpr double kProxySampleInterval = 0.5;  // s between two plugin stats() calls
constexpr std::size_t kBarWidth = 20;         // characters of the [####----] gauge
constexpr std::size_t kDefaultWidth = 80;

double now_seconds() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

std::uint64_t settled(const ProgressSnapshot &s) {
  return s.counts.settled();
}

double byte_rate(const ProgressSnapshot &s) {
  if (s.rate >= 0) return s.rate;
  return s.elapsed_s > 0 ? static_cast<double>(s.counts.transferred()) / s.elapsed_s : 0;
}

std::string gauge(const ProgressSnapshot &s) {
  const double fraction =
      s.counts.total
          ? std::min(1.0, static_cast<double>(settled(s)) / static_cast<double>(s.counts.total))
          : 0;
  const auto filled = std::min(kBarWidth, static_cast<std::size_t>(fraction * kBarWidth + 0.5));
  // Appended in place: GCC 12 at -O3 reports a false -Werror=restrict for the
  // chain of operator+ that built this before.
  std::string out = "[";
  out.append(filled, '#').append(kBarWidth - filled, '-').append("] ");
  return out;
}

// Cuts `line` to `width` columns; the text is ASCII except proxy ids, which
// never hold multi-byte characters in practice (URLs, "direct").
std::string cut(std::string line, std::size_t width) {
  if (width && line.size() > width) line.resize(width);
  return line;
}

std::string proxy_state_counts(const std::vector<ProxyProgress> &proxies) {
  std::map<std::string, int> counts;
  for (const auto &p : proxies) counts[p.state.empty() ? "unknown" : p.state]++;
  std::string out;
  for (const auto &[state, n] : counts)
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + state;
  return out;
}

std::uint64_t json_uint(const nlohmann::json &j, const char *key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<std::uint64_t>() : 0;
}

}  // namespace

std::optional<ProgressMode> parse_progress_mode(std::string_view text) {
  if (text == "auto") return ProgressMode::kAuto;
  if (text == "bar") return ProgressMode::kBar;
  if (text == "plain") return ProgressMode::kPlain;
  if (text == "none") return ProgressMode::kNone;
  return std::nullopt;
}

std::string format_bytes(double bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return buf;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<std::uint64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "s", s);
  }
  return buf;
}

double eta_seconds(const ProgressSnapshot &s) {
  const auto done = settled(s);
  const auto total = s.counts.total;
  if (total == 0 || done >= total) return total ? 0 : -1;
  const double remaining = static_cast<double>(total - done);
  if (s.file_rate > 0) return remaining / s.file_rate;
  if (done > 0 && s.elapsed_s > 0) return remaining * s.elapsed_s / static_cast<double>(done);
  return -1;
}

std::string format_progress_line(const ProgressSnapshot &s) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%" PRIu64 "/%" PRIu64 " files (%" PRIu64 " failed, %" PRIu64
                " skipped), %s, %s/s, ETA %s",
                settled(s), s.counts.total, s.counts.failed, s.counts.skipped,
                format_bytes(static_cast<double>(s.counts.transferred())).c_str(),
                format_bytes(byte_rate(s)).c_str(), format_duration(eta_seconds(s)).c_str());
  return buf;
}

std::string format_waiting(const ProgressSnapshot &s) {
  if (s.waiting == 0) return {};
  std::string line = "waiting for " + std::to_string(s.waiting) + " file" +
                     (s.waiting == 1 ? "" : "s") + " other workers hold: ";
  for (std::size_t i = 0; i < s.waiting_for.size(); ++i)
    line += (i ? ", " : "") + util::printable(s.waiting_for[i]);
  if (s.waiting > s.waiting_for.size()) line += ", ...";
  return line;
}

std::string format_plain_line(const ProgressSnapshot &s) {
  std::string line = "progress: " + format_progress_line(s);
  if (!s.proxies.empty()) line += "; proxies: " + proxy_state_counts(s.proxies);
  if (s.waiting) line += "; " + format_waiting(s);
  return line;
}

std::string format_proxy_line(const ProxyProgress &p) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "  %-28s %-9s %3" PRId64 " in flight  %11s/s  %" PRIu64 " done, %" PRIu64
                " failed, %" PRIu64 " retries",
                util::printable(p.id).c_str(), util::printable(p.state).c_str(), p.in_flight,
                format_bytes(p.rate).c_str(), p.completed, p.failed, p.retries);
  return buf;
}

std::vector<std::string> format_bar_lines(const ProgressSnapshot &s, std::size_t width) {
  std::vector<std::string> lines{cut(gauge(s) + format_progress_line(s), width)};
  for (const auto &p : s.proxies) lines.push_back(cut(format_proxy_line(p), width));
  if (s.waiting) lines.push_back(cut("  " + format_waiting(s), width));
  return lines;
}

std::string render_bar(const std::vector<std::string> &lines, std::size_t previous_lines) {
  std::string out;
  if (previous_lines > 0) {
    out += "\r";
    if (previous_lines > 1) out += "\033[" + std::to_string(previous_lines - 1) + "A";
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += "\033[K" + lines[i];
    if (i + 1 < lines.size()) out += "\n";
  }
  out += "\033[J";  // a shorter block than before: clear what is left below
  return out;
}

std::vector<ProxyProgress> parse_proxy_stats(const std::string &stats_json) {
  std::vector<ProxyProgress> out;
  const auto doc = nlohmann::json::parse(stats_json, nullptr, false);
  if (!doc.is_object() || !doc.contains("proxies") || !doc["proxies"].is_array()) return out;
  for (const auto &p : doc["proxies"]) {
    if (!p.is_object()) continue;
    ProxyProgress proxy;
    proxy.id = p.value("id", std::string("?"));
    proxy.state = p.value("state", std::string("?"));
    if (p.contains("in_flight") && p["in_flight"].is_number())
      proxy.in_flight = p["in_flight"].get<std::int64_t>();
    proxy.bytes = json_uint(p, "bytes");
    proxy.completed = json_uint(p, "completed");
    proxy.failed = json_uint(p, "failed");
    proxy.retries = json_uint(p, "retries");
    out.push_back(std::move(proxy));
  }
  return out;
}

double RateMeter::add(double t, double value) {
  samples_.emplace_back(t, value);
  while (samples_.size() > 2 && t - samples_[1].first >= window_s_) samples_.pop_front();
  const auto &[t0, v0] = samples_.front();
  if (t - t0 < 0.5) return -1;
  return std::max(0.0, (value - v0) / (t - t0));
}

Progress::Progress(ProgressMode mode, bool verbose, std::FILE *out)
    : mode_(mode), verbose_(verbose), out_(out) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = ::isatty(::fileno(out_)) ? ProgressMode::kBar : ProgressMode::kPlain;
  }
}

Progress::~Progress() {
  stop();
}

void Progress::start(Sampler sampler, StatsSampler stats) {
  sampler_ = std::move(sampler);
  stats_sampler_ = std::move(stats);
  if (mode_ == ProgressMode::kNone || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Progress::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  proxies_sampled_at_ = -1;  // the final frame shows the plugin's last numbers
  if (mode_ == ProgressMode::kBar && sampler_) draw(take_sample(), true);
}

void Progress::run() {
  pthread_setname_np(pthread_self(), "dlhost-progress");  // top -H, perf
  const auto interval = mode_ == ProgressMode::kBar
                            ? std::chrono::duration_cast<std::chrono::milliseconds>(kBarInterval)
                            : std::chrono::duration_cast<std::chrono::milliseconds>(kPlainInterval);
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (cv_.wait_for(lock, interval, [this] { return stopping_; })) return;
    }
    draw(take_sample(), false);  // sampled without our lock: see progress.hpp
  }
}

ProgressSnapshot Progress::take_sample() {
  auto s = sampler_();
  const double now = now_seconds();
  s.rate = byte_rate_.add(now, static_cast<double>(s.counts.transferred()));
  s.file_rate = file_rate_.add(now, static_cast<double>(settled(s)));
  refresh_proxies(now);
  s.proxies = proxies_;
  return s;
}

// At most every kProxySampleInterval: stats() may take the plugin's locks.
void Progress::refresh_proxies(double now_s) {
  if (!stats_sampler_ || now_s - proxies_sampled_at_ < kProxySampleInterval) return;
  proxies_sampled_at_ = now_s;
  const auto text = stats_sampler_();
  if (text.empty()) return;  // the instance is gone: keep the last numbers
  auto fresh = parse_proxy_stats(text);
  if (fresh.size() != proxy_rates_.size()) proxy_rates_.assign(fresh.size(), RateMeter());
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    const double rate = proxy_rates_[i].add(now_s, static_cast<double>(fresh[i].bytes));
    fresh[i].rate = std::max(0.0, rate);
  }
  proxies_ = std::move(fresh);
}

void Progress::draw(const ProgressSnapshot &s, bool final) {
  std::lock_guard lock(mutex_);
  if (mode_ == ProgressMode::kBar) {
    const auto lines = format_bar_lines(s, terminal_width());
    std::fputs(render_bar(lines, bar_lines_).c_str(), out_);
    if (final) std::fputc('\n', out_);
    bar_lines_ = final ? 0 : lines.size();
  } else {
    std::fprintf(out_, "%s\n", util::printable(format_plain_line(s)).c_str());
  }
  std::fflush(out_);
}

void Progress::clear_bar_locked() {
  if (!bar_lines_) return;
  std::string out = "\r";
  if (bar_lines_ > 1) out += "\033[" + std::to_string(bar_lines_ - 1) + "A";
  std::fputs((out + "\033[J").c_str(), out_);
  bar_lines_ = 0;
}

std::size_t Progress::terminal_width() const {
  winsize ws{};
  if (::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col - 1;
  return kDefaultWidth - 1;
}

void Progress::file_finished(std::string_view path, std::string_view outcome,
                             std::string_view detail) {
  if (!verbose_) return;
  std::string line = std::string(outcome) + ": " + std::string(path);
  if (!detail.empty()) line += " (" + std::string(detail) + ")";
  message(line);
}

void Progress::message(std::string_view line) {
  const std::string shown = util::printable(line);
  std::lock_guard lock(mutex_);
  clear_bar_locked();
  std::fprintf(out_, "%s\n", shown.c_str());
  std::fflush(out_);
}

}  // namespace dlhost
