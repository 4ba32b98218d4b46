// What the output directory already holds, asked cheaply, and where new
// files may go: the job asks once per manifest entry, so these calls are on
// the hot path of a big job.
//
// Nothing here follows a symbolic link inside the output directory (see
// util's beneath.h, shared with the plugins): directories are
// opened beneath the output directory's own descriptor with openat2
// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or an O_NOFOLLOW walk where the
// kernel lacks it, unless DOWNLOAD_FOLLOW_SYMLINKS=1 allows links to
// directories. A file is looked at with fstatat(AT_SYMLINK_NOFOLLOW).
//  - present(): one fstatat(2) per file, plus one directory open when the
//    directory changes. Files of a directory that does not exist yet cost
//    nothing: its absence is learned once and remembered until forget()
//    (the job calls it before each batch, so a directory made in between is
//    looked at again). A file below a link is not present: the plugin then
//    fails it with a message naming the link. A file is present only when
//    it matches what the manifest says: its size and, when the manifest
//    gives one, its sha256. The sha256 is read once per file and remembered
//    in <out>/.dlhost/ by device, inode, size and mtime (verified_files.hpp),
//    with the files the plugin verified as it wrote them, so a rerun of a
//    finished job reads no file. A link at the destination is never
//    present: the plugin's rename replaces it.
//  - make_parent(): creates a destination's directory the same way, never
//    through a link. Manifests list a directory's files together, so the
//    last directory made is remembered (with its descriptor) and not made
//    again.
// Paths are plain strings (out_dir + "/" + relative path): std::filesystem
// splits a path into components on most operations, which costs more than
// the system calls here.
#pragma once

#include <dlhost/util/beneath.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verified_files.hpp"

namespace dlhost {

class LocalFiles {
 public:
  explicit LocalFiles(std::string out_dir, bool follow_links = false);

  const std::string &out_dir() const { return out_dir_; }
  // out_dir + "/" + relative
  std::string dest(std::string_view relative) const;

  // A file counts as present when it is a regular file (not a link) and, if
  // the manifest gives them, has that size and that sha256 (64 lowercase hex
  // digits, or empty).
  bool present(std::string_view relative, std::int64_t expected_size,
               std::string_view expected_sha256 = {});
  // The plugin wrote `relative` and verified it against `sha256`: remember
  // it, so the next run need not read it.
  void remember_verified(std::string_view relative, std::string_view sha256);
  // Saves what was remembered (the end of a job).
  void close() { verified_.close(); }
  // Drops what present() remembered about missing directories.
  void forget() { absent_dir_.clear(); }

  // Creates the directory `dest` (a dest() result) lies in, beneath the
  // output directory; false with a one-line *error naming the path (a link
  // on the way is named as such).
  bool make_parent(const std::string &dest, std::string *error);

 private:
  bool known_missing(std::string_view relative_dir) const;
  int open_dir_of(std::string_view relative);
  bool content_matches(int dfd, const struct stat &st, std::string_view expected_sha256);
  std::optional<VerifiedFiles::Digest> hash_file(int dfd, const struct stat &st);

  std::string out_dir_;
  util::OutputRoot root_;
  util::DirCache looked_at_;  // present()'s last directory
  util::DirCache made_;       // make_parent()'s last directory
  VerifiedFiles verified_;
  std::vector<char> read_buffer_;   // for hashing, allocated on first need
  std::string absent_dir_;          // relative; "" = none known
  std::string dir_, name_, error_;  // scratch
};

}  // namespace dlhost
