// StateDir: a program's own state directory inside the output directory
// (dlhost keeps <out>/.dlhost), held to the rules downloads follow.
//
// dlhost often runs as root, and whoever can write the output directory can
// plant things in it, our state directory included. So the state obeys the
// download rules (beneath.h), not plain open(2) by name:
//  - the state directory is opened beneath the output directory with no link
//    followed (a link at <out>/.dlhost is refused, never followed);
//  - every state file is opened with openat() on the directory's descriptor,
//    with O_NOFOLLOW (a link is refused) and O_NONBLOCK (a FIFO cannot hold
//    the open), and its type is checked after opening: only a regular file
//    is used. A FIFO, device, socket or directory is refused the same way.
//  - temporary files are replaced instead: whatever stands at their name is
//    unlinked (a link itself, never what it points to) and the file created
//    with O_EXCL; unnamed ones use O_TMPFILE.
// check() names the first thing in the way in one line (the host's job
// makes that a configuration error, exit 2, before anything runs); the open
// calls refuse the same things when they appear later, which only costs the
// state (a rerun reads files again), never a write elsewhere or a hang.
//
// The output directory itself is opened as given: a root that is a link is
// the user's choice, as in beneath.h. Not thread-safe: one owner at a time.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "dlhost/util/fd.h"

namespace dlhost::util {

class StateDir {
 public:
  StateDir() = default;  // none: every open fails
  // <out_dir>/<name>; nothing is opened before the first call.
  explicit StateDir(std::string out_dir, std::string name = ".dlhost");

  bool enabled() const { return !out_dir_.empty(); }
  // "<out>/.dlhost/<file>", for messages.
  std::string shown(std::string_view file = {}) const;

  // "" when the directory and each of `files` are absent or what they must
  // be (a directory, regular files); else one line naming the first that is
  // not, and what it is ("... is a symbolic link", "... is a FIFO").
  std::string check(std::initializer_list<const char *> files);

  // The directory's descriptor, opened (and created, when `create`) on the
  // first call that succeeds; -1 with *error (may be null) otherwise.
  int dir_fd(bool create, std::string *error = nullptr);

  // Opens the regular file `name` (O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC are
  // added to `flags`; O_CREAT creates it with `mode`). Anything else at that
  // name gives an empty Fd and *error (may be null) names it.
  Fd open(const char *name, int flags, mode_t mode = 0644, std::string *error = nullptr);
  // A new, empty regular file at `name`, replacing whatever stands there.
  Fd create_replacing(const char *name, mode_t mode = 0644);
  // An unnamed temporary file in the directory (O_TMPFILE, else a
  // replaced and at once unlinked name); empty Fd on failure.
  Fd anonymous();
  bool rename(const char *from, const char *to);
  void unlink(const char *name);

 private:
  std::string out_dir_;
  std::string name_;
  Fd dir_;
};

// What a stat(2) mode is, for messages: "a symbolic link", "a FIFO", ...
const char *file_kind(mode_t mode);

}  // namespace dlhost::util
