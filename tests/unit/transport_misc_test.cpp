// Events, progress throttle, path stats, and the ABI glue helpers.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "dlhost/status_text.h"
#include "dlhost/transport/abi_glue.h"
#include "dlhost/transport/easy_setup.h"
#include "dlhost/transport/events.h"
#include "dlhost/transport/path_stats.h"
#include "dlhost/transport/request.h"
#include "dlhost/transport/transport_config.h"

using namespace dlhost::transport;

TEST(Events, EmitterFillsStruct) {
  std::vector<std::string> seen;
  auto fn = [](void *user, const dlhost_event *ev) {
    auto *out = static_cast<std::vector<std::string> *>(user);
    EXPECT_EQ(ev->struct_size, sizeof(dlhost_event));
    out->push_back(std::to_string(ev->type) + ":" + std::to_string(ev->task_id) + ":" +
                   (ev->message ? ev->message : "") + ":" + std::to_string(ev->failure));
  };
  EventEmitter em(fn, &seen);
  em.started(7, 1, 0, 10, "direct");
  em.failed(7, 1, DLHOST_FAILURE_HTTP, 404, 0, std::string("HTTP 404 for x"), "direct");
  em.log(DLHOST_LOG_WARN, 0, "hello");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "1:7::0");
  EXPECT_EQ(seen[1], "5:7:HTTP 404 for x:1");
  EXPECT_EQ(seen[2], "7:0:hello:0");
}

TEST(Events, ProgressThrottle) {
  using namespace std::chrono;
  ProgressThrottle t(milliseconds(100));
  auto t0 = ProgressThrottle::Clock::now();
  EXPECT_TRUE(t.should_emit(t0));
  EXPECT_FALSE(t.should_emit(t0 + milliseconds(50)));
  EXPECT_TRUE(t.should_emit(t0 + milliseconds(100)));
  EXPECT_FALSE(t.should_emit(t0 + milliseconds(150)));
  t.reset();
  EXPECT_TRUE(t.should_emit(t0 + milliseconds(151)));
}

TEST(PathStats, PercentilesAndJson) {
  PathStats s;
  for (int i = 1; i <= 100; ++i) s.latency.add(i);
  s.completed = 100;
  s.bytes = 12345;
  auto j = s.to_json("direct", "healthy");
  EXPECT_EQ(j["id"], "direct");
  EXPECT_EQ(j["completed"], 100);
  EXPECT_EQ(j["latency_ms"]["p50"], 50.0);
  EXPECT_EQ(j["latency_ms"]["p95"], 95.0);
  PathStats empty;
  EXPECT_EQ(empty.to_json("x", "down")["latency_ms"]["p50"], 0.0);
  LatencySamples ring;  // bounded: only the newest kCapacity samples count
  for (size_t i = 0; i < LatencySamples::kCapacity * 2; ++i)
    ring.add(i < LatencySamples::kCapacity ? 1e6 : 1);
  EXPECT_EQ(ring.count(), LatencySamples::kCapacity);
  EXPECT_EQ(ring.percentile(0.95), 1.0);
}

TEST(AbiGlue, StrerrorAndErrbuf) {
  EXPECT_STREQ(status_strerror(DLHOST_OK), "ok");
  EXPECT_STREQ(status_strerror(DLHOST_E_AGAIN), "queue full, try again after a task ends");
  EXPECT_STREQ(status_strerror(12345), "unknown status");
  for (dlhost_status s = 0; s <= DLHOST_E_IO; ++s) {
    ASSERT_NE(status_strerror(s), nullptr);
    EXPECT_STREQ(status_strerror(s), dlhost_status_text(s)) << s;  // the kit's one table
  }
  char buf[8];
  write_error(buf, sizeof buf, "line one\nline two");
  EXPECT_STREQ(buf, "line on");
  write_error(nullptr, 0, "ignored");
}

TEST(AbiGlue, GuardCatchesExceptions) {
  char buf[64] = {0};
  EXPECT_EQ(
      guard_status(buf, sizeof buf, []() -> dlhost_status { throw std::runtime_error("boom"); }),
      DLHOST_E_INTERNAL);
  EXPECT_STREQ(buf, "internal error: boom");
  EXPECT_EQ(guard_status([]() -> dlhost_status { throw std::bad_alloc(); }), DLHOST_E_NO_MEMORY);
  EXPECT_EQ(guard_status([] { return DLHOST_E_AGAIN; }), DLHOST_E_AGAIN);
  guard_void([] { throw 42; });
}

