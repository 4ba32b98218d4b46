// The job's memory of checked files; see verified_files.hpp for the design.
#include "verified_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <tuple>
#include <utility>

#include "dlhost/util/digest.h"

namespace dlhost {
namespace {

using util::Fd;
using util::write_all;
using Record = VerifiedFiles::Record;

constexpr std::size_t kRecord = sizeof(Record);
constexpr std::size_t kBlockRecords = 64;     // 6 KiB: one pread per lookup at most
constexpr std::size_t kChunkRecords = 16384;  // 1.5 MiB sorted in memory when folding
constexpr std::size_t kReadRecords = 1024;    // 96 KiB per read when streaming
constexpr std::size_t kJournalBuffer = 256;   // records kept before one append
constexpr char kMagic[] = "dlhost verified-files 2\n";
constexpr std::size_t kSealed = offsetof(Record, mac);  // the bytes the MAC covers

using Key = std::pair<std::uint64_t, std::uint64_t>;

Key key_of(const Record &r) {
  return {r.dev, r.ino};
}

std::int64_t ns(const struct timespec &t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// The one-record header both files start with (so records stay aligned to their size).
std::array<char, kRecord> header() {
  std::array<char, kRecord> h{};
  std::memcpy(h.data(), kMagic, sizeof kMagic - 1);
  return h;
}

ssize_t pread_all(int fd, void *data, std::size_t n, off_t offset) {
  char *p = static_cast<char *>(data);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, offset + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

// Records in a file of ours, or -1 when it is not one (missing, damaged).
// A partial record at the end (a write cut short) does not count.
std::int64_t records_in(int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kRecord)) return -1;
  std::array<char, kRecord> h{};
  if (pread_all(fd, h.data(), h.size(), 0) != static_cast<ssize_t>(h.size()) || h != header())
    return -1;
  return (st.st_size - static_cast<off_t>(kRecord)) / static_cast<off_t>(kRecord);
}

// Makes the journal `fd` ready for appending whole records: a new or
// damaged one starts over with a header, one that ends in a partial record
// (a write cut short) is cut back to its last whole record.
bool start_journal(int fd) {
  const auto count = records_in(fd);
  if (count < 0) {
    const auto h = header();
    return ::ftruncate(fd, 0) == 0 && write_all(fd, h.data(), h.size());
  }
  return ::ftruncate(fd, static_cast<off_t>(kRecord) * (count + 1)) == 0;
}

// Streams the records of one file in order, kReadRecords at a time.
class RecordReader {
 public:
  RecordReader(int fd, std::uint64_t count) : fd_(fd), left_(count) {}
  bool next(Record &out) {
    if (at_ == buffer_.size()) {
      if (left_ == 0) return false;
      buffer_.resize(std::min<std::uint64_t>(left_, kReadRecords));
      const auto bytes = buffer_.size() * kRecord;
      if (pread_all(fd_, buffer_.data(), bytes, offset_) != static_cast<ssize_t>(bytes))
        return false;
      offset_ += static_cast<off_t>(bytes);
      left_ -= buffer_.size();
      at_ = 0;
    }
    out = buffer_[at_++];
    return true;
  }

 private:
  int fd_;
  std::uint64_t left_;
  off_t offset_ = static_cast<off_t>(kRecord);
  std::vector<Record> buffer_;
  std::size_t at_ = 0;
};

// Appends records to a new file through a buffer.
class RecordWriter {
 public:
  explicit RecordWriter(int fd) : fd_(fd) {
    const auto h = header();
    ok_ = write_all(fd_, h.data(), h.size());
  }
  void add(const Record &r) {
    buffer_.push_back(r);
    if (buffer_.size() == kReadRecords) flush();
  }
  bool finish() {
    flush();
    return ok_;
  }

