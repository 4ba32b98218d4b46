// The files `dlhost serve` was given, by the id downloadFile returned.
//
// add() applies the batch rules to a file that arrives alone (as FollowReader
// does for `--follow`): the same path and URL as a file it holds is that
// file (its id comes back, nothing is queued again), unless that one failed
// or was cancelled (then it is tried again, under a new id); a path another file has
// for another URL, or that is another file's working name (<path>.part,
// <path>.part.meta) or has one as its own, is refused. on_event() follows
// each file through the event stream (queued, running, completed, failed,
// skipped) and stamps file events with the id. Settled files are kept for
// getFile until kKeepSettled newer ones have settled; then the oldest is
// forgotten (and its path may be asked for again as a new file).
//
// Threads: every member is thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include "dlhost/host/events.hpp"
#include "dlhost/host/manifest.hpp"

namespace dlhost::service {

class FileRegistry {
 public:
  static constexpr std::size_t kKeepSettled = 1 << 20;

  struct Added {
    std::string id;
    bool is_new = false;  // false: the same path and URL as a file it holds
  };
  // The file's id, or a message saying why the path cannot be this file's.
  std::variant<Added, std::string> add(const ManifestEntry &entry);
  // A file add() took that never reached the queue (the service is closing).
  void forget(const std::string &id);
  void on_event(JobEvent &event);
  // The file's path and whether it is still open (queued or running);
  // nullopt for an unknown id.
  std::optional<std::pair<std::string, bool>> lookup(const std::string &id) const;
  // getFile's answer, or nullopt for an unknown id.
  std::optional<nlohmann::json> file(const std::string &id) const;

 private:
  struct File {
    std::string path, url, group;
    std::string state = "queued";
    std::uint64_t bytes = 0;
    std::int64_t total = -1;
    int attempt = 0, http_status = 0;
    std::string proxy, failure, message, reason;
  };
  void settle(const std::string &id);

  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::string, File> files_;       // by id
  std::unordered_map<std::string, std::string> ids_;  // path -> id
  std::deque<std::string> settled_;                   // oldest first
};

}  // namespace dlhost::service
