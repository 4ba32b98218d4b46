// `--on-file-done` and `--on-job-done` (see event_sinks.hpp).
//
// A hook is started with posix_spawnp (no shell), in a process group of its
// own so that a timeout kills whatever it started too, with the signal mask
// and dispositions reset (dlhost blocks SIGINT/SIGTERM in every thread and
// ignores SIGPIPE; a hook must not inherit that), stdin from /dev/null, and
// stdout and stderr into a pipe that its worker drains onto dlhost's stderr
// while the hook runs. When the hook exits, what is in the pipe is copied
// and the pipe closed: a child the hook left running in the background
// cannot hold dlhost's stderr open (a pipeline reading it would wait for
// that child). Workers wait for their child in 10 ms slices of poll() on
// the pipe, so a hook is killed within 10 ms of its deadline.
//
// When the job ends, every queued file hook still runs, at
// DOWNLOAD_HOOK_CONCURRENCY at a time, each bounded by DOWNLOAD_HOOK_TIMEOUT;
// DOWNLOAD_HOOK_DRAIN_TIMEOUT (0 = no limit) bounds that whole wait. Hooks
// that were not run (beyond the backlog, or past the drain timeout) are
// counted and named in one line.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dlhost/host/event_sinks.hpp"
#include "dlhost/host/settings.hpp"
#include "dlhost/util/fd.h"

extern char **environ;

namespace dlhost {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kReapSlice = std::chrono::milliseconds(10);

std::string status_of(EventType type) {
  switch (type) {
    case EventType::kFileCompleted:
      return "completed";
    case EventType::kFileFailed:
      return "failed";
    default:
      return "skipped";
  }
}

std::string var(const char *name, const std::string &value) {
  return std::string(name) + "=" + value;
}

std::vector<std::string> file_env(const JobEvent &e, const std::string &out_dir) {
  return {var("DLHOST_EVENT", event_type_name(e.type)),
          var("DLHOST_STATUS", status_of(e.type)),
          var("DLHOST_PATH", e.path),
          var("DLHOST_FILE", out_dir.empty() ? e.path : out_dir + "/" + e.path),
          var("DLHOST_OUT_DIR", out_dir),
          var("DLHOST_URL", e.url),
          var("DLHOST_GROUP", e.group),
          var("DLHOST_SHA256", e.sha256),
          var("DLHOST_SIZE", std::to_string(e.bytes)),
          var("DLHOST_PROXY", e.proxy),
          var("DLHOST_FAILURE", e.failure),
          var("DLHOST_HTTP_STATUS", e.http_status ? std::to_string(e.http_status) : ""),
          var("DLHOST_REASON", e.reason),
          var("DLHOST_MESSAGE", e.message)};
}

std::string json_number(const nlohmann::ordered_json &j, const char *key) {
  if (!j.is_object()) return "";
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::vector<std::string> job_env(const JobEvent &e, const std::string &out_dir) {
  const auto s = e.summary.is_object() ? e.summary : nlohmann::ordered_json::object();
  const auto files = s.value("files", nlohmann::ordered_json::object());
  const auto exit_code = json_number(s, "exit_code");
  const char *status = s.value("interrupted", false) ? "interrupted"
                       : exit_code == "0"            ? "ok"
                                                     : "failed";
  return {var("DLHOST_EVENT", "job.summary"),
          var("DLHOST_STATUS", status),
          var("DLHOST_EXIT_CODE", exit_code),
          var("DLHOST_OUT_DIR", out_dir),
          var("DLHOST_FILES_TOTAL", json_number(files, "total")),
          var("DLHOST_FILES_COMPLETED", json_number(files, "completed")),
          var("DLHOST_FILES_SKIPPED", json_number(files, "skipped")),
          var("DLHOST_FILES_FAILED", json_number(files, "failed")),
          var("DLHOST_FILES_DEFERRED", json_number(files, "deferred")),
          var("DLHOST_BYTES", json_number(s, "bytes")),
          var("DLHOST_ELAPSED_S", json_number(s, "elapsed_s"))};
}

// The hook's environment: ours without any DLHOST_* of our own, then its own.
std::vector<std::string> environment_for(const std::vector<std::string> &extra) {
  std::vector<std::string> env;
  for (char **e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "DLHOST_", 7) != 0) env.emplace_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char *> c_strings(std::vector<std::string> &strings) {
  std::vector<char *> out;
  for (auto &s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts the hook; returns its pid, or -1 with `error` set.
pid_t spawn(const std::vector<std::string> &argv, const std::vector<std::string> &extra_env,
            int output_fd, std::string &error) {
  std::vector<std::string> args = argv;
  std::vector<std::string> env = environment_for(extra_env);
  auto c_args = c_strings(args);
  auto c_env = c_strings(env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, c_args[0], &actions, &attr, c_args.data(), c_env.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    error = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

// Copies what the hook wrote (if anything is there within `wait_ms`) onto
// our stderr. False once the pipe is at its end.
bool copy_output(int fd, int wait_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) <= 0) return true;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  // When our stderr is gone, the hook's output goes with it.
  (void)util::write_all(STDERR_FILENO, buf, static_cast<std::size_t>(n));
  return true;
}

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by ") + strsignal(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// Reads one word starting at s[i] (not white space); advances i past it.
std::string next_word(std::string_view s, std::size_t &i, const std::string &setting) {
  std::string word;
  char quote = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        word += c;
    } else if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\' && i + 1 < s.size() && std::strchr("\"\\$`", s[i + 1])) {
        word += s[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\' && i + 1 < s.size()) {
      word += s[++i];
    } else if (c == ' ' || c == '\t' || c == '\n') {
      break;
    } else {
      word += c;
    }
  }
  if (quote) throw ConfigError(setting + ": unterminated " + std::string(1, quote) + " quote");
  return word;
}

}  // namespace

std::vector<std::string> split_command(std::string_view text, const std::string &setting) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (true) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    if (i >= text.size()) break;
    words.push_back(next_word(text, i, setting));
  }
  if (words.empty()) throw ConfigError(setting + ": empty command");
  return words;
}

