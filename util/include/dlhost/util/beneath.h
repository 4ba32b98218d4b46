// Opening directories beneath the output directory without following links.
//
// A manifest path names a file inside the output directory, but the tree on
// disk may hold symbolic links, planted by someone else or left by an earlier
// job. dlhost often runs as root: following such a link while creating,
// truncating or renaming a file would write outside the output directory.
// So every directory a file goes into is opened relative to a descriptor of
// the output directory (the root) and never through a link:
//  - openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel has it
//    (Linux 5.6 and later): one system call per directory;
//  - otherwise (ENOSYS: an older kernel, or a seccomp filter that does not
//    know the call) a walk that opens one component at a time with
//    O_NOFOLLOW | O_DIRECTORY. The walk also names the link when openat2
//    refused one, so the error says which directory is the problem.
// With follow_links (DOWNLOAD_FOLLOW_SYMLINKS=1) links to directories are
// followed, wherever they point: the user made them. ".." is refused either
// way. The root itself is opened once, as given (a root that is a link is the
// user's choice). Files inside the directory are the caller's business: open
// them with openat(dirfd, name, ... | O_NOFOLLOW) and rename with renameat().
//
// OutputRoot is the root of one job, shared by every transfer slot (it is
// thread-safe); DirCache keeps the descriptor of the last directory a slot
// used, so a run of files in one directory costs one open, as the host's own
// "last directory made" does. Without a root (a host that does not pass
// DOWNLOAD_DIR), each destination's directory is opened as the host named it.
// This file uses POSIX only, so the host links it too (the host creates the
// parent directories the same way). Nothing C++ crosses the plugin ABI.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

namespace dlhost::util {

// The lexically normal form of an absolute path: no "//", no "." components,
// no trailing slash. ".." components are kept (callers refuse them).
std::string normal_path(std::string_view path);

// Opens `dir` (relative to root_fd; "" = the root itself) as an
// O_RDONLY|O_DIRECTORY descriptor without following links (unless
// follow_links), creating missing directories when `create`. `root_path`
// only names things in errors. Returns -1 with a one-line *error naming the
// offending path.
int open_dir_beneath(int root_fd, std::string_view root_path, std::string_view dir,
                     bool follow_links, bool create, std::string *error);

// The component-by-component walk open_dir_beneath() falls back to (exposed
// so tests can run it on any kernel).
int walk_dir_beneath(int root_fd, std::string_view root_path, std::string_view dir,
                     bool follow_links, bool create, std::string *error);

class OutputRoot {
 public:
  OutputRoot() = default;  // no root: directories are opened as named
  OutputRoot(std::string path, bool follow_links);
  ~OutputRoot();
  OutputRoot(const OutputRoot &) = delete;
  OutputRoot &operator=(const OutputRoot &) = delete;

  bool enabled() const { return !path_.empty(); }
  const std::string &path() const { return path_; }
  bool follow_links() const { return follow_; }

  // Splits an absolute destination into its directory (relative to the root,
  // or absolute without a root) and its file name. False with *error when it
  // does not lie beneath the root, names no file, or climbs with "..".
  bool split(std::string_view dest, std::string *dir, std::string *name, std::string *error) const;

  // A new descriptor of `dir` (from split()); -1 with *error. The caller closes it.
  int open_dir(std::string_view dir, bool create, std::string *error);

 private:
  int root_fd(std::string *error);

  std::string path_;  // normal_path() of the root; "" = none
  bool follow_ = false;
  std::mutex mu_;  // opening the root
  std::atomic<int> fd_{-1};
};

// The descriptor of the directory one slot used last.
class DirCache {
 public:
  DirCache() = default;
  ~DirCache() { forget(); }
  DirCache(const DirCache &) = delete;
  DirCache &operator=(const DirCache &) = delete;

  // The descriptor of `dir` (a split() result), opened through `root` unless
  // it is the cached one; -1 with *error. Valid until the next call or forget().
  int open(OutputRoot &root, std::string_view dir, bool create, std::string *error);
  int fd() const { return fd_; }
  void forget();  // close (the directory may have been replaced)

 private:
  int fd_ = -1;
  std::string dir_;
};

}  // namespace dlhost::util
