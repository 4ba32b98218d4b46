// Counters for one transfer path (the direct line or one proxy), rendered as
// the stats JSON entry the ABI documents:
//   {"id","state","completed","failed","retries","rate_limited","bytes",
//    "latency_ms":{"p50","p95"}}
// Latency samples live in a fixed ring (the most recent 4096), so memory is
// bounded however long the job runs; percentiles are computed on demand.
// Not thread-safe: guard it with the owner's lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace dlhost::transport {

class LatencySamples {
 public:
  static constexpr size_t kCapacity = 4096;
  void add(double ms);
  // q in [0,1]; 0 when there are no samples.
  double percentile(double q) const;
  size_t count() const { return count_ < kCapacity ? count_ : kCapacity; }

 private:
  std::array<double, kCapacity> ring_{};
  size_t count_ = 0;  // total ever added
};

struct PathStats {
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t retries = 0;
  uint64_t rate_limited = 0;
  uint64_t bytes = 0;
  LatencySamples latency;

  nlohmann::json to_json(const std::string &id, const std::string &state) const;
};

}  // namespace dlhost::transport
