// Counts: the job's files and bytes at one moment, the one type every report
// is made from.
//
// The engine keeps its counters as atomics and takes a Counts snapshot of
// them for each reader: the progress display, the stats document
// (--stats-json, the status server's /stats and /metrics, the service's
// getOrchestratorStats), job.summary and the hooks, and the totals shared in
// Redis (a host adds the difference since its last snapshot sent). Each
// writes it with to_json(), so "files" has one shape everywhere.
//
// "bytes" always means the bytes of completed files. What running files have
// received so far is bytes_in_flight: only progress shows it (transferred()).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace dlhost {

struct Counts {
  // Files of the job known so far (a manifest: every file; a stream: those
  // read). Lines repeating an earlier line are not files of their own.
  std::uint64_t total = 0;
  std::uint64_t completed = 0;
  std::uint64_t skipped = 0;  // already present, or recorded complete
  std::uint64_t failed = 0;
  // Not tried because an earlier attempt timed out within
  // PROXY_SKIP_CACHE_TTL: not done, so the run does not exit 0.
  std::uint64_t deferred = 0;
  // Not settled because the job was interrupted or the file was cancelled on
  // request: set at the end of a run, total = settled() + cancelled.
  std::uint64_t cancelled = 0;
  std::uint64_t bytes = 0;            // of completed files
  std::uint64_t bytes_in_flight = 0;  // received so far by files still running

  std::uint64_t settled() const { return completed + skipped + failed + deferred; }
  // Files neither settled nor known cancelled: in flight or not reached yet.
  std::uint64_t unsettled() const { return total > settled() ? total - settled() : 0; }
  std::uint64_t transferred() const { return bytes + bytes_in_flight; }

  // {"files": {"total", "completed", "skipped", "failed", "deferred",
  // "cancelled"}, "bytes": N}
  nlohmann::ordered_json to_json() const;

  // Field by field, for the shared totals' deltas (`*this` never below
  // `earlier`: counters only grow).
  Counts since(const Counts &earlier) const;
  Counts &operator+=(const Counts &other);
  bool operator==(const Counts &) const = default;
};

}  // namespace dlhost
