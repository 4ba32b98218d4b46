// Fd: the owner of one file descriptor, closed when it goes (RAII), so no
// early return or exception leaks one. write_all(): a write(2) loop that
// goes on after short writes and EINTR.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <utility>

namespace dlhost::util {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  Fd(Fd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd &operator=(Fd &&other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Writes all `n` bytes to `fd`; false on an error (or a write of nothing).
bool write_all(int fd, const void *data, std::size_t n);

}  // namespace dlhost::util
