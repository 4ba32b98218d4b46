// What the output directory already holds, asked cheaply, and where new
// files may go: the job asks once per manifest entry, so these calls are on
// the hot path of a big job.
//
// Nothing here follows a symbolic link inside the output directory (see
// plugins/common's beneath.h, shared with the plugins): directories are
// opened beneath the output directory's own descriptor with openat2
// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or an O_NOFOLLOW walk where the
// kernel lacks it, unless DOWNLOAD_FOLLOW_SYMLINKS=1 allows links to
// directories. A file is looked at with fstatat(AT_SYMLINK_NOFOLLOW).
//  - present(): one fstatat(2) per file, plus one directory open when the
//    directory changes. Files of a directory that does not exist yet cost
//    nothing: its absence is learned once and remembered until forget()
//    (the job calls it before each batch, so a directory made in between is
//    looked at again). A file below a link is not present: the plugin then
//    fails it with a message naming the link.
//  - make_parent(): creates a destination's directory the same way, never
//    through a link. Manifests list a directory's files together, so the
//    last directory made is remembered (with its descriptor) and not made
//    again.
// Paths are plain strings (out_dir + "/" + relative path): std::filesystem
// splits a path into components on most operations, which costs more than
// the system calls here.
#pragma once

#include <dlhost/transport/beneath.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace dlhost {

class LocalFiles {
 public:
  explicit LocalFiles(std::string out_dir, bool follow_links = false);

  const std::string &out_dir() const { return out_dir_; }
  // out_dir + "/" + relative
  std::string dest(std::string_view relative) const;

  // A file counts as present when it is a regular file (not a link) and, if
  // the manifest gives a size, has that size. Its sha256 is not re-read:
  // that would cost a full read of every file on every rerun; the plugin
  // verified it when it wrote the file.
  bool present(std::string_view relative, std::int64_t expected_size);
  // Drops what present() remembered about missing directories.
  void forget() { absent_dir_.clear(); }

  // Creates the directory `dest` (a dest() result) lies in, beneath the
  // output directory; false with a one-line *error naming the path (a link
  // on the way is named as such).
  bool make_parent(const std::string &dest, std::string *error);

 private:
  bool known_missing(std::string_view relative_dir) const;

  std::string out_dir_;
  transport::OutputRoot root_;
  transport::DirCache looked_at_;   // present()'s last directory
  transport::DirCache made_;        // make_parent()'s last directory
  std::string absent_dir_;          // relative; "" = none known
  std::string dir_, name_, error_;  // scratch
};

}  // namespace dlhost
