// Signals while a job runs.
//
// SIGINT/SIGTERM are blocked in every thread before any thread is started
// (plugin threads inherit the mask) and received by one watcher thread with
// sigwait(), which may then call ordinary code. The first signal stops
// handing out files and gives the running ones DOWNLOAD_INTERRUPT_GRACE to
// finish (Job::interrupt); the second cancels them at once (Job::stop_now);
// either way the job ends normally, prints its summary and exits 130. A third
// signal, for a plugin that does not honour cancel, exits on the spot.
//
// SIGHUP is not fatal: it calls the watcher's hang-up function (the CLI
// re-reads PROXY_LIST and changes the running plugin's proxies), on the
// watcher's thread, one at a time. SIGPIPE is ignored, so a reader of
// `--events -` that goes away costs the event stream, not the job.
#pragma once

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <thread>

#include "dlhost/host/job.hpp"

namespace dlhost::cli {

inline sigset_t job_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // our own wake-up at shutdown
  return set;
}

// Must run before any thread exists so that every thread inherits the mask.
inline void block_job_signals() {
  const auto set = job_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

// Receives SIGINT/SIGTERM on its own thread while a job runs. Declared after
// the Job it interrupts, so it is joined before the Job is destroyed.
class SignalWatcher {
 public:
  SignalWatcher(Job &job, std::chrono::milliseconds grace, std::function<void()> on_hangup)
      : set_(job_signals()), grace_(grace), on_hangup_(std::move(on_hangup)) {
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
      if (sig == SIGHUP) {
        if (on_hangup_) on_hangup_();
        continue;
      }
      ++signals;
      if (signals == 1) {
        char line[200];
        std::snprintf(line, sizeof line,
                      "dlhost: interrupted: no new files; running transfers get %.1f s to finish "
                      "(interrupt again to stop now; .part files are kept)",
                      std::chrono::duration<double>(grace_).count());
        job.notice(line);
        job.interrupt();
      } else if (signals == 2) {
        job.notice("dlhost: stopping now (.part files are kept)");
        job.stop_now();
      } else {
        _exit(kExitInterrupted);
      }
    }
  }
  sigset_t set_;
  std::chrono::milliseconds grace_;
  std::function<void()> on_hangup_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace dlhost::cli
