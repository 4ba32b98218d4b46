// The multi-proxy plugin changing its proxies while a job runs, through the
// "dlhost.proxies/1" extension as a host calls it (PluginInstance, the real
// .so): files come from the conformance origin (in process, on 127.0.0.1),
// proxies are ForwardProxy instances (mp_forward_proxy.hpp), and what moved
// where is read from the events' proxy_id.
//  - a proxy added mid-run takes new files while the direct line keeps going;
//  - a proxy removed mid-run takes no file after set_proxies() returns, the
//    files in flight on it finish there (not restarted, not lost), and it
//    stays in stats() with state "removed";
//  - new credentials for a listed proxy apply to its next attempts, and
//    bring back a proxy that a 407 had dropped for the run;
//  - a bad list is refused with the entry named and changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conformance_origin.hpp"
#include "dlhost/host/plugin_loader.hpp"
#include "mp_forward_proxy.hpp"
#include "test_dir.hpp"

namespace dlhost {
namespace {

using nlohmann::json;
using testing::ForwardProxy;
using testing::TestDir;

struct Event {
  int type;
  uint64_t task;
  int attempt;
  std::string proxy;
  std::string message;  // LOG only
};

// Every event, in delivery order (the plugin delivers one at a time).
class Recorder {
 public:
  static void on_event(void *user, const dlhost_event *e) {
    auto *self = static_cast<Recorder *>(user);
    std::lock_guard lock(self->mu_);
    self->events_.push_back(Event{e->type, e->task_id, e->attempt, e->proxy_id ? e->proxy_id : "",
                                  e->type == DLHOST_EVENT_LOG && e->message ? e->message : ""});
    self->cv_.notify_all();
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  // Waits (at most 30 s) until `done(events)` holds.
  template <class Pred>
  bool wait_for(Pred done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return done(events_); });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

bool terminal(int type) {
  return type == DLHOST_EVENT_COMPLETED || type == DLHOST_EVENT_FAILED ||
         type == DLHOST_EVENT_CANCELLED;
}

int count(const std::vector<Event> &ev, int type, const std::string &proxy) {
  int n = 0;
  for (const auto &e : ev) n += e.type == type && e.proxy == proxy;
  return n;
}

// Where the loop applied a new list: its "proxies changed" LOG event (events
// come from the loop thread in order, so everything before it happened under
// the old list and everything after under the new one).
size_t change_index(const std::vector<Event> &ev) {
  for (size_t i = 0; i < ev.size(); ++i)
    if (ev[i].type == DLHOST_EVENT_LOG && ev[i].message.rfind("proxies changed:", 0) == 0) return i;
  return ev.size();
}

// Tasks started on `proxy` with no terminal event yet, among the first `n` events.
std::set<uint64_t> in_flight_on(const std::vector<Event> &ev, const std::string &proxy,
                                size_t n = SIZE_MAX) {
  std::set<uint64_t> out;
  for (const auto &e : std::vector<Event>(ev.begin(), ev.begin() + std::min(n, ev.size()))) {
    if (e.type == DLHOST_EVENT_STARTED && e.proxy == proxy) out.insert(e.task);
    if (terminal(e.type) || (e.type == DLHOST_EVENT_STARTED && e.proxy != proxy)) out.erase(e.task);
  }
  return out;
}

std::string read_file(const std::filesystem::path &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

json parse_stats(PluginInstance &inst) {
  std::string error;
  const std::string text = inst.stats_json(error);
  EXPECT_TRUE(error.empty()) << error;
  return json::parse(text);
}

const json *proxy_row(const json &stats, const std::string &id) {
  for (const auto &p : stats["proxies"])
    if (p["id"] == id) return &p;
  return nullptr;
}

// One job: `n` slow files (1 KiB every 50 ms) of `size` bytes, `per_group`
// to a post, under a fresh directory.
class LiveJob {
 public:
  LiveJob(const std::string &proxy_list, int n, size_t size, int per_group)
      : dir_("mp-live"), n_(n), size_(size) {
    plugin_ = LoadedPlugin::load(DLHOST_MULTI_PROXY_PLUGIN);
    json cfg = {{"DOWNLOAD_DIR", dir_.path().string()},
                {"PROXY_POST_LIMIT", 2},
                {"PROXY_ATTACHMENT_LIMIT", 2},
                {"PROXY_RETRY_BASE_DELAY", 100}};
    if (!proxy_list.empty()) cfg["PROXY_LIST"] = proxy_list;
    inst_ = std::make_unique<PluginInstance>(plugin_, cfg.dump(), &Recorder::on_event, &rec_);
    for (int i = 0; i < n; ++i) {
      const std::string name = "f" + std::to_string(i);
      const std::string url = origin_.url("/slow/" + std::to_string(size) + "/" + name);
      const std::string dest = (dir_.path() / name).string();
      const std::string group = "post" + std::to_string(i / per_group);
      const std::string sha = conformance::sha256_hex(conformance::content_of(name, size));
      dlhost_task t{};
      t.struct_size = sizeof t;
      t.id = static_cast<uint64_t>(i + 1);
      t.url = url.c_str();
      t.dest_path = dest.c_str();
      t.group = group.c_str();
      t.sha256 = sha.c_str();
      t.size = static_cast<int64_t>(size);
      std::string error;
      EXPECT_EQ(inst_->submit(t, error), DLHOST_OK) << error;
    }
  }

  PluginInstance &inst() { return *inst_; }
  Recorder &rec() { return rec_; }

  // Waits for the job; checks one terminal event per task, every one
  // COMPLETED, and every file whole at its destination with no .part left.
  void expect_all_completed() {
    ASSERT_EQ(inst_->wait(60000), DLHOST_OK);
    std::map<uint64_t, int> terminals;
    for (const auto &e : rec_.events()) {
      if (!terminal(e.type)) continue;
      ++terminals[e.task];
      EXPECT_EQ(e.type, DLHOST_EVENT_COMPLETED) << "task " << e.task;
    }
    EXPECT_EQ(terminals.size(), static_cast<size_t>(n_));
    for (const auto &[task, k] : terminals) EXPECT_EQ(k, 1) << "task " << task;
    for (int i = 0; i < n_; ++i) {
      const std::string name = "f" + std::to_string(i);
      EXPECT_EQ(read_file(dir_.path() / name), conformance::content_of(name, size_)) << name;
      EXPECT_FALSE(std::filesystem::exists(dir_.path() / (name + ".part"))) << name;
    }
  }

 private:
  TestDir dir_;
  conformance::Origin origin_;
  Recorder rec_;
  std::shared_ptr<LoadedPlugin> plugin_;
  std::unique_ptr<PluginInstance> inst_;
  int n_;
  size_t size_;
};

TEST(LiveProxies, AProxyAddedMidRunTakesNewFiles) {
  ForwardProxy proxy;
  LiveJob job("", 24, 6 * 1024, 2);  // the direct line only
  ASSERT_EQ(job.inst().start(), DLHOST_OK);
  ASSERT_TRUE(job.rec().wait_for(
      [](const auto &ev) { return count(ev, DLHOST_EVENT_COMPLETED, "direct") >= 2; }));
  const json list = json::array({{{"isLocalhost", true}}, proxy.entry()});
  std::string error;
  ASSERT_EQ(job.inst().set_proxies(list.dump(), error), DLHOST_OK) << error;
  const json row_now = *proxy_row(parse_stats(job.inst()), proxy.id());
  EXPECT_EQ(row_now["state"], "healthy");  // in force when set_proxies() returns

  job.expect_all_completed();
  const auto ev = job.rec().events();
  const int via_proxy = count(ev, DLHOST_EVENT_COMPLETED, proxy.id());
  EXPECT_GT(via_proxy, 0);
  EXPECT_GT(count(ev, DLHOST_EVENT_COMPLETED, "direct"), 2);  // direct kept its share
  EXPECT_GE(proxy.requests(), via_proxy);
  const json stats = parse_stats(job.inst());
  ASSERT_EQ(stats["proxies"].size(), 2u);
  EXPECT_EQ((*proxy_row(stats, proxy.id()))["completed"], via_proxy);
}

TEST(LiveProxies, AProxyRemovedMidRunTakesNoNewFileAndLosesNone) {
  ForwardProxy a, b;
  const json both = json::array({a.entry(), b.entry()});
  LiveJob job(both.dump(), 24, 16 * 1024, 4);  // ~0.8 s a file
  ASSERT_EQ(job.inst().start(), DLHOST_OK);
  ASSERT_TRUE(job.rec().wait_for([&](const auto &ev) {
    return in_flight_on(ev, a.id()).size() >= 2 && count(ev, DLHOST_EVENT_COMPLETED, a.id()) >= 1;
  }));
  std::string error;
  ASSERT_EQ(job.inst().set_proxies(json::array({b.entry()}).dump(), error), DLHOST_OK) << error;
  const json row = *proxy_row(parse_stats(job.inst()), a.id());
  EXPECT_EQ(row["state"], "removed");

  job.expect_all_completed();
  const auto ev = job.rec().events();
  const size_t change = change_index(ev);
  ASSERT_LT(change, ev.size());
  EXPECT_NE(ev[change].message.find("-" + a.id()), std::string::npos) << ev[change].message;
  const std::set<uint64_t> draining = in_flight_on(ev, a.id(), change);
  int started_on_a = 0;
  for (size_t i = 0; i < change; ++i)
    started_on_a += ev[i].type == DLHOST_EVENT_STARTED && ev[i].proxy == a.id();
  // Nothing started on "a" once the change was applied ...
  for (size_t i = change; i < ev.size(); ++i)
    EXPECT_FALSE(ev[i].type == DLHOST_EVENT_STARTED && ev[i].proxy == a.id())
        << "task " << ev[i].task << " started on the removed proxy";
  EXPECT_EQ(a.requests(), started_on_a);
  // ... and what was in flight there finished there, in the same attempt.
  EXPECT_FALSE(draining.empty());
  for (uint64_t task : draining) {
    int starts = 0;
    for (size_t i = change; i < ev.size(); ++i) {
      if (ev[i].task != task) continue;
      if (ev[i].type == DLHOST_EVENT_STARTED || ev[i].type == DLHOST_EVENT_RETRYING) ++starts;
      if (ev[i].type == DLHOST_EVENT_COMPLETED) {
        EXPECT_EQ(ev[i].proxy, a.id()) << "task " << task;
      }
    }
    EXPECT_EQ(starts, 0) << "task " << task << " was restarted";
  }
  const json stats = parse_stats(job.inst());
  const json *removed = proxy_row(stats, a.id());
  ASSERT_NE(removed, nullptr);
  EXPECT_EQ((*removed)["state"], "removed");
  EXPECT_EQ((*removed)["in_flight"], 0);
  EXPECT_EQ((*removed)["completed"], count(ev, DLHOST_EVENT_COMPLETED, a.id()));
  EXPECT_EQ(stats["totals"]["completed"], 24);
}

TEST(LiveProxies, NewCredentialsReviveAProxyDroppedFor407) {
  ForwardProxy proxy("alice:right");
  auto list = [&](const std::string &password) {
    json e = proxy.entry();
    e["username"] = "alice";
    e["password"] = password;
    return json::array({{{"isLocalhost", true}}, e}).dump();
  };
  LiveJob job(list("wrong"), 24, 6 * 1024, 2);
  ASSERT_EQ(job.inst().start(), DLHOST_OK);
  ASSERT_TRUE(job.rec().wait_for([&](const auto &) { return proxy.refused() > 0; }));
  // The 407 makes the proxy dead at once; its file moves to the direct line.
  ASSERT_TRUE(job.rec().wait_for(
      [&](const auto &ev) { return count(ev, DLHOST_EVENT_COMPLETED, "direct") >= 2; }));
  EXPECT_EQ((*proxy_row(parse_stats(job.inst()), proxy.id()))["state"], "dead");
  const int refused = proxy.refused();
  std::string error;
  ASSERT_EQ(job.inst().set_proxies(list("right"), error), DLHOST_OK) << error;
  EXPECT_EQ((*proxy_row(parse_stats(job.inst()), proxy.id()))["state"], "healthy");
  job.expect_all_completed();
  const auto ev = job.rec().events();
  const size_t change = change_index(ev);
  ASSERT_LT(change, ev.size());
  EXPECT_NE(ev[change].message.find("~" + proxy.id()), std::string::npos) << ev[change].message;
  EXPECT_EQ(ev[change].message.find("right"), std::string::npos);  // never a password
  int after = 0;
  for (size_t i = change; i < ev.size(); ++i)
    after += ev[i].type == DLHOST_EVENT_COMPLETED && ev[i].proxy == proxy.id();
  EXPECT_GT(after, 0);
  EXPECT_EQ(proxy.refused(), refused);  // no attempt with the old password after the change
  EXPECT_EQ(proxy.requests(), after);
}

TEST(LiveProxies, ABadListIsRefusedNamingTheEntryAndChangesNothing) {
  LiveJob job("", 2, 1024, 1);
  std::string error;
  const std::string bad =
      R"([{"isLocalhost":true},{"ip":"127.0.0.1","port":"x","username":"u","password":"hunter2"}])";
  EXPECT_EQ(job.inst().set_proxies(bad, error), DLHOST_E_CONFIG);
  EXPECT_EQ(error.rfind("PROXY_LIST: entry 2: ", 0), 0u) << error;
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
  EXPECT_EQ(error.find('\n'), std::string::npos);
  const json stats = parse_stats(job.inst());
  ASSERT_EQ(stats["proxies"].size(), 1u);
  EXPECT_EQ(stats["proxies"][0]["id"], "direct");
  // Before start() a good list is in force at once; "[]" is the direct line.
  ForwardProxy proxy;
  ASSERT_EQ(job.inst().set_proxies(json::array({proxy.entry()}).dump(), error), DLHOST_OK) << error;
  EXPECT_EQ((*proxy_row(parse_stats(job.inst()), "direct"))["state"], "removed");
  ASSERT_EQ(job.inst().set_proxies("[]", error), DLHOST_OK) << error;
  EXPECT_EQ((*proxy_row(parse_stats(job.inst()), "direct"))["state"], "healthy");
  EXPECT_EQ((*proxy_row(parse_stats(job.inst()), proxy.id()))["state"], "removed");
  ASSERT_EQ(job.inst().start(), DLHOST_OK);
  job.expect_all_completed();
  EXPECT_EQ(proxy.requests(), 0);
}

}  // namespace
}  // namespace dlhost