TEST(AbiGlue, JsonToSink) {
  std::string out;
  dlhost_sink sink{sizeof(dlhost_sink), &out, [](void *u, const char *d, size_t n) {
                     static_cast<std::string *>(u)->append(d, n);
                   }};
  EXPECT_EQ(json_to_sink({{"a", 1}}, &sink), DLHOST_OK);
  EXPECT_EQ(out, R"({"a":1})");
  EXPECT_EQ(json_to_sink({}, nullptr), DLHOST_E_INVALID_ARGUMENT);
}

TEST(AbiGlue, CopyTask) {
  dlhost_task t{};
  t.struct_size = sizeof t;
  t.id = 9;
  t.url = "http://h/a";
  t.dest_path = "/tmp/a";
  t.group = "g";
  t.size = -5;
  OwnedTask o;
  std::string err;
  ASSERT_EQ(copy_task(&t, &o, &err), DLHOST_OK) << err;
  EXPECT_EQ(o.id, 9u);
  EXPECT_EQ(o.size, -1);
  EXPECT_EQ(o.sha256, "");
  t.url = "ftp://h/a";
  EXPECT_EQ(copy_task(&t, &o, &err), DLHOST_E_INVALID_ARGUMENT);
  t.url = "http://h/a";
  t.sha256 = "xyz";
  EXPECT_EQ(copy_task(&t, &o, &err), DLHOST_E_INVALID_ARGUMENT);
  t.sha256 = nullptr;
  t.struct_size = 8;
  EXPECT_EQ(copy_task(&t, &o, &err), DLHOST_E_INVALID_ARGUMENT);
  EXPECT_EQ(copy_task(nullptr, &o, &err), DLHOST_E_INVALID_ARGUMENT);
}

// ABI 1.1's proxy_id is read only from a task that is large enough: a 1.0
// host's task ends before it, and whatever follows in memory is not a pin.
TEST(AbiGlue, CopyTaskReadsThePinOnlyFromA11Task) {
  struct {
    dlhost_task task;
    const char *beyond_1_0 = "garbage";
  } mem{};
  dlhost_task &t = mem.task;
  t.url = "http://h/a";
  t.dest_path = "/tmp/a";
  t.proxy_id = "http://127.0.0.2:8888";
  OwnedTask o;
  std::string err;
  t.struct_size = sizeof t;
  ASSERT_EQ(copy_task(&t, &o, &err), DLHOST_OK) << err;
  EXPECT_EQ(o.proxy_id, "http://127.0.0.2:8888");
  t.struct_size = DLHOST_TASK_SIZE_1_0;
  ASSERT_EQ(copy_task(&t, &o, &err), DLHOST_OK) << err;
  EXPECT_EQ(o.proxy_id, "");
}

TEST(EasySetup, AppliesOptionsToAHandle) {
  TransportConfig cfg;
  std::string err;
  ASSERT_TRUE(parse_transport_config(
      R"({"DOWNLOAD_HEADERS": "{\"Referer\": \"https://x/\", \"X-Empty\": \"\"}",
          "PROXY_MAX_REDIRECTS": 0, "PROXY_LIST": "[{\"url\": \"http://u:p@127.0.0.2:8888\"}]"})",
      &cfg, &err))
      << err;
  EasyHandle easy;
  EXPECT_EQ(apply_common_options(easy.get(), cfg), CURLE_OK);
  EXPECT_EQ(apply_proxy(easy.get(), &cfg.proxies[0]), CURLE_OK);
  EXPECT_EQ(apply_proxy(easy.get(), nullptr), CURLE_OK);
  PartFile file;
  TransferContext ctx;
  ctx.file = &file;
  ctx.resume_from = 10;
  EXPECT_EQ(prepare_transfer(easy.get(), "http://127.0.0.1:1/x", &ctx), CURLE_OK);
  EXPECT_EQ(ctx.easy, easy.get());
  Request request(cfg);
  EXPECT_EQ(request.start(easy.get(), "http://127.0.0.1:1/x", &ctx), CURLE_OK);
  EXPECT_EQ(request.hop_url(), "http://127.0.0.1:1/x");
}
