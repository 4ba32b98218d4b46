// Time for the multi-proxy logic.
//
// Every piece of pure logic (health, rate limits, backoff, scheduler) takes the
// current time as an argument instead of reading a clock itself. The event loop
// passes steady_clock::now(); unit tests pass whatever instant they want. That is
// the whole "injected clock": no globals, no virtual clock object.
#pragma once

#include <chrono>

namespace dlhost::mp {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

inline constexpr TimePoint kNever = TimePoint::max();

}  // namespace dlhost::mp