 private:
  void flush() {
    if (ok_ && !buffer_.empty()) ok_ = write_all(fd_, buffer_.data(), buffer_.size() * kRecord);
    buffer_.clear();
  }
  int fd_;
  bool ok_;
  std::vector<Record> buffer_;
};

// Sorts a chunk by key, keeping for each key only its last record (the newest).
void sort_newest_last(std::vector<Record> &chunk) {
  std::stable_sort(chunk.begin(), chunk.end(),
                   [](const Record &a, const Record &b) { return key_of(a) < key_of(b); });
  std::vector<Record> out;
  out.reserve(chunk.size());
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    if (i + 1 < chunk.size() && key_of(chunk[i + 1]) == key_of(chunk[i])) continue;
    out.push_back(chunk[i]);
  }
  chunk.swap(out);
}

// One sorted input of the fold; a later source wins over an earlier one.
struct Source {
  Fd fd;
  RecordReader reader;
  Record current;
  bool live;
  Source(Fd f, std::uint64_t count) : fd(std::move(f)), reader(fd.get(), count), current{} {
    live = reader.next(current);
  }
};

// Merges sorted sources into `out`; for equal keys the last source's record.
// Records that are not `trusted` are dropped.
template <typename Trusted>
bool merge(std::vector<Source> &sources, int out_fd, Trusted trusted) {
  RecordWriter writer(out_fd);
  while (true) {
    const Source *best = nullptr;
    for (const auto &s : sources) {
      if (s.live && (!best || key_of(s.current) <= key_of(best->current))) best = &s;
    }
    if (!best) break;
    const Record chosen = best->current;
    if (trusted(chosen)) writer.add(chosen);
    for (auto &s : sources) {
      while (s.live && key_of(s.current) == key_of(chosen)) s.live = s.reader.next(s.current);
    }
  }
  return writer.finish();
}

}  // namespace

VerifiedFiles::VerifiedFiles(std::string out_dir) : dir_(std::move(out_dir)) {
  have_key_ = load_key();
  fold_journal();  // a run that died left its records there
  open_table();
}

// The directory's key, when it is a 32-byte regular file of ours that
// nobody else may read or write.
bool VerifiedFiles::load_key() {
  const Fd fd = dir_.open(kKey, O_RDONLY);
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0 ||
      st.st_size != static_cast<off_t>(key_.size()))
    return false;
  return pread_all(fd.get(), key_.data(), key_.size(), 0) == static_cast<ssize_t>(key_.size());
}

// A new key (replacing whatever stood at its name): every older record is
// worthless from now on.
bool VerifiedFiles::make_key() {
  if (!util::random_bytes(key_.data(), key_.size())) return false;
  const Fd fd = dir_.create_replacing(kKey, 0600);
  return fd && ::fchmod(fd.get(), 0600) == 0 && write_all(fd.get(), key_.data(), key_.size());
}

void VerifiedFiles::seal(Record &r) const {
  const auto mac = util::hmac_sha256(key_.data(), key_.size(), &r, kSealed);
  if (mac) std::memcpy(r.mac.data(), mac->data(), r.mac.size());
}

bool VerifiedFiles::sealed(const Record &r) const {
  if (!have_key_) return false;
  const auto mac = util::hmac_sha256(key_.data(), key_.size(), &r, kSealed);
  return mac && CRYPTO_memcmp(mac->data(), r.mac.data(), r.mac.size()) == 0;
}

VerifiedFiles::~VerifiedFiles() {
  close();
}

void VerifiedFiles::open_table() {
  if (!have_key_) return;  // nothing in it could be trusted
  table_fd_ = dir_.open(kTable, O_RDONLY);
  const auto count = records_in(table_fd_.get());
  if (count <= 0) return;
  RecordReader reader(table_fd_.get(), static_cast<std::uint64_t>(count));
  Record r;
  Key previous{0, 0};
  for (std::uint64_t i = 0; reader.next(r); ++i) {
    if (i > 0 && key_of(r) <= previous) {  // not ours, or damaged: start afresh
      index_.clear();
      return;
    }
    previous = key_of(r);
    if (i % kBlockRecords == 0) index_.push_back(previous);
  }
  table_records_ = static_cast<std::uint64_t>(count);
}

const VerifiedFiles::Block *VerifiedFiles::block(std::uint64_t number) {
  ++lookups_;
  Block *slot = &cache_[0];
  for (auto &b : cache_) {
    if (b.number == number) {
      b.used = lookups_;
      return &b;
    }
    if (b.used < slot->used) slot = &b;
  }
  const std::uint64_t first = number * kBlockRecords;
  slot->records.resize(std::min<std::uint64_t>(kBlockRecords, table_records_ - first));
  const auto bytes = slot->records.size() * kRecord;
  const auto offset = static_cast<off_t>(kRecord + first * kRecord);
  if (pread_all(table_fd_.get(), slot->records.data(), bytes, offset) !=
      static_cast<ssize_t>(bytes)) {
    slot->number = UINT64_MAX;
    return nullptr;
  }
  slot->number = number;
  slot->used = lookups_;
  return slot;
}

