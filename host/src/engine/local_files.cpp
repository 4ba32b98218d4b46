// The output directory as the job sees it (see local_files.hpp).
#include "local_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

namespace dlhost {

LocalFiles::LocalFiles(std::string out_dir, bool follow_links)
    : out_dir_(std::move(out_dir)), root_(out_dir_, follow_links) {
  while (out_dir_.size() > 1 && out_dir_.back() == '/') out_dir_.pop_back();
}

std::string LocalFiles::dest(std::string_view relative) const {
  std::string d;
  d.reserve(out_dir_.size() + 1 + relative.size());
  d.append(out_dir_).append(1, '/').append(relative);
  return d;
}

// Below a missing directory nothing exists either.
bool LocalFiles::known_missing(std::string_view relative_dir) const {
  if (absent_dir_.empty()) return false;
  return relative_dir == absent_dir_ ||
         (relative_dir.size() > absent_dir_.size() && relative_dir.starts_with(absent_dir_) &&
          relative_dir[absent_dir_.size()] == '/');
}

bool LocalFiles::present(std::string_view relative, std::int64_t expected_size) {
  const auto slash = relative.rfind('/');
  const std::string_view dir =
      slash == std::string_view::npos ? std::string_view() : relative.substr(0, slash);
  if (!dir.empty() && known_missing(dir)) return false;
  int dfd = looked_at_.open(root_, dir, /*create=*/false, &error_);
  if (dfd < 0) {
    // Only an ENOENT is remembered: anything else (a link, a permission
    // problem) is for the plugin to report.
    if (errno == ENOENT && !dir.empty()) absent_dir_.assign(dir);
    return false;
  }
  name_.assign(slash == std::string_view::npos ? relative : relative.substr(slash + 1));
  struct stat st;
  if (::fstatat(dfd, name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
    return false;
  return expected_size < 0 || static_cast<std::int64_t>(st.st_size) == expected_size;
}

bool LocalFiles::make_parent(const std::string &dest, std::string *error) {
  if (!root_.split(dest, &dir_, &name_, error)) return false;
  return made_.open(root_, dir_, /*create=*/true, error) >= 0;
}

}  // namespace dlhost
