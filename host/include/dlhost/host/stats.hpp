// Stats: the document `dlhost run --stats-json FILE` writes at the end.
//
// The host owns the file counts and bytes; the plugin owns everything about
// its transport (proxies, retries, latencies) and reports it as a JSON object
// from stats(). The document is the host's fields plus the plugin's whole
// object merged in (host fields win on a name clash), with "proxies" always
// present. A plugin that writes invalid JSON does not lose the host's numbers:
// the problem is reported under "plugin_stats_error".
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "dlhost/host/counts.hpp"

namespace dlhost {

struct RunTotals {
  std::string plugin;  // the plugin's id
  std::string plugin_version;
  double elapsed_s = 0;
  Counts counts;
  bool interrupted = false;
};

// `plugin_stats` is the text the plugin wrote (may be empty); `plugin_error`
// is set when the host could not get stats at all.
nlohmann::ordered_json build_stats_document(const RunTotals &totals,
                                            const std::string &plugin_stats,
                                            const std::string &plugin_error);

// Adds the whole job's totals (every host sharing it, Coordinator::totals())
// as "job": {"completed", "failed", "skipped", "deferred", "bytes"}. Not
// Counts::to_json(): the shared sums have no total (a file one host completed
// and another skipped is in both) and nothing cancelled.
void add_job_totals(nlohmann::ordered_json &doc, const Counts &job);

// Writes `doc` to `path` atomically (temp file in the same directory, then
// rename), so a reader never sees half a document. Throws std::runtime_error.
void write_stats_file(const std::filesystem::path &path, const nlohmann::ordered_json &doc);

}  // namespace dlhost
