// LegacyInstance: queue, worker, finisher and the one-file transfer (see
// legacy_worker.h for the design).
#include "legacy_worker.h"

#include <pthread.h>

#include <chrono>

#include "dlhost/transport/block_page.h"

namespace dlhost::legacy {

LegacyInstance::LegacyInstance(tr::TransportConfig cfg, dlhost_event_fn on_event, void *user)
    : cfg_(std::move(cfg)),
      emitter_(on_event, user, /*serialize=*/true),
      root_(cfg_.output_dir, cfg_.follow_symlinks),
      request_(cfg_) {
  for (tr::PartFile &f : files_) f.set_root(&root_);
  ctx_.cancel = &cancel_running_;
  ctx_.on_progress = &LegacyInstance::on_progress;
  ctx_.progress_user = this;
}

LegacyInstance::~LegacyInstance() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cancel_running_ = true;
  }
  performer_.wake();
  work_cv_.notify_all();
  finish_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (finisher_.joinable()) finisher_.join();
}

bool LegacyInstance::init(std::string *error) {
  const tr::ProxySpec *proxy = cfg_.proxies.empty() ? nullptr : &cfg_.proxies.front();
  if (proxy != nullptr && !proxy->direct) {
    path_id_ = proxy->id;
    via_proxy_ = true;
  }
  CURLcode rc = tr::apply_common_options(easy_.get(), cfg_);
  if (rc == CURLE_OK) rc = tr::apply_proxy(easy_.get(), proxy);
  if (rc != CURLE_OK) {
    *error = std::string("cannot set up libcurl: ") + curl_easy_strerror(rc);
    return false;
  }
  return true;
}

dlhost_status LegacyInstance::submit(tr::OwnedTask task) {
  std::lock_guard lock(mu_);
  if (stopping_) return DLHOST_E_STATE;
  if (queue_.size() >= kQueueCapacity) return DLHOST_E_AGAIN;
  queue_.push_back(std::move(task));
  ++outstanding_;
  work_cv_.notify_one();
  return DLHOST_OK;
}

dlhost_status LegacyInstance::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return DLHOST_E_STATE;
  started_ = true;
  worker_ = std::thread([this] { run(); });
  finisher_ = std::thread([this] { run_finisher(); });
  return DLHOST_OK;
}

dlhost_status LegacyInstance::cancel(uint64_t task_id) {
  std::lock_guard lock(mu_);
  bool all = task_id == DLHOST_TASK_ALL;
  bool found = all;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (all || it->id == task_id) {
      cancelled_.push_back(std::move(*it));
      it = queue_.erase(it);
      found = true;
    } else {
      ++it;
    }
  }
  if (running_ && (all || running_id_ == task_id)) {
    cancel_running_ = true;
    performer_.wake();
    found = true;
  }
  for (const auto &t : cancelled_) found = found || t.id == task_id;  // already on its way
  work_cv_.notify_one();
  return found ? DLHOST_OK : DLHOST_E_NOT_FOUND;
}

dlhost_status LegacyInstance::wait(int32_t timeout_ms) {
  std::unique_lock lock(mu_);
  auto idle = [this] { return outstanding_ == 0; };
  if (timeout_ms < 0) {
    idle_cv_.wait(lock, idle);
    return DLHOST_OK;
  }
  bool ok = idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), idle);
  return ok ? DLHOST_OK : DLHOST_E_TIMEOUT;
}

nlohmann::json LegacyInstance::stats() const {
  std::lock_guard lock(stats_mu_);
  return {{"proxies", nlohmann::json::array({stats_.to_json(path_id_, "healthy")})}};
}

nlohmann::json LegacyInstance::health() const {
  nlohmann::json entry = {
      {"id", path_id_}, {"state", "healthy"}, {"consecutive_failures", 0}, {"cooldown_ms", 0}};
  return {{"proxies", nlohmann::json::array({entry})}};
}

bool LegacyInstance::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

// ---- worker ---------------------------------------------------------------

