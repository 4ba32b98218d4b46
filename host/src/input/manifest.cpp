// Manifest parsing, path safety and the validating pass; see manifest.hpp
// for the design.
#include "dlhost/host/manifest.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "dlhost/util/digest.h"
#include "dlhost/util/text.h"
#include "flat_json.hpp"
#include "manifest_url.hpp"

namespace dlhost {
namespace {

using util::percent_decode;
using util::trim;

using util::echo;
using util::is_sha256_hex;

// Linux's NAME_MAX; a file's own name also leaves room for the plugins'
// "<name>.part".
constexpr std::size_t kMaxComponent = 255;
constexpr std::size_t kMaxFileName = kMaxComponent - 5;
constexpr std::size_t kMaxPath = 4095;  // PATH_MAX less its NUL

}  // namespace

std::string file_name_from_url(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const auto scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  const auto first_slash = url.find('/');
  if (first_slash == std::string_view::npos) return {};  // host only
  const auto last_slash = url.rfind('/');
  return percent_decode(url.substr(last_slash + 1));
}

std::optional<std::string> unsafe_path_reason(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path.find('\0') != std::string_view::npos) return "contains a NUL byte";
  if (path[0] == '/') return "must be relative";
  if (path.size() > kMaxPath) return "is longer than " + std::to_string(kMaxPath) + " bytes";
  size_t start = 0;
  bool first = true;
  while (true) {
    const auto slash = path.find('/', start);
    const auto part = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part.empty()) return "has an empty component";
    if (part == "..") return "must not contain \"..\"";
    if (part == ".") return "must not contain \".\"";
    // The host keeps its own state (skip cache) in <out>/.dlhost.
    if (first && part == ".dlhost") return "must not write into .dlhost/";
    first = false;
    const bool last = slash == std::string_view::npos;
    if (part.size() > (last ? kMaxFileName : kMaxComponent))
      return last ? "has a file name longer than " + std::to_string(kMaxFileName) + " bytes"
                  : "has a directory name longer than " + std::to_string(kMaxComponent) + " bytes";
    if (last) break;
    start = slash + 1;
  }
  return std::nullopt;
}

std::string manifest_job_id(const ManifestSource &source) {
  auto in = source.open_stream();
  util::Sha256 sha;
  char buffer[1 << 16];
  while (in->read(buffer, sizeof buffer) || in->gcount() > 0)
    sha.update(buffer, static_cast<std::size_t>(in->gcount()));
  const auto digest = sha.final_digest();
  return "m-" + util::to_hex(digest.data(), kJobIdBytes);
}

ManifestReader::ManifestReader(std::istream &in, std::string display_name)
    : in_(in), name_(std::move(display_name)) {}

void ManifestReader::fail(const std::string &message) const {
  throw ManifestError(name_ + ":" + std::to_string(line_no_) + ": " + message);
}

bool ManifestReader::next(ManifestEntry &entry) {
  while (std::getline(in_, buffer_)) {
    ++line_no_;
    const auto line = trim(line_no_ == 1 ? util::strip_bom(buffer_) : std::string_view(buffer_));
    if (line.empty() || line[0] == '#') continue;
    entry = ManifestEntry{};
    entry.line = line_no_;
    if (line[0] == '{') {
      parse_json_line(line, entry);
    } else {
      parse_url_line(line, entry);
    }
    complete_defaults(entry);
    return true;
  }
  if (in_.bad()) fail("read error");
  return false;
}

// One of the known keys of a JSON line, as either parser found it. A null
// value counts as missing.
struct ManifestReader::Field {
  enum class Kind { kMissing, kString, kInteger, kUnsigned, kOther } kind = Kind::kMissing;
  std::string text;
  std::int64_t integer = 0;
  std::uint64_t unsigned_integer = 0;
};

void ManifestReader::parse_json_line(std::string_view line, ManifestEntry &entry) const {
  Fields fields;
  FlatJsonObject flat;
  if (flat.scan(line)) {
    read_flat_fields(flat, fields);
  } else {
    read_json_fields(line, fields);
  }
  apply_fields(fields, entry);
}

