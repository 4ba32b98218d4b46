// Which proxy gets the next piece of work.
//
// The scheduler describes every proxy as a ProxyLoad: whether it may take work
// right now (it is up, under its limits, not rate-limited) and how many files
// it has in flight at this moment. The strategy only picks among the
// available ones:
//  - load-balanced: the fewest files in flight (measured, not a counter that
//    never moves); ties go to the first in round-robin order.
//  - round-robin: the next available proxy after the one picked last time.
//  - first-available: the first available proxy in list order.
// Pure logic with no clock and no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace dlhost::mp {

enum class StrategyKind { kLoadBalanced, kRoundRobin, kFirstAvailable };

std::optional<StrategyKind> parse_strategy(std::string_view name);
const char *strategy_name(StrategyKind kind);

struct ProxyLoad {
  bool available = false;
  int in_flight = 0;
};

class Strategy {
 public:
  explicit Strategy(StrategyKind kind) : kind_(kind) {}

  // Index into `proxies` of the chosen one, or nullopt if none is available.
  std::optional<size_t> choose(std::span<const ProxyLoad> proxies);

  StrategyKind kind() const { return kind_; }

 private:
  std::optional<size_t> first_from(std::span<const ProxyLoad> proxies, size_t start) const;
  std::optional<size_t> least_loaded(std::span<const ProxyLoad> proxies) const;

  StrategyKind kind_;
  size_t cursor_ = 0;  // where the round-robin order starts next time
};

}  // namespace dlhost::mp
