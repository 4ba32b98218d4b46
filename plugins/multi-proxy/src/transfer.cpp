// Transfer slots (see transfer.h).
#include "transfer.h"

#include <dlhost/transport/block_page.h>
#include <dlhost/transport/failure.h>
#include <dlhost/transport/redact.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "outcome.h"

namespace dlhost::mp {
namespace {

// libcurl's largest receive buffer (CURL_MAX_READ_SIZE in 7.88): fewer, larger
// writes and callbacks for big files.
constexpr long kReceiveBuffer = 512 * 1024;
constexpr long kSmallReceiveBuffer = 16 * 1024;  // libcurl's default

// libcurl allocates the receive buffer for every transfer and frees it when
// the transfer ends. 512 KiB blocks churned once per small file made malloc
// give memory back to the kernel and fault it in again (several page faults
// a file, more than curl's whole run). A file of known size gets a buffer
// that fits it (headers included), so small files churn small blocks.
long receive_buffer_for(int64_t size) {
  if (size < 0) return kReceiveBuffer;
  long fit = static_cast<long>(std::min<int64_t>(size, kReceiveBuffer)) + 4096;
  fit = (fit + 4095) / 4096 * 4096;
  return std::clamp(fit, kSmallReceiveBuffer, kReceiveBuffer);
}

void check(CURLcode rc, const char *what) {
  if (rc != CURLE_OK) throw std::runtime_error(std::string(what) + ": " + curl_easy_strerror(rc));
}

std::optional<Millis> retry_after(CURL *easy) {
  auto ms = transport::retry_after_ms(easy, std::time(nullptr));
  if (!ms) return std::nullopt;
  return Millis(*ms);
}

}  // namespace

Transfer::Transfer(size_t path, const transport::TransportConfig &cfg,
                   const transport::ProxySpec &proxy, const transport::EventEmitter &emit,
                   util::OutputRoot &root)
    : path_(path),
      cfg_(cfg),
      emit_(emit),
      path_id_(proxy.id),
      via_proxy_(!proxy.direct),
      request_(cfg) {
  file_.set_root(&root);
  CURL *e = handle_.get();
  check(transport::apply_common_options(e, cfg), "curl options");
  check(transport::apply_proxy(e, &proxy), "curl proxy options");
  check(curl_easy_setopt(e, CURLOPT_PRIVATE, static_cast<void *>(this)), "curl private");
}

bool Transfer::begin(const TaskSpec &task, int attempt, std::string *error) {
  running_ = false;
  task_id_ = task.id;
  attempt_ = attempt;
  url_ = task.url;
  dest_ = task.dest;
  job_.expected_sha256 = task.sha256;
  size_ = task.size;
  total_ = task.size >= 0 ? static_cast<uint64_t>(task.size) : 0;
  html_ = false;
  transport::PartOptions opts;
  opts.fsync = cfg_.fsync;
  opts.hash = !task.sha256.empty();
  opts.expected_size = size_;
  opts.sha256 = task.sha256;
  if (!file_.open(dest_, opts)) {
    *error = file_.error();
    return false;
  }
  whole_ = file_.complete();
  if (whole_) {  // verified already: the loop commits it without a request
    prepare_commit(AttemptResult{});
    return true;
  }
  curl_easy_setopt(easy(), CURLOPT_BUFFERSIZE, receive_buffer_for(size_));
  ctx_.file = &file_;
  ctx_.resume_from = file_.size();
  ctx_.expected_size = size_;
  ctx_.max_file_size = static_cast<uint64_t>(cfg_.max_file_size);
  ctx_.stall_timeout_ms = cfg_.stall_timeout_ms;
  ctx_.cancel = nullptr;  // the loop cancels by removing the handle
  ctx_.on_progress = &Transfer::on_progress;
  ctx_.progress_user = this;
  throttle_.reset();
  if (CURLcode rc = request_.start(easy(), url_, &ctx_); rc != CURLE_OK) {
    file_.keep();
    *error = std::string("curl: ") + curl_easy_strerror(rc);
    return false;
  }
  return true;
}

AttemptResult Transfer::conclude(CURLcode code) {
  transport::finish_transfer(&ctx_);
  auto facts = transport::outcome_from(easy(), code, ctx_, url_, via_proxy_,
                                       cfg_.download_timeout_ms, cfg_.max_redirects);
  transport::Failure f = transport::classify(facts);
  AttemptResult r = attempt_result(f, facts.http_status, retry_after(easy()));
  if (r.outcome == Outcome::kSuccess) return prepare_commit(r);
  if (facts.http_status == 416 && ctx_.resume_from > 0) {
    file_.discard();  // the server will not continue this .part: start over
    r.outcome = Outcome::kRetryable;
    return r;
  }
  if (r.outcome == Outcome::kFatal && f.kind == DLHOST_FAILURE_IO) {
    file_.discard();
  } else if (file_.is_open()) {
    file_.keep();
  }
  return r;
}

// A success: block pages are caught here (they need the handle); the rest of
// the commit runs on the CommitWorker, which finds a wrong sha256.
AttemptResult Transfer::prepare_commit(const AttemptResult &ok) {
  if (!whole_) {
    const char *ct = nullptr;
    curl_easy_getinfo(easy(), CURLINFO_CONTENT_TYPE, &ct);  // the final response's
    if (transport::is_block_page(ct, url_, size_, job_.expected_sha256, file_.size())) {
      file_.discard();
      return block_page();
    }
    html_ = ct != nullptr && transport::looks_like_block_page(ct, url_);
  }
  concluded_ = ok;
  job_.file = &file_;
  job_.expected_size = size_;
  job_.owner = this;
  job_.message.clear();
  return ok;
}

AttemptResult Transfer::committed() const {
  AttemptResult r = concluded_;
  switch (job_.result) {
    case transport::CommitResult::kOk:
      return r;
    case transport::CommitResult::kVerifyFailed:
      if (html_) return block_page();
      r.outcome = Outcome::kRetryable;
      r.failure = DLHOST_FAILURE_VERIFY;
      r.message = job_.message + " (" + transport::redact_url(url_) + ")";
      return r;
    case transport::CommitResult::kIoError:
      break;
  }
  r.outcome = Outcome::kFatal;
  r.failure = DLHOST_FAILURE_IO;
  r.message = job_.message;
  return r;
}

AttemptResult Transfer::block_page() const {
  return block_page_result(transport::redact_url(url_));
}

void Transfer::abandon() {
  if (file_.is_open()) file_.keep();
}

// Called by libcurl on the loop thread; PROGRESS at most every 100 ms per file.
void Transfer::on_progress(void *user, uint64_t done, uint64_t total) {
  auto *t = static_cast<Transfer *>(user);
  if (!t->throttle_.should_emit()) return;
  t->emit_.progress(t->task_id_, t->attempt_, done, total, t->path_id_.c_str());
}

uint64_t Transfer::bytes_received() const {
  if (!running_) return 0;
  curl_off_t n = 0;
  curl_easy_getinfo(easy(), CURLINFO_SIZE_DOWNLOAD_T, &n);
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

double Transfer::first_byte_ms() const {
  if (!running_) return 0;
  curl_off_t us = 0;
  curl_easy_getinfo(easy(), CURLINFO_STARTTRANSFER_TIME_T, &us);
  return static_cast<double>(us) / 1000.0;
}

TransferPool::TransferPool(const transport::TransportConfig &cfg,
                           std::vector<transport::ProxySpec> paths,
                           const transport::EventEmitter &emit)
    : cfg_(cfg),
      root_(cfg.output_dir, cfg.follow_symlinks),
      paths_(std::move(paths)),
      generation_(paths_.size(), 0),
      emit_(emit),
      free_(paths_.size()) {}

void TransferPool::set_spec(size_t path, transport::ProxySpec spec) {
  if (path == paths_.size()) {
    paths_.push_back(std::move(spec));
    generation_.push_back(0);
    free_.emplace_back();
    return;
  }
  paths_.at(path) = std::move(spec);
  ++generation_[path];
  free_[path].clear();  // idle handles with the old options
}

std::unique_ptr<Transfer> TransferPool::acquire(size_t path) {
  auto &list = free_[path];
  if (list.empty()) {
    auto t = std::make_unique<Transfer>(path, cfg_, paths_[path], emit_, root_);
    t->generation = generation_[path];
    return t;
  }
  std::unique_ptr<Transfer> t = std::move(list.back());
  list.pop_back();
  return t;
}

void TransferPool::remove_part(const std::string &dest) {
  std::string error;
  transport::remove_part_files(&root_, dest, &error);  // a .part we cannot reach was never ours
}

void TransferPool::release(std::unique_ptr<Transfer> t) {
  size_t p = t->path();
  if (t->generation != generation_[p]) return;  // made with settings since replaced
  free_[p].push_back(std::move(t));
}

}  // namespace dlhost::mp