// The fast path (flat_json.hpp): a flat line of plain values.
void ManifestReader::read_flat_fields(const FlatJsonObject &flat, Fields &fields) const {
  for (size_t i = 0; i < kFieldNames.size(); ++i) {
    const FlatJsonValue *v = flat.find(kFieldNames[i]);
    if (v == nullptr || v->kind == FlatJsonValue::Kind::kNull) continue;
    Field &f = fields[i];
    switch (v->kind) {
      case FlatJsonValue::Kind::kString:
        f.kind = Field::Kind::kString;
        f.text.assign(v->text);
        break;
      case FlatJsonValue::Kind::kInteger:
        // As nlohmann does: a number with a minus sign (-0 too) is signed.
        f.kind = v->text[0] == '-' ? Field::Kind::kInteger : Field::Kind::kUnsigned;
        f.integer = v->integer;
        f.unsigned_integer = static_cast<std::uint64_t>(v->integer);
        break;
      default:
        f.kind = Field::Kind::kOther;
    }
  }
}

// Everything else goes through nlohmann::json, which also judges validity.
void ManifestReader::read_json_fields(std::string_view line, Fields &fields) const {
  // Not const: the string fields are moved out of the parsed object, not copied.
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail("not a valid JSON object");
  for (size_t i = 0; i < kFieldNames.size(); ++i) {
    const auto it = j.find(kFieldNames[i]);
    if (it == j.end() || it->is_null()) continue;
    Field &f = fields[i];
    if (it->is_string()) {
      f.kind = Field::Kind::kString;
      f.text = std::move(it->get_ref<std::string &>());
    } else if (it->is_number_unsigned()) {
      f.kind = Field::Kind::kUnsigned;
      f.unsigned_integer = it->get<std::uint64_t>();
    } else if (it->is_number_integer()) {
      f.kind = Field::Kind::kInteger;
      f.integer = it->get<std::int64_t>();
    } else {
      f.kind = Field::Kind::kOther;
    }
  }
}

void ManifestReader::apply_fields(Fields &fields, ManifestEntry &entry) const {
  // True when the key is present and not null.
  auto string_field = [&](FieldIndex index, std::string &out, bool required) {
    Field &f = fields[index];
    const char *key = kFieldNames[index];
    if (f.kind == Field::Kind::kMissing) {
      if (required) fail(std::string("\"") + key + "\" is required");
      return false;
    }
    if (f.kind != Field::Kind::kString) fail(std::string("\"") + key + "\" must be a string");
    out = std::move(f.text);
    return true;
  };
  string_field(kUrl, entry.url, true);
  const bool has_path = string_field(kPath, entry.path, false);
  string_field(kGroup, entry.group, false);
  if (string_field(kSha256, entry.sha256, false)) {
    if (!is_sha256_hex(entry.sha256)) {
      fail("\"sha256\" must be 64 hex digits: " + echo(entry.sha256));
    }
    entry.sha256 = util::lower(entry.sha256);
  }
  const Field &size = fields[kSize];
  switch (size.kind) {
    case Field::Kind::kMissing:
      break;
    case Field::Kind::kUnsigned:
      if (size.unsigned_integer > static_cast<std::uint64_t>(INT64_MAX))
        fail("\"size\" is too large");
      entry.size = static_cast<std::int64_t>(size.unsigned_integer);
      break;
    case Field::Kind::kInteger:
      entry.size = size.integer;
      if (entry.size < 0) fail("\"size\" must not be negative: " + std::to_string(entry.size));
      break;
    default:
      fail("\"size\" must be an integer");
  }
  if (auto problem = url_problem(entry.url)) fail(*problem);
  use_ascii_host(entry);
  if (has_path) {
    if (auto why = unsafe_path_reason(entry.path))
      fail("\"path\" " + *why + ": " + echo(entry.path));
  }
}

