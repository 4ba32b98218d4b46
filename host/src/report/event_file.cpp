// `--events FILE|-`: the event stream as NDJSON (see event_sinks.hpp).
//
// A reader that goes away (`dlhost run --events - | head -1`) is not the
// job's failure: the first failed write is reported once and the stream
// stops, the downloads go on. (SIGPIPE is ignored by the command line, so a
// closed pipe is an EPIPE here, not the end of the process.)
#include <cerrno>
#include <cstring>

#include "dlhost/host/event_sinks.hpp"
#include "dlhost/host/settings.hpp"

namespace dlhost {

NdjsonSink::NdjsonSink(const std::string &target, NoticeFn notice)
    : name_(target == "-" ? "stdout" : target), notice_(std::move(notice)) {
  if (target == "-") {
    file_ = stdout;
    return;
  }
  file_ = std::fopen(target.c_str(), "we");
  if (!file_) throw ConfigError("--events " + target + ": cannot create: " + std::strerror(errno));
  owned_ = true;
}

NdjsonSink::~NdjsonSink() {
  if (owned_ && file_) std::fclose(file_);
}

void NdjsonSink::give_up(int err) {
  broken_ = true;
  if (notice_)
    notice_("dlhost: warning: events: cannot write to " + name_ + ": " + std::strerror(err) +
            "; no more events are written (the job goes on)");
}

void NdjsonSink::deliver(const JobEvent &event) {
  if (broken_) return;
  const std::string line = to_json_line(event);
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) give_up(errno);
}

void NdjsonSink::flush() {
  if (!broken_ && std::fflush(file_) != 0) give_up(errno);
}

void NdjsonSink::close(std::chrono::steady_clock::time_point) {
  flush();
  if (owned_ && file_) {
    if (std::fclose(file_) != 0 && !broken_) give_up(errno);
    file_ = nullptr;
  }
}

}  // namespace dlhost
