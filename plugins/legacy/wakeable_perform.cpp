// WakeablePerform: one easy handle on a private multi handle (see header).
#include "wakeable_perform.h"

#include <stdexcept>

namespace dlhost::legacy {

WakeablePerform::WakeablePerform() : multi_(curl_multi_init()) {
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
}

WakeablePerform::~WakeablePerform() {
  curl_multi_cleanup(multi_);
}

void WakeablePerform::wake() {
  curl_multi_wakeup(multi_);
}

CURLcode WakeablePerform::perform(CURL *easy, const std::atomic<bool> &cancel) {
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK) return CURLE_FAILED_INIT;
  CURLcode rc = run(cancel);
  curl_multi_remove_handle(multi_, easy);
  return rc;
}

CURLcode WakeablePerform::run(const std::atomic<bool> &cancel) {
  int running = 1;
  while (running > 0) {
    if (curl_multi_perform(multi_, &running) != CURLM_OK) return CURLE_FAILED_INIT;
    if (running == 0) break;
    if (cancel.load(std::memory_order_relaxed)) return CURLE_ABORTED_BY_CALLBACK;
    if (curl_multi_poll(multi_, nullptr, 0, 1000, nullptr) != CURLM_OK) return CURLE_FAILED_INIT;
  }
  int left = 0;
  CURLMsg *msg = curl_multi_info_read(multi_, &left);
  return msg != nullptr && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_FAILED_INIT;
}

}  // namespace dlhost::legacy
