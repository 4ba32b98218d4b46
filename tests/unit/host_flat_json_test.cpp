// The flat JSON fast path: what it takes, what it leaves to nlohmann, and
// that a manifest line reads the same whichever path it takes.
#include <gtest/gtest.h>

#include <sstream>

#include "../../host/src/input/flat_json.hpp"
#include "dlhost/host/manifest.hpp"

using namespace dlhost;

namespace {

bool scans(const std::string &line) {
  FlatJsonObject o;
  return o.scan(line);
}

struct Read {
  std::string error;
  std::vector<ManifestEntry> entries;
};

Read read(const std::string &line) {
  std::istringstream in(line + "\n");
  ManifestReader reader(in, "m.jsonl");
  Read r;
  try {
    ManifestEntry e;
    while (reader.next(e)) r.entries.push_back(e);
  } catch (const ManifestError &e) {
    r.error = e.what();
  }
  return r;
}

void expect_same(const Read &a, const Read &b) {
  EXPECT_EQ(a.error, b.error);
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].url, b.entries[i].url);
    EXPECT_EQ(a.entries[i].path, b.entries[i].path);
    EXPECT_EQ(a.entries[i].group, b.entries[i].group);
    EXPECT_EQ(a.entries[i].sha256, b.entries[i].sha256);
    EXPECT_EQ(a.entries[i].size, b.entries[i].size);
  }
}

}  // namespace

TEST(FlatJson, ReadsTheCommonLine) {
  FlatJsonObject o;
  ASSERT_TRUE(o.scan(R"({"url": "http://h/a.bin", "path":"p/a.bin" ,"size": 65536,)"
                     R"( "x": true, "y": false, "z": null, "n": -0})"));
  ASSERT_NE(o.find("url"), nullptr);
  EXPECT_EQ(o.find("url")->text, "http://h/a.bin");
  EXPECT_EQ(o.find("path")->text, "p/a.bin");
  EXPECT_EQ(o.find("size")->kind, FlatJsonValue::Kind::kInteger);
  EXPECT_EQ(o.find("size")->integer, 65536);
  EXPECT_EQ(o.find("x")->kind, FlatJsonValue::Kind::kBool);
  EXPECT_EQ(o.find("z")->kind, FlatJsonValue::Kind::kNull);
  EXPECT_EQ(o.find("missing"), nullptr);
  EXPECT_TRUE(scans("{}"));
  EXPECT_TRUE(scans("{ }"));
}

TEST(FlatJson, LeavesEverythingElseToTheParser) {
  for (const char *line : {
           R"({"url":"http:\/\/h/a"})",        // an escape
           "{\"url\":\"http://h/\xc3\xa9\"}",  // non-ASCII
           "{\"url\":\"a\tb\"}",               // a control character
           R"({"url":"a","m":{"k":1}})",       // nested object
           R"({"url":"a","m":[1]})",           // array
           R"({"size":1.5})",
           R"({"size":1e3})",
           R"({"size":01})",
           R"({"size":-})",
           R"({"size":1234567890123456789})",  // 19 digits
           R"({"size":9999999999999999999})",  // 19 digits that overflowed (fuzz_manifest)
           R"({"url":"a","url":"b"})",         // repeated key
           R"({"url":"a",})",
           R"({"url":"a"} x)",
           R"({"url":"a")",
           R"({"url" "a"})",
           R"({"a":tru})",
           R"({"a":nul})",
           R"([1])",
           R"({url:"a"})",
       }) {
    EXPECT_FALSE(scans(line)) << line;
  }
}

// The same content through the fast path and (forced by an escaped "/")
// through nlohmann gives the same entry or the same error.
TEST(FlatJson, ManifestLinesReadTheSameEitherWay) {
  const std::string sha(64, 'A');
  for (const std::string &tail : {
           std::string(R"(,"path":"d/a.bin","size":5,"group":"g","sha256":")") + sha + "\"}",
           std::string(R"(,"size":0})"),
           std::string(R"(,"size":-0})"),
           std::string(R"(,"size":-5})"),
           std::string(R"(,"size":"5"})"),
           std::string(R"(,"size":true})"),
           std::string(R"(,"size":null,"path":null})"),
           std::string(R"(,"path":5})"),
           std::string(R"(,"path":"../x"})"),
           std::string(R"(,"sha256":"abc"})"),
           std::string(R"(,"extra":false,"other":null})"),
       }) {
    const std::string fast_line = R"({"url":"http://h/x/a.bin")" + tail;
    const std::string slow_line = R"({"url":"http:\/\/h/x/a.bin")" + tail;
    SCOPED_TRACE(tail);
    EXPECT_TRUE(scans(fast_line));
    EXPECT_FALSE(scans(slow_line));
    const Read fast = read(fast_line);
    const Read slow = read(slow_line);
    expect_same(fast, slow);
  }
  expect_same(read(R"({"url":5})"), read(R"({"url":5,"x":"\/"})"));
  expect_same(read(R"({"path":"a"})"), read(R"({"path":"a","x":"\/"})"));
}
