// Manifest: what to download, read as a stream, one entry per line.
//
// A line is decided on its own: `{...}` is a JSON Lines entry
// ({"url","path","group","sha256","size"}, only url required), a line starting
// with '#' is a comment, a blank line is skipped, anything else is a plain URL.
// The reader never holds more than one line, so a manifest of millions of
// lines costs a few hundred bytes. Every destination is checked to stay under
// the output directory (relative, no "..", "." or empty components, no NUL),
// and every error is "MANIFEST:LINE: message".
//
// Because a bad line must stop the job before anything is downloaded, the job
// reads the manifest twice: a cheap validating pass, then the real one.
// ManifestSource makes that possible for stdin by spooling it to a temporary
// file first (removed when the source is destroyed). A UTF-8 byte order mark
// at the start of line 1 is ignored; text from a bad line is echoed escaped
// and cut to 200 characters (util::echo).
//
// Identity. Two lines are one file only when their path and URL are both
// equal as text; the same path with another URL (two posts' "a.jpg" with no
// "path" included) is a manifest error naming both lines. The validating
// pass finds these without keeping every path: it keeps one 64-bit SipHash
// fingerprint per line (keyed at random per run, so a crafted manifest cannot
// force collisions), sorted, as a filter only, and frees it; when some
// fingerprint repeats, it reads the manifest once more and compares the
// paths and URLs of just those lines as text. What the job pass gets is the
// short sorted list of lines that repeat an earlier one (ManifestSummary).
// Memory: 8 bytes a line during validation (8 MB for a million lines), then
// 8 bytes per duplicate line. Inputs without a validating pass (a Redis
// Stream) rely on the job's later checks instead; see job_submit.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dlhost {

class FlatJsonObject;

struct ManifestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ManifestEntry {
  std::uint64_t line = 0;
  std::string url;
  std::string path;            // relative to the output directory; also the file key
  bool path_from_url = false;  // no "path": the URL's file name
  std::string group;           // defaults to path
  std::string sha256;          // lowercase hex, or empty when unknown
  std::int64_t size = -1;
  // Set by a work source that wants the entry acknowledged once settled
  // (a Redis Stream entry id); empty for a manifest.
  std::string receipt;
  // The same path and URL as an earlier line: the job skips it (and says so
  // in the event stream) without looking at the file.
  bool duplicate = false;
  // Run only through this proxy id ("direct", "http://127.0.0.2:8888"): the
  // service's downloadFileWithProxy (ABI 1.1's task.proxy_id). Empty: any.
  std::string proxy;
};

// The file name the URL names: its last path segment, percent-decoded, with
// query and fragment stripped. Empty when the URL names no file.
std::string file_name_from_url(std::string_view url);

// Why `path` is not a safe relative destination, or nullopt when it is.
std::optional<std::string> unsafe_path_reason(std::string_view path);

class ManifestReader {
 public:
  // `display_name` is used in error messages ("jobs.jsonl", "<stdin>").
  ManifestReader(std::istream &in, std::string display_name);
  // Reads the next entry; false at end of input. Throws ManifestError.
  bool next(ManifestEntry &entry);
  // The number of the line read last (1-based), e.g. the one next() threw for.
  std::uint64_t line() const { return line_no_; }

 private:
  struct Field;
  enum FieldIndex { kUrl, kPath, kGroup, kSha256, kSize, kFieldCount };
  static constexpr std::array<const char *, kFieldCount> kFieldNames{"url", "path", "group",
                                                                     "sha256", "size"};
  using Fields = std::array<Field, kFieldCount>;

  [[noreturn]] void fail(const std::string &message) const;
  void parse_json_line(std::string_view line, ManifestEntry &entry) const;
  void read_flat_fields(const FlatJsonObject &flat, Fields &fields) const;
  void read_json_fields(std::string_view line, Fields &fields) const;
  void apply_fields(Fields &fields, ManifestEntry &entry) const;
  void parse_url_line(std::string_view line, ManifestEntry &entry) const;
  void complete_defaults(ManifestEntry &entry) const;
  void use_ascii_host(ManifestEntry &entry) const;

  std::istream &in_;
  std::string name_;
  std::uint64_t line_no_ = 0;
  std::string buffer_;
};

// A manifest that can be read more than once: a file, or stdin ("-") spooled
// to a temporary file.
class ManifestSource {
 public:
  // Throws ManifestError when the file cannot be opened.
  static ManifestSource open(const std::string &arg);
  ManifestSource(ManifestSource &&) noexcept;
  ~ManifestSource();

  const std::string &display_name() const { return display_name_; }
  std::unique_ptr<std::istream> open_stream() const;

 private:
  ManifestSource() = default;
  std::string display_name_;
  std::filesystem::path path_;
  bool temporary_ = false;
};

struct ManifestSummary {
  std::uint64_t entries = 0;         // lines that name a file
  std::uint64_t unique_entries = 0;  // files: entries less duplicate lines
  // Line numbers, ascending, of the lines whose path and URL an earlier line
  // already has: the job skips them.
  std::vector<std::uint64_t> duplicate_lines;
};

// The validating pass: reads everything once (twice when some lines may share
// a path), throws the first ManifestError, a path given to two URLs included.
ManifestSummary validate_manifest(const ManifestSource &source);

// A destination's working names, as the plugins' PartFile makes them:
// "<dest>.part" and its sidecar "<dest>.part.meta". No line's path may be
// another line's working name: the plugin would take that file for its
// partial download (and a completed file would vanish while it counts as
// present). validate_manifest() and `--follow` refuse such lines.
inline constexpr std::string_view kWorkingSuffixes[] = {".part.meta", ".part"};
// `path` less one working suffix ("a.bin" for "a.bin.part"), or "" when it
// ends in none.
std::string_view working_name_owner(std::string_view path);
// The errors for a line whose path another line already has (for another
// URL), and for a path that is another line's working name, naming both
// lines: "DISPLAY:LINE: ...".
std::string path_taken_message(std::string_view display_name, const ManifestEntry &later,
                               std::uint64_t earlier_line);
std::string working_name_message(std::string_view display_name, std::uint64_t at_line,
                                 std::string_view working, std::uint64_t working_line,
                                 std::string_view dest, std::uint64_t dest_line);

// A job name derived from the manifest's bytes: "m-" and 32 hex digits, the
// first 128 bits of their SHA-256. Hosts on different machines that run the
// same manifest, wherever it lies, share one Redis job without being told its
// name; manifests with other bytes are other jobs.
inline constexpr std::size_t kJobIdBytes = 16;
std::string manifest_job_id(const ManifestSource &source);

}  // namespace dlhost