void LegacyInstance::run() {
  pthread_setname_np(pthread_self(), "dlhost-legacy");  // top -H, perf
  if (cfg_.proxies.size() > 1)
    emitter_.log(
        DLHOST_LOG_INFO, 0,
        "legacy uses one connection: only the first PROXY_LIST entry (" + path_id_ + ") is used");
  tr::OwnedTask task;
  for (;;) {
    Job job = next_job(&task);
    if (job == Job::kNone) return;
    bool handed_off = false;
    if (job == Job::kCancelled) {
      if (!stopping()) emitter_.cancelled(task.id, 0, 0, path_id_.c_str());
    } else {
      tr::guard_void([&] { handed_off = transfer(task); });
    }
    finish_job(handed_off);
  }
}

LegacyInstance::Job LegacyInstance::next_job(tr::OwnedTask *task) {
  std::unique_lock lock(mu_);
  work_cv_.wait(lock, [this] { return stopping_ || !cancelled_.empty() || !queue_.empty(); });
  if (stopping_) return Job::kNone;
  if (!cancelled_.empty()) {
    *task = std::move(cancelled_.front());
    cancelled_.pop_front();
    return Job::kCancelled;
  }
  *task = std::move(queue_.front());
  queue_.pop_front();
  running_ = true;
  running_id_ = task->id;
  cancel_running_ = false;
  return Job::kTransfer;
}

// A handed-off task is counted down by the finisher after its event.
void LegacyInstance::finish_job(bool handed_off) {
  {
    std::lock_guard lock(mu_);
    running_ = false;
    if (!handed_off) --outstanding_;
  }
  if (!handed_off) idle_cv_.notify_all();
}

void LegacyInstance::on_progress(void *self, uint64_t done, uint64_t total) {
  auto *me = static_cast<LegacyInstance *>(self);
  if (me->throttle_.should_emit())
    me->emitter_.progress(me->current_task_, 1, done, total, me->path_id_.c_str());
}

// Downloads one file. Returns true when it went to the finisher.
bool LegacyInstance::transfer(const tr::OwnedTask &task) {
  tr::PartFile &file = files_[slot_];
  current_task_ = task.id;
  throttle_.reset();
  tr::PartOptions opts;
  opts.fsync = cfg_.fsync;
  opts.hash = !task.sha256.empty();
  opts.expected_size = task.size;
  opts.sha256 = task.sha256;
  if (!file.open(task.dest_path, opts)) {
    fail(task, file, DLHOST_FAILURE_IO, 0, file.error());
    return false;
  }
  uint64_t total = task.size >= 0 ? static_cast<uint64_t>(task.size) : 0;
  emitter_.started(task.id, 1, file.size(), total, path_id_.c_str());
  if (file.complete()) {  // the .part is the whole file, verified: no request
    hand_off(task, 0, false);
    return true;
  }
  ctx_.file = &file;
  ctx_.resume_from = file.size();
  ctx_.expected_size = task.size;
  ctx_.max_file_size = static_cast<uint64_t>(cfg_.max_file_size);
  ctx_.stall_timeout_ms = cfg_.stall_timeout_ms;
  CURLcode rc = request_.start(easy_.get(), task.url, &ctx_);
  if (rc == CURLE_OK) rc = perform_hops();
  tr::finish_transfer(&ctx_);
  return conclude(task, rc);
}

// Runs the request until no hop is left: redirects, a fresh connection.
CURLcode LegacyInstance::perform_hops() {
  for (;;) {
    CURLcode rc = performer_.perform(easy_.get(), cancel_running_);
    if (rc == CURLE_ABORTED_BY_CALLBACK && cancel_running_) ctx_.cancelled = true;
    if (!request_.again(easy_.get(), rc, &ctx_)) return rc;
  }
}

