// The event stream's schema and bus, and its sinks: the NDJSON writer,
// command hooks (real processes) and the webhook (a real HTTP listener on a
// loopback port, written here with plain sockets).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "dlhost/host/event_sinks.hpp"
#include "dlhost/host/events.hpp"
#include "dlhost/host/settings.hpp"
#include "test_dir.hpp"

using namespace dlhost;
using namespace std::chrono_literals;
using Json = nlohmann::json;

namespace {

JobEvent file_event(EventType type, const std::string &path) {
  JobEvent e;
  e.type = type;
  e.path = path;
  e.url = "https://example.org/" + path;
  e.group = "g";
  e.proxy = "direct";
  e.attempt = 1;
  e.bytes = 10;
  e.total = 10;
  return e;
}

std::string read_file(const std::filesystem::path &p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class Collect : public EventSink {
 public:
  void deliver(const JobEvent &e) override {
    std::lock_guard lock(mutex);
    seen.push_back(e.path);
  }
  std::mutex mutex;
  std::vector<std::string> seen;
};

}  // namespace

TEST(EventSchema, FileEventsCarryEveryFileFieldNullWhereItDoesNotApply) {
  auto e = file_event(EventType::kFileFailed, "p1/a.jpg");
  e.http_status = 404;
  e.failure = "http";
  e.message = "HTTP 404 for https://example.org/p1/a.jpg";
  e.ts = 1700000000.5;
  const auto j = Json::parse(to_json_line(e));
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["type"], "file.failed");
  EXPECT_EQ(j["ts"], 1700000000.5);
  for (const char *key : {"path", "url", "group", "proxy", "bytes", "total", "attempt",
                          "http_status", "failure", "message"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["http_status"], 404);
  const auto started = Json::parse(to_json_line(file_event(EventType::kFileStarted, "x")));
  EXPECT_TRUE(started["failure"].is_null());
  EXPECT_TRUE(started["http_status"].is_null());
  EXPECT_TRUE(started["message"].is_null());
}

TEST(EventSchema, OneLineEvenWithNewlinesAndInvalidUtf8InTheText) {
  auto e = file_event(EventType::kFileSkipped, "a\nb\x1b[31m\xff.bin");
  e.reason = "present";
  const auto line = to_json_line(e);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);  // escaped as \u001b
  const auto j = Json::parse(line);
  EXPECT_EQ(j["reason"], "present");
  EXPECT_EQ(j["type"], "file.skipped");
}

TEST(EventSchema, SummaryAndProxyState) {
  JobEvent s;
  s.type = EventType::kJobSummary;
  s.summary = {{"files", {{"total", 3}, {"completed", 3}}}, {"exit_code", 0}};
  const auto j = Json::parse(to_json_line(s));
  EXPECT_EQ(j["type"], "job.summary");
  EXPECT_EQ(j["files"]["total"], 3);
  EXPECT_EQ(j["exit_code"], 0);
  JobEvent p;
  p.type = EventType::kProxyState;
  p.proxy = "http://127.0.0.2:8888";
  p.state = "down";
  p.previous = "healthy";
  const auto k = Json::parse(to_json_line(p));
  EXPECT_EQ(k["state"], "down");
  EXPECT_EQ(k["previous"], "healthy");
  EXPECT_FALSE(k.contains("path"));
}

TEST(ProgressDue, AtMostFourASecondPerFile) {
  std::chrono::steady_clock::time_point last{};
  const auto t0 = std::chrono::steady_clock::now();
  int allowed = 0;
  for (int ms = 0; ms < 1000; ms += 10)
    if (progress_due(last, t0 + std::chrono::milliseconds(ms))) ++allowed;
  EXPECT_EQ(allowed, 4);
}

TEST(EventBus, DeliversEveryEventInOrderToEverySink) {
  EventBus bus;
  auto a = std::make_shared<Collect>(), b = std::make_shared<Collect>();
  bus.add_sink(a);
  bus.add_sink(b);
  std::vector<std::string> want;
  for (int i = 0; i < 20000; ++i) {
    want.push_back("f" + std::to_string(i));
    bus.publish(file_event(EventType::kFileCompleted, want.back()));
  }
  bus.close(1s);
  EXPECT_EQ(a->seen, want);
  EXPECT_EQ(b->seen, want);
}

