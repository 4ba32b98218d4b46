// The manifest as a WorkSource; see work_source.hpp.
#include "dlhost/host/work_source.hpp"

namespace dlhost {

ManifestWorkSource::ManifestWorkSource(const ManifestSource &source, std::uint64_t unique_entries)
    : in_(source.open_stream()), reader_(*in_, source.display_name()), total_(unique_entries) {}

bool ManifestWorkSource::next_batch(std::size_t max, std::vector<ManifestEntry> &out) {
  ManifestEntry entry;
  for (std::size_t n = 0; n < max; ++n) {
    if (!reader_.next(entry)) return n > 0;
    out.push_back(std::move(entry));
  }
  return true;
}

}  // namespace dlhost