void ManifestReader::parse_url_line(std::string_view line, ManifestEntry &entry) const {
  entry.url.assign(line);
  if (auto problem = url_problem(entry.url)) {
    fail(entry.url.starts_with("http://") || entry.url.starts_with("https://")
             ? *problem
             : "not a URL or JSON object: " + shown_url(line));
  }
  use_ascii_host(entry);
}

void ManifestReader::use_ascii_host(ManifestEntry &entry) const {
  std::string error;
  auto ascii = ascii_host_url(entry.url, &error);
  if (!ascii) fail(error);
  entry.url = std::move(*ascii);
}

void ManifestReader::complete_defaults(ManifestEntry &entry) const {
  if (entry.path.empty()) {
    entry.path = file_name_from_url(entry.url);
    entry.path_from_url = true;
    if (entry.path.empty()) {
      fail("cannot derive a file name from the URL (give \"path\"): " + shown_url(entry.url));
    }
    if (auto why = unsafe_path_reason(entry.path)) {
      fail("file name derived from the URL " + *why + ": " + echo(entry.path));
    }
  }
  if (entry.group.empty()) entry.group = entry.path;
}

ManifestSource ManifestSource::open(const std::string &arg) {
  ManifestSource source;
  if (arg != "-") {
    std::ifstream probe(arg);
    if (!probe) throw ManifestError(arg + ": cannot open manifest");
    source.display_name_ = arg;
    source.path_ = arg;
    return source;
  }
  // stdin can be read once only; spool it so both passes see the same data.
  const char *tmpdir = std::getenv("TMPDIR");
  std::string templ = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/dlhost-stdin-XXXXXX";
  const int fd = ::mkstemp(templ.data());
  if (fd < 0) throw ManifestError("<stdin>: cannot create a temporary file to spool stdin");
  ::close(fd);
  source.display_name_ = "<stdin>";
  source.path_ = templ;
  source.temporary_ = true;
  std::ofstream out(templ, std::ios::binary);
  out << std::cin.rdbuf();
  out.flush();
  if (!out) throw ManifestError("<stdin>: cannot spool stdin to " + templ);
  return source;
}

ManifestSource::ManifestSource(ManifestSource &&other) noexcept
    : display_name_(std::move(other.display_name_)),
      path_(std::move(other.path_)),
      temporary_(other.temporary_) {
  other.temporary_ = false;
}

