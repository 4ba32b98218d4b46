// The progress display's formatting: snapshots in, text out (no terminal).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "dlhost/host/progress.hpp"

using namespace dlhost;

namespace {

ProgressSnapshot midway() {
  ProgressSnapshot s;
  s.counts.total = 100;
  s.counts.completed = 40;
  s.counts.skipped = 5;
  s.counts.failed = 3;
  s.counts.bytes = 8 * 1024 * 1024;
  s.counts.bytes_in_flight = 2 * 1024 * 1024;  // shown: 10 MiB transferred
  s.elapsed_s = 10;
  s.rate = 2 * 1024 * 1024;
  s.file_rate = 4;  // 52 left -> 13 s
  ProxyProgress a;
  a.id = "direct";
  a.state = "healthy";
  a.in_flight = 4;
  a.rate = 1536 * 1024;
  a.completed = 30;
  a.retries = 2;
  ProxyProgress b;
  b.id = "http://127.0.0.2:3128";
  b.state = "down";
  b.failed = 3;
  s.proxies = {a, b};
  return s;
}

}  // namespace

TEST(Progress, DurationAndEta) {
  EXPECT_EQ(format_duration(42), "42s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
  auto s = midway();
  EXPECT_DOUBLE_EQ(eta_seconds(s), 13);
  s.file_rate = -1;  // not measured yet: the average over the run (48 in 10 s)
  EXPECT_NEAR(eta_seconds(s), 52 * 10.0 / 48, 1e-9);
  s.counts.completed = 0, s.counts.skipped = 0, s.counts.failed = 0;
  EXPECT_EQ(eta_seconds(s), -1);
  s.counts.completed = 100;
  EXPECT_EQ(eta_seconds(s), 0);
}

TEST(Progress, PlainLineHasNoControlCharacters) {
  const auto line = format_plain_line(midway());
  EXPECT_EQ(line,
            "progress: 48/100 files (3 failed, 5 skipped), 10.0 MiB, 2.0 MiB/s, ETA 13s; "
            "proxies: 1 down, 1 healthy");
  for (char c : line) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "control char in plain";
}

TEST(Progress, PlainOutputShapeFromTheDisplay) {
  // The real Progress in plain mode writing to a file: whole lines only.
  std::FILE *f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Progress p(ProgressMode::kPlain, true, f);
    p.start([] { return midway(); });
    p.file_finished("a/b.bin", "completed", "");
    p.file_finished("c.bin", "failed", "HTTP 404");
    p.stop();
  }
  std::rewind(f);
  std::string text;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, f)) text.append(buf, n);
  std::fclose(f);
  EXPECT_EQ(text, "completed: a/b.bin\nfailed: c.bin (HTTP 404)\n");
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\033'), std::string::npos);
}

TEST(Progress, BarLinesOnePerProxyCutToWidth) {
  const auto lines = format_bar_lines(midway(), 0);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("[##########----------] 48/100 files", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("2.0 MiB/s"), std::string::npos);
  EXPECT_NE(lines[0].find("ETA 13s"), std::string::npos);
  EXPECT_NE(lines[1].find("direct"), std::string::npos);
  EXPECT_NE(lines[1].find("healthy"), std::string::npos);
  EXPECT_NE(lines[1].find("4 in flight"), std::string::npos);
  EXPECT_NE(lines[1].find("1.5 MiB/s"), std::string::npos);
  EXPECT_NE(lines[1].find("2 retries"), std::string::npos);
  EXPECT_NE(lines[2].find("http://127.0.0.2:3128"), std::string::npos);
  EXPECT_NE(lines[2].find("down"), std::string::npos);
  for (const auto &l : format_bar_lines(midway(), 40)) EXPECT_LE(l.size(), 40u);
}

TEST(Progress, RenderBarRedrawsInPlace) {
  const std::vector<std::string> three{"one", "two", "three"};
  // First frame: no cursor movement, lines separated by newlines.
  EXPECT_EQ(render_bar(three, 0), "\033[Kone\n\033[Ktwo\n\033[Kthree\033[J");
  // Next frame over three drawn lines: back to the first, then redraw.
  EXPECT_EQ(render_bar({"a", "b"}, 3), "\r\033[2A\033[Ka\n\033[Kb\033[J");
  EXPECT_EQ(render_bar({"x"}, 1), "\r\033[Kx\033[J");
}

TEST(Progress, ParsesThePluginsProxies) {
  const auto proxies = parse_proxy_stats(
      R"({"plugin":"multi-proxy","proxies":[{"id":"direct","state":"healthy","in_flight":3,)"
      R"("bytes":2048,"completed":7,"failed":1,"retries":4,"latency_ms":{"p50":1,"p95":2}},)"
      R"({"id":"socks5h://127.0.0.4:1080","state":"probing"}]})");
  ASSERT_EQ(proxies.size(), 2u);
  EXPECT_EQ(proxies[0].id, "direct");
  EXPECT_EQ(proxies[0].in_flight, 3);
  EXPECT_EQ(proxies[0].bytes, 2048u);
  EXPECT_EQ(proxies[0].retries, 4u);
  EXPECT_EQ(proxies[1].state, "probing");
  EXPECT_TRUE(parse_proxy_stats("not json").empty());
  EXPECT_TRUE(parse_proxy_stats("{}").empty());
}

TEST(Progress, RateMeterUsesARecentWindow) {
  RateMeter m(2.0);
  EXPECT_EQ(m.add(0, 0), -1);  // too short to measure
  EXPECT_DOUBLE_EQ(m.add(1, 100), 100);
  EXPECT_DOUBLE_EQ(m.add(2, 200), 100);
  EXPECT_DOUBLE_EQ(m.add(3, 1200), 550);  // window 1..3 s: (1200-100)/2
}

TEST(Progress, NamesTheFilesOtherWorkersHold) {
  ProgressSnapshot s;
  s.counts.total = 6;
  s.counts.completed = 5;
  EXPECT_EQ(format_waiting(s), "");
  EXPECT_EQ(format_plain_line(s).find("waiting"), std::string::npos);
  s.waiting = 5;
  s.waiting_for = {"p1/a.jpg", "p1/b\x1b.jpg", "p2/c.jpg"};
  EXPECT_EQ(format_waiting(s),
            "waiting for 5 files other workers hold: p1/a.jpg, p1/b\\x1b.jpg, p2/c.jpg, ...");
  EXPECT_NE(format_plain_line(s).find("; waiting for 5 files"), std::string::npos);
  EXPECT_EQ(format_bar_lines(s, 0).back(), "  " + format_waiting(s));
  s.waiting = 1;
  s.waiting_for = {"p1/a.jpg"};
  EXPECT_EQ(format_waiting(s), "waiting for 1 file other workers hold: p1/a.jpg");
}
