// Stats and health JSON (see stats.h).
#include "stats.h"

namespace dlhost::mp {

Stats::Path Stats::make_path(std::string id, const Health &health) {
  Path p;
  p.id = std::move(id);
  p.health = health;
  return p;
}

Stats::Stats(std::vector<std::string> path_ids, int health_failures) {
  for (auto &id : path_ids) paths_.push_back(make_path(std::move(id), Health(health_failures)));
}

void Stats::set_path(size_t path, const std::string &id, const Health &health, bool removed) {
  std::lock_guard lock(mu_);
  if (path == paths_.size()) paths_.push_back(make_path(id, health));
  Path &p = paths_.at(path);
  p.health = health;
  p.removed = removed;
}

void Stats::attempt_started(size_t path, int in_flight) {
  std::lock_guard lock(mu_);
  paths_[path].in_flight = in_flight;
}

void Stats::attempt_ended(size_t path, int in_flight, uint64_t bytes, const Health &health) {
  std::lock_guard lock(mu_);
  Path &p = paths_[path];
  p.in_flight = in_flight;
  p.counters.bytes += bytes;
  p.health = health;
}

void Stats::completed(size_t path, double latency_ms) {
  std::lock_guard lock(mu_);
  paths_[path].counters.completed++;
  paths_[path].counters.latency.add(latency_ms);
}

void Stats::failed(size_t path) {
  std::lock_guard lock(mu_);
  paths_[path].counters.failed++;
}

void Stats::retried(size_t path) {
  std::lock_guard lock(mu_);
  paths_[path].counters.retries++;
}

void Stats::rate_limited(size_t path) {
  std::lock_guard lock(mu_);
  paths_[path].counters.rate_limited++;
}

void Stats::attempt_failed(size_t path, FailureClass c) {
  std::lock_guard lock(mu_);
  paths_[path].failures[static_cast<size_t>(c)]++;
}

void Stats::moved(size_t path) {
  std::lock_guard lock(mu_);
  paths_[path].moves++;
}

void Stats::set_hosts(size_t path, std::vector<PairView> hosts, TimePoint now) {
  std::vector<Host> copy;
  copy.reserve(hosts.size());
  for (PairView &v : hosts) {
    const TimePoint until = now + v.paused;
    copy.push_back(Host{std::move(v), until});
  }
  std::lock_guard lock(mu_);
  paths_[path].hosts = std::move(copy);
}

nlohmann::json Stats::Path::failures_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (size_t c = 0; c < kFailureClasses; ++c)
    j[failure_class_name(static_cast<FailureClass>(c))] = failures[c];
  return j;
}

// rate/ceiling null = no brake / no throttle seen yet.
nlohmann::json Stats::Path::hosts_json(TimePoint now) const {
  nlohmann::json out = nlohmann::json::array();
  for (const Host &h : hosts) {
    const auto paused = h.paused_until > now
                            ? std::chrono::ceil<Millis>(h.paused_until - now).count()
                            : Millis::rep{0};
    nlohmann::json j = {{"host", h.view.host}, {"paused_ms", paused}, {"bans", h.view.bans}};
    j["rate"] = h.view.rate > 0 ? nlohmann::json(h.view.rate) : nlohmann::json(nullptr);
    j["ceiling"] = h.view.ceiling > 0 ? nlohmann::json(h.view.ceiling) : nlohmann::json(nullptr);
    out.push_back(std::move(j));
  }
  return out;
}

void Stats::failed_unrouted() {
  std::lock_guard lock(mu_);
  ++failed_unrouted_;
}

void Stats::cancelled() {
  std::lock_guard lock(mu_);
  ++cancelled_;
}

nlohmann::json Stats::stats_json(TimePoint now) const {
  std::lock_guard lock(mu_);
  nlohmann::json proxies = nlohmann::json::array();
  uint64_t completed = 0, failed = failed_unrouted_, retries = 0, limited = 0, bytes = 0;
  int in_flight = 0;
  for (const Path &p : paths_) {
    nlohmann::json j = p.counters.to_json(p.id, p.state(now));
    j["in_flight"] = p.in_flight;
    j["failures"] = p.failures_json();
    j["moves"] = p.moves;
    j["hosts"] = p.hosts_json(now);
    proxies.push_back(std::move(j));
    completed += p.counters.completed;
    failed += p.counters.failed;
    retries += p.counters.retries;
    limited += p.counters.rate_limited;
    bytes += p.counters.bytes;
    in_flight += p.in_flight;
  }
  nlohmann::json totals = {{"completed", completed},  {"failed", failed},
                           {"cancelled", cancelled_}, {"retries", retries},
                           {"rate_limited", limited}, {"bytes", bytes},
                           {"in_flight", in_flight}};
  return {
      {"plugin", "multi-proxy"}, {"proxies", std::move(proxies)}, {"totals", std::move(totals)}};
}

nlohmann::json Stats::health_json(TimePoint now) const {
  std::lock_guard lock(mu_);
  nlohmann::json proxies = nlohmann::json::array();
  for (const Path &p : paths_) {
    proxies.push_back({{"id", p.id},
                       {"state", p.state(now)},
                       {"consecutive_failures", p.health.consecutive_failures()},
                       {"cooldown_ms", p.health.cooldown_left(now).count()},
                       {"down_count", p.health.down_count()},
                       {"hosts", p.hosts_json(now)}});
  }
  return {{"proxies", std::move(proxies)}};
}

}  // namespace dlhost::mp
