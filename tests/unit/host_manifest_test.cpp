// Manifest: JSON Lines and plain URL lists, defaults, every error message,
// path safety, escaping of echoed text, and identity (duplicate lines, one
// path for two URLs, the job id).
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "dlhost/host/manifest.hpp"
#include "dlhost/host/work_source.hpp"
#include "dlhost/util/digest.h"
#include "test_dir.hpp"

using namespace dlhost;

namespace {

std::vector<ManifestEntry> read_all(const std::string &text) {
  std::istringstream in(text);
  ManifestReader reader(in, "jobs.jsonl");
  std::vector<ManifestEntry> out;
  ManifestEntry e;
  while (reader.next(e)) out.push_back(e);
  return out;
}

std::string error_of(const std::string &text) {
  try {
    read_all(text);
  } catch (const ManifestError &e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Manifest, JsonLinesWithAllFields) {
  const auto v = read_all(R"({"url":"https://h/x.bin","path":"a/b.bin","group":"post","sha256":")" +
                          std::string(64, 'A') + R"(","size":12})" + "\n");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].url, "https://h/x.bin");
  EXPECT_EQ(v[0].path, "a/b.bin");
  EXPECT_EQ(v[0].group, "post");
  EXPECT_EQ(v[0].sha256, std::string(64, 'a'));  // normalised to lowercase
  EXPECT_EQ(v[0].size, 12);
  EXPECT_EQ(v[0].line, 1u);
}

TEST(Manifest, DefaultsPathFromUrlAndGroupFromPath) {
  const auto v = read_all(
      "{\"url\":\"https://h/dir/file%20name.jpg?token=1#frag\"}\n"
      "{\"url\":\"https://h/x\",\"path\":\"p/q\",\"sha256\":null,\"size\":null}\n");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].path, "file name.jpg");
  EXPECT_EQ(v[0].group, "file name.jpg");
  EXPECT_EQ(v[0].size, -1);
  EXPECT_TRUE(v[0].sha256.empty());
  EXPECT_EQ(v[1].group, "p/q");
}

TEST(Manifest, PlainUrlListWithCommentsAndBlankLines) {
  const auto v = read_all(
      "# my job\n"
      "\n"
      "https://h/a.bin\n"
      "   HTTP://h/b.bin   \r\n"
      "  # indented comment\n"
      "{\"url\":\"https://h/c.bin\"}\n");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].path, "a.bin");
  EXPECT_EQ(v[0].line, 3u);
  EXPECT_EQ(v[1].url, "HTTP://h/b.bin");
  EXPECT_EQ(v[2].path, "c.bin");
  EXPECT_EQ(v[2].line, 6u);
}

TEST(Manifest, ErrorMessagesNameTheLine) {
  EXPECT_EQ(error_of("https://h/a\n{\"url\":\"https://h/x\",\"path\":\"/etc/passwd\"}\n"),
            "jobs.jsonl:2: \"path\" must be relative: /etc/passwd");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\"a/../../b\"}"),
            "jobs.jsonl:1: \"path\" must not contain \"..\": a/../../b");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\"a//b\"}"),
            "jobs.jsonl:1: \"path\" has an empty component: a//b");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\"a/\"}"),
            "jobs.jsonl:1: \"path\" has an empty component: a/");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\"./a\"}"),
            "jobs.jsonl:1: \"path\" must not contain \".\": ./a");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\"\"}"),
            "jobs.jsonl:1: \"path\" is empty: ");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\"a\\u0000b\"}"),
            "jobs.jsonl:1: \"path\" contains a NUL byte: a\\x00b");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\".dlhost/skip-cache\"}"),
            "jobs.jsonl:1: \"path\" must not write into .dlhost/: .dlhost/skip-cache");
  EXPECT_EQ(error_of("{\"path\":\"a\"}"), "jobs.jsonl:1: \"url\" is required");
  EXPECT_EQ(error_of("{\"url\":5}"), "jobs.jsonl:1: \"url\" must be a string");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":1}"),
            "jobs.jsonl:1: \"path\" must be a string");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"sha256\":\"abc\"}"),
            "jobs.jsonl:1: \"sha256\" must be 64 hex digits: abc");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"sha256\":\"" + std::string(64, 'g') + "\"}"),
            "jobs.jsonl:1: \"sha256\" must be 64 hex digits: " + std::string(64, 'g'));
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"size\":-5}"),
            "jobs.jsonl:1: \"size\" must not be negative: -5");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"size\":1.5}"),
            "jobs.jsonl:1: \"size\" must be an integer");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"size\":\"12\"}"),
            "jobs.jsonl:1: \"size\" must be an integer");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\""), "jobs.jsonl:1: not a valid JSON object");
  EXPECT_EQ(error_of("{\"url\":\"ftp://h/x\"}"),
            "jobs.jsonl:1: \"url\" must start with http:// or https://: ftp://h/x");
  EXPECT_EQ(error_of("{\"url\":\"https:///x\"}"), "jobs.jsonl:1: \"url\" has no host: https:///x");
  EXPECT_EQ(error_of("# c\n\nnot a url\n"), "jobs.jsonl:3: not a URL or JSON object: not a url");
  EXPECT_EQ(error_of("https://h/dir/\n"),
            "jobs.jsonl:1: cannot derive a file name from the URL (give \"path\"): https://h/dir/");
  EXPECT_EQ(error_of("https://h\n"),
            "jobs.jsonl:1: cannot derive a file name from the URL (give \"path\"): https://h");
  EXPECT_EQ(error_of("https://h/..\n"),
            "jobs.jsonl:1: file name derived from the URL must not contain \"..\": ..");
  EXPECT_EQ(error_of("https://h/a%2F..%2F..%2Fb\n"),
            "jobs.jsonl:1: file name derived from the URL must not contain \"..\": a/../../b");
}

