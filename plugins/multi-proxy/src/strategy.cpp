// Proxy selection strategies (see strategy.h).
#include "strategy.h"

namespace dlhost::mp {

std::optional<StrategyKind> parse_strategy(std::string_view name) {
  if (name.empty() || name == "load-balanced") return StrategyKind::kLoadBalanced;
  if (name == "round-robin") return StrategyKind::kRoundRobin;
  if (name == "first-available") return StrategyKind::kFirstAvailable;
  return std::nullopt;
}

const char *strategy_name(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kRoundRobin:
      return "round-robin";
    case StrategyKind::kFirstAvailable:
      return "first-available";
    case StrategyKind::kLoadBalanced:
      break;
  }
  return "load-balanced";
}

std::optional<size_t> Strategy::first_from(std::span<const ProxyLoad> proxies, size_t start) const {
  const size_t n = proxies.size();
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    if (proxies[i].available) return i;
  }
  return std::nullopt;
}

// Fewest in flight; among equals the first in round-robin order from cursor_.
std::optional<size_t> Strategy::least_loaded(std::span<const ProxyLoad> proxies) const {
  const size_t n = proxies.size();
  std::optional<size_t> best;
  for (size_t k = 0; k < n; ++k) {
    size_t i = (cursor_ + k) % n;
    if (!proxies[i].available) continue;
    if (!best || proxies[i].in_flight < proxies[*best].in_flight) best = i;
  }
  return best;
}

std::optional<size_t> Strategy::choose(std::span<const ProxyLoad> proxies) {
  if (proxies.empty()) return std::nullopt;
  std::optional<size_t> pick;
  switch (kind_) {
    case StrategyKind::kFirstAvailable:
      return first_from(proxies, 0);
    case StrategyKind::kRoundRobin:
      pick = first_from(proxies, cursor_ % proxies.size());
      break;
    case StrategyKind::kLoadBalanced:
      pick = least_loaded(proxies);
      break;
  }
  if (pick) cursor_ = (*pick + 1) % proxies.size();
  return pick;
}

}  // namespace dlhost::mp
