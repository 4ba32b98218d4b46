// Stats document assembly and atomic writing; see stats.hpp for the design.
#include "dlhost/host/stats.hpp"

#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace dlhost {
namespace {

bool is_host_field(const std::string &key) {
  return key == "plugin" || key == "plugin_version" || key == "elapsed_s" || key == "files" ||
         key == "bytes" || key == "interrupted" || key == "plugin_stats_error";
}

void merge_plugin_stats(nlohmann::ordered_json &doc, const std::string &text) {
  if (text.empty()) return;
  const auto parsed = nlohmann::ordered_json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    doc["plugin_stats_error"] = "the plugin's stats() wrote invalid JSON";
    return;
  }
  if (!parsed.is_object()) {
    doc["plugin_stats_error"] = "the plugin's stats() wrote JSON that is not an object";
    return;
  }
  for (const auto &[key, value] : parsed.items()) {
    if (is_host_field(key)) continue;
    if (key == "proxies" && !value.is_array()) {
      doc["plugin_stats_error"] = "the plugin's \"proxies\" is not an array";
      continue;
    }
    doc[key] = value;
  }
}

}  // namespace

void add_job_totals(nlohmann::ordered_json &doc, const Counts &job) {
  doc["job"] = {{"completed", job.completed},
                {"failed", job.failed},
                {"skipped", job.skipped},
                {"deferred", job.deferred},
                {"bytes", job.bytes}};
}

nlohmann::ordered_json build_stats_document(const RunTotals &totals,
                                            const std::string &plugin_stats,
                                            const std::string &plugin_error) {
  nlohmann::ordered_json doc;
  doc["plugin"] = totals.plugin;
  doc["plugin_version"] = totals.plugin_version;
  doc["elapsed_s"] = totals.elapsed_s;
  doc.update(totals.counts.to_json());  // "files", "bytes"
  doc["interrupted"] = totals.interrupted;
  doc["proxies"] = nlohmann::ordered_json::array();
  if (!plugin_error.empty()) doc["plugin_stats_error"] = plugin_error;
  merge_plugin_stats(doc, plugin_stats);
  return doc;
}

void write_stats_file(const std::filesystem::path &path, const nlohmann::ordered_json &doc) {
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << '\n';
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw std::runtime_error("--stats-json " + path.string() + ": cannot write " + tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("--stats-json " + path.string() + ": cannot rename into place");
  }
}

}  // namespace dlhost