// A URL whose password cuts its authority short is refused, and the error
// hides the password; control characters are refused; a long URL is cut.
TEST(Manifest, UrlsLibcurlWouldMisreadAreRefusedAndShownRedacted) {
  const std::string malformed =
      "\"url\" has a malformed host or port (percent-encode '/', '?', '#' and '@' in a user name "
      "or password): http://u:***@h/f";
  EXPECT_EQ(error_of("{\"url\":\"http://u:pa/SECRET@h/f\"}"), "jobs.jsonl:1: " + malformed);
  EXPECT_EQ(error_of("http://u:pa#SECRET@h/f\n"), "jobs.jsonl:1: " + malformed);
  EXPECT_EQ(error_of("{\"url\":\"http://u:pa?SECRET@h/f\"}"), "jobs.jsonl:1: " + malformed);
  EXPECT_EQ(error_of("{\"url\":\"http://h/a\u007fb\"}"),
            "jobs.jsonl:1: \"url\" contains whitespace or control characters: http://h/a\\x7fb");
  EXPECT_EQ(error_of("{\"url\":\"ftp://u:SECRET@h/x\"}"),
            "jobs.jsonl:1: \"url\" must start with http:// or https://: ftp://u:***@h/x");
  const auto long_url = "http://h/" + std::string(100000, 'x') + "\x01";
  const auto message =
      error_of("{\"url\":\"" + long_url.substr(0, long_url.size() - 1) + "\\u0001\"}");
  EXPECT_LT(message.size(), 320u) << "a 100 KB URL is echoed cut";
  // Percent-encoded, the same password is fine (and never shown).
  const auto entries = read_all("{\"url\":\"http://u:pa%2FSECRET@h/f\"}\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].url, "http://u:pa%2FSECRET@h/f");
}

// As curl does: an internationalized host goes to libcurl in ASCII.
TEST(Manifest, InternationalizedHostsAreConvertedToPunycode) {
  const auto entries = read_all(
      "http://b\xc3\xbc"
      "cher.example:8080/b\xc3\xbc"
      "ch.pdf\n"
      "{\"url\":\"https://u:p@\xe4\xbe\x8b\xe3\x81\x88.jp/x\",\"path\":\"x\"}\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].url,
            "http://xn--bcher-kva.example:8080/b\xc3\xbc"
            "ch.pdf");
  EXPECT_EQ(entries[0].path,
            "b\xc3\xbc"
            "ch.pdf");
  EXPECT_EQ(entries[1].url, "https://u:p@xn--r8jz45g.jp/x");
  EXPECT_NE(error_of("http://a\xe2\x80\xa8"
                     "b.example/x\n")
                .find("not a valid internationalized"),
            std::string::npos);
}

TEST(Manifest, UnsafePathReasons) {
  EXPECT_FALSE(unsafe_path_reason("a"));
  EXPECT_FALSE(unsafe_path_reason("a/b/c.txt"));
  EXPECT_FALSE(unsafe_path_reason("..a/b.."));  // ".." only as a whole component
  EXPECT_TRUE(unsafe_path_reason(".."));
  EXPECT_TRUE(unsafe_path_reason("a/.."));
  EXPECT_TRUE(unsafe_path_reason("/a"));
  EXPECT_TRUE(unsafe_path_reason(std::string_view("a\0b", 3)));
}

TEST(Manifest, FileNameFromUrl) {
  EXPECT_EQ(file_name_from_url("https://h/a/b.txt"), "b.txt");
  EXPECT_EQ(file_name_from_url("https://h/a/b%2Bc.txt?x=/y"), "b+c.txt");
  EXPECT_EQ(file_name_from_url("https://h/a/bad%zz"), "bad%zz");
  EXPECT_EQ(file_name_from_url("https://h/"), "");
  EXPECT_EQ(file_name_from_url("https://h?x=/y"), "");
}

TEST(Manifest, EchoedTextIsEscapedAndCut) {
  // A URL line with an escape sequence and a bell: shown, never sent raw.
  EXPECT_EQ(error_of("not\x1b]0;pwned\x07 a url\n"),
            "jobs.jsonl:1: not a URL or JSON object: not\\x1b]0;pwned\\x07 a url");
  // A huge bad line is echoed as 200 characters, the last an ellipsis.
  const std::string huge(1 << 20, 'z');
  const auto message = error_of(huge + "\n");
  const std::string prefix = "jobs.jsonl:1: not a URL or JSON object: ";
  ASSERT_EQ(message.rfind(prefix, 0), 0u);
  EXPECT_EQ(message.substr(prefix.size()), std::string(199, 'z') + "\u2026");
  EXPECT_EQ(error_of("{\"url\":\"https://h/x\",\"path\":\"" + std::string(300, 'p') + "\"}"),
            "jobs.jsonl:1: \"path\" has a file name longer than 250 bytes: " +
                std::string(199, 'p') + "\u2026");
}

TEST(Manifest, AByteOrderMarkOnLineOneIsIgnored) {
  const auto v = read_all("\xef\xbb\xbfhttps://h/a.bin\nhttps://h/b.bin\n");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].url, "https://h/a.bin");
  const auto j = read_all("\xef\xbb\xbf{\"url\":\"https://h/c.bin\"}\n");
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0].path, "c.bin");
  // Only at the very start: on line 2 it is part of the line, shown escaped.
  EXPECT_EQ(error_of("https://h/a.bin\n\xef\xbb\xbfhttps://h/b.bin\n"),
            "jobs.jsonl:2: not a URL or JSON object: \\xef\\xbb\\xbfhttps://h/b.bin");
}

