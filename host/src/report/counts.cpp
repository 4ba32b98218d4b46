// Counts' one JSON shape and its arithmetic; see counts.hpp.
#include "dlhost/host/counts.hpp"

namespace dlhost {

nlohmann::ordered_json Counts::to_json() const {
  nlohmann::ordered_json j;
  j["files"] = {{"total", total},   {"completed", completed}, {"skipped", skipped},
                {"failed", failed}, {"deferred", deferred},   {"cancelled", cancelled}};
  j["bytes"] = bytes;
  return j;
}

Counts Counts::since(const Counts &e) const {
  return {total - e.total,       completed - e.completed,
          skipped - e.skipped,   failed - e.failed,
          deferred - e.deferred, cancelled - e.cancelled,
          bytes - e.bytes,       bytes_in_flight - e.bytes_in_flight};
}

Counts &Counts::operator+=(const Counts &o) {
  total += o.total;
  completed += o.completed;
  skipped += o.skipped;
  failed += o.failed;
  deferred += o.deferred;
  cancelled += o.cancelled;
  bytes += o.bytes;
  bytes_in_flight += o.bytes_in_flight;
  return *this;
}

}  // namespace dlhost
