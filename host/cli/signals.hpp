// Signals while a job runs.
//
// SIGINT/SIGTERM are blocked in every thread before any thread is started
// (plugin threads inherit the mask) and received by one watcher thread with
// sigwait(), which may then call ordinary code (Job::interrupt). A second
// signal exits at once.
#pragma once

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "dlhost/host/job.hpp"

namespace dlhost::cli {

inline sigset_t job_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // our own wake-up at shutdown
  return set;
}

// Must run before any thread exists so that every thread inherits the mask.
inline void block_job_signals() {
  const auto set = job_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Receives SIGINT/SIGTERM on its own thread while a job runs. Declared after
// the Job it interrupts, so it is joined before the Job is destroyed.
class SignalWatcher {
 public:
  explicit SignalWatcher(Job &job) : set_(job_signals()) {
    thread_ = std::thread([this, &job] { loop(job); });
  }
  ~SignalWatcher() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

 private:
  void loop(Job &job) {
    int signals = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0 || done_) return;
      if (sig == SIGUSR1) continue;
      if (++signals > 1) _exit(kExitInterrupted);
      std::fputs("\ndlhost: interrupted, stopping transfers (.part files are kept)\n", stderr);
      job.interrupt();
    }
  }
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};


}  // namespace dlhost::cli
