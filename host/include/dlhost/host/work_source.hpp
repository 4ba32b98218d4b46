// Where a job's files come from.
//
// A manifest streams its entries once, in order. A Redis Stream (worker mode)
// hands entries out through a consumer group and wants each one acknowledged
// once it is settled (downloaded, already present, failed), so that the
// entries a dead worker never settled stay pending and another worker claims
// them. The job treats both the same: it asks for batches, and reports the
// receipts (ManifestEntry::receipt) of the entries it has settled.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dlhost/host/manifest.hpp"

namespace dlhost {

class WorkSource {
 public:
  virtual ~WorkSource() = default;
  // Appends up to `max` entries to `out`. May block for a short while (about
  // a second) when nothing is available yet, and then return true with
  // nothing appended; returns false once the source is exhausted for good.
  // Throws ManifestError or CoordinationError.
  virtual bool next_batch(std::size_t max, std::vector<ManifestEntry> &out) = 0;
  // The entries with these receipts are settled; never called with an
  // interrupted (cancelled) entry, which stays for a later run or worker.
  // Called from the job's recording thread, while next_batch() may be
  // running on its feeding thread: a source with a connection of its own
  // serialises the two (RedisConnection does).
  virtual void acknowledge(std::span<const std::string> receipts) { (void)receipts; }
  // The number of distinct files, when known before the job starts.
  virtual std::optional<std::uint64_t> known_total() const { return std::nullopt; }
  // Lines handed out marked `duplicate` so far.
  virtual std::uint64_t duplicates_skipped() const { return 0; }
};

// A validated manifest, read in a second streaming pass. The lines the
// validating pass found to repeat an earlier line (same path and URL) come
// marked `duplicate` (the job skips them) and are counted.
class ManifestWorkSource final : public WorkSource {
 public:
  ManifestWorkSource(const ManifestSource &source, ManifestSummary summary);
  bool next_batch(std::size_t max, std::vector<ManifestEntry> &out) override;
  std::optional<std::uint64_t> known_total() const override { return total_; }
  std::uint64_t duplicates_skipped() const override { return next_duplicate_; }

 private:
  bool is_duplicate(std::uint64_t line);

  std::unique_ptr<std::istream> in_;
  ManifestReader reader_;
  std::uint64_t total_;
  std::vector<std::uint64_t> duplicate_lines_;
  std::size_t next_duplicate_ = 0;  // the next of duplicate_lines_ to meet
};

}  // namespace dlhost
