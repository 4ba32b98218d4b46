// Comparing two output trees byte for byte (`dlhost compare`).
//
// Both trees are walked; dlhost's own `.dlhost/` directory at the top is
// ignored. Relative paths of regular files are compared as sets, and files
// present in both are compared by streaming them side by side in 256 KiB
// blocks (stopping at the first difference), which reads each byte once and
// needs no hashing. Symbolic links are compared as the files they point to.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace dlhost {

struct TreeComparison {
  std::vector<std::string> only_a, only_b, differ;  // relative paths, sorted
  std::uint64_t files = 0;                          // in both and identical
  std::uint64_t bytes = 0;                          // of those
  bool identical() const { return only_a.empty() && only_b.empty() && differ.empty(); }
};

TreeComparison compare_trees(const std::filesystem::path &a, const std::filesystem::path &b);
// True when both files hold the same bytes (false when either cannot be read).
bool same_contents(const std::filesystem::path &a, const std::filesystem::path &b);

}  // namespace dlhost
