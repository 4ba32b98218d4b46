// Stats document: shape, merging the plugin's object, invalid plugin JSON,
// atomic writing.
#include <gtest/gtest.h>

#include <fstream>

#include "dlhost/host/stats.hpp"

namespace fs = std::filesystem;
using namespace dlhost;

namespace {

RunTotals sample_totals() {
  RunTotals t;
  t.plugin = "legacy";
  t.plugin_version = "1.0.0";
  t.elapsed_s = 1.5;
  t.counts = {10, 7, 2, 1};
  t.counts.bytes = 4096;
  t.counts.bytes_in_flight = 99;  // progress only: never in the document
  return t;
}

}  // namespace

TEST(Stats, DocumentHasTheContractShape) {
  const auto doc = build_stats_document(sample_totals(), "", "");
  EXPECT_EQ(doc["plugin"], "legacy");
  EXPECT_DOUBLE_EQ(doc["elapsed_s"].get<double>(), 1.5);
  EXPECT_EQ(doc["files"]["total"], 10);
  EXPECT_EQ(doc["files"]["completed"], 7);
  EXPECT_EQ(doc["files"]["skipped"], 2);
  EXPECT_EQ(doc["files"]["failed"], 1);
  EXPECT_EQ(doc["bytes"], 4096);
  EXPECT_TRUE(doc["proxies"].is_array());
  EXPECT_TRUE(doc["proxies"].empty());
  EXPECT_FALSE(doc.contains("plugin_stats_error"));
}

TEST(Stats, PluginObjectIsMergedButCannotOverrideHostFields) {
  const std::string plugin = R"({"proxies":[{"id":"direct","state":"healthy","completed":7,
      "failed":1,"retries":2,"rate_limited":0,"bytes":4096,"latency_ms":{"p50":3,"p95":9}}],
      "scheduler":{"queued":0},"files":"nope","bytes":-1})";
  const auto doc = build_stats_document(sample_totals(), plugin, "");
  ASSERT_EQ(doc["proxies"].size(), 1u);
  EXPECT_EQ(doc["proxies"][0]["id"], "direct");
  EXPECT_EQ(doc["proxies"][0]["latency_ms"]["p95"], 9);
  EXPECT_EQ(doc["scheduler"]["queued"], 0);
  EXPECT_EQ(doc["files"]["total"], 10);
  EXPECT_EQ(doc["bytes"], 4096);
}

TEST(Stats, InvalidPluginJsonIsReportedNotFatal) {
  const auto doc = build_stats_document(sample_totals(), "{\"proxies\": [", "");
  EXPECT_TRUE(doc.contains("plugin_stats_error"));
  EXPECT_TRUE(doc["proxies"].empty());
  EXPECT_EQ(doc["files"]["completed"], 7);
  EXPECT_TRUE(build_stats_document(sample_totals(), "[1,2]", "").contains("plugin_stats_error"));
  EXPECT_TRUE(
      build_stats_document(sample_totals(), "{\"proxies\":{}}", "").contains("plugin_stats_error"));
  EXPECT_EQ(build_stats_document(sample_totals(), "",
                                 "stats() failed: internal error")["plugin_stats_error"],
            "stats() failed: internal error");
}

TEST(Stats, WritesAtomically) {
  const fs::path dir = fs::temp_directory_path() / ("dlhost-stats-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto file = dir / "stats.json";
  write_stats_file(file, build_stats_document(sample_totals(), "", ""));
  std::ifstream in(file);
  const auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc["files"]["total"], 10);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  EXPECT_THROW(write_stats_file(dir / "missing-dir" / "s.json", doc), std::runtime_error);
  fs::remove_all(dir);
}

// One shape for "files" wherever counts are written, and deltas for the
// shared totals that add back up.
TEST(Counts, OneJsonShapeAndDeltasThatAddUp) {
  Counts c{10, 5, 2, 1, 1, 1, 4096, 7};
  const auto j = c.to_json();
  EXPECT_EQ(j.dump(), R"({"files":{"total":10,"completed":5,"skipped":2,"failed":1,"deferred":1,)"
                      R"("cancelled":1},"bytes":4096})");
  EXPECT_EQ(c.settled(), 9u);
  EXPECT_EQ(c.transferred(), 4103u);
  Counts earlier{4, 2, 1, 0, 0, 0, 1000, 0};
  Counts sum = earlier;
  sum += c.since(earlier);
  EXPECT_EQ(sum, c);
  const auto doc = build_stats_document(RunTotals{"p", "1", 0, c, false}, "", "");
  EXPECT_EQ(doc["files"], j["files"]);
  EXPECT_EQ(doc["bytes"], 4096);
}
