// The conformance checks; see dlhost/host/conformance.hpp.
//
// Every check runs on a fresh instance (Subject) with its own Recorder, gets
// a realistic configuration (the host's defaults, fast retries, plus a key no
// plugin knows, which must be ignored), and ends by adding whatever the
// recorder saw (events out of place, terminal events not exactly once) and
// any exception that escaped the plugin to its failures.
#include "dlhost/host/conformance.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

#include "conformance_origin.hpp"
#include "conformance_subject.hpp"
#include "dlhost/host/settings.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace dlhost::conformance {
namespace {

constexpr std::size_t kSlowSize = 512 * 1024;
constexpr std::size_t kMaxSubmits = 100000;

struct Context {
  const dlhost_plugin_descriptor &d;
  Origin &origin;
  fs::path work;
  std::string config;
  // How long a task may take to reach its terminal event; the other waits
  // are derived from it. A broken plugin costs the suite a few of these.
  std::chrono::milliseconds patience;
  std::uint64_t next_id = 1;
  std::chrono::milliseconds cancelled() const { return std::max(patience / 3, 1000ms); }
  std::chrono::milliseconds drain() const { return patience * 4; }
};

bool is_plugin_id(const char *id) {
  if (!id || !*id) return false;
  for (const char *p = id; *p; ++p) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return false;
  }
  return true;
}

class Check {
 public:
  Check(Context &ctx, std::string name)
      : ctx(ctx), subject(ctx.d, recorder), name_(std::move(name)), dir_(ctx.work / name_) {
    fs::create_directories(dir_);
  }
  Context &ctx;
  Recorder recorder;
  Subject subject;

  void expect(bool ok, const std::string &failure) {
    if (!ok) failures_.push_back(failure);
  }
  bool create() {
    std::string error;
    const auto st = subject.create(ctx.config, error);
    expect(st == DLHOST_OK && subject.alive(),
           "create() with a valid config returned " + status_name(st) + ": " + error);
    return st == DLHOST_OK && subject.alive();
  }
  fs::path dest(const std::string &file) const { return dir_ / file; }
  // Submits one task; returns its id, or 0 if it was not accepted.
  std::uint64_t submit(const std::string &url, const std::string &file,
                       const std::string &sha256 = {}, std::int64_t size = -1,
                       dlhost_status *status = nullptr) {
    const auto id = ctx.next_id++;
    std::string error;
    const auto st = subject.submit(id, url, dest(file).string(), sha256, size, error);
    if (status) *status = st;
    if (st != DLHOST_OK && st != DLHOST_E_AGAIN)
      expect(false, "submit() of " + url + " returned " + status_name(st) + ": " + error);
    return st == DLHOST_OK ? id : 0;
  }
  // Submits, waiting for a terminal event whenever the plugin says E_AGAIN.
  std::uint64_t submit_patiently(const std::string &url, const std::string &file,
                                 const std::string &sha256 = {}, std::int64_t size = -1) {
    for (auto deadline = std::chrono::steady_clock::now() + ctx.patience;
         std::chrono::steady_clock::now() < deadline;) {
      dlhost_status st;
      const auto before = recorder.terminal_total();
      const auto id = submit(url, file, sha256, size, &st);
      if (st != DLHOST_E_AGAIN) return id;
      recorder.wait_terminal_count(before + 1, 1s);
    }
    expect(false, "submit() of " + url + " kept answering E_AGAIN for " +
                      std::to_string(ctx.patience.count()) + " ms");
    return 0;
  }
  std::string bytes_url(std::size_t size, const std::string &name) const {
    return ctx.origin.url("/bytes/" + std::to_string(size) + "/" + name);
  }
  std::string slow_url(const std::string &name) const {
    return ctx.origin.url("/slow/" + std::to_string(kSlowSize) + "/" + name);
  }
  void expect_terminal(std::uint64_t id, dlhost_event_type type, const std::string &what) {
    const auto t = recorder.task(id);
    expect(t.terminals >= 1 && t.last_terminal == type,
           what + ": expected " + event_name(type) + ", got " +
               (t.terminals ? event_name(t.last_terminal) + (" (" + t.message + ")")
                            : std::string("no terminal event")));
  }
  void expect_wait_ok(std::int32_t ms, const std::string &when) {
    const auto st = subject.wait(ms);
    expect(st == DLHOST_OK,
           "wait(" + std::to_string(ms) + ") " + when + " returned " + status_name(st));
  }
  bool destroy() {
    if (!subject.destroy(ctx.patience)) {
      expect(false,
             "destroy() did not return within " + std::to_string(ctx.patience.count()) + " ms");
      return false;
    }
    return true;
  }
  CheckResult finish(bool every_task_must_end = true) {
    if (subject.alive() && !destroy()) abort_run();
    for (auto &p : recorder.problems(every_task_must_end)) failures_.push_back(p);
    for (auto &e : subject.exceptions()) failures_.push_back(e);
    return CheckResult{name_, failures_.empty(), failures_};
  }
  [[noreturn]] void abort_run() {
    std::printf("FAIL  %s: destroy() never returned; the suite cannot go on\n", name_.c_str());
    std::fflush(stdout);
    std::_Exit(1);
  }

