// Work pushed in while the job runs; see dlhost/host/queue_source.hpp.
#include "dlhost/host/queue_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <streambuf>

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
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (was_full) not_full_.notify_all();
  return true;
}

// A stream buffer over a file descriptor that waits for input with poll(),
// together with a stop descriptor, so that a reader waiting on a quiet pipe
// can be told to give up: it then sees end of input.
class FollowReader::PollingBuf final : public std::streambuf {
 public:
  PollingBuf(int fd, int stop_fd) : fd_(fd), stop_fd_(stop_fd) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return traits_type::eof();
      }
      if (fds[1].revents) return traits_type::eof();
      const ssize_t n = ::read(fd_, buf_, sizeof buf_);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return traits_type::eof();
      setg(buf_, buf_, buf_ + n);
      return traits_type::to_int_type(*gptr());
    }
  }

 private:
  int fd_, stop_fd_;
  char buf_[64 * 1024];
};

FollowReader::FollowReader(const std::string &manifest, QueueWorkSource &queue,
                           BadLineFn on_bad_line)
    : queue_(queue), on_bad_line_(std::move(on_bad_line)) {
  if (manifest == "-") {
    fd_ = 0;
  } else {
    fd_ = ::open(manifest.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw ManifestError(manifest + ": cannot open: " + std::strerror(errno));
    owns_fd_ = true;
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  buf_ = std::make_unique<PollingBuf>(fd_, stop_fd_);
  in_ = std::make_unique<std::istream>(buf_.get());
  reader_ = std::make_unique<ManifestReader>(*in_, manifest == "-" ? "<stdin>" : manifest);
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
    ++entries_;
    if (!queue_.push(std::move(entry))) return;  // cancelled
  }
  queue_.close();
}

}  // namespace dlhost
