// `--on-file-done` and `--on-job-done` (see event_sinks.hpp).
//
// A hook is started with posix_spawnp (no shell), in a process group of its
// own so that a timeout kills whatever it started too, with the signal mask
// and dispositions reset (dlhost blocks SIGINT/SIGTERM in every thread and
// ignores SIGPIPE; a hook must not inherit that), stdin from /dev/null and
// stdout onto dlhost's stderr. Workers wait for their child with waitpid
// in short slices, so a hook is killed within 10 ms of its deadline.
#include <fcntl.h>
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
            std::string &error) {
  std::vector<std::string> args = argv;
  std::vector<std::string> env = environment_for(extra_env);
  auto c_args = c_strings(args);
  auto c_env = c_strings(env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);
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
    if (counts_.dropped++ == 0 && notice_)
      notice_("dlhost: warning: --on-file-done falls behind the downloads (more than " +
              std::to_string(kBacklog) + " waiting); it is not run for the files beyond that");
    return;
  }
  if (workers_.empty()) {
    for (int i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { worker(); });
  }
  queue_.push_back(
      Run{&options_.on_file_done, file_env(e, options_.out_dir), "--on-file-done for " + e.path});
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
  std::string error;
  const pid_t pid = spawn(*run.argv, run.env, error);
  std::string problem;
  if (pid < 0) {
    problem = error;
  } else {
    {
      std::lock_guard lock(mutex_);
      running_pids_.push_back(pid);
    }
    const auto deadline = Clock::now() + options_.timeout;
    int status = 0;
    bool timed_out = false;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (Clock::now() >= deadline) {
        timed_out = true;
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(kReapSlice);
    }
    {
      std::lock_guard lock(mutex_);
      running_pids_.erase(std::find(running_pids_.begin(), running_pids_.end(), pid));
      if (timed_out) ++counts_.timed_out;
    }
    if (timed_out) {
      problem = "killed after " + std::to_string(options_.timeout.count()) +
                " ms (DOWNLOAD_HOOK_TIMEOUT)";
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      problem = exit_text(status);
    }
  }
  std::lock_guard lock(mutex_);
  ++counts_.ran;
  if (!problem.empty()) {
    ++counts_.failed;
    if (notice_) notice_("dlhost: warning: hook " + run.what + ": " + problem);
  }
}

void CommandHooks::kill_running() {
  std::lock_guard lock(mutex_);
  for (const pid_t pid : running_pids_) ::kill(-pid, SIGKILL);
}

void CommandHooks::close(Clock::time_point deadline) {
  {
    std::unique_lock lock(mutex_);
    if (closed_) return;
    closed_ = true;
    // File hooks may finish until the deadline; then the rest are dropped.
    idle_.wait_until(lock, deadline, [&] { return queue_.empty() && busy_ == 0; });
    if (!queue_.empty() && notice_)
      notice_("dlhost: warning: --on-file-done was not run for " + std::to_string(queue_.size()) +
              " files: the job ended and the hooks had no more time");
    counts_.dropped += queue_.size();
    queue_.clear();
    stop_ = true;
  }
  work_.notify_all();
  kill_running();
  for (auto &t : workers_) t.join();
  workers_.clear();
  std::vector<std::string> env;
  {
    std::lock_guard lock(mutex_);
    if (!job_done_ || options_.on_job_done.empty()) return;
    env = job_env_;
  }
  run_one(Run{&options_.on_job_done, env, "--on-job-done"});
}

CommandHooks::Counts CommandHooks::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace dlhost
