// Byte-for-byte comparison of two trees; see tree_compare.hpp.
#include "dlhost/host/tree_compare.hpp"

#include <algorithm>
#include <fstream>
#include <set>

namespace fs = std::filesystem;

namespace dlhost {
namespace {

constexpr std::size_t kBlock = 256 * 1024;

std::set<std::string> regular_files(const fs::path &root) {
  std::set<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  fs::recursive_directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const auto rel = it->path().lexically_relative(root);
    if (it.depth() == 0 && rel == ".dlhost") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.insert(rel.generic_string());
  }
  return out;
}

}  // namespace

bool same_contents(const fs::path &a, const fs::path &b) {
  std::error_code ec1, ec2;
  if (fs::file_size(a, ec1) != fs::file_size(b, ec2) || ec1 || ec2) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  std::vector<char> ba(kBlock), bb(kBlock);
  while (fa && fb) {
    fa.read(ba.data(), kBlock);
    fb.read(bb.data(), kBlock);
    if (fa.gcount() != fb.gcount()) return false;
    if (!std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
  }
  return fa.eof() && fb.eof();
}

TreeComparison compare_trees(const fs::path &a, const fs::path &b) {
  const auto files_a = regular_files(a), files_b = regular_files(b);
  TreeComparison c;
  std::set_difference(files_a.begin(), files_a.end(), files_b.begin(), files_b.end(),
                      std::back_inserter(c.only_a));
  std::set_difference(files_b.begin(), files_b.end(), files_a.begin(), files_a.end(),
                      std::back_inserter(c.only_b));
  for (const auto &rel : files_a) {
    if (!files_b.count(rel)) continue;
    if (same_contents(a / rel, b / rel)) {
      ++c.files;
      std::error_code ec;
      c.bytes += fs::file_size(a / rel, ec);
    } else {
      c.differ.push_back(rel);
    }
  }
  return c;
}

}  // namespace dlhost
