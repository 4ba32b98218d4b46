// The file a download is written into: "<dest>.part".
//
// A PartFile is reusable: open() it for one destination, write() the body as
// it arrives, then end it with exactly one of commit(), discard() or keep().
// Writes go through a large in-memory buffer (256 KiB) straight to the file
// descriptor with write(2); every byte is fed to SHA-256 as it leaves the
// buffer, so the data is never read back. A file that fits the buffer is
// hashed and written only at commit(), so the thread that commits does that
// work (legacy's finisher thread and multi-proxy's CommitWorker use this to
// keep it off the thread that receives). A larger
// file is hashed on the shared HashWorker thread one full buffer at a time
// while this thread writes that buffer and fills a second one (two buffers,
// the second allocated on first need), so the hash runs on another core.
// open(..., resume=true) continues an existing .part: its prefix is hashed
// once, then new bytes are appended (the caller asks the server for a Range
// starting at size()). If the server ignores the Range, restart() empties the
// file and the hash.
// commit() flushes, checks size and sha256, optionally fsyncs, and renames
// onto the destination atomically; a file that fails the check is deleted, so
// nothing wrong is ever left at the destination or kept for a later resume.
// Error strings always name the path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "dlhost/transport/hash_worker.h"
#include "dlhost/transport/sha256.h"

namespace dlhost::transport {

enum class CommitResult { kOk, kVerifyFailed, kIoError };

class PartFile {
 public:
  static constexpr size_t kBufferSize = 256 * 1024;

  PartFile();
  ~PartFile();  // an open file is closed and kept (like keep())
  PartFile(const PartFile &) = delete;
  PartFile &operator=(const PartFile &) = delete;

  // Opens "<dest_path>.part". resume=false truncates it; resume=true keeps
  // and hashes any existing bytes. fsync_on_commit: fsync file and directory
  // in commit() (DOWNLOAD_FSYNC=1). hash=false skips SHA-256 (nothing to
  // verify it against). Returns false with error() set.
  bool open(std::string dest_path, bool resume, bool fsync_on_commit = false, bool hash = true);

  // Appends bytes. Returns false (error() set) if the file system refused.
  bool write(const void *data, size_t len);

  // Empties the file and the hash (server ignored a Range request).
  bool restart();

  // Flushes, verifies (expected_size < 0 and empty expected_sha256 mean
  // "unknown"), renames onto the destination. On kVerifyFailed the .part is
  // deleted; on kIoError it is deleted too. `message` receives a one-line
  // reason naming the path. The PartFile is closed afterwards.
  CommitResult commit(int64_t expected_size, std::string_view expected_sha256,
                      std::string *message);

  void discard();  // close and delete the .part
  void keep();     // close and leave the .part for a later resume

  bool is_open() const { return fd_ >= 0; }
  uint64_t size() const { return size_; }             // bytes so far, buffered included
  uint64_t resumed_from() const { return resumed_; }  // bytes found at open()
  const std::string &dest_path() const { return dest_; }
  const std::string &part_path() const { return part_; }
  const std::string &error() const { return error_; }
  // Lowercase hex digest of everything written; valid after a successful
  // commit() (empty when hashing was off).
  const std::string &sha256_hex() const { return digest_; }

 private:
  bool flush();
  bool flush_full();
  void wait_hashes();
  char *buf() { return bufs_[cur_].get(); }
  bool write_all(const char *data, size_t len);
  int open_part(bool &resume);
  bool hash_existing_prefix();
  bool fail(std::string_view what, int err);
  void close_fd();
  bool sync_and_close(std::string *message);

  int fd_ = -1;
  std::unique_ptr<char[]> bufs_[2];  // being filled: bufs_[cur_]
  HashJob jobs_[2];                  // a pending hash of that buffer
  int cur_ = 0;
  size_t buf_used_ = 0;
  uint64_t size_ = 0;
  uint64_t resumed_ = 0;
  bool fsync_ = false;
  bool hash_ = true;
  Sha256 sha_;
  std::string dest_, part_, error_, digest_;
};

}  // namespace dlhost::transport
