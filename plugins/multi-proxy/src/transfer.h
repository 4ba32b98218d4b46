// One transfer slot: a libcurl easy handle, its .part file and the state the
// callbacks share, reused for file after file on the same path.
//
// Slots are pooled per path (TransferPool), so a handle keeps its proxy
// options and its PartFile buffer for the whole run; starting a file costs a
// few setopt calls and an open(2). (libcurl allocates its receive buffer per
// transfer; begin() sizes it to the file, see transfer.cpp.) The connection
// pool itself belongs to the multi handle, so connections are reused across
// slots of the same path.
//
// begin() opens "<dest>.part" beneath the output directory (common's
// PartFile: no link is followed; an existing .part with a validator is
// resumed with Range + If-Range, and common's write callback restarts from
// zero if the server answers 200). A .part that is already the whole file
// (verified) needs no request: whole() is true and the loop posts its
// commit at once. The request itself is common's Request: it follows
// redirects by hand (no DOWNLOAD_HEADERS to another origin) and asks once
// more on a fresh connection after a malformed answer on a reused one;
// again() says the loop must run the handle once more. conclude() turns the
// finished transfer into an AttemptResult: it asks common's classify() what
// went wrong and common's is_block_page() whether a body that fails
// verification (or has nothing to verify against) is a block page. A success still
// has its .part open: the event loop posts commit_job() to the CommitWorker
// (hash of what is buffered, size/sha256 check, atomic rename on another
// thread) and, once the job comes back, committed() gives the final result,
// so the loop never hashes or writes a small file itself. The slot stays
// taken (not in the multi handle, not in the pool) until then. After a
// failed attempt the .part is kept for the next attempt to resume; the
// caller removes it when the task fails for good.
//
// The pool keeps its own copy of each path's ProxySpec. When set_proxies()
// gives a listed path new credentials, set_spec() bumps that path's
// generation and drops its idle slots; slots still running keep the old
// options until they come back, and release() then drops them too, so every
// attempt started after the change uses the new credentials. A new path is
// just one more entry.
#pragma once

#include <curl/curl.h>
#include <dlhost/transport/commit_worker.h>
#include <dlhost/transport/easy_setup.h>
#include <dlhost/transport/events.h>
#include <dlhost/transport/part_file.h>
#include <dlhost/transport/request.h>
#include <dlhost/transport/transport_config.h>

#include <memory>
#include <string>
#include <vector>

#include "scheduler.h"

namespace dlhost::mp {

class Transfer {
 public:
  Transfer(size_t path, const transport::TransportConfig &cfg, const transport::ProxySpec &proxy,
           const transport::EventEmitter &emit, util::OutputRoot &root);

  // Prepares an attempt of `task`. False (with *error) when the .part cannot be opened.
  bool begin(const TaskSpec &task, int attempt, std::string *error);
  // begin() found the whole file in the .part, verified: post commit_job() now.
  bool whole() const { return whole_; }
  // The handle finished a hop with `code`: true when it must run again (a
  // redirect, a fresh connection); it is set up for that.
  bool again(CURLcode code) { return request_.again(easy(), code, &ctx_); }
  // The handle is in the multi handle now: its byte counters are this attempt's.
  void mark_running() { running_ = true; }
  // kSuccess means "all bytes are here": post commit_job(), then committed().
  AttemptResult conclude(CURLcode code);
  transport::CommitJob *commit_job() { return &job_; }
  // The attempt's result once the CommitWorker has run commit_job().
  AttemptResult committed() const;
  static Transfer *of(const transport::CommitJob *job) {
    return static_cast<Transfer *>(job->owner);
  }
  // The attempt was stopped by cancel(): keep the .part for a later resume.
  void abandon();
  // No more PROGRESS for this attempt. libcurl calls the progress callback
  // once more when a running handle is removed (multi_done -> pgrsDone); in
  // the destructor that would be an event on the host's thread, inside
  // destroy() (conformance: no_callback_after_destroy).
  void mute() { ctx_.on_progress = nullptr; }

  CURL *easy() const { return handle_.get(); }
  size_t path() const { return path_; }
  uint64_t task_id() const { return task_id_; }
  int attempt() const { return attempt_; }
  const std::string &dest() const { return dest_; }
  uint64_t bytes_done() const { return file_.size(); }
  uint64_t bytes_total() const { return total_; }
  uint64_t bytes_received() const;  // by this attempt
  double first_byte_ms() const;
  uint64_t generation = 0;  // the pool's generation of this path's spec when made

 private:
  AttemptResult prepare_commit(const AttemptResult &ok);
  AttemptResult block_page() const;
  static void on_progress(void *user, uint64_t done, uint64_t total);

  size_t path_;
  const transport::TransportConfig &cfg_;
  const transport::EventEmitter &emit_;
  const std::string path_id_;  // a copy: the pool's specs may change under us
  bool via_proxy_;
  bool running_ = false;
  transport::EasyHandle handle_;
  transport::PartFile file_;
  transport::Request request_;
  transport::TransferContext ctx_;
  transport::ProgressThrottle throttle_;
  transport::CommitJob job_;
  AttemptResult concluded_;  // conclude()'s success, completed by committed()
  uint64_t task_id_ = 0;
  int attempt_ = 0;
  std::string url_, dest_;
  int64_t size_ = -1;
  uint64_t total_ = 0;
  bool whole_ = false;
  bool html_ = false;  // the final response was HTML for a file URL
};

class TransferPool {
 public:
  TransferPool(const transport::TransportConfig &cfg, std::vector<transport::ProxySpec> paths,
               const transport::EventEmitter &emit);
  // Path `path` (the next one, or an existing one with new settings) is `spec`.
  void set_spec(size_t path, transport::ProxySpec spec);
  std::unique_ptr<Transfer> acquire(size_t path);
  void release(std::unique_ptr<Transfer> t);
  // Deletes a failed file's .part and sidecar, never through a link.
  void remove_part(const std::string &dest);

 private:
  const transport::TransportConfig &cfg_;
  util::OutputRoot root_;  // DOWNLOAD_DIR, shared by every slot
  std::vector<transport::ProxySpec> paths_;
  std::vector<uint64_t> generation_;  // per path, bumped by set_spec()
  const transport::EventEmitter &emit_;
  std::vector<std::vector<std::unique_ptr<Transfer>>> free_;
};

}  // namespace dlhost::mp