  static std::string status_name(dlhost_status st) {
    return st == kThrew ? std::string("an exception") : status_text(st);
  }
  static std::string event_name(dlhost_event_type t) {
    switch (t) {
      case DLHOST_EVENT_COMPLETED:
        return "COMPLETED";
      case DLHOST_EVENT_FAILED:
        return "FAILED";
      case DLHOST_EVENT_CANCELLED:
        return "CANCELLED";
      default:
        return "event " + std::to_string(t);
    }
  }

 private:
  std::string name_;
  fs::path dir_;
  std::vector<std::string> failures_;
};

std::string read_file(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool file_exists(const fs::path &p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// --- the checks -----------------------------------------------------------------

CheckResult check_handshake(Context &ctx) {
  Check c(ctx, "handshake");
  const auto &d = ctx.d;
  c.expect(d.abi_major == DLHOST_ABI_MAJOR, "abi_major is " + std::to_string(d.abi_major));
  c.expect(d.struct_size >= DLHOST_DESCRIPTOR_SIZE_1_0,
           "struct_size " + std::to_string(d.struct_size) + " is smaller than ABI 1.0's");
  // A plugin that says 1.1 must carry 1.1's fields (get_extension may be NULL).
  c.expect(d.abi_minor < 1 || d.struct_size >= DLHOST_DESCRIPTOR_SIZE_1_1,
           "abi_minor is " + std::to_string(d.abi_minor) + " but struct_size " +
               std::to_string(d.struct_size) + " is smaller than ABI 1.1's");
  c.expect(is_plugin_id(d.id), "id must be [a-z0-9-]+, is " + std::string(d.id ? d.id : "NULL"));
  c.expect(d.name && *d.name, "name is empty");
  c.expect(d.version && *d.version, "version is empty");
  for (dlhost_status st :
       {INT32_MIN, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 999, INT32_MAX}) {
    const char *text = d.strerror(st);
    c.expect(text != nullptr, "strerror(" + std::to_string(st) + ") returned NULL");
  }
  return c.finish();
}

CheckResult check_errors(Context &ctx) {
  Check c(ctx, "errors");
  std::string error;
  const auto st = c.subject.create("{\"PROXY_MAX_REDIRECTS\": ", error);
  c.expect(st != DLHOST_OK && st != kThrew,
           "create() with invalid config JSON returned " + Check::status_name(st));
  c.expect(!c.subject.alive(), "create() failed but returned an instance");
  c.expect(!error.empty(), "create() failed without a message in errbuf");
  // A small errbuf: the message is cut and NUL-terminated, nothing beyond it is touched.
  char buf[64];
  std::memset(buf, 0x5a, sizeof buf);
  dlhost_create_params params{};
  params.struct_size = sizeof params;
  params.config_json = "not json";
  params.on_event = &Recorder::on_event;
  params.user = &c.recorder;
  dlhost_instance *inst = nullptr;
  try {
    ctx.d.create(&params, &inst, buf, 8);
  } catch (...) {
    c.expect(false, "create() threw");
  }
  c.expect(std::memchr(buf, '\0', 8) != nullptr, "errbuf of size 8 was not NUL-terminated");
  bool untouched = true;
  for (std::size_t i = 8; i < sizeof buf; i++) untouched = untouched && buf[i] == 0x5a;
  c.expect(untouched, "create() wrote beyond errbuf_size");
  if (inst) ctx.d.destroy(inst);
  return c.finish();
}

CheckResult check_lifecycle(Context &ctx) {
  Check c(ctx, "lifecycle");
  if (!c.create()) return c.finish();
  const auto body = content_of("life", 40000);
  const auto id = c.submit(c.bytes_url(body.size(), "life"), "life.bin", sha256_hex(body),
                           static_cast<std::int64_t>(body.size()));
  std::this_thread::sleep_for(300ms);  // the recorder flags any event before start()
  c.expect(c.subject.start() == DLHOST_OK, "start() failed");
  const auto again = c.subject.start();
  c.expect(again == DLHOST_E_STATE,
           "start() twice returned " + Check::status_name(again) + ", expected E_STATE");
  c.expect_wait_ok(30000, "for one small file");
  c.expect_terminal(id, DLHOST_EVENT_COMPLETED, "a good file");
  c.expect(read_file(c.dest("life.bin")) == body, "the file's bytes are not the origin's");
  c.expect(!file_exists(c.dest("life.bin.part")), "a .part file was left after success");
  c.expect_wait_ok(0, "when idle");
  return c.finish();
}

CheckResult check_backpressure(Context &ctx) {
  Check c(ctx, "backpressure");
  if (!c.create()) return c.finish();
  std::vector<std::uint64_t> ids;
  dlhost_status st = DLHOST_OK;
  for (std::size_t i = 0; i < kMaxSubmits && st == DLHOST_OK; i++) {
    const auto id = c.submit(c.bytes_url(256, "bp" + std::to_string(i)), "bp" + std::to_string(i),
                             {}, 256, &st);
    if (id) ids.push_back(id);
  }
  c.expect(st == DLHOST_E_AGAIN, "no E_AGAIN after " + std::to_string(ids.size()) +
                                     " submits without start() (last: " + Check::status_name(st) +
                                     ")");
  c.expect(c.subject.start() == DLHOST_OK, "start() failed");
  c.expect(c.recorder.wait_terminal_count(1, c.ctx.patience), "no terminal event after start()");
  if (const auto more = c.submit_patiently(c.bytes_url(256, "bp-more"), "bp-more", {}, 256))
    ids.push_back(more);
  c.expect(c.recorder.wait_terminal(ids, c.ctx.drain()), "the queue did not drain in time");
  c.expect_wait_ok(30000, "after draining");
  for (auto id : ids) {
    if (c.recorder.task(id).last_terminal != DLHOST_EVENT_COMPLETED) {
      c.expect_terminal(id, DLHOST_EVENT_COMPLETED, "a drained task");
      break;
    }
  }
  return c.finish();
}

CheckResult check_cancel_one(Context &ctx) {
  Check c(ctx, "cancel_one");
  if (!c.create()) return c.finish();
  const auto a = c.submit(c.slow_url("one-a"), "a.bin");
  const auto b = c.submit(c.slow_url("one-b"), "b.bin");
  const auto ok = c.submit(c.bytes_url(1000, "one-c"), "c.bin", {}, 1000);
  c.subject.start();
  c.expect(c.recorder.wait_event(a, DLHOST_EVENT_STARTED, c.ctx.patience),
           "the first task never STARTED");
  std::this_thread::sleep_for(400ms);  // let some bytes arrive
  const auto t0 = std::chrono::steady_clock::now();
  const auto timed = c.subject.wait(200);
  c.expect(timed == DLHOST_E_TIMEOUT,
           "wait(200) while a transfer runs returned " + Check::status_name(timed));
  c.expect(std::chrono::steady_clock::now() - t0 < 5s, "wait(200) took more than 5 s");
  c.expect(c.subject.cancel(a) == DLHOST_OK, "cancel(running task) failed");
  c.expect(c.recorder.wait_terminal({a}, c.ctx.cancelled()), "no terminal event after cancel()");
  c.expect_terminal(a, DLHOST_EVENT_CANCELLED, "a cancelled running task");
  c.expect(file_exists(c.dest("a.bin.part")), "the cancelled task's .part was not kept");
  std::this_thread::sleep_for(200ms);  // "ended" = its terminal callback has returned
  const auto gone = c.subject.cancel(a);
  c.expect(gone == DLHOST_E_NOT_FOUND, "cancel() of an ended task returned " +
                                           Check::status_name(gone) + ", expected E_NOT_FOUND");
  const auto unknown = c.subject.cancel(987654321);
  c.expect(unknown == DLHOST_E_NOT_FOUND,
           "cancel() of an unknown id returned " + Check::status_name(unknown));
  c.expect(c.subject.cancel(b) == DLHOST_OK, "cancel(second task) failed");
  c.expect(c.recorder.wait_terminal({b, ok}, c.ctx.patience), "the other tasks did not end");
  c.expect_terminal(b, DLHOST_EVENT_CANCELLED, "a cancelled task");
  c.expect_terminal(ok, DLHOST_EVENT_COMPLETED, "a task that was not cancelled");
  c.expect(!file_exists(c.dest("a.bin")) && !file_exists(c.dest("b.bin")),
           "a cancelled file reached dest");
  c.expect_wait_ok(30000, "after cancelling");
  return c.finish();
}

CheckResult check_cancel_all(Context &ctx) {
  Check c(ctx, "cancel_all");
  if (!c.create()) return c.finish();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 4; i++)
    ids.push_back(c.submit(c.slow_url("all" + std::to_string(i)), "all" + std::to_string(i)));
  c.subject.start();
  c.expect(c.recorder.wait_event(ids[0], DLHOST_EVENT_STARTED, c.ctx.patience), "no task STARTED");
  std::this_thread::sleep_for(300ms);
  c.expect(c.subject.cancel(DLHOST_TASK_ALL) == DLHOST_OK, "cancel(DLHOST_TASK_ALL) failed");
  c.expect(c.recorder.wait_terminal(ids, c.ctx.cancelled()),
           "not every task ended after cancel(ALL)");
  for (auto id : ids) c.expect_terminal(id, DLHOST_EVENT_CANCELLED, "task " + std::to_string(id));
  c.expect_wait_ok(10000, "after cancel(ALL)");
  for (int i = 0; i < 4; i++)
    c.expect(!file_exists(c.dest("all" + std::to_string(i))), "a cancelled file reached dest");
  return c.finish();
}

CheckResult check_exactly_once(Context &ctx) {
  Check c(ctx, "exactly_once");
  if (!c.create()) return c.finish();
  c.subject.start();
  std::vector<std::uint64_t> good, missing, wrong, slow;
  for (int i = 0; i < 6; i++) {
    const auto n = std::to_string(i);
    good.push_back(c.submit_patiently(c.bytes_url(3000, "eo" + n), "ok" + n, {}, 3000));
    missing.push_back(c.submit_patiently(c.ctx.origin.url("/missing/" + n), "missing" + n));
    wrong.push_back(c.submit_patiently(c.bytes_url(3000, "eow" + n), "wrong" + n, {}, 2999));
  }
  for (int i = 0; i < 2; i++)  // last, so a one-at-a-time plugin reaches them last
    slow.push_back(
        c.submit_patiently(c.slow_url("eos" + std::to_string(i)), "slow" + std::to_string(i)));
  std::vector<std::uint64_t> quick = good;
  quick.insert(quick.end(), missing.begin(), missing.end());
  quick.insert(quick.end(), wrong.begin(), wrong.end());
  c.expect(c.recorder.wait_terminal(quick, c.ctx.drain()), "some tasks never ended");
  c.subject.cancel(DLHOST_TASK_ALL);
  c.expect_wait_ok(30000, "after cancel(ALL)");
  for (auto id : good) c.expect_terminal(id, DLHOST_EVENT_COMPLETED, "a good file");
  for (auto id : missing) {
    c.expect_terminal(id, DLHOST_EVENT_FAILED, "a 404");
    const auto t = c.recorder.task(id);
    c.expect(t.failure == DLHOST_FAILURE_HTTP,
             "a 404 failed with failure kind " + std::to_string(t.failure) + ", not HTTP");
  }
  for (auto id : wrong) c.expect_terminal(id, DLHOST_EVENT_FAILED, "a file of the wrong size");
  std::this_thread::sleep_for(300ms);  // a late second terminal event would show now
  return c.finish();
}

CheckResult check_verification(Context &ctx) {
  Check c(ctx, "verification");
  if (!c.create()) return c.finish();
  const auto body = content_of("verify", 100000);
  const auto size = static_cast<std::int64_t>(body.size());
  const auto url = c.bytes_url(body.size(), "verify");
  const auto ok = c.submit(url, "ok.bin", sha256_hex(body), size);
  const auto bad_sha = c.submit(url, "bad-sha.bin", std::string(64, '0'), size);
  const auto bad_size = c.submit(url, "bad-size.bin", sha256_hex(body), size + 1);
  const auto no_check = c.submit(url, "unchecked.bin");
  c.subject.start();
  c.expect(c.recorder.wait_terminal({ok, bad_sha, bad_size, no_check}, c.ctx.drain()),
           "tasks never ended");
  c.expect_terminal(ok, DLHOST_EVENT_COMPLETED, "the right sha256 and size");
  c.expect_terminal(no_check, DLHOST_EVENT_COMPLETED, "no sha256, no size");
  c.expect_terminal(bad_sha, DLHOST_EVENT_FAILED, "a wrong sha256");
  c.expect_terminal(bad_size, DLHOST_EVENT_FAILED, "a wrong size");
  c.expect(read_file(c.dest("ok.bin")) == body, "the verified file's bytes differ");
  c.expect(read_file(c.dest("unchecked.bin")) == body, "the unchecked file's bytes differ");
  c.expect(!file_exists(c.dest("bad-sha.bin")), "a file with the wrong sha256 was left at dest");
  c.expect(!file_exists(c.dest("bad-size.bin")), "a file of the wrong size was left at dest");
  c.expect_wait_ok(30000, "at the end");
  return c.finish();
}

CheckResult check_no_callback_after_destroy(Context &ctx) {
  Check c(ctx, "no_callback_after_destroy");
  if (!c.create()) return c.finish();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; i++)
    ids.push_back(c.submit(c.slow_url("nd" + std::to_string(i)), "s" + std::to_string(i)));
  for (int i = 0; i < 3; i++)
    ids.push_back(c.submit(c.bytes_url(2000, "ndf" + std::to_string(i)), "f" + std::to_string(i)));
  c.subject.start();
  c.recorder.wait_event(ids[0], DLHOST_EVENT_STARTED, c.ctx.patience);
  std::this_thread::sleep_for(300ms);
  const auto t0 = std::chrono::steady_clock::now();
  if (!c.destroy()) c.abort_run();
  c.expect(std::chrono::steady_clock::now() - t0 < 10s, "destroy() took more than 10 s");
  std::this_thread::sleep_for(700ms);  // the recorder flags any later event
  return c.finish(false);
}

