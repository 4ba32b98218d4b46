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
//
// Where the bytes go: the destination's directory is opened beneath the
// output directory without following links (OutputRoot/DirCache, see
// beneath.h; the slot keeps the last directory's descriptor), the .part is
// opened relative to it with O_NOFOLLOW, and commit() renames it with
// renameat(), which replaces a link at the destination rather than writing
// through it. A link (or a hard link, or anything not a plain file) found
// at the .part is removed and a new .part is made: it is never written
// through.
//
// Resuming: beside a .part that holds bytes lies "<dest>.part.meta", a small
// sidecar with the validator (ETag, else Last-Modified) and the total size
// the server declared for those bytes (set_meta(); written at once for a
// large file, else when the .part is kept, so a small file that completes in
// one go costs no extra file). open(..., resume=true) then decides:
//  - a .part as long as the whole file (the manifest's size, else the
//    recorded total) is complete(): it was verified against the sha256 when
//    one is given, and the caller commits it without a request;
//  - a shorter .part with a validator is continued: its prefix is hashed
//    once and new bytes are appended (the caller asks for a Range starting
//    at size(), with If-Range: meta().validator);
//  - anything else (no sidecar, no validator, longer than the file, or a
//    complete-sized .part whose sha256 does not match) starts from zero.
// If the server ignores the Range (or the validator no longer matches: a 200
// instead of a 206), restart() empties the file, the hash and the sidecar.
// keep() never leaves a 0-byte .part: there is nothing in it to resume.
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

#include "dlhost/util/beneath.h"
#include "dlhost/transport/hash_worker.h"
#include "dlhost/transport/sha256.h"

namespace dlhost::transport {

enum class CommitResult { kOk, kVerifyFailed, kIoError };

// What a .part's bytes are a prefix of (the sidecar's content).
struct PartMeta {
  std::string validator;  // a strong ETag, else the Last-Modified date; "" = none
  int64_t total = -1;     // the whole file's size as the server declared it; -1 = unknown
};

struct PartOptions {
  bool resume = true;          // false: start from zero whatever lies there
  bool fsync = false;          // fsync file and directory in commit() (DOWNLOAD_FSYNC=1)
  bool hash = true;            // false: no SHA-256 (nothing to verify it against)
  int64_t expected_size = -1;  // the manifest's size (-1 = unknown)
  std::string_view sha256;     // the manifest's digest ("" = none); checks a complete .part
};

class PartFile {
 public:
  static constexpr size_t kBufferSize = 256 * 1024;

  PartFile();
  ~PartFile();  // an open file is closed and kept (like keep())
  PartFile(const PartFile &) = delete;
  PartFile &operator=(const PartFile &) = delete;

  // Where destinations lie (nullptr, the default: opened as named). The
  // root must outlive the PartFile.
  void set_root(util::OutputRoot *root) { root_ = root; }

  // Opens "<dest_path>.part" as the comment on top says. Returns false with
  // error() set.
  bool open(std::string dest_path, const PartOptions &options);
  bool open(std::string dest_path, bool resume, bool fsync_on_commit = false, bool hash = true) {
    return open(std::move(dest_path), PartOptions{resume, fsync_on_commit, hash, -1, {}});
  }
  // The .part found at open() is the whole file, verified: commit it as it is.
  bool complete() const { return complete_; }
  const PartMeta &meta() const { return meta_; }
  // The validator and total of the response now being written. persist_now
  // writes the sidecar at once (a file worth resuming after a crash);
  // otherwise keep() writes it.
  bool set_meta(PartMeta meta, bool persist_now);

  // Appends bytes. Returns false (error() set) if the file system refused.
  bool write(const void *data, size_t len);

  // Empties the file, the hash and the sidecar (the server ignored a Range
  // request, or the .part's validator no longer matches).
  bool restart();

  // Flushes, verifies (expected_size < 0 and empty expected_sha256 mean
  // "unknown"), renames onto the destination. On kVerifyFailed the .part is
  // deleted; on kIoError it is deleted too. `message` receives a one-line
  // reason naming the path. The PartFile is closed afterwards.
  CommitResult commit(int64_t expected_size, std::string_view expected_sha256,
                      std::string *message);

  void discard();  // close and delete the .part and its sidecar
  void keep();     // close and leave the .part (if it has bytes) for a later resume

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
  bool locate(const std::string &dest_path);
  int open_part(bool &resume);
  int create_part();
  bool adopt_existing(const PartOptions &options);
  bool hash_existing_prefix();
  bool prefix_matches(std::string_view sha256);
  bool read_meta(uint64_t inode);
  bool write_meta();
  void remove_meta();
  void drop_part();
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
  bool complete_ = false;
  int64_t expected_size_ = -1;
  bool meta_on_disk_ = false;  // the sidecar exists (it is removed with the .part)
  PartMeta meta_;
  Sha256 sha_;
  util::OutputRoot *root_ = nullptr;
  util::DirCache dir_;                       // the destination's directory
  std::string dir_rel_, name_;         // split() of dest_: directory, file name
  std::string part_name_, meta_name_;  // relative to dir_
  std::string dest_, part_, error_, digest_;
};

// Deletes what earlier attempts at `dest_path` left (the .part and its
// sidecar), never through a link (root may be null: none). False with
// *error when the directory cannot be opened safely.
bool remove_part_files(util::OutputRoot *root, const std::string &dest_path, std::string *error);

}  // namespace dlhost::transport
