// The output directory as the job sees it (see local_files.hpp).
#include "local_files.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

namespace dlhost {

LocalFiles::LocalFiles(std::string out_dir) : out_dir_(std::move(out_dir)) {
  while (out_dir_.size() > 1 && out_dir_.back() == '/') out_dir_.pop_back();
}

std::string LocalFiles::dest(std::string_view relative) const {
  std::string d;
  d.reserve(out_dir_.size() + 1 + relative.size());
  d.append(out_dir_).append(1, '/').append(relative);
  return d;
}

// True when `relative_dir` is known, or found, not to exist. Only an ENOENT
// counts: anything else (a permission problem) is left to the per-file check.
bool LocalFiles::directory_missing(std::string_view relative_dir) {
  if (!absent_dir_.empty()) {
    // Below a missing directory nothing exists either.
    if (relative_dir == absent_dir_ ||
        (relative_dir.size() > absent_dir_.size() && relative_dir.starts_with(absent_dir_) &&
         relative_dir[absent_dir_.size()] == '/'))
      return true;
  }
  scratch_ = dest(relative_dir);
  struct stat st;
  if (::stat(scratch_.c_str(), &st) == 0 || errno != ENOENT) return false;
  absent_dir_.assign(relative_dir);
  return true;
}

bool LocalFiles::present(std::string_view relative, std::int64_t expected_size) {
  const auto slash = relative.rfind('/');
  if (slash != std::string_view::npos && directory_missing(relative.substr(0, slash))) return false;
  scratch_ = dest(relative);
  struct stat st;
  if (::stat(scratch_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  return expected_size < 0 || static_cast<std::int64_t>(st.st_size) == expected_size;
}

bool LocalFiles::make_parent(const std::string &dest, std::error_code &ec) {
  ec.clear();
  const auto slash = dest.rfind('/');
  if (slash == std::string::npos || slash == 0) return true;
  const std::string_view parent(dest.data(), slash);
  if (parent == last_made_) return true;
  std::filesystem::create_directories(std::filesystem::path(parent), ec);
  if (ec) return false;
  last_made_.assign(parent);
  return true;
}

}  // namespace dlhost
