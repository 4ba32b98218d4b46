// Delay before a retry: exponential backoff with full jitter.
//
//   delay = random(0, min(cap, base * factor^n))      n = 0 for the first retry
//
// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") keeps
// many clients that failed together from retrying together. A server's
// Retry-After wins when it asks for longer (the scheduler has capped it at
// PROXY_MAX_RETRY_AFTER already). The random source is injected (a
// function returning a uniform double in [0, 1)) so tests are deterministic.
#pragma once

#include <functional>
#include <optional>

#include "clock.h"

namespace dlhost::mp {

struct BackoffParams {
  Millis base{1000};
  double factor = 2.0;
  Millis cap{60000};
};

// The upper bound of the jitter window for retry n (0-based).
Millis backoff_ceiling(const BackoffParams &p, int n);

// `uniform` is a number in [0, 1).
Millis backoff_delay(const BackoffParams &p, int n, double uniform,
                     std::optional<Millis> retry_after);

class Backoff {
 public:
  using Rng = std::function<double()>;
  Backoff(BackoffParams p, Rng rng) : params_(p), rng_(std::move(rng)) {}
  Millis next(int n, std::optional<Millis> retry_after) {
    return backoff_delay(params_, n, rng_(), retry_after);
  }

 private:
  BackoffParams params_;
  Rng rng_;
};

}  // namespace dlhost::mp