TEST(EventBus, WithoutSinksPublishingCostsNothingAndKeepsNothing) {
  EventBus bus;
  EXPECT_FALSE(bus.active());
  bus.publish(file_event(EventType::kFileCompleted, "x"));
  bus.close(0ms);
}

// A sink that is slow to begin with: progress piles up beyond the backlog and
// is dropped; terminal events are not.
TEST(EventBus, ASlowSinkLosesProgressButNoTerminalEvent) {
  class Slow : public Collect {
   public:
    void deliver(const JobEvent &e) override {
      if (!started.exchange(true)) std::this_thread::sleep_for(300ms);
      Collect::deliver(e);
    }
    std::atomic<bool> started{false};
  };
  EventBus bus;
  auto slow = std::make_shared<Slow>();
  bus.add_sink(slow);
  bus.publish(file_event(EventType::kFileStarted, "first"));
  std::this_thread::sleep_for(50ms);  // the sink is now stuck in its first delivery
  for (int i = 0; i < 10000; ++i) bus.publish(file_event(EventType::kFileProgress, "p"));
  for (int i = 0; i < 100; ++i) bus.publish(file_event(EventType::kFileCompleted, "done"));
  bus.close(1s);
  ASSERT_EQ(bus.dropped().size(), 1u);
  EXPECT_GT(bus.dropped()[0].second, 0u);
  EXPECT_EQ(std::count(slow->seen.begin(), slow->seen.end(), "done"), 100);
}

// A sink stuck until the bus closes (a reader that stopped reading): the
// publisher never waits for it, the other sink gets every event, and the
// stuck one loses its oldest events, counted, but not the summary.
TEST(EventBus, AStalledSinkHoldsNoOtherSinkAndNoPublisher) {
  class Stuck : public Collect {
   public:
    const char *name() const override { return "stuck"; }
    void deliver(const JobEvent &e) override {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return released; });
      lock.unlock();
      Collect::deliver(e);
    }
    void closing(std::chrono::steady_clock::time_point) override {
      std::lock_guard lock(m);
      released = true;
      cv.notify_all();
    }
    std::mutex m;
    std::condition_variable cv;
    bool released = false;
  };
  std::vector<std::string> notices;
  EventBus bus([&](const std::string &line) { notices.push_back(line); });
  auto stuck = std::make_shared<Stuck>();
  auto fine = std::make_shared<Collect>();
  bus.add_sink(stuck);
  bus.add_sink(fine);
  const std::size_t n = EventBus::kBacklog + 20000;
  for (std::size_t i = 0; i < n; ++i)
    bus.publish(file_event(EventType::kFileSkipped, "f" + std::to_string(i)));
  JobEvent summary;
  summary.type = EventType::kJobSummary;
  bus.publish(summary);
  const auto dropped = bus.dropped();
  bus.close(1s);
  EXPECT_EQ(fine->seen.size(), n + 1);
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].first, "stuck");
  EXPECT_GT(dropped[0].second, 0u);  // it holds at most a queue and a batch
  EXPECT_EQ(dropped[1].second, 0u);
  EXPECT_EQ(stuck->seen.size() + bus.dropped()[0].second, n + 1);
  EXPECT_EQ(stuck->seen.back(), "") << "the summary is the last event and arrives";
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("events: stuck cannot keep up"), std::string::npos);
}

