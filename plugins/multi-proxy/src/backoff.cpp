// Exponential backoff with full jitter (see backoff.h).
#include "backoff.h"

#include <algorithm>
#include <cmath>

namespace dlhost::mp {

Millis backoff_ceiling(const BackoffParams &p, int n) {
  const double cap = static_cast<double>(std::max(p.cap, p.base).count());
  const double factor = std::max(1.0, p.factor);
  const double grown = static_cast<double>(p.base.count()) * std::pow(factor, std::max(0, n));
  return Millis(static_cast<Millis::rep>(std::min(cap, grown)));
}

Millis backoff_delay(const BackoffParams &p, int n, double uniform,
                     std::optional<Millis> retry_after) {
  const double u = std::clamp(uniform, 0.0, 1.0);
  Millis d(static_cast<Millis::rep>(static_cast<double>(backoff_ceiling(p, n).count()) * u));
  if (retry_after) d = std::max(d, *retry_after);
  return d;
}

}  // namespace dlhost::mp
