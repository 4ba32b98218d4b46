// PartFile: buffered, hashed writes into "<dest>.part", its sidecar, and an
// atomic commit (see part_file.h). Uses POSIX calls directly so errors carry
// errno text; every name is opened relative to the destination's directory.
#include "dlhost/transport/part_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace dlhost::transport {
namespace {

constexpr int kPartFlags = O_RDWR | O_CLOEXEC | O_NOFOLLOW;
constexpr std::string_view kMetaMagic = "dlhost-part 1";
constexpr size_t kMetaMax = 8192;

std::string errno_text(int err) {
  return std::strerror(err);
}

bool equal_hex(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

util::OutputRoot &no_root() {
  static util::OutputRoot none;
  return none;
}

// A plain file with one name: safe to write. A hard link could be another
// file's inode (outside the output directory, too).
bool plain_file(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
}

// "dlhost-part 1\n<inode>\n<total>\n<validator>\n" -> meta, if it belongs to `inode`.
bool parse_meta(std::string_view text, uint64_t inode, PartMeta *out) {
  std::string_view lines[4];
  for (auto &line : lines) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
  }
  uint64_t ino = 0;
  int64_t total = -1;
  auto num = [](std::string_view s, auto *v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return ec == std::errc() && end == s.data() + s.size();
  };
  if (lines[0] != kMetaMagic || !num(lines[1], &ino) || ino != inode || !num(lines[2], &total))
    return false;
  out->total = total;
  out->validator.assign(lines[3]);
  return true;
}

}  // namespace

PartFile::PartFile() {
  bufs_[0].reset(new char[kBufferSize]);
}

PartFile::~PartFile() {
  keep();
  wait_hashes();
}

bool PartFile::fail(std::string_view what, int err) {
  error_ = std::string(what) + " " + part_ + ": " + errno_text(err);
  return false;
}

void PartFile::close_fd() {
  wait_hashes();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_used_ = 0;
}

bool PartFile::open(std::string dest_path, const PartOptions &options) {
  close_fd();
  dest_ = std::move(dest_path);
  part_.assign(dest_).append(".part");  // reuses the buffer of the last file
  error_.clear();
  digest_.clear();
  size_ = resumed_ = 0;
  fsync_ = options.fsync;
  hash_ = options.hash;
  complete_ = false;
  expected_size_ = options.expected_size;
  meta_ = PartMeta{};
  meta_on_disk_ = false;
  sha_.reset();
  if (!locate(dest_)) return false;
  bool resume = options.resume;
  fd_ = open_part(resume);
  if (fd_ < 0 && errno == ENOENT) {  // the cached directory was removed meanwhile
    dir_.forget();
    if (!locate(dest_)) return false;
    resume = options.resume;
    fd_ = open_part(resume);
  }
  if (fd_ < 0) return fail("cannot open", errno);
  if (resume && !adopt_existing(options)) {
    close_fd();
    return false;
  }
  resumed_ = size_;
  return true;
}

// Splits the destination and opens its directory (the slot's cached one
// when it is the same).
bool PartFile::locate(const std::string &dest_path) {
  util::OutputRoot &root = root_ != nullptr ? *root_ : no_root();
  if (!root.split(dest_path, &dir_rel_, &name_, &error_)) return false;
  part_name_.assign(name_).append(".part");
  meta_name_.assign(part_name_).append(".meta");
  return dir_.open(root, dir_rel_, /*create=*/false, &error_) >= 0;
}

int PartFile::create_part() {
  return ::openat(dir_.fd(), part_name_.c_str(), kPartFlags | O_CREAT | O_EXCL, 0644);
}

// One openat(2) in the common case: O_EXCL first, since a .part that did not
// exist is new and empty, so there is nothing to read back. Only an existing
// one is opened again (resume) or replaced (no resume). Whatever is not a
// plain file with one name (a link, a hard link) is removed, never written
// through, and the file starts from zero.
int PartFile::open_part(bool &resume) {
  int fd = create_part();
  if (fd >= 0 || errno != EEXIST) {
    resume = false;
    return fd;
  }
  if (resume) {
    fd = ::openat(dir_.fd(), part_name_.c_str(), kPartFlags);
    if (fd >= 0 && plain_file(fd)) return fd;
    if (fd >= 0) {
      ::close(fd);
    } else if (errno != ELOOP) {
      return -1;
    }
  }
  resume = false;
  ::unlinkat(dir_.fd(), meta_name_.c_str(), 0);  // describes the bytes being dropped
  if (::unlinkat(dir_.fd(), part_name_.c_str(), 0) != 0 && errno != ENOENT) return -1;
  return create_part();
}