TEST(Manifest, PathLengthsTheFileSystemCannotTakeAreRefused) {
  EXPECT_FALSE(unsafe_path_reason(std::string(250, 'a')));
  EXPECT_TRUE(unsafe_path_reason(std::string(251, 'a')));  // no room for ".part"
  EXPECT_FALSE(unsafe_path_reason(std::string(255, 'd') + "/f"));
  EXPECT_TRUE(unsafe_path_reason(std::string(256, 'd') + "/f"));
  std::string deep;
  while (deep.size() < 4096) deep += "dir/";
  EXPECT_TRUE(unsafe_path_reason(deep + "f"));
}

namespace {

// A manifest file in a fresh directory, validated as `dlhost run` does.
class ManifestFile : public ::testing::Test {
 protected:
  void SetUp() override { tmp_.emplace("dlhost-manifest"); }
  ManifestSource source(const std::string &text) {
    const auto path = tmp_->path() / "jobs.jsonl";
    std::ofstream(path, std::ios::binary) << text;
    return ManifestSource::open(path.string());
  }
  std::string validation_error(const std::string &text) {
    try {
      validate_manifest(source(text));
    } catch (const ManifestError &e) {
      const std::string what = e.what();
      const std::string dir = tmp_->path().string() + "/";
      return what.rfind(dir, 0) == 0 ? what.substr(dir.size()) : what;  // without the directory
    }
    return "no error";
  }
  std::optional<dlhost::testing::TestDir> tmp_;
};

}  // namespace

TEST_F(ManifestFile, LinesWithTheSamePathAndUrlAreOneFile) {
  const auto summary = validate_manifest(source(
      "https://h/p1/a.jpg\n"
      "{\"url\":\"https://h/p1/a.jpg\",\"path\":\"p1/a.jpg\"}\n"
      "https://h/p1/a.jpg\n"  // the same as line 1
      "{\"url\":\"https://h/p1/a.jpg\",\"path\":\"p1/a.jpg\",\"group\":\"g\"}\n"  // as line 2
      "https://h/p1/b.jpg\n"));
  EXPECT_EQ(summary.entries, 5u);
  EXPECT_EQ(summary.unique_entries, 3u);
  EXPECT_EQ(summary.duplicate_lines, (std::vector<std::uint64_t>{3, 4}));
}

