// LegacyInstance: queue, worker loop and the one-file transfer (see
// legacy_worker.h for the design).
#include "legacy_worker.h"

#include <chrono>

namespace dlhost::legacy {

LegacyInstance::LegacyInstance(tr::TransportConfig cfg, dlhost_event_fn on_event, void *user)
    : cfg_(std::move(cfg)), emitter_(on_event, user) {
  ctx_.file = &file_;
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
  work_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool LegacyInstance::init(std::string *error) {
  const tr::ProxySpec *proxy = cfg_.proxies.empty() ? nullptr : &cfg_.proxies.front();
  if (proxy != nullptr && !proxy->direct) {
    path_id_ = proxy->id;
    via_proxy_ = true;
  }
  CURLcode rc = tr::apply_common_options(easy_.get(), cfg_, &easy_.headers());
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
  if (cfg_.proxies.size() > 1)
    emitter_.log(
        DLHOST_LOG_INFO, 0,
        "legacy uses one connection: only the first PROXY_LIST entry (" + path_id_ + ") is used");
  tr::OwnedTask task;
  for (;;) {
    Job job = next_job(&task);
    if (job == Job::kNone) return;
    if (job == Job::kCancelled) {
      deliver_cancelled(task);
    } else {
      tr::guard_void([&] { transfer(task); });
    }
    finish_job();
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

void LegacyInstance::finish_job() {
  {
    std::lock_guard lock(mu_);
    running_ = false;
    --outstanding_;
  }
  idle_cv_.notify_all();
}

void LegacyInstance::deliver_cancelled(const tr::OwnedTask &task) {
  if (!stopping()) emitter_.cancelled(task.id, 0, 0, path_id_.c_str());
}

void LegacyInstance::on_progress(void *self, uint64_t done, uint64_t total) {
  auto *me = static_cast<LegacyInstance *>(self);
  if (me->throttle_.should_emit())
    me->emitter_.progress(me->current_task_, 1, done, total, me->path_id_.c_str());
}

void LegacyInstance::transfer(const tr::OwnedTask &task) {
  current_task_ = task.id;
  throttle_.reset();
  if (!file_.open(task.dest_path, /*resume=*/true, cfg_.fsync, !task.sha256.empty())) {
    fail(task, DLHOST_FAILURE_IO, 0, file_.error());
    return;
  }
  if (task.size >= 0 && file_.size() > static_cast<uint64_t>(task.size) && !file_.restart()) {
    fail(task, DLHOST_FAILURE_IO, 0, file_.error());
    return;
  }
  uint64_t total = task.size >= 0 ? static_cast<uint64_t>(task.size) : 0;
  emitter_.started(task.id, 1, file_.size(), total, path_id_.c_str());
  ctx_.resume_from = file_.size();
  ctx_.expected_size = task.size;
  CURLcode rc = tr::prepare_transfer(easy_.get(), task.url, &ctx_);
  if (rc == CURLE_OK) rc = curl_easy_perform(easy_.get());
  tr::finish_transfer(&ctx_);
  conclude(task, rc);
}

// Turns the finished attempt into exactly one terminal event.
void LegacyInstance::conclude(const tr::OwnedTask &task, CURLcode rc) {
  tr::TransferOutcome o = tr::outcome_from(easy_.get(), rc, ctx_, task.url, via_proxy_,
                                           cfg_.download_timeout_ms, cfg_.max_redirects);
  // A resumed .part that was already whole: the server answers 416.
  bool whole_part = rc == CURLE_OK && o.http_status == 416 && ctx_.resume_from > 0;
  tr::Failure f = whole_part ? tr::Failure{} : tr::classify(o);
  if (f.cancelled) {
    file_.keep();
    if (!stopping()) emitter_.cancelled(task.id, 1, file_.size(), path_id_.c_str());
    return;
  }
  if (f.kind != DLHOST_FAILURE_NONE) {
    bool resumable = f.kind == DLHOST_FAILURE_TIMEOUT || f.kind == DLHOST_FAILURE_TRANSPORT;
    resumable ? file_.keep() : file_.discard();
    fail(task, f.kind, o.http_status, f.message);
    return;
  }
  complete(task, o.http_status);
}

void LegacyInstance::complete(const tr::OwnedTask &task, long status) {
  std::string msg;
  tr::CommitResult r = file_.commit(task.size, task.sha256, &msg);
  if (r != tr::CommitResult::kOk) {
    bool verify = r == tr::CommitResult::kVerifyFailed;
    fail(task, verify ? DLHOST_FAILURE_VERIFY : DLHOST_FAILURE_IO, status,
         msg + " (" + tr::redact_url(task.url) + ")");
    return;
  }
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.completed;
    stats_.bytes += file_.size() - file_.resumed_from();
  }
  record_latency();
  emitter_.completed(task.id, 1, file_.size(), static_cast<int32_t>(status), path_id_.c_str());
}

void LegacyInstance::fail(const tr::OwnedTask &task, dlhost_failure kind, long status,
                          const std::string &msg) {
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.failed;
  }
  if (file_.is_open()) file_.discard();
  emitter_.failed(task.id, 1, kind, static_cast<int32_t>(status), file_.size(), msg,
                  path_id_.c_str());
}

// Time to first byte of this file, from libcurl's own timer.
void LegacyInstance::record_latency() {
  curl_off_t us = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_STARTTRANSFER_TIME_T, &us);
  std::lock_guard lock(stats_mu_);
  stats_.latency.add(static_cast<double>(us) / 1000.0);
}

}  // namespace dlhost::legacy