// An existing .part: complete, continued, or emptied (see part_file.h).
bool PartFile::adopt_existing(const PartOptions &options) {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return fail("cannot stat", errno);
  if (st.st_size == 0) return true;
  read_meta(static_cast<uint64_t>(st.st_ino));
  const uint64_t have = static_cast<uint64_t>(st.st_size);
  const int64_t whole = options.expected_size >= 0 ? options.expected_size : meta_.total;
  if (whole >= 0 && have == static_cast<uint64_t>(whole)) {
    if (!hash_existing_prefix()) return false;
    if (options.sha256.empty() || prefix_matches(options.sha256)) {
      complete_ = true;
      return true;
    }
    return restart();  // the right size, the wrong bytes
  }
  const bool resumable =
      !meta_.validator.empty() && (whole < 0 || have < static_cast<uint64_t>(whole));
  if (!resumable) return restart();
  return hash_existing_prefix();
}

bool PartFile::prefix_matches(std::string_view sha256) {
  if (!hash_) return false;
  digest_ = sha_.final_hex();
  if (equal_hex(digest_, sha256)) return true;
  digest_.clear();
  return false;
}

bool PartFile::hash_existing_prefix() {
  if (!hash_) {  // nothing to verify against: only the length matters
    off_t end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0) return fail("cannot seek", errno);
    size_ = static_cast<uint64_t>(end);
    return true;
  }
  for (;;) {
    ssize_t n = ::read(fd_, buf(), kBufferSize);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read", errno);
    if (n == 0) return true;  // the offset now sits at the end: appends follow
    sha_.update(buf(), static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
}

bool PartFile::read_meta(uint64_t inode) {
  int fd = ::openat(dir_.fd(), meta_name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    meta_on_disk_ = errno != ENOENT;  // a link there: not read, but removed with the .part
    return false;
  }
  char text[kMetaMax];
  ssize_t n = ::read(fd, text, sizeof text);
  ::close(fd);
  meta_on_disk_ = true;  // ours or stale: removed with the .part either way
  return n > 0 && parse_meta(std::string_view(text, static_cast<size_t>(n)), inode, &meta_);
}

// A new file each time (O_EXCL after unlinking the old one): a planted link
// or hard link at the sidecar's name is replaced, never written through.
bool PartFile::write_meta() {
  struct stat st;
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return false;
  std::string text(kMetaMagic);
  text.append("\n").append(std::to_string(st.st_ino)).append("\n");
  text.append(std::to_string(meta_.total)).append("\n").append(meta_.validator).append("\n");
  if (text.size() > kMetaMax) return false;
  ::unlinkat(dir_.fd(), meta_name_.c_str(), 0);
  int fd = ::openat(dir_.fd(), meta_name_.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return false;
  meta_on_disk_ = true;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (::close(fd) != 0) ok = false;
  if (!ok) remove_meta();
  return ok;
}

void PartFile::remove_meta() {
  if (!meta_on_disk_) return;
  ::unlinkat(dir_.fd(), meta_name_.c_str(), 0);
  meta_on_disk_ = false;
}

bool PartFile::set_meta(PartMeta meta, bool persist_now) {
  meta_ = std::move(meta);
  if (meta_.validator.empty()) {
    remove_meta();
    return true;
  }
  return !persist_now || write_meta();
}

bool PartFile::write_all(const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd_, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write", errno);
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Hashing happens on the way out of the buffer. flush() hashes in place: a
// small file is hashed and written by whichever thread commits it (legacy
// commits on a second thread, overlapping the next download).
bool PartFile::flush() {
  wait_hashes();  // earlier buffers first: the updates keep their order
  if (buf_used_ == 0) return true;
  if (hash_) sha_.update(buf(), buf_used_);
  bool ok = write_all(buf(), buf_used_);
  buf_used_ = 0;
  return ok;
}

// A full buffer while the file streams: the HashWorker hashes it while this
// thread writes it, then filling goes on in the other buffer (once that one's
// own hash is done).
bool PartFile::flush_full() {
  if (!hash_) return flush();
  const int next = cur_ ^ 1;
  if (!bufs_[next]) bufs_[next].reset(new char[kBufferSize]);
  HashWorker &worker = HashWorker::shared();
  worker.post(jobs_[cur_], sha_, buf(), buf_used_);
  bool ok = write_all(buf(), buf_used_);
  buf_used_ = 0;
  worker.wait(jobs_[next]);
  cur_ = next;
  return ok;
}

void PartFile::wait_hashes() {
  for (HashJob &job : jobs_) {
    if (!job.done()) HashWorker::shared().wait(job);
  }
}

bool PartFile::write(const void *data, size_t len) {
  if (fd_ < 0) {
    error_ = "write to a closed file " + part_;
    return false;
  }
  const char *p = static_cast<const char *>(data);
  size_ += len;
  if (!hash_ && len >= kBufferSize) {  // nothing to hash: write big chunks through
    return flush() && write_all(p, len);
  }
  while (len > 0) {
    size_t n = std::min(len, kBufferSize - buf_used_);
    std::memcpy(buf() + buf_used_, p, n);
    buf_used_ += n;
    p += n;
    len -= n;
    if (buf_used_ == kBufferSize && !flush_full()) return false;
  }
  return true;
}

bool PartFile::restart() {
  wait_hashes();
  buf_used_ = 0;
  size_ = resumed_ = 0;
  complete_ = false;
  digest_.clear();
  sha_.reset();
  meta_ = PartMeta{};
  remove_meta();
  if (::ftruncate(fd_, 0) != 0) return fail("cannot truncate", errno);
  if (::lseek(fd_, 0, SEEK_SET) < 0) return fail("cannot seek", errno);
  return true;
}

bool PartFile::sync_and_close(std::string *message) {
  bool ok = flush();
  if (ok && fsync_ && ::fsync(fd_) != 0) ok = fail("cannot fsync", errno);
  if (::close(fd_) != 0 && ok) ok = fail("cannot close", errno);
  fd_ = -1;
  if (!ok) *message = error_;
  return ok;
}

CommitResult PartFile::commit(int64_t expected_size, std::string_view expected_sha256,
                              std::string *message) {
  std::string scratch;
  if (message == nullptr) message = &scratch;
  if (fd_ < 0) {
    *message = "commit of a closed file " + part_;
    return CommitResult::kIoError;
  }
  if (!sync_and_close(message)) {
    drop_part();
    return CommitResult::kIoError;
  }
  if (hash_ && digest_.empty()) digest_ = sha_.final_hex();  // complete(): already final
  if (expected_size >= 0 && size_ != static_cast<uint64_t>(expected_size)) {
    *message = "size mismatch for " + dest_ + ": expected " + std::to_string(expected_size) +
               " bytes, got " + std::to_string(size_);
    drop_part();
    return CommitResult::kVerifyFailed;
  }
  if (!expected_sha256.empty() && !(hash_ && equal_hex(digest_, expected_sha256))) {
    *message = "sha256 mismatch for " + dest_ + ": expected " + std::string(expected_sha256) +
               ", got " + (hash_ ? digest_ : std::string("(not hashed)"));
    drop_part();
    return CommitResult::kVerifyFailed;
  }
  // renameat replaces whatever is at the destination, a link included,
  // without following it.
  if (::renameat(dir_.fd(), part_name_.c_str(), dir_.fd(), name_.c_str()) != 0) {
    int err = errno;
    *message = "cannot rename " + part_ + " to " + dest_ + ": " + errno_text(err);
    drop_part();
    return CommitResult::kIoError;
  }
  remove_meta();
  if (fsync_) ::fsync(dir_.fd());
  return CommitResult::kOk;
}

void PartFile::drop_part() {
  ::unlinkat(dir_.fd(), part_name_.c_str(), 0);
  remove_meta();
}

void PartFile::discard() {
  if (fd_ < 0) return;
  close_fd();
  drop_part();
}

// A .part is worth keeping when a later attempt can use it: it has bytes,
// and a validator to resume them with (or it is already the whole file).
void PartFile::keep() {
  if (fd_ < 0) return;
  flush();  // best effort: what is buffered belongs to the resumable prefix
  const bool whole = expected_size_ >= 0 && size_ == static_cast<uint64_t>(expected_size_);
  if (size_ == 0 || (meta_.validator.empty() && !whole)) {
    discard();
    return;
  }
  if (!meta_.validator.empty() && !meta_on_disk_) write_meta();
  close_fd();
}

bool remove_part_files(util::OutputRoot *root, const std::string &dest_path, std::string *error) {
  util::OutputRoot &r = root != nullptr ? *root : no_root();
  std::string dir, name;
  if (!r.split(dest_path, &dir, &name, error)) return false;
  int dfd = r.open_dir(dir, /*create=*/false, error);
  if (dfd < 0) return false;
  const std::string part = name + ".part";
  ::unlinkat(dfd, (part + ".meta").c_str(), 0);
  bool ok = ::unlinkat(dfd, part.c_str(), 0) == 0 || errno == ENOENT;
  if (!ok) *error = "cannot remove " + dest_path + ".part: " + errno_text(errno);
  ::close(dfd);
  return ok;
}

}  // namespace dlhost::transport