TEST_F(ManifestFile, TheSamePathForAnotherUrlNamesBothLines) {
  // Two posts' files with the same default name.
  EXPECT_EQ(validation_error("# posts\nhttps://h/p1/a.jpg\nhttps://h/p2/b.jpg\n"
                             "https://h/p2/a.jpg\n"),
            "jobs.jsonl:4: \"a.jpg\" (the URL's file name) is already the destination of line "
            "2, for another URL; give each of them its own \"path\"");
  EXPECT_EQ(validation_error("{\"url\":\"https://h/x\",\"path\":\"d/f\"}\n"
                             "{\"url\":\"https://h/y\",\"path\":\"d/f\"}\n"),
            "jobs.jsonl:2: \"path\" \"d/f\" is already the destination of line 1, for another "
            "URL; give each of them its own \"path\"");
  // Given paths that keep them apart are fine.
  EXPECT_EQ(validation_error("{\"url\":\"https://h/p1/a.jpg\",\"path\":\"p1/a.jpg\"}\n"
                             "{\"url\":\"https://h/p2/a.jpg\",\"path\":\"p2/a.jpg\"}\n"),
            "no error");
}

// A line's path must not be the name another line's file is downloaded
// into (<dest>.part) or its sidecar (<dest>.part.meta): whichever comes first.
TEST_F(ManifestFile, APathThatIsAnotherLinesWorkingNameNamesBothLines) {
  const std::string expected =
      "\"a.bin.part\" (line %W) is the name dlhost downloads \"a.bin\" (line %D) into before "
      "it is complete; give it another \"path\"";
  auto with = [&](const char *w, const char *d) {
    std::string e = expected;
    e.replace(e.find("%W"), 2, w);
    e.replace(e.find("%D"), 2, d);
    return e;
  };
  EXPECT_EQ(validation_error("{\"url\":\"https://h/x\",\"path\":\"a.bin\"}\n"
                             "{\"url\":\"https://h/y\",\"path\":\"a.bin.part\"}\n"),
            "jobs.jsonl:2: " + with("2", "1"));
  EXPECT_EQ(validation_error("{\"url\":\"https://h/y\",\"path\":\"a.bin.part\"}\n"
                             "https://h/z\n"
                             "{\"url\":\"https://h/x\",\"path\":\"a.bin\"}\n"),
            "jobs.jsonl:3: " + with("1", "3"));
  // The sidecar, and a name taken from the URL.
  EXPECT_NE(
      validation_error("https://h/d/a.bin\nhttps://h/e/a.bin.part.meta\n")
          .find("\"a.bin.part.meta\" (line 2) is the name dlhost downloads \"a.bin\" (line 1)"),
      std::string::npos);
  // Not a working name: "a.bin.part.part" is a.bin.part's, and there is no a.bin.part line.
  EXPECT_EQ(validation_error("{\"url\":\"https://h/x\",\"path\":\"a.bin\"}\n"
                             "{\"url\":\"https://h/y\",\"path\":\"a.bin.part.part\"}\n"
                             "{\"url\":\"https://h/z\",\"path\":\"d/a.bin.part\"}\n"
                             "{\"url\":\"https://h/w\",\"path\":\"a.bin.partial\"}\n"),
            "no error");
}

TEST_F(ManifestFile, ManyDistinctPathsHaveNoDuplicates) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "https://h/f" + std::to_string(i) + ".bin\n";
  const auto summary = validate_manifest(source(text));
  EXPECT_EQ(summary.unique_entries, 20000u);
  EXPECT_TRUE(summary.duplicate_lines.empty());
}

TEST_F(ManifestFile, TheWorkSourceMarksDuplicateLines) {
  const auto manifest = source("https://h/a\nhttps://h/b\nhttps://h/a\nhttps://h/c\nhttps://h/b\n");
  ManifestWorkSource work(manifest, validate_manifest(manifest));
  EXPECT_EQ(work.known_total(), 3u);
  std::vector<ManifestEntry> got;
  while (work.next_batch(2, got)) {
  }
  // Every line comes out (each gets its own terminal event); the repeats
  // are marked so the job skips them.
  ASSERT_EQ(got.size(), 5u);
  std::vector<std::pair<std::string, bool>> seen;
  for (const auto &e : got) seen.emplace_back(e.path, e.duplicate);
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, bool>>{
                      {"a", false}, {"b", false}, {"a", true}, {"c", false}, {"b", true}}));
  EXPECT_EQ(got[2].line, 3u);
  EXPECT_EQ(work.duplicates_skipped(), 2u);
}

TEST_F(ManifestFile, TheJobIdIsTheSha256OfTheBytes) {
  const auto id = manifest_job_id(source("https://h/a\n"));
  // printf 'https://h/a\n' | sha256sum
  EXPECT_EQ(id, "m-" + util::Sha256::hex_of("https://h/a\n").substr(0, 32));
  EXPECT_EQ(id.size(), 2u + 32u);
  EXPECT_NE(manifest_job_id(source("https://h/b\n")), id);
}