// A reader that never reads: the writer gives up at the deadline, counts
// what it could not write and says so once; close() returns.
TEST(NdjsonSink, AReaderThatStopsReadingCostsTheStreamNotTheEnd) {
  dlhost::testing::TestDir dir("events-fifo");
  const auto fifo = (dir.path() / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // open, never read
  ASSERT_GE(reader, 0);
  std::vector<std::string> notices;
  {
    EventBus bus([&](const std::string &line) { notices.push_back(line); });
    auto sink = std::make_shared<NdjsonSink>(
        fifo, [&](const std::string &line) { notices.push_back(line); });
    bus.add_sink(sink);
    for (int i = 0; i < 20000; ++i)
      bus.publish(file_event(EventType::kFileCompleted, "f" + std::to_string(i)));
    bus.close(300ms);
    EXPECT_GT(bus.dropped()[0].second, 0u);
    EXPECT_LT(bus.dropped()[0].second, 20000u);  // the pipe took some
  }
  ::close(reader);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("the reader of " + fifo + " stopped reading"), std::string::npos);
}

TEST(NdjsonSink, OneObjectPerLineAndABadTargetIsAConfigError) {
  dlhost::testing::TestDir dir("events");
  const auto file = (dir.path() / "events.ndjson").string();
  {
    EventBus bus;
    bus.add_sink(std::make_shared<NdjsonSink>(file, nullptr));
    bus.publish(file_event(EventType::kFileStarted, "a"));
    bus.publish(file_event(EventType::kFileCompleted, "a"));
    bus.close(1s);
  }
  const auto lines = lines_of(read_file(file));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Json::parse(lines[0])["type"], "file.started");
  EXPECT_EQ(Json::parse(lines[1])["type"], "file.completed");
  EXPECT_THROW(NdjsonSink((dir.path() / "no/such/dir/e").string(), nullptr), ConfigError);
}

TEST(SplitCommand, WordsAsAShellWouldSplitThemWithoutExpandingAnything) {
  EXPECT_EQ(split_command("notify  --to 'a b' \"c \\\"d\\\"\" e\\ f $HOME *", "--on-file-done"),
            (std::vector<std::string>{"notify", "--to", "a b", "c \"d\"", "e f", "$HOME", "*"}));
  EXPECT_THROW(split_command("   ", "--on-file-done"), ConfigError);
  try {
    split_command("echo 'open", "DOWNLOAD_ON_FILE_DONE");
    FAIL();
  } catch (const ConfigError &e) {
    EXPECT_STREQ(e.what(), "DOWNLOAD_ON_FILE_DONE: unterminated ' quote");
  }
}

namespace {

struct HookRig {
  dlhost::testing::TestDir dir{"hooks"};
  std::mutex mutex;
  std::vector<std::string> notices;
  NoticeFn notice() {
    return [this](const std::string &line) {
      std::lock_guard lock(mutex);
      notices.push_back(line);
    };
  }
  std::string log() const { return (dir.path() / "log").string(); }
};

}  // namespace

TEST(CommandHooks, EveryFileThatSettlesRunsTheHookWithItsDetailsAndTheJobHookLast) {
  HookRig rig;
  HookOptions o;
  o.on_file_done = {"sh", "-c",
                    "printf '%s %s %s %s\\n' \"$DLHOST_STATUS\" \"$DLHOST_PATH\" \"$DLHOST_SIZE\" "
                    "\"$DLHOST_PROXY\" >> " +
                        rig.log()};
  o.on_job_done = {"sh", "-c", "echo job $DLHOST_STATUS $DLHOST_FILES_COMPLETED >> " + rig.log()};
  o.out_dir = rig.dir.path().string();
  auto hooks = std::make_shared<CommandHooks>(o, rig.notice());
  EventBus bus;
  bus.add_sink(hooks);
  bus.publish(file_event(EventType::kFileStarted, "ignored"));
  bus.publish(file_event(EventType::kFileCompleted, "p1/a.jpg"));
  auto failed = file_event(EventType::kFileFailed, "p1/b.jpg");
  failed.bytes = 0;
  bus.publish(failed);
  bus.publish(file_event(EventType::kFileSkipped, "p2/c.jpg"));
  JobEvent summary;
  summary.type = EventType::kJobSummary;
  summary.summary = {{"files", {{"total", 3}, {"completed", 1}}}, {"exit_code", 1}};
  bus.publish(summary);
  bus.close(5s);
  auto lines = lines_of(read_file(rig.log()));
  ASSERT_EQ(lines.size(), 4u) << read_file(rig.log());
  EXPECT_EQ(lines.back(), "job failed 1");
  lines.pop_back();
  std::sort(lines.begin(), lines.end());  // file hooks run concurrently
  EXPECT_EQ(lines,
            (std::vector<std::string>{"completed p1/a.jpg 10 direct", "failed p1/b.jpg 0 direct",
                                      "skipped p2/c.jpg 10 direct"}));
  EXPECT_TRUE(rig.notices.empty());
  EXPECT_EQ(hooks->counts().ran, 4u);
}

