// PathStats and LatencySamples (see path_stats.h).
#include "dlhost/transport/path_stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dlhost::transport {

void LatencySamples::add(double ms) {
  ring_[count_ % kCapacity] = ms;
  ++count_;
}

double LatencySamples::percentile(double q) const {
  size_t n = count();
  if (n == 0) return 0.0;
  std::vector<double> v(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(n));
  size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  k = k == 0 ? 0 : std::min(k - 1, n - 1);  // nearest-rank
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

nlohmann::json PathStats::to_json(const std::string &id, const std::string &state) const {
  auto round3 = [](double x) { return std::round(x * 1000.0) / 1000.0; };
  return {{"id", id},
          {"state", state},
          {"completed", completed},
          {"failed", failed},
          {"retries", retries},
          {"rate_limited", rate_limited},
          {"bytes", bytes},
          {"latency_ms",
           {{"p50", round3(latency.percentile(0.5))}, {"p95", round3(latency.percentile(0.95))}}}};
}

}  // namespace dlhost::transport