// Hammers stats()/health() from one thread while the main thread submits
// (the host's progress display and status server do the same), then wait()
// from a second and cancel() from a third while transfers run.
CheckResult check_concurrency(Context &ctx) {
  Check c(ctx, "concurrency");
  if (!c.create()) return c.finish();
  std::vector<std::uint64_t> ids, slow;
  std::atomic<bool> done{false};
  std::atomic<int> bad_json{0}, bad_wait{0};
  std::thread reader([&] {
    while (!done) {
      for (auto fn : {&Subject::stats, &Subject::health}) {
        std::string json;
        const auto st = (c.subject.*fn)(json);
        if (st == DLHOST_OK && !nlohmann::json::accept(json)) bad_json++;
        if (st == DLHOST_OK && nlohmann::json::accept(json) &&
            !nlohmann::json::parse(json).is_object())
          bad_json++;
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  for (int i = 0; i < 4; i++) {
    const auto n = std::to_string(i);
    ids.push_back(c.submit(c.bytes_url(20000, "cc" + n), "fast" + n, {}, 20000));
    slow.push_back(c.submit(c.slow_url("ccs" + n), "slow" + n));
  }
  ids.insert(ids.end(), slow.begin(), slow.end());
  c.subject.start();
  for (int i = 0; i < 4; i++) {  // after start() too: submit() while transfers run
    const auto n = std::to_string(i);
    ids.push_back(c.submit_patiently(c.bytes_url(5000, "ccl" + n), "late" + n, {}, 5000));
  }
  std::thread waiter([&] {
    while (!done) {
      const auto st = c.subject.wait(20);
      if (st != DLHOST_OK && st != DLHOST_E_TIMEOUT) bad_wait++;
    }
  });
  std::thread canceller([&] {
    std::this_thread::sleep_for(600ms);
    c.subject.cancel(slow[0]);
    std::this_thread::sleep_for(600ms);
    c.subject.cancel(DLHOST_TASK_ALL);
  });
  canceller.join();
  c.expect(c.recorder.wait_terminal(ids, c.ctx.patience), "not every task ended");
  done = true;
  reader.join();
  waiter.join();
  c.expect(bad_json == 0, "stats()/health() wrote text that is not a JSON object");
  c.expect(bad_wait == 0, "wait() returned something other than OK or E_TIMEOUT");
  c.expect_wait_ok(30000, "at the end");
  return c.finish();
}

using CheckFn = CheckResult (*)(Context &);
const std::vector<std::pair<std::string, CheckFn>> &checks() {
  static const std::vector<std::pair<std::string, CheckFn>> all = {
      {"handshake", check_handshake},
      {"errors", check_errors},
      {"lifecycle", check_lifecycle},
      {"backpressure", check_backpressure},
      {"cancel_one", check_cancel_one},
      {"cancel_all", check_cancel_all},
      {"exactly_once", check_exactly_once},
      {"verification", check_verification},
      {"no_callback_after_destroy", check_no_callback_after_destroy},
      {"concurrency", check_concurrency},
  };
  return all;
}

// The host's defaults, fast retries, and one key no plugin knows.
std::string suite_config(const fs::path &work) {
  SettingInputs in;
  in.getenv = [](const std::string &) { return std::optional<std::string>(); };
  in.working_dir = work;
  in.flags = {{"DOWNLOAD_DIR", work.string()},  // every check writes beneath it
              {"PROXY_MAX_RETRIES", "1"},
              {"PROXY_RETRY_BASE_DELAY", "50"},
              {"DOWNLOAD_USER_AGENT", "dlhost-conformance"}};
  auto json = nlohmann::json::parse(Settings::resolve(in).plugin_config_json());
  json["CONFORMANCE_UNKNOWN_KEY"] = "plugins must ignore keys they do not know";
  return json.dump();
}

}  // namespace

std::vector<std::string> check_names() {
  std::vector<std::string> names;
  for (const auto &[name, fn] : checks()) names.push_back(name);
  return names;
}

std::vector<CheckResult> run_suite(const LoadedPlugin &plugin, const fs::path &work_dir,
                                   std::chrono::milliseconds patience,
                                   const std::function<void(const CheckResult &)> &report) {
  Origin origin;
  Context ctx{plugin.descriptor(), origin, work_dir, suite_config(work_dir), patience};
  std::vector<CheckResult> results;
  for (const auto &[name, fn] : checks()) {
    results.push_back(fn(ctx));
    report(results.back());
  }
  return results;
}

}  // namespace dlhost::conformance
