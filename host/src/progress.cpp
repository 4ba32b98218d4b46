// Progress display; see progress.hpp for the design.
#include "dlhost/host/progress.hpp"

#include <unistd.h>

#include <cinttypes>

namespace dlhost {
namespace {

constexpr auto kBarInterval = std::chrono::milliseconds(100);
constexpr auto kPlainInterval = std::chrono::seconds(5);

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

std::string format_progress_line(const ProgressSnapshot &s) {
  const auto done = s.completed + s.skipped + s.failed + s.deferred;
  const double rate = s.elapsed_s > 0 ? static_cast<double>(s.bytes) / s.elapsed_s : 0;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%" PRIu64 "/%" PRIu64 " files (%" PRIu64 " failed, %" PRIu64 " skipped), %s, %s/s",
                done, s.total, s.failed, s.skipped,
                format_bytes(static_cast<double>(s.bytes)).c_str(), format_bytes(rate).c_str());
  return buf;
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

void Progress::start(Sampler sampler) {
  sampler_ = std::move(sampler);
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
  std::lock_guard lock(mutex_);
  if (mode_ == ProgressMode::kBar && sampler_) draw_locked(true);
}

void Progress::run() {
  const auto interval = mode_ == ProgressMode::kBar
                            ? std::chrono::duration_cast<std::chrono::milliseconds>(kBarInterval)
                            : std::chrono::duration_cast<std::chrono::milliseconds>(kPlainInterval);
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) draw_locked(false);
}

void Progress::draw_locked(bool final) {
  const auto line = format_progress_line(sampler_());
  if (mode_ == ProgressMode::kBar) {
    std::fprintf(out_, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    bar_drawn_ = !final;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void Progress::clear_bar_locked() {
  if (!bar_drawn_) return;
  std::fputs("\r\033[K", out_);
  bar_drawn_ = false;
}

void Progress::file_finished(std::string_view path, std::string_view outcome,
                             std::string_view detail) {
  if (!verbose_) return;
  std::lock_guard lock(mutex_);
  clear_bar_locked();
  std::string line = std::string(outcome) + ": " + std::string(path);
  if (!detail.empty()) line += " (" + std::string(detail) + ")";
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void Progress::message(std::string_view line) {
  std::lock_guard lock(mutex_);
  clear_bar_locked();
  std::fprintf(out_, "%.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(out_);
}

}  // namespace dlhost
