// Directories beneath the output directory, never through a link (see beneath.h).
#include "dlhost/util/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dlhost::util {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

std::atomic<bool> g_no_openat2{false};

std::string joined(std::string_view root, std::string_view rel) {
  std::string s(root);
  if (!rel.empty()) {
    if (s.empty() || s.back() != '/') s += '/';
    s.append(rel);
  }
  return s;
}

std::string link_message(std::string_view root, std::string_view rel) {
  return joined(root, rel) +
         " is a symbolic link: dlhost does not follow links inside the output directory "
         "(DOWNLOAD_FOLLOW_SYMLINKS=1 follows links to directories)";
}

// Every failure leaves errno at its cause (ELOOP for a link), so callers
// can tell a missing directory (ENOENT) from the rest.
int fail(std::string *error, std::string message, int err) {
  *error = std::move(message);
  errno = err;
  return -1;
}

int fail_errno(std::string *error, std::string_view root, std::string_view rel, int err) {
  return fail(error, "cannot open directory " + joined(root, rel) + ": " + std::strerror(err), err);
}

bool has_dotdot(std::string_view dir) {
  size_t i = 0;
  while (i <= dir.size()) {
    size_t slash = dir.find('/', i);
    if (slash == std::string_view::npos) slash = dir.size();
    if (dir.substr(i, slash - i) == "..") return true;
    i = slash + 1;
  }
  return false;
}

long sys_openat2(int dirfd, const char *path, int flags, unsigned long long resolve) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<unsigned long long>(flags);
  how.resolve = resolve;
  return ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

// One component below `at`: a new descriptor, or -1 with errno set (ELOOP
// for a link when links are not followed).
int open_component(int at, const std::string &name, bool follow_links, bool create) {
  const int flags = kDirFlags | (follow_links ? 0 : O_NOFOLLOW);
  int fd = ::openat(at, name.c_str(), flags);
  if (fd >= 0 || errno != ENOENT || !create) return fd;
  if (::mkdirat(at, name.c_str(), 0777) != 0 && errno != EEXIST) return -1;
  return ::openat(at, name.c_str(), flags);
}

// Why a component could not be opened as a directory, in one line.
int component_error(int at, const std::string &name, std::string_view root, std::string_view rel,
                    int err, std::string *error) {
  struct stat st;
  if ((err == ELOOP || err == ENOTDIR) &&
      ::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return fail(error, link_message(root, rel), ELOOP);
    if (!S_ISDIR(st.st_mode))
      return fail(error, joined(root, rel) + " is not a directory", ENOTDIR);
  }
  return fail_errno(error, root, rel, err);
}

}  // namespace

std::string normal_path(std::string_view path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::string out;
  out.reserve(path.size() + 1);
  size_t i = 0;
  while (i < path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(i, slash - i);
    if (!part.empty() && part != ".") {
      if (absolute || !out.empty()) out.push_back('/');  // relative stays relative
      out.append(part);
    }
    i = slash + 1;
  }
  if (absolute && out.empty()) out.push_back('/');
  return out;
}

int walk_dir_beneath(int root_fd, std::string_view root_path, std::string_view dir,
                     bool follow_links, bool create, std::string *error) {
  if (has_dotdot(dir))
    return fail(error, joined(root_path, dir) + ": \"..\" is not allowed", EINVAL);
  int cur = ::openat(root_fd, ".", kDirFlags);
  if (cur < 0) return fail_errno(error, root_path, "", errno);
  size_t i = 0;
  std::string name;
  while (i < dir.size()) {
    size_t slash = dir.find('/', i);
    if (slash == std::string_view::npos) slash = dir.size();
    name.assign(dir.substr(i, slash - i));
    i = slash + 1;
    if (name.empty() || name == ".") continue;
    int next = open_component(cur, name, follow_links, create);
    if (next < 0) {
      int err = errno;
      component_error(cur, name, root_path, dir.substr(0, slash), err, error);
      err = errno;
      ::close(cur);
      errno = err;
      return -1;
    }
    ::close(cur);
    cur = next;
  }
  return cur;
}

