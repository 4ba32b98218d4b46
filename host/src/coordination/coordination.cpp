// The in-process Coordinator; see coordination.hpp for the design.
//
// The skip cache file is one line per entry, "EXPIRY_UNIX_SECONDS\tKEY\tREASON",
// rewritten whole (temp file + rename) on flush(). It holds only timed-out
// URLs, so it stays small; expired lines are dropped on load and on save.
// Both files are opened beneath the output directory by util::StateDir: no
// link is followed, a FIFO does not block, and the temporary file replaces
// whatever stands at its name.
#include "dlhost/host/coordination.hpp"

#include "dlhost/util/text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <sstream>

namespace dlhost {
namespace {

bool storable(const std::string &s) {
  return s.find_first_of("\t\r\n") == std::string::npos;
}

// The whole file, read at once: it is small (see the top of this file).
std::optional<std::string> read_all(const util::Fd &fd) {
  if (!fd) return std::nullopt;
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

InProcessCoordinator::InProcessCoordinator(std::filesystem::path out_dir, Clock clock)
    : state_(out_dir.empty() ? util::StateDir() : util::StateDir(out_dir.string())),
      clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
  token_prefix_ = std::random_device{}();
  token_prefix_ = (token_prefix_ << 32) ^ std::random_device{}();
  load_skip_cache();
}

std::string InProcessCoordinator::new_token() {
  std::ostringstream s;
  s << std::hex << token_prefix_ << '-' << ++token_counter_;
  return s.str();
}

void Coordinator::apply(const Record &record, Seconds skip_ttl) {
  std::lock_guard lock(apply_mutex_);
  if (!record.completed.empty()) record_completed(record.completed);
  if (!record.skipped.empty()) mark_skipped(record.skipped, skip_ttl);
  if (!record.released.empty()) release_leases(record.released);
  if (record.totals != Counts{}) add_totals(record.totals);
  flush();
}

std::vector<Coordinator::Claim> Coordinator::claim(std::span<const std::string> keys,
                                                   std::span<const std::string> skip_keys,
                                                   Millis ttl) {
  std::vector<Claim> out(keys.size());
  const auto done = completed(keys);
  const auto skips =
      skip_keys.empty() ? std::vector<std::optional<std::string>>(keys.size()) : skipped(skip_keys);
  std::vector<std::string> wanted;
  std::vector<std::size_t> wanted_at;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (done[i]) {
      out[i].kind = Claim::Kind::kDone;
    } else if (skips[i]) {
      out[i].kind = Claim::Kind::kSkipped;
      out[i].reason = *skips[i];
    } else {
      wanted.push_back(keys[i]);
      wanted_at.push_back(i);
    }
  }
  const auto leases = take_leases(wanted, ttl);
  for (std::size_t j = 0; j < wanted.size(); ++j) {
    if (!leases[j]) continue;  // kHeld
    out[wanted_at[j]].kind = Claim::Kind::kLeased;
    out[wanted_at[j]].lease = *leases[j];
  }
  return out;
}

std::vector<std::optional<Lease>> InProcessCoordinator::take_leases(
    std::span<const std::string> keys, Millis ttl) {
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  std::vector<std::optional<Lease>> out;
  out.reserve(keys.size());
  for (const auto &key : keys) {
    auto it = leases_.find(key);
    if (it != leases_.end() && it->second.expires > now) {
      out.emplace_back(std::nullopt);
      continue;
    }
    Held held{new_token(), now + ttl};
    out.emplace_back(Lease{key, held.token});
    leases_[key] = std::move(held);
  }
  return out;
}

std::vector<bool> InProcessCoordinator::renew_leases(std::span<const Lease> leases, Millis ttl) {
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  std::vector<bool> out;
  out.reserve(leases.size());
  for (const auto &lease : leases) {
    auto it = leases_.find(lease.key);
    const bool ours = it != leases_.end() && it->second.token == lease.token;
    if (ours) it->second.expires = now + ttl;
    out.push_back(ours);
  }
  return out;
}

void InProcessCoordinator::release_leases(std::span<const Lease> leases) {
  std::lock_guard lock(mutex_);
  for (const auto &lease : leases) {
    auto it = leases_.find(lease.key);
    if (it != leases_.end() && it->second.token == lease.token) leases_.erase(it);
  }
}

// No completion records: see coordination.hpp.
void InProcessCoordinator::record_completed(std::span<const std::string> keys) {
  (void)keys;
}

std::vector<bool> InProcessCoordinator::completed(std::span<const std::string> keys) {
  return std::vector<bool>(keys.size(), false);
}

void InProcessCoordinator::mark_skipped(std::span<const SkipMark> marks, Seconds ttl) {
  if (ttl.count() <= 0) return;  // TTL 0 disables the skip cache
  std::lock_guard lock(mutex_);
  const auto expires = clock_() + ttl;
  for (const auto &mark : marks) {
    skips_[mark.key] = Skip{expires, util::one_line(mark.reason)};
    skips_dirty_ = true;
  }
}

std::vector<std::optional<std::string>> InProcessCoordinator::skipped(
    std::span<const std::string> keys) {
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  for (const auto &key : keys) {
    auto it = skips_.find(key);
    if (it != skips_.end() && it->second.expires > now) {
      out.emplace_back(it->second.reason);
    } else {
      out.emplace_back(std::nullopt);
    }
  }
  return out;
}

void InProcessCoordinator::load_skip_cache() {
  if (!state_.enabled()) return;
  const auto text = read_all(state_.open(kSkipCache, O_RDONLY));
  if (!text) return;  // no cache yet, or not a file of ours
  const auto now = clock_();
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    const auto t1 = line.find('\t');
    const auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos) continue;  // tolerate a damaged line
    long long secs = 0;
    try {
      secs = std::stoll(line.substr(0, t1));
    } catch (...) {
      continue;
    }
    const TimePoint expires{std::chrono::seconds(secs)};
    if (expires <= now) continue;
    skips_[line.substr(t1 + 1, t2 - t1 - 1)] = Skip{expires, line.substr(t2 + 1)};
  }
}

void InProcessCoordinator::flush() {
  std::lock_guard lock(mutex_);
  if (!state_.enabled() || !skips_dirty_) return;
  std::ostringstream out;
  const auto now = clock_();
  for (const auto &[key, skip] : skips_) {
    if (skip.expires <= now || !storable(key)) continue;
    const auto secs =
        std::chrono::duration_cast<std::chrono::seconds>(skip.expires.time_since_epoch());
    out << secs.count() << '\t' << key << '\t' << skip.reason << '\n';
  }
  // Best effort: a lost skip cache costs only a retry.
  const util::Fd tmp = state_.create_replacing(kSkipCacheTmp);
  const std::string text = out.str();
  if (!tmp || !util::write_all(tmp.get(), text.data(), text.size())) return;
  if (state_.rename(kSkipCacheTmp, kSkipCache)) skips_dirty_ = false;
}

}  // namespace dlhost
