// `--events FILE|-`: the event stream as NDJSON (see event_sinks.hpp).
//
// A reader that goes away (`dlhost run --events - | head -1`) is not the
// job's failure: the first failed write is reported once and the stream
// stops, the downloads go on. (SIGPIPE is ignored by the command line, so a
// closed pipe is an EPIPE here, not the end of the process.) A reader that
// stays but stops reading (`dlhost run --events - | sleep 60`) holds up
// only this sink's lane; the lane drops what it cannot queue. Writes wait
// in poll() for room, a page at a time on a pipe (a pipe with a free page
// takes a page without blocking), so closing() can end the wait at the
// bus's deadline: the file descriptor is never switched to O_NONBLOCK,
// which would change it for every other process sharing it.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dlhost/host/event_sinks.hpp"
#include "dlhost/host/settings.hpp"

namespace dlhost {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kPage = 4096;
constexpr std::size_t kWriteAt = 64 * 1024;  // buffered bytes that trigger a write
constexpr int kPollSliceMs = 100;            // how often a wait looks at the deadline

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

NdjsonSink::NdjsonSink(const std::string &target, NoticeFn notice)
    : name_(target == "-" ? "stdout" : target), notice_(std::move(notice)) {
  if (target == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    fd_ = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw ConfigError("--events " + target + ": cannot create: " + std::strerror(errno));
    owned_ = true;
  }
  struct stat st;
  pipe_like_ = ::fstat(fd_, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

NdjsonSink::~NdjsonSink() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

void NdjsonSink::give_up(const std::string &why) {
  broken_ = true;
  dropped_ += static_cast<std::uint64_t>(std::count(buffer_.begin(), buffer_.end(), '\n'));
  buffer_.clear();
  if (notice_)
    notice_("dlhost: warning: events: " + why + "; no more events are written to " + name_ +
            " (the job goes on)");
}

// Writes the buffer; false when the sink gave up.
bool NdjsonSink::write_out() {
  std::size_t at = 0;
  while (at < buffer_.size()) {
    pollfd p{fd_, POLLOUT, 0};
    const int ready = ::poll(&p, 1, kPollSliceMs);
    if (ready < 0 && errno != EINTR) {
      buffer_.erase(0, at);
      give_up(std::string("cannot write to ") + name_ + ": " + std::strerror(errno));
      return false;
    }
    if (ready <= 0) {
      if (now_ns() >= deadline_ns_.load()) {
        buffer_.erase(0, at);
        give_up("the reader of " + name_ + " stopped reading");
        return false;
      }
      continue;
    }
    const std::size_t n = pipe_like_ ? std::min(kPage, buffer_.size() - at) : buffer_.size() - at;
    const ssize_t w = ::write(fd_, buffer_.data() + at, n);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w <= 0) {
      buffer_.erase(0, at);
      give_up(std::string("cannot write to ") + name_ + ": " + std::strerror(errno));
      return false;
    }
    at += static_cast<std::size_t>(w);
  }
  buffer_.clear();
  return true;
}

void NdjsonSink::deliver(const JobEvent &event) {
  if (broken_) {
    ++dropped_;
    return;
  }
  buffer_ += to_json_line(event);
  if (buffer_.size() >= kWriteAt) write_out();
}

void NdjsonSink::flush() {
  if (!broken_) write_out();
}

void NdjsonSink::closing(Clock::time_point deadline) {
  deadline_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
}

void NdjsonSink::close(Clock::time_point deadline) {
  closing(deadline);
  flush();
  if (owned_ && fd_ >= 0) {
    if (::close(fd_) != 0 && !broken_) give_up(std::string("closing ") + name_ + " failed");
    fd_ = -1;
  }
}

}  // namespace dlhost
