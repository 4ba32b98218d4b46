// The output directory as the job sees it (see local_files.hpp).
#include "local_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "dlhost/util/digest.h"
#include "dlhost/util/fd.h"
#include "dlhost/util/text.h"

namespace dlhost {

namespace {

constexpr std::size_t kReadSize = 256 * 1024;

std::string trimmed_dir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::optional<VerifiedFiles::Digest> digest_of_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  VerifiedFiles::Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    const int hi = util::hex_value(hex[2 * i]), lo = util::hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return d;
}

bool same_file(const struct stat &a, const struct stat &b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

LocalFiles::LocalFiles(std::string out_dir, bool follow_links)
    : out_dir_(trimmed_dir(std::move(out_dir))),
      root_(out_dir_, follow_links),
      verified_(out_dir_) {}

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

// The descriptor of `relative`'s directory (opened beneath the output
// directory, never through a link) with name_ set to its file name; -1 when
// the directory is not there or cannot be opened safely.
int LocalFiles::open_dir_of(std::string_view relative) {
  const auto slash = relative.rfind('/');
  const std::string_view dir =
      slash == std::string_view::npos ? std::string_view() : relative.substr(0, slash);
  if (!dir.empty() && known_missing(dir)) return -1;
  const int dfd = looked_at_.open(root_, dir, /*create=*/false, &error_);
  if (dfd < 0) {
    // Only an ENOENT is remembered: anything else (a link, a permission
    // problem) is for the plugin to report.
    if (errno == ENOENT && !dir.empty()) absent_dir_.assign(dir);
    return -1;
  }
  name_.assign(slash == std::string_view::npos ? relative : relative.substr(slash + 1));
  return dfd;
}

bool LocalFiles::present(std::string_view relative, std::int64_t expected_size,
                         std::string_view expected_sha256) {
  const int dfd = open_dir_of(relative);
  if (dfd < 0) return false;
  struct stat st;
  if (::fstatat(dfd, name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
    return false;
  if (expected_size >= 0 && static_cast<std::int64_t>(st.st_size) != expected_size) return false;
  return expected_sha256.empty() || content_matches(dfd, st, expected_sha256);
}

// name_ (in directory `dfd`) is the file `st` describes.
bool LocalFiles::content_matches(int dfd, const struct stat &st, std::string_view expected_sha256) {
  const auto expected = digest_of_hex(expected_sha256);
  if (!expected) return false;
  if (const auto known = verified_.lookup(st)) return *known == *expected;
  const auto actual = hash_file(dfd, st);
  if (!actual) return false;
  verified_.record(st, *actual);  // what the file holds, whatever the manifest says
  return *actual == *expected;
}

// Reads name_ once; nullopt when it cannot be read or it changed while being
// read.
std::optional<VerifiedFiles::Digest> LocalFiles::hash_file(int dfd, const struct stat &st) {
  util::Fd fd(::openat(dfd, name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat now;
  if (!fd || ::fstat(fd.get(), &now) != 0 || !same_file(st, now)) return std::nullopt;
  read_buffer_.resize(kReadSize);
  util::Sha256 sha;
  while (true) {
    const ssize_t n = ::read(fd.get(), read_buffer_.data(), read_buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    sha.update(read_buffer_.data(), static_cast<std::size_t>(n));
  }
  if (::fstat(fd.get(), &now) != 0 || !same_file(st, now)) return std::nullopt;
  return sha.final_digest();
}

void LocalFiles::remember_verified(std::string_view relative, std::string_view sha256) {
  const auto digest = digest_of_hex(sha256);
  if (!digest) return;
  // The plugin made the file, and maybe its directory, after present()
  // learned that directory was missing: that is no longer so.
  absent_dir_.clear();
  const int dfd = open_dir_of(relative);
  if (dfd < 0) return;
  struct stat st;
  if (::fstatat(dfd, name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return;
  verified_.record(st, *digest);
}

bool LocalFiles::make_parent(const std::string &dest, std::string *error) {
  if (!root_.split(dest, &dir_, &name_, error)) return false;
  return made_.open(root_, dir_, /*create=*/true, error) >= 0;
}

}  // namespace dlhost
