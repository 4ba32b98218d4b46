// Work pushed in while the job runs; see dlhost/host/queue_source.hpp.
#include "dlhost/host/queue_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <streambuf>
#include <unordered_map>

#include "dlhost/util/digest.h"

namespace dlhost {

bool QueueWorkSource::push(ManifestEntry entry) {
  std::unique_lock lock(mutex_);
  not_full_.wait(lock, [&] { return queue_.size() < capacity_ || closed_; });
  if (closed_) return false;
  queue_.push_back(std::move(entry));
  not_empty_.notify_one();
  return true;
}

void QueueWorkSource::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

void QueueWorkSource::cancel() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    queue_.clear();
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool QueueWorkSource::remove(const std::string &path) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(queue_.begin(), queue_.end(),
                               [&](const ManifestEntry &e) { return e.path == path; });
  if (it == queue_.end()) return false;
  queue_.erase(it);
  not_full_.notify_all();
  return true;
}

bool QueueWorkSource::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

bool QueueWorkSource::next_batch(std::size_t max, std::vector<ManifestEntry> &out) {
  std::unique_lock lock(mutex_);
  not_empty_.wait_for(lock, kWaitSlice, [&] { return !queue_.empty() || closed_; });
  if (queue_.empty()) return !closed_;
  const bool was_full = queue_.size() >= capacity_;
  for (std::size_t n = 0; n < max && !queue_.empty(); ++n) {
    duplicates_ += queue_.front().duplicate ? 1 : 0;
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (was_full) not_full_.notify_all();
  return true;
}

std::uint64_t QueueWorkSource::duplicates_skipped() const {
  std::lock_guard lock(mutex_);
  return duplicates_;
}

// The batch rules for lines that arrive one at a time (see the header).
class FollowReader::Identity {
 public:
  // A conflict's message, or nullopt (then *duplicate says whether the line
  // repeats an earlier one).
  std::optional<std::string> check(const ManifestEntry &e, std::string_view display,
                                   bool *duplicate) {
    *duplicate = false;
    const auto path = hash_(e.path), url = hash_(e.url);
    if (const auto it = seen_.find(path); it != seen_.end()) {
      if (it->second.url == url) {
        *duplicate = true;
        return std::nullopt;
      }
      return path_taken_message(display, e, it->second.line);
    }
    for (const auto suffix : kWorkingSuffixes) {
      const std::string working = e.path + std::string(suffix);
      if (const auto it = seen_.find(hash_(working)); it != seen_.end())
        return working_name_message(display, e.line, working, it->second.line, e.path, e.line);
    }
    if (const auto owner = working_name_owner(e.path); !owner.empty()) {
      if (const auto it = seen_.find(hash_(owner)); it != seen_.end())
        return working_name_message(display, e.line, e.path, e.line, owner, it->second.line);
    }
    seen_[path] = Seen{url, e.line};
    return std::nullopt;
  }

 private:
  struct Seen {
    std::uint64_t url, line;
  };
  util::KeyedHash64 hash_;  // keyed per run: a manifest cannot force collisions
  std::unordered_map<std::uint64_t, Seen> seen_;
};

// A stream buffer over a file descriptor that waits for input with poll(),
// together with a stop descriptor, so that a reader waiting on a quiet pipe
// can be told to give up: it then sees end of input. A regular file at its
// end is looked at again every kFileSlice (it always polls readable), as
// `tail -F` does; `idle` > 0 ends the input after that long without a byte.
class FollowReader::PollingBuf final : public std::streambuf {
 public:
  static constexpr std::chrono::milliseconds kFileSlice{200};

  PollingBuf(int fd, int stop_fd, bool regular, std::chrono::milliseconds idle)
      : fd_(fd), stop_fd_(stop_fd), regular_(regular), idle_(idle) {}

 protected:
  int_type underflow() override {
    using Clock = std::chrono::steady_clock;
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    const auto quiet_since = Clock::now();
    for (bool at_end = false;;) {
      if (idle_.count() > 0 && Clock::now() - quiet_since >= idle_) return traits_type::eof();
      pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      const int wait_ms = regular_ && at_end  ? static_cast<int>(kFileSlice.count())
                          : idle_.count() > 0 ? static_cast<int>(kFileSlice.count())
                                              : -1;
      const int ready =
          ::poll(regular_ && at_end ? &fds[1] : fds, regular_ && at_end ? 1 : 2, wait_ms);
      if (ready < 0) {
        if (errno == EINTR) continue;
        return traits_type::eof();
      }
      if (fds[1].revents) return traits_type::eof();
      if (ready == 0 && !(regular_ && at_end)) continue;
      const ssize_t n = ::read(fd_, buf_, sizeof buf_);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n == 0 && regular_) {  // the end, for now: a writer may append
        at_end = true;
        continue;
      }
      if (n <= 0) return traits_type::eof();
      setg(buf_, buf_, buf_ + n);
      return traits_type::to_int_type(*gptr());
    }
  }

 private:
  int fd_, stop_fd_;
  bool regular_;
  std::chrono::milliseconds idle_;
  char buf_[64 * 1024];
};

FollowReader::FollowReader(const std::string &manifest, QueueWorkSource &queue,
                           BadLineFn on_bad_line, std::chrono::milliseconds idle)
    : queue_(queue), on_bad_line_(std::move(on_bad_line)) {
  if (manifest == "-") {
    fd_ = 0;
  } else {
    fd_ = ::open(manifest.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw ManifestError(manifest + ": cannot open: " + std::strerror(errno));
    owns_fd_ = true;
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  struct stat st;
  const bool regular = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  buf_ = std::make_unique<PollingBuf>(fd_, stop_fd_, regular, idle);
  in_ = std::make_unique<std::istream>(buf_.get());
  display_ = manifest == "-" ? "<stdin>" : manifest;
  reader_ = std::make_unique<ManifestReader>(*in_, display_);
  identity_ = std::make_unique<Identity>();
  thread_ = std::thread([this] { run(); });
}

FollowReader::~FollowReader() {
  const std::uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) < 0) {
    // nothing to do: the thread ends at EOF anyway
  }
  queue_.cancel();  // a push() waiting for room gives up too
  thread_.join();
  ::close(stop_fd_);
  if (owns_fd_) ::close(fd_);
}

void FollowReader::run() {
  pthread_setname_np(pthread_self(), "dlhost-follow");
  for (;;) {
    ManifestEntry entry;
    try {
      if (!reader_->next(entry)) break;
    } catch (const ManifestError &e) {
      ++bad_lines_;
      if (on_bad_line_) on_bad_line_(reader_->line(), e);
      if (in_->bad()) break;  // a read error, not a bad line: nothing more will come
      continue;
    }
    bool duplicate = false;
    if (auto conflict = identity_->check(entry, display_, &duplicate)) {
      ++bad_lines_;
      if (on_bad_line_) on_bad_line_(entry.line, ManifestError(*conflict));
      continue;
    }
    entry.duplicate = duplicate;
    ++entries_;
    if (!queue_.push(std::move(entry))) return;  // cancelled
  }
  queue_.close();
}

}  // namespace dlhost
