// The service's files by id; see file_registry.hpp.
#include "file_registry.hpp"

#include "dlhost/util/redact.h"

namespace dlhost::service {

std::variant<FileRegistry::Added, std::string> FileRegistry::add(const ManifestEntry &e) {
  std::lock_guard lock(mutex_);
  if (const auto it = ids_.find(e.path); it != ids_.end()) {
    const File &f = files_.at(it->second);
    if (f.url != e.url)
      return "path '" + e.path + "' is file " + it->second + "'s, for another URL";
    // Asked again after it failed or was cancelled: a new try, a new id.
    if (f.state != "failed" && f.state != "cancelled") return Added{it->second, false};
    ids_.erase(it);
  }
  for (const auto suffix : kWorkingSuffixes) {
    const std::string working = e.path + std::string(suffix);
    if (const auto it = ids_.find(working); it != ids_.end())
      return "path '" + e.path + "': its working name '" + working + "' is file " + it->second +
             "'s path";
  }
  if (const auto owner = working_name_owner(e.path); !owner.empty()) {
    if (const auto it = ids_.find(std::string(owner)); it != ids_.end())
      return "path '" + e.path + "' is file " + it->second + "'s working name";
  }
  const std::string id = std::to_string(++next_id_);
  File &f = files_[id];
  f.path = e.path;
  f.url = e.url;
  f.group = e.group;
  ids_[e.path] = id;
  return Added{id, true};
}

void FileRegistry::forget(const std::string &id) {
  std::lock_guard lock(mutex_);
  const auto it = files_.find(id);
  if (it == files_.end()) return;
  ids_.erase(it->second.path);
  files_.erase(it);
}

// Called with the lock held.
void FileRegistry::settle(const std::string &id) {
  settled_.push_back(id);
  while (settled_.size() > kKeepSettled) {
    const auto it = files_.find(settled_.front());
    settled_.pop_front();
    if (it == files_.end()) continue;
    ids_.erase(it->second.path);
    files_.erase(it);
  }
}

void FileRegistry::on_event(JobEvent &ev) {
  if (ev.path.empty() || ev.type == EventType::kProxyState || ev.type == EventType::kJobSummary)
    return;
  std::lock_guard lock(mutex_);
  const auto id_it = ids_.find(ev.path);
  if (id_it == ids_.end()) return;
  ev.id = id_it->second;
  File &f = files_.at(ev.id);
  if (f.state != "queued" && f.state != "running") return;  // settled: later events change nothing
  f.bytes = ev.bytes;
  if (ev.total >= 0) f.total = ev.total;
  if (ev.attempt > 0) f.attempt = ev.attempt;
  if (ev.http_status > 0) f.http_status = ev.http_status;
  if (!ev.proxy.empty()) f.proxy = ev.proxy;
  switch (ev.type) {
    case EventType::kFileStarted:
    case EventType::kFileProgress:
      f.state = "running";
      return;
    case EventType::kFileRetrying:
      f.state = "running";
      f.failure = ev.failure;
      f.message = ev.message;
      return;
    case EventType::kFileCompleted:
      f.state = "completed";
      f.failure.clear();
      f.message.clear();
      break;
    case EventType::kFileFailed:
      f.state = ev.failure == "cancelled" ? "cancelled" : "failed";
      f.failure = ev.failure;
      f.message = ev.message;
      break;
    case EventType::kFileSkipped:
      f.state = "skipped";
      f.reason = ev.reason;
      break;
    default:
      return;
  }
  settle(ev.id);
}

std::optional<nlohmann::json> FileRegistry::file(const std::string &id) const {
  std::lock_guard lock(mutex_);
  const auto it = files_.find(id);
  if (it == files_.end()) return std::nullopt;
  const File &f = it->second;
  const auto or_null = [](const std::string &s) {
    return s.empty() ? nlohmann::json() : nlohmann::json(s);
  };
  return nlohmann::json{
      {"id", id},
      {"path", f.path},
      {"url", util::redacted_url(f.url)},
      {"group", f.group},
      {"state", f.state},
      {"bytes", f.bytes},
      {"total", f.total >= 0 ? nlohmann::json(f.total) : nlohmann::json()},
      {"attempt", f.attempt},
      {"http_status", f.http_status > 0 ? nlohmann::json(f.http_status) : nlohmann::json()},
      {"proxy", or_null(f.proxy)},
      {"failure", or_null(f.failure)},
      {"message", or_null(f.message)},
      {"reason", or_null(f.reason)}};
}

std::optional<std::pair<std::string, bool>> FileRegistry::lookup(const std::string &id) const {
  std::lock_guard lock(mutex_);
  const auto it = files_.find(id);
  if (it == files_.end()) return std::nullopt;
  const File &f = it->second;
  return std::make_pair(f.path, f.state == "queued" || f.state == "running");
}

}  // namespace dlhost::service