// Cancel and failures end here; a good transfer goes to the finisher.
bool LegacyInstance::conclude(const tr::OwnedTask &task, CURLcode rc) {
  tr::PartFile &file = files_[slot_];
  tr::TransferOutcome o = tr::outcome_from(easy_.get(), rc, ctx_, task.url, via_proxy_,
                                           cfg_.download_timeout_ms, cfg_.max_redirects);
  // A resumed .part that was already whole: the server answers 416 with its length.
  bool whole_part = rc == CURLE_OK && ctx_.resume_from > 0 &&
                    tr::unsatisfied_range_means_whole(easy_.get(), file);
  tr::Failure f = whole_part ? tr::Failure{} : tr::classify(o);
  if (f.cancelled) {
    file.keep();
    if (!stopping()) emitter_.cancelled(task.id, 1, file.size(), path_id_.c_str());
    return false;
  }
  if (f.kind != DLHOST_FAILURE_NONE) {
    bool resumable = f.kind == DLHOST_FAILURE_TIMEOUT || f.kind == DLHOST_FAILURE_TRANSPORT;
    resumable ? file.keep() : file.discard();
    fail(task, file, f.kind, o.http_status, f.message);
    return false;
  }
  const char *ct = nullptr;
  curl_easy_getinfo(easy_.get(), CURLINFO_CONTENT_TYPE, &ct);  // the final response's
  if (tr::is_block_page(ct, task.url, task.size, task.sha256, file.size())) {
    fail(task, file, DLHOST_FAILURE_HTTP, o.http_status,
         std::string(tr::block_page_text()) + tr::redact_url(task.url));
    return false;
  }
  record_latency();
  hand_off(task, o.http_status, ct != nullptr && tr::looks_like_block_page(ct, task.url));
  return true;
}

// Waits until the finisher is idle, gives it this file, switches PartFiles.
void LegacyInstance::hand_off(const tr::OwnedTask &task, long status, bool html) {
  {
    std::unique_lock lock(mu_);
    finish_cv_.wait(lock, [this] { return stopping_ || (!handoff_ && !finishing_); });
    if (stopping_) return;  // the .part is kept by PartFile's destructor
    handoff_ = Handoff{task, &files_[slot_], status, html};
  }
  finish_cv_.notify_all();
  slot_ ^= 1;
}

// Time to first byte of this file, from libcurl's own timer.
void LegacyInstance::record_latency() {
  curl_off_t us = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_STARTTRANSFER_TIME_T, &us);
  std::lock_guard lock(stats_mu_);
  stats_.latency.add(static_cast<double>(us) / 1000.0);
}

// ---- finisher -------------------------------------------------------------

void LegacyInstance::run_finisher() {
  pthread_setname_np(pthread_self(), "dlhost-finisher");  // top -H, perf
  for (;;) {
    Handoff h;
    {
      std::unique_lock lock(mu_);
      finish_cv_.wait(lock, [this] { return stopping_ || handoff_.has_value(); });
      if (stopping_) return;
      h = std::move(*handoff_);
      handoff_.reset();
      finishing_ = true;
    }
    tr::guard_void([&] { commit(h); });
    {
      std::lock_guard lock(mu_);
      finishing_ = false;
      --outstanding_;
    }
    finish_cv_.notify_all();
    idle_cv_.notify_all();
  }
}

void LegacyInstance::commit(Handoff &h) {
  std::string msg;
  tr::CommitResult r = h.file->commit(h.task.size, h.task.sha256, &msg);
  if (r != tr::CommitResult::kOk) {
    bool verify = r == tr::CommitResult::kVerifyFailed;
    if (verify && h.html) {
      fail(h.task, *h.file, DLHOST_FAILURE_HTTP, h.status,
           std::string(tr::block_page_text()) + tr::redact_url(h.task.url));
      return;
    }
    fail(h.task, *h.file, verify ? DLHOST_FAILURE_VERIFY : DLHOST_FAILURE_IO, h.status,
         msg + " (" + tr::redact_url(h.task.url) + ")");
    return;
  }
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.completed;
    stats_.bytes += h.file->size() - h.file->resumed_from();
  }
  emitter_.completed(h.task.id, 1, h.file->size(), static_cast<int32_t>(h.status),
                     path_id_.c_str());
}

// ---- either thread ----------------------------------------------------------

void LegacyInstance::fail(const tr::OwnedTask &task, tr::PartFile &file, dlhost_failure kind,
                          long status, const std::string &msg) {
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.failed;
  }
  if (file.is_open()) file.discard();
  emitter_.failed(task.id, 1, kind, static_cast<int32_t>(status), file.size(), msg,
                  path_id_.c_str());
}

}  // namespace dlhost::legacy
