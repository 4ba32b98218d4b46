// The manifest as a WorkSource; see work_source.hpp.
#include "dlhost/host/work_source.hpp"

namespace dlhost {

ManifestWorkSource::ManifestWorkSource(const ManifestSource &source, ManifestSummary summary)
    : in_(source.open_stream()),
      reader_(*in_, source.display_name()),
      total_(summary.unique_entries),
      duplicate_lines_(std::move(summary.duplicate_lines)) {}

// Lines come in order and duplicate_lines_ is sorted: one cursor suffices.
bool ManifestWorkSource::is_duplicate(std::uint64_t line) {
  if (next_duplicate_ >= duplicate_lines_.size() || duplicate_lines_[next_duplicate_] != line)
    return false;
  ++next_duplicate_;
  return true;
}

bool ManifestWorkSource::next_batch(std::size_t max, std::vector<ManifestEntry> &out) {
  ManifestEntry entry;
  for (std::size_t n = 0; n < max;) {
    if (!reader_.next(entry)) return n > 0;
    entry.duplicate = is_duplicate(entry.line);
    out.push_back(std::move(entry));
    ++n;
  }
  return true;
}

}  // namespace dlhost
