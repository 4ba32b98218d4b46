"""dlhost run --status: the live status server, read by curl-like requests
and by a real browser (Debian's headless chromium) while a real job runs.

The job downloads from the fault server's /slow/ path (half a file, a pause,
the rest) through two paths (direct and a tinyproxy), so it lasts a few
seconds. The page's numbers are read from the DOM after its script ran
(--dump-dom with a virtual time budget) and checked against /stats fetched
just before and just after: totals and proxy ids equal, counters in between.
"""
import http.client
import json
import shutil
import socket
import tempfile
import time
import unittest
import urllib.request
import subprocess
from html.parser import HTMLParser

import dlfix
from dlfix import run_dlhost

CHROMIUM = shutil.which("chromium")
SECRET = "st4tus-pr0xy-s3cret"


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


def fetch(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


class PageValues(HTMLParser):
    """data-value of every element with an id; proxy rows by data-proxy-id."""

    def __init__(self):
        super().__init__()
        self.values, self.proxies, self._row = {}, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-proxy-id" in a:
            self._row = self.proxies.setdefault(a["data-proxy-id"], [])
        elif tag == "td" and self._row is not None and "data-value" in a:
            self._row.append(a["data-value"])
        if "id" in a and "data-value" in a:
            self.values[a["id"]] = a["data-value"]

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None


def dump_dom(url, profile):
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        "--virtual-time-budget=3000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=60)
    return p.stdout


class StatusServer(dlfix.FaultOriginTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # With credentials, so that "no credentials in any answer" can fail.
        cls.proxy = dlfix.Tinyproxy("127.0.0.2", basic_auth=("statususer", SECRET),
                                    workdir=cls.class_tmp / "tp").start()
        cls.addClassCleanup(cls.proxy.stop)

    def slow_job(self, n=24, delay=0.5):
        entries = [{"url": self.origin.url(f"/slow/50000/g{i % 4}/f{i}.bin?delay={delay}"),
                    "path": f"g{i % 4}/f{i}.bin", "group": f"g{i % 4}"} for i in range(n)]
        port = dlfix.free_port()
        env = {"PROXY_LIST": json.dumps([{"isLocalhost": True}, self.proxy.entry()]),
               "PROXY_POST_LIMIT": 1, "PROXY_ATTACHMENT_LIMIT": 1}
        job = self.spawn_job(self.manifest(entries), "--status", f"127.0.0.1:{port}", env=env)
        self.addCleanup(lambda: job.running() and job.proc.kill())
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        # The server answers from the start; the job's total is known once
        # the manifest has been read (the validating pass), its proxies once
        # the plugin runs.
        answered = None
        while time.monotonic() < deadline and job.running():
            try:
                answered = json.loads(fetch(base + "/stats", timeout=5)[2])
                if answered["files"]["total"] == n and answered.get("proxies"):
                    return job, base, n
            except OSError:
                pass
            time.sleep(0.05)
        self.fail(f"the status server did not answer with the job's total (last: {answered})\n"
                  f"{job.wait(10) if not job.running() else 'the job is still running'}")

    def test_endpoints_while_the_job_runs(self):
        job, base, n = self.slow_job()
        status, ctype, body = fetch(base + "/stats")
        stats = json.loads(body)
        self.assertEqual((status, ctype), (200, "application/json"))
        self.assertEqual(stats["files"]["total"], n)
        self.assertEqual(stats["plugin"], "multi-proxy")
        ids = [p["id"] for p in stats["proxies"]]
        self.assertEqual(len(ids), 2)
        self.assertFalse(any("@" in i for i in ids), "no credentials in ids")
        health_text = fetch(base + "/health")[2]
        health = json.loads(health_text)
        self.assertEqual([p["id"] for p in health["proxies"]], ids)
        status, ctype, metrics = fetch(base + "/metrics")
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"))
        self.assertIn(f'dlhost_files_total{{state="total"}} {n}\n', metrics)
        self.assertIn("# TYPE dlhost_bytes_total counter", metrics)
        for i in ids:
            self.assertIn(f'dlhost_proxy_completed_total{{proxy="{i}"}}', metrics)
        status, ctype, page = fetch(base + "/")
        self.assertTrue(ctype.startswith("text/html"))
        self.assertNotIn("http://", page.split("<script>")[1], "the page loads nothing else")
        for text in (body, health_text, metrics, page):
            self.assertNotIn(SECRET, text)
            self.assertNotIn("statususer", text)
        with self.assertRaises(urllib.error.HTTPError) as e:
            fetch(base + "/nope")
        self.assertEqual(e.exception.code, 404)
        r = job.wait(60)
        self.assertRc(r, 0)
        self.assertIn(f"status at {base}/", r.stderr)

    def test_http_details(self):
        job, base, n = self.slow_job()
        port = int(base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        # keep-alive: three requests, one connection
        conn.request("GET", "/stats")
        r = conn.getresponse()
        first = conn.sock
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Cache-Control"), "no-store")
        self.assertIn("timeout=", r.getheader("Keep-Alive", ""))
        self.assertEqual(json.loads(r.read())["files"]["total"], n)
        # HEAD: the headers of GET, no body
        conn.request("HEAD", "/metrics")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        self.assertGreater(int(r.getheader("Content-Length")), 0)
        self.assertEqual(r.read(), b"")
        # any method but GET and HEAD: 405
        conn.request("POST", "/stats", body=b"{}")
        r = conn.getresponse()
        self.assertEqual((r.status, r.getheader("Allow"), r.read()), (405, "GET, HEAD", b"GET only\n"))
        self.assertIs(conn.sock, first, "one connection for all three")
        # the query string is ignored; an unknown path is 404 with a text body
        conn.request("GET", "/health?x=1")
        self.assertEqual(conn.getresponse().read()[:1], b"{")
        conn.request("GET", "/nope")
        r = conn.getresponse()
        self.assertEqual((r.status, r.read()), (404, b"not found\n"))
        conn.close()
        # garbage is 400; a request head over 16 KiB is 431
        for raw, status in ((b"NONSENSE\r\n\r\n", b" 400 "),
                            (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b" 431 ")):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(raw)
                self.assertIn(status, s.recv(100).split(b"\r\n")[0] + b" ")
        self.assertRc(job.wait(60), 0)

    @unittest.skipUnless(CHROMIUM, "needs Debian's chromium (scripts/setup.sh installs it)")
    def test_page_in_headless_chromium_matches_stats(self):
        job, base, n = self.slow_job()
        time.sleep(1)  # some files done, so "between" means something
        before = json.loads(fetch(base + "/stats")[2])
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.work)
        dom = dump_dom(base + "/", profile)
        after = json.loads(fetch(base + "/stats")[2])
        self.assertTrue(job.running(), "the job should outlast the page load")
        page = PageValues()
        page.feed(dom)
        v = page.values
        self.assertIn("files-total", v, dom[:2000])
        self.assertEqual(int(v["files-total"]), n)
        self.assertEqual(int(v["files-total"]), before["files"]["total"])
        for key in ("completed", "failed", "skipped"):
            self.assertLessEqual(before["files"][key], int(v["files-" + key]))
            self.assertLessEqual(int(v["files-" + key]), after["files"][key])
        self.assertLessEqual(before["bytes"], int(v["bytes"]))
        self.assertLessEqual(int(v["bytes"]), after["bytes"])
        self.assertEqual(sorted(page.proxies), sorted(p["id"] for p in after["proxies"]))
        by_id = {p["id"]: p for p in before["proxies"]}, {p["id"]: p for p in after["proxies"]}
        for pid, cells in page.proxies.items():
            # id, state, in_flight, completed, failed, retries, rate_limited, bytes, p50, p95
            completed = int(cells[3])
            self.assertLessEqual(by_id[0][pid]["completed"], completed, pid)
            self.assertLessEqual(completed, by_id[1][pid]["completed"], pid)
        self.assertGreater(sum(int(c[3]) for c in page.proxies.values()), 0)
        self.assertRc(job.wait(60), 0)

    def test_refuses_a_host_name_and_a_busy_port(self):
        m = self.manifest([{"url": self.origin.url("/ok/10/x.bin"), "path": "x.bin"}])
        r = self.run_job(m, "--status", "example.org:8080")
        self.assertRc(r, 2)
        self.assertIn("--status example.org:8080: not an IP address", r.stderr)
        with dlfix.FaultServer() as busy:
            r = self.run_job(m, "--status", f"127.0.0.1:{busy.port}")
        self.assertRc(r, 2)
        self.assertIn("cannot listen: Address already in use", r.stderr)
        self.assertFalse((self.out / "x.bin").exists(), "nothing downloaded")


if __name__ == "__main__":
    unittest.main()