ManifestSource::~ManifestSource() {
  if (temporary_) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

std::unique_ptr<std::istream> ManifestSource::open_stream() const {
  auto in = std::make_unique<std::ifstream>(path_, std::ios::binary);
  if (!*in) throw ManifestError(display_name_ + ": cannot open manifest");
  return in;
}

std::string path_taken_message(std::string_view display_name, const ManifestEntry &later,
                               std::uint64_t earlier_line) {
  const std::string what = later.path_from_url
                               ? "\"" + echo(later.path) + "\" (the URL's file name)"
                               : "\"path\" \"" + echo(later.path) + "\"";
  return std::string(display_name) + ":" + std::to_string(later.line) + ": " + what +
         " is already the destination of line " + std::to_string(earlier_line) +
         ", for another URL; give each of them its own \"path\"";
}

std::string working_name_message(std::string_view display_name, std::uint64_t at_line,
                                 std::string_view working, std::uint64_t working_line,
                                 std::string_view dest, std::uint64_t dest_line) {
  return std::string(display_name) + ":" + std::to_string(at_line) + ": \"" + echo(working) +
         "\" (line " + std::to_string(working_line) + ") is the name dlhost downloads \"" +
         echo(dest) + "\" (line " + std::to_string(dest_line) +
         ") into before it is complete; give it another \"path\"";
}

std::string_view working_name_owner(std::string_view path) {
  for (const auto suffix : kWorkingSuffixes) {
    if (path.size() > suffix.size() && path.ends_with(suffix))
      return path.substr(0, path.size() - suffix.size());
  }
  return {};
}

namespace {

// The destination a line's path was already given to, by an earlier line.
struct Destination {
  std::uint64_t line;
  std::string path;
  std::string url;
};

[[noreturn]] void conflict(const ManifestSource &source, const ManifestEntry &later,
                           const Destination &earlier) {
  throw ManifestError(path_taken_message(source.display_name(), later, earlier.line));
}

// The path with every trailing working suffix removed: a path and each path
// that is one of its working names share it, so they meet in pass 2.
std::string_view owner_of(std::string_view path) {
  for (auto owner = working_name_owner(path); !owner.empty(); owner = working_name_owner(path))
    path = owner;
  return path;
}

bool is_working_name_of(std::string_view path, std::string_view dest) {
  return working_name_owner(path) == dest && !dest.empty();
}

[[noreturn]] void working_name_conflict(const ManifestSource &source, const ManifestEntry &later,
                                        const Destination &earlier) {
  const bool later_is_working = is_working_name_of(later.path, earlier.path);
  throw ManifestError(later_is_working
                          ? working_name_message(source.display_name(), later.line, later.path,
                                                 later.line, earlier.path, earlier.line)
                          : working_name_message(source.display_name(), later.line, earlier.path,
                                                 earlier.line, later.path, later.line));
}

// Pass 1: one keyed 64-bit fingerprint of every line's path; returns the
// sorted fingerprints that occur more than once. Everything else is freed.
std::vector<std::uint64_t> candidate_fingerprints(const ManifestSource &source,
                                                  util::KeyedHash64 &fingerprint,
                                                  ManifestSummary &summary) {
  auto in = source.open_stream();
  ManifestReader reader(*in, source.display_name());
  std::vector<std::uint64_t> all;
  ManifestEntry entry;
  while (reader.next(entry)) {
    ++summary.entries;
    all.push_back(fingerprint(owner_of(entry.path)));
  }
  std::sort(all.begin(), all.end());
  std::vector<std::uint64_t> repeated;
  for (std::size_t i = 1; i < all.size(); ++i) {
    if (all[i] == all[i - 1] && (repeated.empty() || repeated.back() != all[i]))
      repeated.push_back(all[i]);
  }
  return repeated;
}

// Pass 2, only when pass 1 found candidates: the lines whose fingerprint
// repeats are compared as text. Same path and URL: a duplicate line; same
// path, another URL: a manifest error naming both lines; one path the
// other's working name: the same; any other path (the fingerprints merely
// collided, or "a" and "a.part.part"): a file of its own.
void compare_candidates(const ManifestSource &source, util::KeyedHash64 &fingerprint,
                        const std::vector<std::uint64_t> &candidates, ManifestSummary &summary) {
  auto in = source.open_stream();
  ManifestReader reader(*in, source.display_name());
  std::unordered_map<std::uint64_t, std::vector<Destination>> seen;
  ManifestEntry entry;
  while (reader.next(entry)) {
    const auto fp = fingerprint(owner_of(entry.path));
    if (!std::binary_search(candidates.begin(), candidates.end(), fp)) continue;
    auto &destinations = seen[fp];
    for (const Destination &d : destinations) {
      if (is_working_name_of(entry.path, d.path) || is_working_name_of(d.path, entry.path))
        working_name_conflict(source, entry, d);
    }
    const auto same_path = std::find_if(destinations.begin(), destinations.end(),
                                        [&](const Destination &d) { return d.path == entry.path; });
    if (same_path == destinations.end()) {
      destinations.push_back({entry.line, std::move(entry.path), std::move(entry.url)});
    } else if (same_path->url == entry.url) {
      summary.duplicate_lines.push_back(entry.line);
    } else {
      conflict(source, entry, *same_path);
    }
  }
}

}  // namespace

ManifestSummary validate_manifest(const ManifestSource &source) {
  ManifestSummary summary;
  util::KeyedHash64 fingerprint;  // keyed per run: a manifest cannot force candidates
  const auto candidates = candidate_fingerprints(source, fingerprint, summary);
  if (!candidates.empty()) compare_candidates(source, fingerprint, candidates, summary);
  summary.unique_entries = summary.entries - summary.duplicate_lines.size();
  return summary;
}

}  // namespace dlhost
