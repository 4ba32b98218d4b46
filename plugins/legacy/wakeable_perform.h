// curl_easy_perform that another thread can interrupt at once.
//
// curl_easy_perform only notices a cancel flag in its progress callback,
// which libcurl calls about once a second while a server is silent. This
// runs the one easy handle on a private multi handle instead and waits with
// curl_multi_poll, which wake() (thread-safe: curl_multi_wakeup) breaks, so a
// cancel stops a stalled transfer immediately. The multi handle keeps the
// connection cache, so the connection is still reused from file to file.
#pragma once

#include <curl/curl.h>

#include <atomic>

namespace dlhost::legacy {

class WakeablePerform {
 public:
  WakeablePerform();  // throws std::runtime_error if curl_multi_init fails
  ~WakeablePerform();
  WakeablePerform(const WakeablePerform &) = delete;
  WakeablePerform &operator=(const WakeablePerform &) = delete;

  // Runs `easy` to completion, or until `cancel` is set (then returns
  // CURLE_ABORTED_BY_CALLBACK). Worker thread only.
  CURLcode perform(CURL *easy, const std::atomic<bool> &cancel);

  // Breaks a perform() out of its wait. Any thread.
  void wake();

 private:
  CURLcode run(const std::atomic<bool> &cancel);
  CURLM *multi_ = nullptr;
};

}  // namespace dlhost::legacy