TEST(CommandHooks, AFailingOrMissingHookIsReportedAndCounted) {
  HookRig rig;
  HookOptions o;
  o.on_file_done = {"sh", "-c", "exit 3"};
  o.on_job_done = {"/nonexistent/dlhost-hook"};
  auto hooks = std::make_shared<CommandHooks>(o, rig.notice());
  EventBus bus;
  bus.add_sink(hooks);
  bus.publish(file_event(EventType::kFileCompleted, "a.bin"));
  JobEvent summary;
  summary.type = EventType::kJobSummary;
  bus.publish(summary);
  bus.close(5s);
  ASSERT_EQ(rig.notices.size(), 2u);
  EXPECT_EQ(rig.notices[0], "dlhost: warning: hook --on-file-done for a.bin: exited with status 3");
  EXPECT_EQ(rig.notices[1],
            "dlhost: warning: hook --on-job-done: cannot run /nonexistent/dlhost-hook: No such "
            "file or directory");
  EXPECT_EQ(hooks->counts().failed, 2u);
}

TEST(CommandHooks, AHangingHookAndWhatItStartedAreKilledAtTheTimeout) {
  HookRig rig;
  HookOptions o;
  // The hook starts a grandchild that would outlive it: the process group goes.
  o.on_file_done = {"sh", "-c", "(sleep 0.6; echo survived >> " + rig.log() + ") & sleep 30"};
  o.timeout = 300ms;
  auto hooks = std::make_shared<CommandHooks>(o, rig.notice());
  EventBus bus;
  bus.add_sink(hooks);
  const auto t0 = std::chrono::steady_clock::now();
  bus.publish(file_event(EventType::kFileCompleted, "slow.bin"));
  bus.close(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(hooks->counts().timed_out, 1u);
  ASSERT_EQ(rig.notices.size(), 1u);
  EXPECT_EQ(rig.notices[0],
            "dlhost: warning: hook --on-file-done for slow.bin: killed after 300 ms "
            "(DOWNLOAD_HOOK_TIMEOUT)");
  std::this_thread::sleep_for(1s);  // the grandchild would have written by now
  EXPECT_EQ(read_file(rig.log()), "");
}

TEST(CommandHooks, NoMoreThanTheConcurrencyRunAtOnce) {
  HookRig rig;
  HookOptions o;
  // Each hook notes its start and end; overlap is counted from the log.
  o.on_file_done = {"sh", "-c", "echo + >> " + rig.log() + "; sleep 0.1; echo - >> " + rig.log()};
  o.concurrency = 2;
  auto hooks = std::make_shared<CommandHooks>(o, rig.notice());
  EventBus bus;
  bus.add_sink(hooks);
  for (int i = 0; i < 8; ++i) bus.publish(file_event(EventType::kFileCompleted, std::to_string(i)));
  bus.close(20s);
  int running = 0, most = 0;
  for (const auto &line : lines_of(read_file(rig.log()))) {
    running += line == "+" ? 1 : -1;
    most = std::max(most, running);
  }
  EXPECT_EQ(hooks->counts().ran, 8u);
  EXPECT_EQ(most, 2);
}

namespace {

// A real HTTP/1.1 listener on 127.0.0.1: answers each request with the next
// status of `statuses` (the last one repeats) and keeps the bodies it got.
class Listener {
 public:
  explicit Listener(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr *>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Listener() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url(const std::string &path = "/hook?token=s3cret") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      while (handle(c)) {
      }
      ::close(c);
    }
  }
  // One request on connection `c`; false when the client is gone.
  bool handle(int c) {
    std::string data;
    char buf[65536];
    std::size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      const auto n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
    }
    const auto cl = data.find("Content-Length: ");
    const std::size_t length = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
    while (data.size() < head_end + 4 + length) {
      const auto n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
    }
    int status;
    {
      std::lock_guard lock(mutex_);
      status = statuses_[std::min<std::size_t>(requests_, statuses_.size() - 1)];
      ++requests_;
      if (status == 200) bodies_.push_back(data.substr(head_end + 4, length));
    }
    const std::string reply =
        "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n";
    return ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL) > 0;
  }

  std::vector<int> statuses_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> bodies_;
  int requests_ = 0;
  std::thread thread_;
};

