// A state directory beneath the output directory (see state_dir.h).
#include "dlhost/util/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "dlhost/util/beneath.h"

namespace dlhost::util {
namespace {

constexpr int kSafe = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

void set(std::string *error, std::string text) {
  if (error != nullptr) *error = std::move(text);
}

std::string refused(const std::string &shown, mode_t mode) {
  return shown + " is " + file_kind(mode) +
         ", not a regular file: dlhost keeps its own state there and does not follow, read or "
         "write it (remove it)";
}

// Back to blocking I/O once the file is known to be regular.
bool clear_nonblock(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0;
}

}  // namespace

const char *file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

StateDir::StateDir(std::string out_dir, std::string name)
    : out_dir_(std::move(out_dir)), name_(std::move(name)) {}

std::string StateDir::shown(std::string_view file) const {
  std::string s = out_dir_;
  if (s.empty() || s.back() != '/') s += '/';
  s += name_;
  if (!file.empty()) (s += '/').append(file);
  return s;
}

int StateDir::dir_fd(bool create, std::string *error) {
  if (dir_) return dir_.get();
  if (!enabled()) {
    set(error, "no state directory");
    return -1;
  }
  Fd root(::open(out_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    set(error, "cannot open " + out_dir_ + ": " + std::strerror(errno));
    return -1;
  }
  std::string why;
  dir_.reset(open_dir_beneath(root.get(), out_dir_, name_, false, create, &why));
  if (!dir_) set(error, why);
  return dir_.get();
}

std::string StateDir::check(std::initializer_list<const char *> files) {
  Fd root(::open(out_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return {};  // nothing there yet: nothing in the way
  struct stat st;
  if (::fstatat(root.get(), name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  if (!S_ISDIR(st.st_mode))
    return shown() + " is " + file_kind(st.st_mode) +
           ", not a directory: dlhost keeps its own state there and does not follow it "
           "(remove it)";
  std::string error;
  const int dfd = dir_fd(false, &error);
  if (dfd < 0) return error;
  for (const char *file : files) {
    if (::fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
      return refused(shown(file), st.st_mode);
  }
  return {};
}

Fd StateDir::open(const char *name, int flags, mode_t mode, std::string *error) {
  const int dfd = dir_fd((flags & O_CREAT) != 0, error);
  if (dfd < 0) return Fd();
  Fd fd(::openat(dfd, name, flags | kSafe, mode));
  if (!fd) {
    struct stat st;
    const int err = errno;
    if (::fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
      set(error, refused(shown(name), st.st_mode));
    else
      set(error, "cannot open " + shown(name) + ": " + std::strerror(err));
    return Fd();
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    set(error, refused(shown(name), st.st_mode));
    return Fd();
  }
  if (!clear_nonblock(fd.get())) return Fd();
  return fd;
}

Fd StateDir::create_replacing(const char *name, mode_t mode) {
  const int dfd = dir_fd(true);
  if (dfd < 0) return Fd();
  if (::unlinkat(dfd, name, 0) != 0 && errno == EISDIR) return Fd();  // a directory stays
  Fd fd(::openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | kSafe, mode));
  if (fd && !clear_nonblock(fd.get())) return Fd();
  return fd;
}

Fd StateDir::anonymous() {
  const int dfd = dir_fd(true);
  if (dfd < 0) return Fd();
  Fd fd(::openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return fd;
  // A file system without O_TMPFILE: a fresh random name, unlinked at once.
  std::random_device random;
  const std::string name = ".tmp." + std::to_string(random()) + std::to_string(random());
  fd = create_replacing(name.c_str(), 0600);
  if (fd) ::unlinkat(dfd, name.c_str(), 0);
  return fd;
}

bool StateDir::rename(const char *from, const char *to) {
  const int dfd = dir_fd(false);
  return dfd >= 0 && ::renameat(dfd, from, dfd, to) == 0;
}

void StateDir::unlink(const char *name) {
  const int dfd = dir_fd(false);
  if (dfd >= 0) ::unlinkat(dfd, name, 0);
}

}  // namespace dlhost::util
