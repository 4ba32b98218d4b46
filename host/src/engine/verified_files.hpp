// What the job remembers about files it has checked against a sha256, so a
// rerun trusts a file it checked before without reading it again.
//
// A record says: the file with this (device, inode, size, mtime and ctime in
// ns) has this SHA-256. Any write to a file changes its ctime (or its inode,
// when it is replaced), and nobody but root can set a ctime back (utimensat
// sets the mtime, not the ctime), so a record that still matches a file's
// stat(2) still holds for its bytes: a same-size rewrite that restores the
// mtime is noticed.
//
// Records are authenticated: each carries an HMAC-SHA-256 (cut to 128 bits)
// under a key of the output directory, .dlhost/key, 32 random bytes kept
// 0600 and owned by the user dlhost runs as. A record that does not verify
// is never trusted (and is dropped at the next fold), so someone who can
// write the output directory but cannot read the key cannot plant a record
// ("this file of mine has the right sha256"). A key that is not a regular
// file of ours with mode 0600 is replaced, which makes every old record
// worthless: files are read again, never trusted wrongly.
// What it does not protect against: whoever can read the key (root, or the
// user dlhost runs as) can forge records; a file system where that user's
// files are writable by others; and root changing the clock to set a ctime.
// Deleting .dlhost/ only costs a re-read.
//
// Records come from two places: a file the plugin downloaded and verified
// against the manifest's sha256 (recorded when it completes: the plugin
// hashed it while writing), and a file the host found at its destination and
// hashed itself. Either way each file is read at most once.
//
// The state lives in <out>/.dlhost/, in two files of fixed 96-byte records:
//  - `verified`: every record, sorted by (device, inode). At open, every
//    64th key (one 6 KiB block's first) is kept in memory: 16 bytes per 64
//    files, 256 KiB for a million. A lookup finds its block with a binary
//    search there and reads that one block (pread), keeping the last few
//    blocks read; a rerun in manifest order meets files in roughly the order
//    they were created, so consecutive lookups mostly share a block. No order
//    of the manifest is assumed, and nothing grows with the job but the index.
//  - `verified.journal`: records made by this run, appended as they are made
//    (O_APPEND; a run that dies keeps what it appended). close() folds the
//    journal into `verified`: sorted in chunks of 16,384 records (1.5 MiB),
//    each written to a temporary run file, then merged with the old table in
//    one streaming pass; for one (device, inode) the newest record wins. A
//    journal left by a run that died is folded in when the next run opens.
// Memory is bounded by the index, the block cache and the chunk, whatever the
// number of files. Two runs sharing one output directory at once may lose the
// other's newest records when one folds the journal (flock keeps the files
// whole); a lost record only means that file is hashed once more.
// A damaged `verified` (wrong size, wrong header, out of order) is ignored and
// rebuilt from what is checked from then on. Every file here is opened
// beneath the output directory with no link followed and never blocks on a
// FIFO (util/state_dir.h); one that is not a regular file is not used.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlhost/util/fd.h"
#include "dlhost/util/state_dir.h"

struct stat;

namespace dlhost {

class VerifiedFiles {
 public:
  using Digest = std::array<unsigned char, 32>;

  // The state lives in <out_dir>/.dlhost, created on the first record.
  explicit VerifiedFiles(std::string out_dir);

  // Its files, for StateDir::check().
  static constexpr const char *kTable = "verified";
  static constexpr const char *kJournal = "verified.journal";
  static constexpr const char *kLock = "verified.lock";
  static constexpr const char *kTableTmp = "verified.tmp";
  static constexpr const char *kKey = "key";
  ~VerifiedFiles();
  VerifiedFiles(const VerifiedFiles &) = delete;
  VerifiedFiles &operator=(const VerifiedFiles &) = delete;

  // The SHA-256 recorded for the file `st` describes, if its record matches.
  std::optional<Digest> lookup(const struct stat &st);
  // Remembers that the file `st` describes has `digest` (best effort: a
  // state that cannot be written only costs a later re-read).
  void record(const struct stat &st, const Digest &digest);
  // Folds this run's records into the sorted table (the end of a job).
  void close();

  struct Record {
    std::uint64_t dev = 0, ino = 0;
    std::int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
    Digest sha256{};
    std::array<unsigned char, 16> mac{};  // HMAC-SHA-256 of the fields above, cut
    std::uint64_t reserved = 0;
  };
  static_assert(sizeof(Record) == 96);

 private:
  struct Block {
    std::uint64_t number = UINT64_MAX;
    std::uint64_t used = 0;  // when it was last looked at, for eviction
    std::vector<Record> records;
  };

  bool load_key();
  bool make_key();
  void seal(Record &r) const;
  bool sealed(const Record &r) const;
  void open_table();
  void flush_journal();
  void fold_journal();
  const Block *block(std::uint64_t number);

  util::StateDir dir_;
  util::Fd table_fd_;
  util::Fd journal_fd_;
  std::uint64_t table_records_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> index_;  // first key of each block
  std::array<Block, 8> cache_;
  std::uint64_t lookups_ = 0;
  std::vector<Record> pending_;  // made, not yet appended to the journal
  bool journal_written_ = false;
  std::array<unsigned char, 32> key_{};
  bool have_key_ = false;
};

}  // namespace dlhost
