// libFuzzer target: the reader of <out>/.dlhost/verified (VerifiedFiles in
// host/src/engine), whose bytes anyone who can write the output directory
// can choose.
//
// The input is split into the directory's key (its first 32 bytes, written
// 0600 as dlhost would), the table `verified` and the journal
// `verified.journal` (the rest, cut at a point the input picks). Then, as a
// run does: open (folding the journal), look files up, record one, close
// (folding again), and open once more. Nothing may crash (ASan, UBSan), and
// whatever the files held, the record this run made is found by the next
// run and a file never recorded is not.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../../host/src/engine/verified_files.hpp"

namespace {

const std::string &out_dir() {
  static const std::string dir = [] {
    char templ[] = "/tmp/dlhost-fuzz-verified-XXXXXX";
    const char *made = ::mkdtemp(templ);
    if (made == nullptr) std::abort();
    return std::string(made);
  }();
  return dir;
}

void write_file(const std::string &path, const std::uint8_t *data, std::size_t n, mode_t mode) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) std::abort();
  if (n > 0 && ::write(fd, data, n) != static_cast<ssize_t>(n)) std::abort();
  ::close(fd);
}

struct stat stat_of(std::uint64_t ino) {
  struct stat st {};
  st.st_dev = 7;
  st.st_ino = ino;
  st.st_size = 100;
  st.st_mtim.tv_sec = 1000;
  st.st_ctim.tv_sec = 2000;
  return st;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  using dlhost::VerifiedFiles;
  const std::string state = out_dir() + "/.dlhost";
  ::mkdir(state.c_str(), 0755);
  const std::size_t key = size < 32 ? size : 32;
  write_file(state + "/key", data, key, 0600);
  data += key;
  size -= key;
  const std::size_t cut = size > 0 ? data[0] * size / 256 : 0;
  write_file(state + "/verified", data, cut, 0644);
  write_file(state + "/verified.journal", data + cut, size - cut, 0644);

  VerifiedFiles::Digest mine{};
  mine[0] = 0x42;
  {
    VerifiedFiles run(out_dir());
    for (std::uint64_t ino = 0; ino < 8; ++ino) (void)run.lookup(stat_of(ino * 1000003));
    run.record(stat_of(424242), mine);
    run.close();
  }
  VerifiedFiles next(out_dir());
  if (next.lookup(stat_of(424242)) != mine) __builtin_trap();
  if (next.lookup(stat_of(424243))) __builtin_trap();
  return 0;
}
