// The output directory as the job sees it (see local_files.hpp).
#include "local_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

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

LocalFiles::LocalFiles(std::string out_dir)
    : out_dir_(trimmed_dir(std::move(out_dir))), verified_(out_dir_ + "/.dlhost") {}

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

bool LocalFiles::present(std::string_view relative, std::int64_t expected_size,
                         std::string_view expected_sha256) {
  const auto slash = relative.rfind('/');
  if (slash != std::string_view::npos && directory_missing(relative.substr(0, slash))) return false;
  scratch_ = dest(relative);
  struct stat st;
  if (::lstat(scratch_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (expected_size >= 0 && static_cast<std::int64_t>(st.st_size) != expected_size) return false;
  return expected_sha256.empty() || content_matches(st, expected_sha256);
}

// scratch_ names the file `st` describes.
bool LocalFiles::content_matches(const struct stat &st, std::string_view expected_sha256) {
  const auto expected = digest_of_hex(expected_sha256);
  if (!expected) return false;
  if (const auto known = verified_.lookup(st)) return *known == *expected;
  const auto actual = hash_file(st);
  if (!actual) return false;
  verified_.record(st, *actual);  // what the file holds, whatever the manifest says
  return *actual == *expected;
}

// Reads the file at scratch_ once; nullopt when it cannot be read or it
// changed while being read.
std::optional<VerifiedFiles::Digest> LocalFiles::hash_file(const struct stat &st) {
  util::Fd fd(::open(scratch_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
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
  scratch_ = dest(relative);
  struct stat st;
  if (::lstat(scratch_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  verified_.record(st, *digest);
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