CommandHooks::CommandHooks(HookOptions options, NoticeFn notice)
    : options_(std::move(options)), notice_(std::move(notice)) {
  options_.concurrency = std::max(1, options_.concurrency);
}

CommandHooks::~CommandHooks() {
  close(Clock::now());
}

void CommandHooks::deliver(const JobEvent &e) {
  if (e.type == EventType::kJobSummary) {
    std::lock_guard lock(mutex_);
    job_env_ = job_env(e, options_.out_dir);
    job_done_ = true;
    return;
  }
  if (!is_file_terminal(e.type) || options_.on_file_done.empty()) return;
  std::lock_guard lock(mutex_);
  if (closed_) return;
  if (queue_.size() >= kBacklog) {
    if (past_backlog_++ == 0 && notice_)
      notice_("dlhost: warning: --on-file-done falls behind the downloads (more than " +
              std::to_string(kBacklog) + " waiting); it is not run for the files beyond that");
    not_run(e.path);
    return;
  }
  if (workers_.empty()) {
    for (int i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { worker(); });
  }
  queue_.push_back(Run{&options_.on_file_done, file_env(e, options_.out_dir),
                       "--on-file-done for " + e.path, e.path});
  work_.notify_one();
}

void CommandHooks::worker() {
  pthread_setname_np(pthread_self(), "dlhost-hooks");
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Run run = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    run_one(run);
    lock.lock();
    --busy_;
    idle_.notify_all();
  }
}

void CommandHooks::run_one(const Run &run) {
  std::string problem;
  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0) {
    problem = std::string("cannot make a pipe: ") + std::strerror(errno);
  } else {
    const pid_t pid = spawn(*run.argv, run.env, output[1], problem);
    ::close(output[1]);
    if (pid >= 0) problem = wait_for(pid, output[0]);
    ::close(output[0]);
  }
  std::lock_guard lock(mutex_);
  ++counts_.ran;
  if (!problem.empty()) {
    ++counts_.failed;
    if (notice_) notice_("dlhost: warning: hook " + run.what + ": " + problem);
  }
}

// Waits for the hook (copying its output), killing it at
// DOWNLOAD_HOOK_TIMEOUT; "" when it exited with status 0.
std::string CommandHooks::wait_for(pid_t pid, int output_fd) {
  {
    std::lock_guard lock(mutex_);
    running_pids_.push_back(pid);
  }
  const auto deadline = Clock::now() + options_.timeout;
  int status = 0;
  bool timed_out = false, open = true;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    if (!open || !(open = copy_output(output_fd, static_cast<int>(kReapSlice.count()))))
      std::this_thread::sleep_for(kReapSlice);
  }
  while (open && (open = copy_output(output_fd, 0))) {
    pollfd p{output_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;  // what is left belongs to a child in the background
  }
  {
    std::lock_guard lock(mutex_);
    running_pids_.erase(std::find(running_pids_.begin(), running_pids_.end(), pid));
    if (timed_out) ++counts_.timed_out;
  }
  if (timed_out)
    return "killed after " + std::to_string(options_.timeout.count()) +
           " ms (DOWNLOAD_HOOK_TIMEOUT)";
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) return exit_text(status);
  return {};
}

void CommandHooks::kill_running() {
  std::lock_guard lock(mutex_);
  for (const pid_t pid : running_pids_) ::kill(-pid, SIGKILL);
}

void CommandHooks::not_run(const std::string &path) {
  constexpr std::size_t kNamed = 3;
  ++counts_.dropped;
  if (not_run_.size() < kNamed) not_run_.push_back(path);
}

void CommandHooks::say_not_run() {
  std::string line;
  {
    std::lock_guard lock(mutex_);
    if (counts_.dropped == 0 || !notice_) return;
    line = "dlhost: warning: --on-file-done was not run for " + std::to_string(counts_.dropped) +
           " files (" + std::to_string(past_backlog_) + " beyond its backlog of " +
           std::to_string(kBacklog) + ", " + std::to_string(past_drain_) +
           " past DOWNLOAD_HOOK_DRAIN_TIMEOUT): ";
    for (std::size_t i = 0; i < not_run_.size(); ++i) line += (i ? ", " : "") + not_run_[i];
    if (counts_.dropped > not_run_.size()) line += ", ...";
  }
  notice_(line);
}

void CommandHooks::close(Clock::time_point) {
  {
    std::unique_lock lock(mutex_);
    if (closed_) return;
    closed_ = true;
    // Every queued file hook runs, unless DOWNLOAD_HOOK_DRAIN_TIMEOUT says
    // how long that may take in all.
    const auto drained = [&] { return queue_.empty() && busy_ == 0; };
    if (options_.drain_timeout.count() > 0)
      idle_.wait_for(lock, options_.drain_timeout, drained);
    else
      idle_.wait(lock, drained);
    past_drain_ += queue_.size();
    for (const auto &run : queue_) not_run(run.path);
    queue_.clear();
    stop_ = true;
  }
  work_.notify_all();
  kill_running();
  for (auto &t : workers_) t.join();
  workers_.clear();
  say_not_run();
  std::vector<std::string> env;
  {
    std::lock_guard lock(mutex_);
    if (!job_done_ || options_.on_job_done.empty()) return;
    env = job_env_;
  }
  run_one(Run{&options_.on_job_done, env, "--on-job-done", {}});
}

CommandHooks::Counts CommandHooks::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace dlhost