std::optional<VerifiedFiles::Digest> VerifiedFiles::lookup(const struct stat &st) {
  if (index_.empty()) return std::nullopt;
  const Key key{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  const auto after = std::upper_bound(index_.begin(), index_.end(), key);
  if (after == index_.begin()) return std::nullopt;
  const Block *b = block(static_cast<std::uint64_t>(after - index_.begin() - 1));
  if (!b) return std::nullopt;
  const auto it = std::lower_bound(b->records.begin(), b->records.end(), key,
                                   [](const Record &r, const Key &k) { return key_of(r) < k; });
  if (it == b->records.end() || key_of(*it) != key) return std::nullopt;
  if (it->size != static_cast<std::int64_t>(st.st_size) || it->mtime_ns != ns(st.st_mtim) ||
      it->ctime_ns != ns(st.st_ctim))
    return std::nullopt;                  // the file changed since it was checked
  if (!sealed(*it)) return std::nullopt;  // not a record of ours
  return it->sha256;
}

void VerifiedFiles::record(const struct stat &st, const Digest &digest) {
  if (!have_key_ && !(have_key_ = make_key())) return;
  if (!journal_fd_) {
    journal_fd_ = dir_.open(kJournal, O_RDWR | O_CREAT | O_APPEND);
    if (!journal_fd_ || !start_journal(journal_fd_.get())) {
      journal_fd_.reset();
      return;
    }
  }
  Record r;
  r.dev = static_cast<std::uint64_t>(st.st_dev);
  r.ino = static_cast<std::uint64_t>(st.st_ino);
  r.size = static_cast<std::int64_t>(st.st_size);
  r.mtime_ns = ns(st.st_mtim);
  r.ctime_ns = ns(st.st_ctim);
  r.sha256 = digest;
  seal(r);
  pending_.push_back(r);
  if (pending_.size() >= kJournalBuffer) flush_journal();
}

void VerifiedFiles::flush_journal() {
  if (journal_fd_ && !pending_.empty()) {
    write_all(journal_fd_.get(), pending_.data(), pending_.size() * kRecord);
    journal_written_ = true;
  }
  pending_.clear();
}

void VerifiedFiles::close() {
  flush_journal();
  table_fd_.reset();
  index_.clear();
  for (auto &b : cache_) b = Block{};
  journal_fd_.reset();
  if (journal_written_) fold_journal();
  journal_written_ = false;
}

// Journal + table -> a new table, in bounded memory (see the header).
void VerifiedFiles::fold_journal() {
  Fd journal_fd = dir_.open(kJournal, O_RDONLY);
  const auto journal_count = records_in(journal_fd.get());
  if (journal_count < 0) return;
  if (journal_count == 0) {
    dir_.unlink(kJournal);
    return;
  }
  Fd lock = dir_.open(kLock, O_RDWR | O_CREAT);
  if (lock.get() < 0 || ::flock(lock.get(), LOCK_EX) != 0) return;

  std::vector<Source> sources;
  Fd table = dir_.open(kTable, O_RDONLY);
  if (const auto n = records_in(table.get()); n > 0)
    sources.emplace_back(std::move(table), static_cast<std::uint64_t>(n));
  // The journal, sorted a chunk at a time into unlinked temporary files.
  RecordReader reader(journal_fd.get(), static_cast<std::uint64_t>(journal_count));
  std::vector<Record> chunk;
  chunk.reserve(kChunkRecords);
  Record r;
  bool more = true;
  while (more) {
    chunk.clear();
    while (chunk.size() < kChunkRecords && (more = reader.next(r))) chunk.push_back(r);
    if (chunk.empty()) break;
    sort_newest_last(chunk);
    Fd run = dir_.anonymous();
    if (run.get() < 0) return;
    RecordWriter writer(run.get());
    for (const auto &c : chunk) writer.add(c);
    if (!writer.finish()) return;
    sources.emplace_back(std::move(run), chunk.size());
  }
  std::vector<Record>().swap(chunk);

  Fd out = dir_.create_replacing(kTableTmp);
  if (out.get() < 0) return;
  const auto trusted = [this](const Record &rec) { return sealed(rec); };
  if (!merge(sources, out.get(), trusted) || !dir_.rename(kTableTmp, kTable)) {
    dir_.unlink(kTableTmp);
    return;
  }
  dir_.unlink(kJournal);
}

}  // namespace dlhost