int open_dir_beneath(int root_fd, std::string_view root_path, std::string_view dir,
                     bool follow_links, bool create, std::string *error) {
  if (has_dotdot(dir))
    return fail(error, joined(root_path, dir) + ": \"..\" is not allowed", EINVAL);
  const std::string rel = dir.empty() ? std::string(".") : std::string(dir);
  int fd = -1;
  if (follow_links) {
    fd = ::openat(root_fd, rel.c_str(), kDirFlags);
  } else if (!g_no_openat2.load(std::memory_order_relaxed)) {
    fd = static_cast<int>(
        sys_openat2(root_fd, rel.c_str(), kDirFlags,
                    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
    if (fd < 0 && errno == ENOSYS) g_no_openat2.store(true);
  } else {
    errno = ENOSYS;
  }
  if (fd >= 0) return fd;
  const int err = errno;
  // ENOSYS: no openat2. ELOOP/EXDEV: a link on the way, named by the walk.
  // ENOENT with create, ENOTDIR: the walk makes or explains it. EAGAIN: a
  // rename raced the lookup; the walk does not mind.
  if (err == ENOSYS || err == ELOOP || err == EXDEV || err == EAGAIN || err == ENOTDIR ||
      (err == ENOENT && create))
    return walk_dir_beneath(root_fd, root_path, dir, follow_links, create, error);
  return fail_errno(error, root_path, dir, err);
}

OutputRoot::OutputRoot(std::string path, bool follow_links) : follow_(follow_links) {
  if (!path.empty()) path_ = normal_path(path);
}

OutputRoot::~OutputRoot() {
  int fd = fd_.load();
  if (fd >= 0) ::close(fd);
}

bool OutputRoot::split(std::string_view dest, std::string *dir, std::string *name,
                       std::string *error) const {
  std::string normal;
  std::string_view rest = dest;
  if (enabled()) {
    const bool at_root = path_ == "/";
    auto beneath = [&](std::string_view d) {
      if (at_root) return !d.empty() && d[0] == '/';
      return d.size() > path_.size() + 1 && d.starts_with(path_) && d[path_.size()] == '/';
    };
    if (!beneath(rest)) {  // the host may have written "./" or "//" in it
      normal = normal_path(dest);
      rest = normal;
      if (!beneath(rest)) {
        *error = std::string(dest) + " is not inside the output directory " + path_;
        return false;
      }
    }
    rest.remove_prefix(at_root ? 1 : path_.size() + 1);
    if (rest.starts_with("./") || rest.find("//") != std::string_view::npos ||
        rest.find("/./") != std::string_view::npos) {
      normal = normal_path(std::string(rest));
      rest = normal;
    }
  }
  const size_t slash = rest.rfind('/');
  std::string_view leaf = slash == std::string_view::npos ? rest : rest.substr(slash + 1);
  std::string_view parent =
      slash == std::string_view::npos ? std::string_view() : rest.substr(0, slash);
  if (!enabled() && parent.empty() && slash == 0) parent = "/";
  if (leaf.empty() || leaf == "." || leaf == ".." || (enabled() && has_dotdot(parent))) {
    *error = std::string(dest) + ": not a file name inside the output directory";
    return false;
  }
  dir->assign(parent);
  name->assign(leaf);
  return true;
}

int OutputRoot::root_fd(std::string *error) {
  int fd = fd_.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  std::lock_guard lock(mu_);
  fd = fd_.load(std::memory_order_relaxed);
  if (fd >= 0) return fd;
  fd = ::open(path_.c_str(), kDirFlags);
  if (fd < 0) return fail_errno(error, path_, "", errno);  // not cached: it may appear later
  fd_.store(fd, std::memory_order_release);
  return fd;
}

int OutputRoot::open_dir(std::string_view dir, bool create, std::string *error) {
  if (!enabled()) {  // as the host named it ("" = the working directory)
    const std::string d = dir.empty() ? std::string(".") : std::string(dir);
    int fd = ::open(d.c_str(), kDirFlags);
    if (fd < 0) return fail_errno(error, d, "", errno);
    return fd;
  }
  int root = root_fd(error);
  if (root < 0) return -1;
  return open_dir_beneath(root, path_, dir, follow_, create, error);
}

int DirCache::open(OutputRoot &root, std::string_view dir, bool create, std::string *error) {
  if (fd_ >= 0 && dir == dir_) return fd_;
  forget();
  fd_ = root.open_dir(dir, create, error);
  if (fd_ >= 0) dir_.assign(dir);
  return fd_;
}

void DirCache::forget() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  dir_.clear();
}

}  // namespace dlhost::util
