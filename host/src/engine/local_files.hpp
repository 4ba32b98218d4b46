// What the output directory already holds, asked cheaply: the job asks once
// per manifest entry, so these calls are on the hot path of a big job.
//
//  - present(): one stat(2) per file whose directory exists. Files of a
//    directory that does not exist yet cost nothing: its absence is learned
//    with one stat and remembered until forget() (the job calls it before
//    each batch, so a directory made in between is looked at again).
//  - make_parent(): creates a destination's directory. Manifests list a
//    directory's files together, so the last directory made is remembered
//    and not made again.
// Paths are plain strings (out_dir + "/" + relative path): std::filesystem
// splits a path into components on most operations, which costs more than
// the system calls here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace dlhost {

class LocalFiles {
 public:
  explicit LocalFiles(std::string out_dir);

  const std::string &out_dir() const { return out_dir_; }
  // out_dir + "/" + relative
  std::string dest(std::string_view relative) const;

  // A file counts as present when it is a regular file and, if the manifest
  // gives a size, has that size. Its sha256 is not re-read: that would cost a
  // full read of every file on every rerun; the plugin verified it when it
  // wrote the file.
  bool present(std::string_view relative, std::int64_t expected_size);
  // Drops what present() remembered about missing directories.
  void forget() { absent_dir_.clear(); }

  // Creates the directory `dest` (a dest() result) lies in; false with `ec`.
  bool make_parent(const std::string &dest, std::error_code &ec);

 private:
  bool directory_missing(std::string_view relative_dir);

  std::string out_dir_;
  std::string absent_dir_;  // relative; "" = none known
  std::string last_made_;   // absolute
  std::string scratch_;
};

}  // namespace dlhost
