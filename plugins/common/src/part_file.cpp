// PartFile: buffered, hashed writes into "<dest>.part" and an atomic commit
// (see part_file.h). Uses POSIX calls directly so errors carry errno text.
#include "dlhost/transport/part_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dlhost::transport {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string parent_dir(const std::string &path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
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

bool PartFile::open(std::string dest_path, bool resume, bool fsync_on_commit, bool hash) {
  close_fd();
  dest_ = std::move(dest_path);
  part_.assign(dest_).append(".part");  // reuses the buffer of the last file
  error_.clear();
  digest_.clear();
  size_ = resumed_ = 0;
  fsync_ = fsync_on_commit;
  hash_ = hash;
  sha_.reset();
  fd_ = open_part(resume);
  if (fd_ < 0) return fail("cannot open", errno);
  if (resume && !hash_existing_prefix()) {
    close_fd();
    return false;
  }
  resumed_ = size_;
  return true;
}

// One open(2) in the common case. Resuming tries O_EXCL first: a .part that
// did not exist is new and empty, so there is nothing to read back; only an
// existing one is opened again and its prefix hashed.
int PartFile::open_part(bool &resume) {
  constexpr int kFlags = O_RDWR | O_CREAT | O_CLOEXEC;
  if (!resume) return ::open(part_.c_str(), kFlags | O_TRUNC, 0644);
  int fd = ::open(part_.c_str(), kFlags | O_EXCL, 0644);
  if (fd >= 0) {
    resume = false;
    return fd;
  }
  if (errno != EEXIST) return -1;
  return ::open(part_.c_str(), kFlags, 0644);
}

bool PartFile::hash_existing_prefix() {
  for (;;) {
    ssize_t n = ::read(fd_, buf(), kBufferSize);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read", errno);
    if (n == 0) return true;  // the offset now sits at the end: appends follow
    if (hash_) sha_.update(buf(), static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
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
  sha_.reset();
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
    ::unlink(part_.c_str());
    return CommitResult::kIoError;
  }
  if (hash_) digest_ = sha_.final_hex();
  if (expected_size >= 0 && size_ != static_cast<uint64_t>(expected_size)) {
    *message = "size mismatch for " + dest_ + ": expected " + std::to_string(expected_size) +
               " bytes, got " + std::to_string(size_);
    ::unlink(part_.c_str());
    return CommitResult::kVerifyFailed;
  }
  if (!expected_sha256.empty() && !(hash_ && equal_hex(digest_, expected_sha256))) {
    *message = "sha256 mismatch for " + dest_ + ": expected " + std::string(expected_sha256) +
               ", got " + (hash_ ? digest_ : std::string("(not hashed)"));
    ::unlink(part_.c_str());
    return CommitResult::kVerifyFailed;
  }
  if (std::rename(part_.c_str(), dest_.c_str()) != 0) {
    int err = errno;
    *message = "cannot rename " + part_ + " to " + dest_ + ": " + errno_text(err);
    ::unlink(part_.c_str());
    return CommitResult::kIoError;
  }
  if (fsync_) {
    int dfd = ::open(parent_dir(dest_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return CommitResult::kOk;
}

void PartFile::discard() {
  if (fd_ < 0) return;
  close_fd();
  ::unlink(part_.c_str());
}

void PartFile::keep() {
  if (fd_ < 0) return;
  flush();  // best effort: what is buffered belongs to the resumable prefix
  close_fd();
}

}  // namespace dlhost::transport
