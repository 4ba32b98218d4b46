// DOWNLOAD_WEBHOOK_URL (see event_sinks.hpp).
//
// One thread, one reused libcurl easy handle (its connection stays open
// between POSTs). Events are batched: a POST leaves once 100 events wait or
// a second after the first of them arrived. When the job ends (close), what
// is queued, the job summary last, has one DOWNLOAD_HOOK_TIMEOUT in all,
// retries included: every POST from then on (and the one in flight, through
// the progress callback) ends by that deadline, and what could not go is
// dropped and counted. A webhook that answers after a minute costs the end
// of the job one DOWNLOAD_HOOK_TIMEOUT, not a minute per POST. The URL can
// carry a token: messages show it without credentials and without its query.
#include <curl/curl.h>
#include <pthread.h>

#include <mutex>

#include "dlhost/host/event_sinks.hpp"
#include "dlhost/host/redact.hpp"
#include "dlhost/host/settings.hpp"
#include "dlhost/util/redact.h"

namespace dlhost {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kBatchWait = std::chrono::seconds(1);

size_t discard(char *, size_t size, size_t n, void *) {
  return size * n;
}

std::int64_t ns_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// CURLOPT_XFERINFOFUNCTION: ends a POST at the close deadline.
int past_deadline(void *deadline_ns, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return ns_of(Clock::now()) >= static_cast<std::atomic<std::int64_t> *>(deadline_ns)->load();
}

bool retryable(CURLcode code, long status) {
  if (code != CURLE_OK) return true;  // no answer, reset, timeout
  return status >= 500 || status == 429 || status == 408;
}

}  // namespace

void WebhookSink::EasyDeleter::operator()(void *easy) const {
  curl_easy_cleanup(static_cast<CURL *>(easy));
}

WebhookSink::WebhookSink(WebhookOptions options, NoticeFn notice)
    : options_(std::move(options)),
      shown_url_(redact_webhook_url(options_.url)),
      notice_(std::move(notice)) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_.reset(curl_easy_init());
  thread_ = std::thread([this] { run(); });
}

WebhookSink::~WebhookSink() {
  close(Clock::now());
}

void WebhookSink::deliver(const JobEvent &e) {
  const bool summary = e.type == EventType::kJobSummary;
  if (!summary && (!options_.file_events || e.type == EventType::kFileProgress)) return;
  std::string json = to_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard lock(mutex_);
  if (stop_) return;
  if (summary) {
    summary_queued_ = true;
  } else if (queue_.size() >= kBacklog) {
    ++counts_.dropped_events;
    return;
  }
  queue_.push_back(std::move(json));
  if (queue_.size() == 1 || queue_.size() >= kBatch || summary) wake_.notify_one();
}

void WebhookSink::run() {
  pthread_setname_np(pthread_self(), "dlhost-webhook");
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;
    // Gather a batch: until it is full, a second has passed, or we stop.
    wake_.wait_for(lock, kBatchWait,
                   [&] { return stop_ || summary_queued_ || queue_.size() >= kBatch; });
    if (Clock::now() >= deadline_) {  // out of time: what is left is dropped
      counts_.dropped_events += queue_.size();
      queue_.clear();
      return;
    }
    // The summary (always last) goes in a POST of its own, as documented.
    const std::size_t events = queue_.size() - (summary_queued_ ? 1 : 0);
    const std::size_t n = events ? std::min(events, kBatch) : 1;
    std::string body = "[";
    for (std::size_t i = 0; i < n; ++i) body += (i ? "," : "") + queue_[i];
    body += "]";
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    const auto deadline = deadline_;
    lock.unlock();
    const bool ok = post_with_retries(body, deadline);
    lock.lock();
    if (!ok) counts_.dropped_events += n;
  }
}

bool WebhookSink::post_with_retries(const std::string &body, Clock::time_point deadline) {
  std::string why;
  for (std::size_t attempt = 0;; ++attempt) {
    const PostResult result = post_once(body, why);
    if (result == PostResult::kOk) {
      std::lock_guard lock(mutex_);
      ++counts_.posted;
      return true;
    }
    if (result == PostResult::kGiveUp || attempt >= options_.retry_delays.size()) break;
    const auto pause = options_.retry_delays[attempt];
    const auto resume = Clock::now() + pause;
    if (resume >= deadline || ns_of(resume) >= abort_at_ns_.load()) break;
    std::this_thread::sleep_for(pause);
  }
  std::lock_guard lock(mutex_);
  ++counts_.failed_posts;
  if (!reported_failure_ && notice_) {
    reported_failure_ = true;
    notice_("dlhost: warning: webhook " + shown_url_ + ": " + why +
            " (its events are dropped; the job goes on)");
  }
  return false;
}

// kOk on a 2xx answer; otherwise `why` says what happened, and kRetry means
// another attempt could help.
WebhookSink::PostResult WebhookSink::post_once(const std::string &body, std::string &why) {
  CURL *easy = static_cast<CURL *>(curl_.get());
  if (!easy) {
    why = "cannot create a libcurl handle";
    return PostResult::kGiveUp;
  }
  curl_slist *headers = curl_slist_append(nullptr, "Content-Type: application/json");
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(easy, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // never a proxy from the environment
  curl_easy_setopt(easy, CURLOPT_USERAGENT, ("dlhost/" + std::string(project_version())).c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &past_deadline);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &abort_at_ns_);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &discard);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  if (!options_.ca_bundle.empty())
    curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  const CURLcode code = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  if (code == CURLE_OK && status >= 200 && status < 300) return PostResult::kOk;
  why = code != CURLE_OK ? std::string(curl_easy_strerror(code)) : "HTTP " + std::to_string(status);
  return retryable(code, status) ? PostResult::kRetry : PostResult::kGiveUp;
}

void WebhookSink::close(Clock::time_point) {
  {
    std::lock_guard lock(mutex_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    deadline_ = Clock::now() + options_.timeout;
    abort_at_ns_ = ns_of(deadline_);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  const auto c = counts();
  if ((c.dropped_events || c.failed_posts) && notice_)
    notice_("dlhost: warning: webhook " + shown_url_ + ": " + std::to_string(c.failed_posts) +
            " POSTs failed, " + std::to_string(c.dropped_events) + " events not delivered");
}

WebhookSink::Counts WebhookSink::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace dlhost
