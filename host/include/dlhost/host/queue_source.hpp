// Work that arrives while the job runs: `--follow` and `dlhost serve`.
//
// QueueWorkSource is a WorkSource fed from outside: producers push() entries
// (a thread reading a manifest as it grows, the service's RPC handlers) and
// the job takes them in batches, as it takes a manifest's. The queue is
// bounded: push() waits while it is full, so a producer faster than the
// downloads is slowed down (a reader stops reading its pipe) instead of
// filling memory. close() says no more will come; the job then finishes
// what it has and ends. Until then next_batch() waits, in short slices, for
// work, so the job keeps doing its bookkeeping while the input is quiet.
//
// FollowReader is the producer for `--follow MANIFEST|-`: a thread that
// reads the manifest line by line as lines arrive (a pipe, a FIFO, stdin) and
// pushes each good entry. A bad line does not stop the job: it is handed to
// `on_bad_line` (which reports it) and reading goes on. The batch rules hold
// (validate_manifest): a line with the same path and URL as an earlier one
// is marked `duplicate` (skipped and counted), and a path another line has
// for another URL, or that is another line's working name, is a bad line;
// the earlier file stays as it is. Lines are remembered by keyed 64-bit
// fingerprints of their path and URL (24 bytes a file), so following a
// million lines costs megabytes, not the lines. At EOF it closes the queue.
//
// Threads: push(), close() and cancel() from any thread; next_batch() from
// the job's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <istream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dlhost/host/manifest.hpp"
#include "dlhost/host/work_source.hpp"

namespace dlhost {

class QueueWorkSource final : public WorkSource {
 public:
  static constexpr std::size_t kDefaultCapacity = 1024;
  static constexpr auto kWaitSlice = std::chrono::milliseconds(200);

  explicit QueueWorkSource(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Waits while the queue is full; false (entry dropped) once closed.
  bool push(ManifestEntry entry);
  // No more entries: the job ends once it has taken what is queued.
  void close();
  // Stop now: entries still queued are dropped and push() fails from now on.
  void cancel();
  bool closed() const;
  // Takes the queued entry with this path out of the queue; false when none
  // is queued (it was taken by the job already, or never came).
  bool remove(const std::string &path);

  bool next_batch(std::size_t max, std::vector<ManifestEntry> &out) override;
  std::uint64_t duplicates_skipped() const override;

 private:
  const std::size_t capacity_;
  std::uint64_t duplicates_ = 0;  // entries marked duplicate handed out
  mutable std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<ManifestEntry> queue_;
  bool closed_ = false;
};

class FollowReader {
 public:
  // The line's number and its error ("MANIFEST:LINE: message").
  using BadLineFn = std::function<void(std::uint64_t line, const ManifestError &error)>;

  // Opens `manifest` (a path, or "-" for stdin) and reads it into `queue`
  // on a thread of its own. Throws ManifestError when it cannot be opened.
  // A pipe, FIFO or socket ends at its EOF; a regular file is followed past
  // its end (like `tail -F`) until the reader is destroyed. With `idle` > 0
  // the input also ends after that long without a new byte.
  FollowReader(const std::string &manifest, QueueWorkSource &queue, BadLineFn on_bad_line,
               std::chrono::milliseconds idle = std::chrono::milliseconds(0));
  // Stops the thread even while it waits for a quiet pipe, then joins it.
  ~FollowReader();
  FollowReader(const FollowReader &) = delete;
  FollowReader &operator=(const FollowReader &) = delete;

  std::uint64_t entries() const { return entries_; }
  std::uint64_t bad_lines() const { return bad_lines_; }

 private:
  class PollingBuf;
  class Identity;
  void run();

  int fd_ = -1;
  bool owns_fd_ = false;
  int stop_fd_ = -1;  // an eventfd: readable once the reader must stop
  std::unique_ptr<PollingBuf> buf_;
  std::unique_ptr<std::istream> in_;
  std::unique_ptr<ManifestReader> reader_;
  std::unique_ptr<Identity> identity_;
  std::string display_;
  QueueWorkSource &queue_;
  BadLineFn on_bad_line_;
  std::atomic<std::uint64_t> entries_{0}, bad_lines_{0};
  std::thread thread_;
};

}  // namespace dlhost