WebhookOptions quick(const std::string &url, bool file_events) {
  WebhookOptions o;
  o.url = url;
  o.file_events = file_events;
  o.timeout = 2s;
  o.retry_delays = {50ms, 100ms, 200ms};
  return o;
}

}  // namespace

TEST(WebhookSink, FileEventsInBatchesThenTheSummaryAsJsonArrays) {
  Listener listener({200});
  std::vector<std::string> notices;
  auto hook = std::make_shared<WebhookSink>(quick(listener.url(), true),
                                            [&](const std::string &l) { notices.push_back(l); });
  EventBus bus;
  bus.add_sink(hook);
  for (int i = 0; i < 250; ++i) {
    bus.publish(file_event(EventType::kFileProgress, "p"));  // never sent
    bus.publish(file_event(EventType::kFileCompleted, "f" + std::to_string(i)));
  }
  JobEvent summary;
  summary.type = EventType::kJobSummary;
  summary.summary = {{"exit_code", 0}};
  bus.publish(summary);
  bus.close(5s);
  std::vector<Json> events;
  for (const auto &body : listener.bodies()) {
    const auto batch = Json::parse(body);
    ASSERT_TRUE(batch.is_array());
    EXPECT_LE(batch.size(), WebhookSink::kBatch);
    for (const auto &e : batch) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 251u);
  for (int i = 0; i < 250; ++i) EXPECT_EQ(events[i]["path"], "f" + std::to_string(i));
  EXPECT_EQ(events.back()["type"], "job.summary");
  EXPECT_TRUE(notices.empty());
}

TEST(WebhookSink, WithoutFileEventsOnlyTheSummaryIsPostedAndRetriedAfterFailures) {
  Listener listener({503, 500, 200});
  auto hook = std::make_shared<WebhookSink>(quick(listener.url(), false), nullptr);
  EventBus bus;
  bus.add_sink(hook);
  bus.publish(file_event(EventType::kFileCompleted, "a"));
  JobEvent summary;
  summary.type = EventType::kJobSummary;
  bus.publish(summary);
  bus.close(5s);
  ASSERT_EQ(listener.bodies().size(), 1u);
  EXPECT_EQ(Json::parse(listener.bodies()[0])[0]["type"], "job.summary");
  EXPECT_EQ(listener.requests(), 3);
  EXPECT_EQ(hook->counts().posted, 1u);
}

TEST(WebhookSink, ADeadEndpointIsReportedWithoutItsTokenAndTheJobGoesOn) {
  Listener listener({500});
  std::vector<std::string> notices;
  auto hook = std::make_shared<WebhookSink>(quick(listener.url(), false),
                                            [&](const std::string &l) { notices.push_back(l); });
  EventBus bus;
  bus.add_sink(hook);
  JobEvent summary;
  summary.type = EventType::kJobSummary;
  bus.publish(summary);
  const auto t0 = std::chrono::steady_clock::now();
  bus.close(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(listener.requests(), 4);  // the first try and three retries
  ASSERT_FALSE(notices.empty());
  for (const auto &n : notices) EXPECT_EQ(n.find("s3cret"), std::string::npos) << n;
  EXPECT_EQ(notices[0], "dlhost: warning: webhook " + listener.url("/...") +
                            ": HTTP 500 (its events are dropped; the job goes on)");
}
