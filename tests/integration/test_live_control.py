"""Programs driving a running job: the event stream (--events), streaming
input (--follow), hooks (--on-file-done / --on-job-done), the webhook
(DOWNLOAD_WEBHOOK_URL) and SIGHUP, with the real dlhost binary against the
fault server, a real webhook listener and, for `dlhost work`, a real Redis.

What a program that wraps dlhost checks: every manifest line ends in exactly
one terminal event, the stream is NDJSON alone on stdout, no credential
leaks, a bad streamed line is reported and the rest goes on, a reader faster
than the downloads is held back, and a failing or hanging hook or webhook
neither fails, delays past its bound, nor loses a file.
"""
import http.server
import json
import os
import shutil
import signal
import stat
import sys
import textwrap
import threading
import time
import unittest
from pathlib import Path

import dlfix

TERMINAL = {"file.completed", "file.failed", "file.skipped"}
FILE_FIELDS = ["path", "url", "group", "proxy", "bytes", "total", "attempt",
               "http_status", "failure", "message"]


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


def parse_events(text):
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    for e in events:
        assert e["v"] == 1, e
    return events


def terminal_by_line(events):
    out = {}
    for e in events:
        if e["type"] in TERMINAL:
            out.setdefault(e.get("line"), []).append(e)
    return out


class Listener:
    """A real HTTP listener for webhooks: records every POST body; answers
    `status` (a list consumed in order, then 200)."""

    def __init__(self, statuses=(), delay=0.0):
        self.bodies, self.paths = [], []
        self.statuses = list(statuses)
        self.delay = delay
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                owner.paths.append(self.path)
                if owner.delay:
                    time.sleep(owner.delay)
                status = owner.statuses.pop(0) if owner.statuses else 200
                if status == 200:
                    owner.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hooks/T0KEN-s3cret"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def events(self):
        return [e for body in self.bodies for e in body]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class LiveControl(dlfix.FaultOriginTestCase):

    FAST = {"PROXY_RETRY_BASE_DELAY": 50, "PROXY_MAX_RETRIES": 2}

    def ok(self, name, size=4096, **extra):
        return {"url": self.origin.url(f"/ok/{size}/{name}"), "path": name,
                "group": name.split("/")[0], **dlfix.expected(name, size), **extra}

    def mixed_manifest(self):
        """Lines of every kind: completed, failed (404), retried then
        completed, a duplicate line, one already present, one with
        credentials in its URL."""
        entries = [self.ok("p1/a.bin"), self.ok("p1/b.bin"),
                   {"url": self.origin.url("/status/404/p2/gone.bin"), "path": "p2/gone.bin"},
                   {"url": self.origin.url("/status/503/p2/flaky.bin?fail_times=1&size=2048"),
                    "path": "p2/flaky.bin", **dlfix.expected("p2/flaky.bin", 2048)},
                   self.ok("p1/a.bin"),  # a duplicate line
                   self.ok("p3/present.bin")]
        secret_url = self.origin.url("/ok/1000/p3/cred.bin").replace("http://", "http://user:pw-s3cret@")
        entries.append({"url": secret_url, "path": "p3/cred.bin", **dlfix.expected("p3/cred.bin", 1000)})
        present = self.out / "p3" / "present.bin"
        present.parent.mkdir(parents=True)
        present.write_bytes(dlfix.det_bytes("p3/present.bin", 4096))
        return entries

    def assertOneTerminalPerLine(self, events, lines):
        by_line = terminal_by_line(events)
        for line in range(1, lines + 1):
            self.assertEqual(len(by_line.get(line, [])), 1, f"line {line}: {by_line.get(line)}")
        self.assertEqual(sorted(k for k in by_line if k is not None), list(range(1, lines + 1)))

    # -- the event stream ------------------------------------------------------

    def test_every_line_gets_exactly_one_terminal_event_on_stdout(self):
        entries = self.mixed_manifest()
        r = self.run_job(self.manifest(entries), "--events", "-", env=self.FAST)
        self.assertRc(r, 1)  # the 404
        files = parse_events(r.stdout)[-1]["files"]
        self.assertEqual(files["total"], files["completed"] + files["skipped"] + files["failed"]
                         + files["cancelled"] + files["deferred"], files)
        events = parse_events(r.stdout)  # stdout is NDJSON and nothing else
        self.assertOneTerminalPerLine(events, len(entries))
        by_line = {line: evs[0] for line, evs in terminal_by_line(events).items()}
        self.assertEqual(by_line[1]["type"], "file.completed")
        self.assertEqual(by_line[1]["sha256"], entries[0]["sha256"])
        self.assertEqual(by_line[1]["bytes"], 4096)
        self.assertEqual(by_line[1]["proxy"], "direct")
        self.assertEqual(by_line[1]["http_status"], 200)
        self.assertEqual(by_line[3]["type"], "file.failed")
        self.assertEqual((by_line[3]["failure"], by_line[3]["http_status"]), ("http", 404))
        self.assertEqual(by_line[4]["type"], "file.completed")
        self.assertEqual(by_line[4]["attempt"], 2)
        self.assertEqual((by_line[5]["type"], by_line[5]["reason"]), ("file.skipped", "duplicate"))
        self.assertEqual((by_line[6]["type"], by_line[6]["reason"]), ("file.skipped", "present"))
        retrying = [e for e in events if e["type"] == "file.retrying"]
        self.assertEqual([e["path"] for e in retrying], ["p2/flaky.bin"])
        self.assertEqual(retrying[0]["failure"], "http")
        self.assertGreaterEqual(retrying[0]["retry_in_ms"], 0)
        for e in events:
            if e["type"].startswith("file."):
                for field in FILE_FIELDS:
                    self.assertIn(field, e)
        # started comes before the terminal event of the same file
        order = [(e["type"], e.get("path")) for e in events]
        self.assertLess(order.index(("file.started", "p1/a.bin")),
                        order.index(("file.completed", "p1/a.bin")))
        self.assertNotIn("s3cret", r.stdout + r.stderr)
        self.assertIn("127.0.0.1", by_line[7]["url"])
        summary = events[-1]
        self.assertEqual(summary["type"], "job.summary")
        self.assertEqual(summary["exit_code"], 1)
        self.assertEqual(summary["files"], {"total": 6, "completed": 4, "skipped": 1,
                                            "failed": 1, "deferred": 0, "cancelled": 0})
        states = [e for e in events if e["type"] == "proxy.state"]
        self.assertEqual(states[0]["proxy"], "direct")
        self.assertEqual(states[0]["state"], "healthy")
        self.assertVerified([entries[i] for i in (0, 1, 3, 6)])

    def test_progress_is_throttled_to_four_a_second_per_file(self):
        # A file that takes about 2 s: half, a pause, the rest, in many writes.
        entry = {"url": self.origin.url("/slow/3000000/slow/big.bin?delay=2"), "path": "slow/big.bin",
                 **dlfix.expected("slow/big.bin", 3000000)}
        events_file = self.work / "events.ndjson"
        r = self.run_job(self.manifest([entry]), "--events", events_file)
        self.assertRc(r, 0)
        events = parse_events(events_file.read_text())
        progress = [e for e in events if e["type"] == "file.progress"]
        started = next(e["ts"] for e in events if e["type"] == "file.started")
        done = next(e["ts"] for e in events if e["type"] == "file.completed")
        self.assertGreaterEqual(len(progress), 1)
        self.assertLessEqual(len(progress), 4 * (done - started) + 1, progress)
        gaps = [b["ts"] - a["ts"] for a, b in zip(progress, progress[1:])]
        self.assertTrue(all(g >= 0.24 for g in gaps), gaps)
        self.assertEqual([e["bytes"] for e in progress], sorted(e["bytes"] for e in progress))

    def test_an_events_file_that_cannot_be_created_is_a_usage_error(self):
        r = self.run_job(self.manifest([self.ok("x/a.bin")]), "--events", self.work / "no" / "dir" / "ev")
        self.assertRc(r, 2)
        self.assertIn("--events", r.stderr)
        self.assertEqual(self.files_under(), [])

    def test_a_reader_that_goes_away_costs_the_stream_not_the_job(self):
        entries = [self.ok(f"g/f{i}.bin") for i in range(30)]
        exe = str(dlfix.dlhost_path())
        import subprocess
        job = subprocess.Popen([exe, "run", "--plugin", "multi-proxy", "--out", str(self.out),
                                "--progress", "none", "--events", "-", str(self.manifest(entries))],
                               cwd=self.work, env=dlfix.clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        job.stdout.readline()
        job.stdout.close()  # the reader is gone: writes now fail with EPIPE
        _, err = job.communicate(timeout=120)
        self.assertEqual(job.returncode, 0, err)
        self.assertVerified(entries)

    # -- streaming input ---------------------------------------------------------

    def fifo(self):
        path = self.work / "input.fifo"
        os.mkfifo(path)
        return path

    def test_follow_downloads_lines_as_they_arrive_and_reports_a_bad_line(self):
        fifo = self.fifo()
        first = self.ok("s/first.bin")
        job = self.spawn_job(fifo, "--follow", "--events", self.work / "ev.ndjson")
        self.addCleanup(lambda: job.running() and job.proc.kill())
        with open(fifo, "w") as w:
            w.write(json.dumps(first) + "\n")
            w.flush()
            deadline = time.monotonic() + 30
            while not (self.out / "s/first.bin").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue((self.out / "s/first.bin").exists(),
                            "the first line was downloaded before the input ended")
            w.write('{"url": "' + self.origin.url("/ok/10/x") + '", "path": "../escape"}\n')
            w.write("\x1b]0;evil\x07not a url\n")
            later = [self.ok(f"s/later{i}.bin") for i in range(5)]
            for e in later:
                w.write(json.dumps(e) + "\n")
        r = job.wait(120)
        self.assertRc(r, 1)  # two bad lines
        self.assertVerified([first, *later])
        self.assertIn(":2: ", r.stderr)
        self.assertIn(":3: ", r.stderr)
        self.assertNotIn("\x1b", r.stderr)
        events = parse_events((self.work / "ev.ndjson").read_text())
        self.assertOneTerminalPerLine(events, 8)
        bad = [e for e in events if e.get("failure") == "manifest"]
        self.assertEqual([e["line"] for e in bad], [2, 3])
        self.assertIsNone(bad[0]["path"])
        self.assertNotIn("\x1b", json.dumps(bad))
        self.assertIn("dlhost: 8 files: 6 completed, 0 skipped, 2 failed", r.stderr)

    def test_follow_holds_a_faster_reader_back(self):
        # Slow files, two at a time: the job takes its lines far slower than
        # a writer can write them, so the writer must block (back-pressure)
        # instead of dlhost reading everything into memory.
        fifo = self.fifo()
        job = self.spawn_job(fifo, "--follow",
                             env={"PROXY_POST_LIMIT": 1, "PROXY_ATTACHMENT_LIMIT": 2})
        self.addCleanup(lambda: job.running() and job.proc.kill())
        written = [0]
        done = threading.Event()

        def writer():
            try:
                with open(fifo, "w") as w:
                    for i in range(100000):
                        w.write(json.dumps({"url": self.origin.url(f"/slow/2000/bp/f{i}.bin?delay=5"),
                                            "path": f"bp/f{i}.bin"}) + "\n")
                        written[0] += 1
            except BrokenPipeError:
                pass
            done.set()

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(3)
        self.assertFalse(done.is_set(), "the writer should be held back")
        self.assertLess(written[0], 100000)
        with open(f"/proc/{job.pid}/status") as f:
            rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        self.assertLess(rss_kb, 200 * 1024, "memory stays bounded")
        job.send_signal(signal.SIGINT)
        job.send_signal(signal.SIGINT)
        r = job.wait(60)
        self.assertRc(r, 130)
        t.join(10)

    def test_follow_with_redis_needs_a_job_name(self):
        r = self.run_job(self.manifest([self.ok("r/a.bin")]), "--follow",
                         env={"REDIS_URL": "redis://127.0.0.1:1/0"})
        self.assertRc(r, 2)
        self.assertIn("DOWNLOAD_JOB", r.stderr)
        self.assertIn("--job NAME", r.stderr)
        # ... and --job is how to give it (Redis unreachable here: exit 2 for that).
        r = self.run_job(self.manifest([self.ok("r/a.bin")]), "--follow", "--job", "named",
                         env={"REDIS_URL": "redis://127.0.0.1:1/0"})
        self.assertRc(r, 2)
        self.assertNotIn("arguments were not expected", r.stderr)
        self.assertNotIn("DOWNLOAD_JOB", r.stderr)

    def test_follow_keeps_the_batch_rules(self):
        # The same path for another URL is a bad line and the first file
        # stays; a repeated line is a duplicate; a path that is another
        # line's working name is a bad line.
        fifo = self.fifo()
        first = self.ok("k/a.bin")
        other = {"url": self.origin.url("/ok/5000/k/other.bin"), "path": "k/a.bin"}
        events = self.work / "ev.ndjson"
        job = self.spawn_job(fifo, "--follow", "--events", events)
        self.addCleanup(lambda: job.running() and job.proc.kill())
        with open(fifo, "w") as w:
            for e in (first, other, first, self.ok("k/a.bin.part"), self.ok("k/b.bin")):
                w.write(json.dumps(e) + "\n")
        r = job.wait(120)
        self.assertRc(r, 1)  # two bad lines
        self.assertVerified([first, self.ok("k/b.bin")])
        self.assertIn('2: "path" "k/a.bin" is already the destination of line 1', r.stderr)
        self.assertIn('"k/a.bin.part" (line 4) is the name dlhost downloads "k/a.bin" (line 1)',
                      r.stderr)
        evs = parse_events(events.read_text())
        self.assertOneTerminalPerLine(evs, 5)
        by_line = terminal_by_line(evs)
        self.assertEqual(by_line[3][0]["reason"], "duplicate")
        self.assertEqual(evs[-1]["duplicates"], 1)
        files = evs[-1]["files"]
        self.assertEqual(files, {"total": 4, "completed": 2, "skipped": 0, "failed": 2,
                                 "deferred": 0, "cancelled": 0})
        self.assertFalse((self.out / "k/a.bin.part").exists())

    def test_follow_follows_a_growing_file_until_it_is_idle(self):
        manifest = self.manifest([self.ok("g/one.bin"), self.ok("g/two.bin")], name="grow.jsonl")
        job = self.spawn_job(manifest, "--follow", "--follow-idle", "1.5")
        self.addCleanup(lambda: job.running() and job.proc.kill())
        time.sleep(0.5)
        with open(manifest, "a") as f:  # appended while dlhost waits at the end
            f.write(json.dumps(self.ok("g/three.bin")) + "\n")
        r = job.wait(60)
        self.assertRc(r, 0)
        self.assertVerified([self.ok("g/one.bin"), self.ok("g/two.bin"), self.ok("g/three.bin")])
        self.assertIn("3 files: 3 completed", r.stderr)

    # -- hooks -----------------------------------------------------------------------

    def hook_script(self, body):
        path = self.work / "hook.py"
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    def test_hooks_get_the_details_in_their_environment(self):
        log = self.work / "hooks.jsonl"
        hook = self.hook_script(f"""
            import json, os, sys
            with open({str(log)!r}, "a") as f:
                f.write(json.dumps({{"argv": sys.argv[1:], **{{k: v for k, v in os.environ.items()
                                                     if k.startswith("DLHOST_")}}}}) + "\\n")
            """)
        entries = self.mixed_manifest()
        r = self.run_job(self.manifest(entries), "--on-file-done", f"{hook} file 'two words'",
                         "--on-job-done", f"{hook} job", env=self.FAST)
        self.assertRc(r, 1)
        calls = [json.loads(l) for l in log.read_text().splitlines()]
        files = [c for c in calls if c["argv"][0] == "file"]
        jobs = [c for c in calls if c["argv"][0] == "job"]
        self.assertEqual(len(files), len(entries), files)  # one per line, the duplicate too
        self.assertTrue(all(c["argv"] == ["file", "two words"] for c in files))
        by_path = {}
        for c in files:
            by_path.setdefault(c["DLHOST_PATH"], []).append(c)
        # p1/a.bin twice: its own line, and the duplicate line (skipped)
        self.assertEqual(sorted(c["DLHOST_STATUS"] for c in by_path["p1/a.bin"]),
                         ["completed", "skipped"])
        a = next(c for c in by_path["p1/a.bin"] if c["DLHOST_STATUS"] == "completed")
        self.assertEqual(a["DLHOST_STATUS"], "completed")
        self.assertEqual(a["DLHOST_SHA256"], entries[0]["sha256"])
        self.assertEqual(a["DLHOST_SIZE"], "4096")
        self.assertEqual(a["DLHOST_PROXY"], "direct")
        self.assertEqual(a["DLHOST_FILE"], str((self.out / "p1/a.bin").resolve()))
        self.assertEqual(by_path["p2/gone.bin"][0]["DLHOST_STATUS"], "failed")
        self.assertEqual(by_path["p3/present.bin"][0]["DLHOST_STATUS"], "skipped")
        self.assertNotIn("s3cret", json.dumps(calls))
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs[0]["DLHOST_STATUS"], "failed")
        self.assertEqual(jobs[0]["DLHOST_EXIT_CODE"], "1")
        self.assertEqual(jobs[0]["DLHOST_FILES_COMPLETED"], "4")
        self.assertEqual(jobs[0]["DLHOST_FILES_FAILED"], "1")

    def test_a_failing_or_hanging_hook_is_reported_and_loses_nothing(self):
        hang = self.hook_script("import time\ntime.sleep(600)\n")
        entries = [self.ok(f"h/f{i}.bin") for i in range(6)]
        started = time.monotonic()
        r = self.run_job(self.manifest(entries), "--on-file-done", str(hang),
                         "--on-job-done", "false",
                         env={"DOWNLOAD_HOOK_TIMEOUT": 500, "DOWNLOAD_HOOK_CONCURRENCY": 2},
                         timeout=120)
        self.assertRc(r, 0)  # a hook never fails the job
        self.assertLess(time.monotonic() - started, 120)
        self.assertVerified(entries)
        self.assertIn("killed after 500 ms (DOWNLOAD_HOOK_TIMEOUT)", r.stderr)
        self.assertIn("--on-job-done", r.stderr)

    def test_a_bad_hook_command_stops_the_job_before_it_starts(self):
        r = self.run_job(self.manifest([self.ok("b/a.bin")]), "--on-file-done", "echo 'open")
        self.assertRc(r, 2)
        self.assertIn("DOWNLOAD_ON_FILE_DONE", r.stderr)
        self.assertEqual(self.files_under(), [])

    # -- the webhook -----------------------------------------------------------------

    def test_the_webhook_receives_file_events_and_the_summary(self):
        listener = Listener()
        self.addCleanup(listener.stop)
        entries = [self.ok(f"w/f{i}.bin") for i in range(5)]
        r = self.run_job(self.manifest(entries), env={"DOWNLOAD_WEBHOOK_URL": listener.url(),
                                                      "DOWNLOAD_WEBHOOK_EVENTS": 1})
        self.assertRc(r, 0)
        events = listener.events()
        self.assertEqual(sorted(e["path"] for e in events if e["type"] == "file.completed"),
                         sorted(e["path"] for e in entries))
        self.assertNotIn("file.progress", {e["type"] for e in events})
        self.assertEqual(listener.bodies[-1], [events[-1]])
        self.assertEqual(events[-1]["type"], "job.summary")
        self.assertEqual(events[-1]["files"]["completed"], 5)

    def test_a_failing_webhook_is_reported_retried_and_costs_no_file(self):
        listener = Listener(statuses=[500] * 10)
        self.addCleanup(listener.stop)
        entries = [self.ok(f"wf/f{i}.bin") for i in range(3)]
        r = self.run_job(self.manifest(entries), env={"DOWNLOAD_WEBHOOK_URL": listener.url()},
                         timeout=120)
        self.assertRc(r, 0)
        self.assertVerified(entries)
        self.assertGreaterEqual(len(listener.paths), 2, "retried")
        self.assertIn("webhook", r.stderr)
        self.assertNotIn("T0KEN", r.stderr + r.stdout)

    def test_check_config_hides_the_webhook_token(self):
        r = dlfix.run_dlhost(["check-config", "--plugin", "multi-proxy"], cwd=self.work,
                             env={"DOWNLOAD_WEBHOOK_URL": "https://hooks.example/services/T0KEN-s3cret?k=v"})
        self.assertRc(r, 0)
        self.assertIn("DOWNLOAD_WEBHOOK_URL", r.stdout)
        self.assertNotIn("T0KEN", r.stdout + r.stderr)
        self.assertNotIn("s3cret", r.stdout + r.stderr)

    def test_check_config_refuses_a_webhook_url_libcurl_would_refuse(self):
        for url, why in (("http://127.0.0.1:99999/T0KEN", "has a port outside 1..65535"),
                         ("http://[::1/T0KEN", "has a malformed host or port"),
                         ("ftp://h/T0KEN", "must be an http:// or https:// URL")):
            with self.subTest(url):
                r = dlfix.run_dlhost(["check-config", "--plugin", "multi-proxy"], cwd=self.work,
                                     env={"DOWNLOAD_WEBHOOK_URL": url})
                self.assertRc(r, 2)
                self.assertIn(f"DOWNLOAD_WEBHOOK_URL: ", r.stderr)
                self.assertIn(why, r.stderr)
                self.assertNotIn("T0KEN", r.stdout + r.stderr)

    # -- SIGHUP -------------------------------------------------------------------------

    def spawn_slow_job(self, env_file, n=6, delay=2.0, prefix="hup"):
        entries = [{"url": self.origin.url(f"/slow/20000/{prefix}/f{i}.bin?delay={delay}"),
                    "path": f"{prefix}/f{i}.bin", **dlfix.expected(f"{prefix}/f{i}.bin", 20000)}
                   for i in range(n)]
        job = self.spawn_job(self.manifest(entries), "--env-file", env_file,
                             env={"PROXY_POST_LIMIT": 1, "PROXY_ATTACHMENT_LIMIT": 2})
        self.addCleanup(lambda: job.running() and job.proc.kill())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.part_files():
            time.sleep(0.02)
        return job, entries

    def test_sighup_is_not_fatal_and_a_bad_list_leaves_the_old_one(self):
        env_file = self.work / "job.env"
        env_file.write_text("PROXY_LIST=[]\n")
        job, entries = self.spawn_slow_job(env_file)
        job.send_signal(signal.SIGHUP)  # unchanged
        time.sleep(0.3)
        env_file.write_text("PROXY_LIST=[{\"url\": \"http://u:pw-s3cret@127.0.0.1:1\"\n")  # not JSON
        job.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        env_file.write_text("PROXY_LIST=[]\nPROXY_POST_LIMIT=zero\n")
        job.send_signal(signal.SIGHUP)
        r = job.wait(120)
        self.assertRc(r, 0)  # not 129: the job went on and finished
        self.assertVerified(entries)
        self.assertIn("dlhost: SIGHUP: PROXY_LIST unchanged (from .env)", r.stderr)
        self.assertIn("settings not reloaded", r.stderr)
        self.assertIn("the old list stays in force", r.stderr)
        self.assertNotIn("s3cret", r.stderr)
        self.assertIn("6 files: 6 completed", r.stderr)


    def test_sighup_says_why_a_list_from_the_environment_is_unchanged(self):
        env_file = self.work / "job.env"
        env_file.write_text("PROXY_POST_LIMIT=1\n")
        entries = [{"url": self.origin.url(f"/slow/20000/envhup/f{i}.bin?delay=1.5"),
                    "path": f"envhup/f{i}.bin", **dlfix.expected(f"envhup/f{i}.bin", 20000)}
                   for i in range(2)]
        job = self.spawn_job(self.manifest(entries), "--env-file", env_file,
                             env={"PROXY_LIST": "[]", "PROXY_ATTACHMENT_LIMIT": 1})
        self.addCleanup(lambda: job.running() and job.proc.kill())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.part_files():
            time.sleep(0.02)
        job.send_signal(signal.SIGHUP)
        r = job.wait(120)
        self.assertRc(r, 0)
        self.assertIn("PROXY_LIST unchanged: it is set in the environment, which outranks .env",
                      r.stderr)

    def test_sighup_moves_traffic_to_a_proxy_added_and_off_a_proxy_removed(self):
        # Seen from the origin: direct traffic comes from 127.0.0.1, the
        # tinyproxy's from 127.0.0.2. With 1 post x 2 files, at most 2 files
        # are in flight on a path when a change lands; those finish there.
        if not shutil.which("tinyproxy"):
            self.skipTest("tinyproxy is not installed")
        proxy = dlfix.Tinyproxy("127.0.0.2", workdir=self.work / "tp").start()
        self.addCleanup(proxy.stop)
        env_file = self.work / "job.env"
        env_file.write_text("PROXY_LIST=[]\n")
        job, entries = self.spawn_slow_job(env_file, n=60, delay=0.3, prefix="moves")
        err = job._err_path

        def hup_and_wait(list_text, applied_count):
            env_file.write_text(f"PROXY_LIST={list_text}\n")
            job.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if err.read_text().count("SIGHUP: PROXY_LIST applied") >= applied_count:
                    return len(self.requested())
                time.sleep(0.02)
            self.fail("the change was not applied: " + err.read_text())

        def clients(records):
            return [r["client"] for r in records]

        time.sleep(1)
        n1 = hup_and_wait(json.dumps([proxy.entry()]), 1)
        time.sleep(2)
        n2 = hup_and_wait("[]", 2)
        r = job.wait(120)
        self.assertRc(r, 0)
        self.assertVerified(entries)
        records = self.requested()
        self.assertEqual(len(records), 60, "every file fetched once: none lost or restarted")
        between, after = clients(records[n1:n2]), clients(records[n2:])
        self.assertGreaterEqual(between.count("127.0.0.2"), 1, "the added proxy carried files")
        self.assertLessEqual(between.count("127.0.0.1"), 2,
                             "direct took no new file once removed (only its in-flight ones)")
        self.assertGreaterEqual(after.count("127.0.0.1"), 1, "direct is back")
        self.assertLessEqual(after.count("127.0.0.2"), 2, "the removed proxy took no new file")

    def requested(self):
        return sorted((r for r in self.origin.records() if r["name"].startswith("moves/")),
                      key=lambda r: r["time"])

class SinksNeverHoldTheJob(dlfix.FaultOriginTestCase):
    """Events, hooks and the webhook run beside the job: a reader that never
    reads, a webhook that answers after a minute and hooks that sleep
    neither slow the downloads nor hold dlhost past its documented bounds
    (2 s for a reader, one DOWNLOAD_HOOK_TIMEOUT for the webhook), every
    queued file hook runs, and a hook's children cannot keep dlhost's stderr
    open. Each check is "it ended, and before its reader or server let go",
    never a measured time."""

    def ok(self, name, size=4096):
        return {"url": self.origin.url(f"/ok/{size}/{name}"), "path": name,
                **dlfix.expected(name, size)}

    def spawn(self, manifest, *extra, stdout, env=None):
        import subprocess
        return subprocess.Popen(
            [str(dlfix.dlhost_path()), "run", "--plugin", "multi-proxy", "--out", str(self.out),
             "--progress", "none", *extra, str(manifest)],
            cwd=self.work, env=dlfix.clean_env(env), stdout=stdout, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True)

    def test_a_reader_that_never_reads_holds_neither_the_downloads_nor_the_exit(self):
        files = [self.ok(f"r/f{i}.bin") for i in range(50)]
        duplicate = self.ok("r/dup.bin")
        entries = [duplicate] * 70000 + files
        stats = self.work / "stats.json"
        read_end, write_end = os.pipe()  # read_end stays open and is never read
        try:
            job = self.spawn(self.manifest(entries), "--events", "-", "--stats-json", str(stats),
                             stdout=write_end)
            os.close(write_end)
            _, err = job.communicate(timeout=60)  # ends while the reader still holds the pipe
        finally:
            os.close(read_end)
        self.assertEqual(job.returncode, 0, err)
        self.assertVerified(files + [duplicate])
        self.assertIn("the reader of stdout stopped reading", err)
        self.assertIn("events cannot keep up", err)
        self.assertGreater(json.loads(stats.read_text())["events_dropped"]["events"], 0)

    def test_a_webhook_that_answers_after_a_minute_costs_one_hook_timeout(self):
        listener = Listener(delay=60)
        self.addCleanup(listener.stop)
        entries = [self.ok(f"slow/f{i}.bin") for i in range(5)]
        for events in (0, 1):
            with self.subTest(DOWNLOAD_WEBHOOK_EVENTS=events):
                stats = self.work / f"stats{events}.json"
                r = self.run_job(self.manifest(entries, name=f"w{events}.jsonl"),
                                 "--stats-json", stats,
                                 env={"DOWNLOAD_WEBHOOK_URL": listener.url(),
                                      "DOWNLOAD_WEBHOOK_EVENTS": events,
                                      "DOWNLOAD_HOOK_TIMEOUT": 1000},
                                 timeout=30)  # the server answers after 60 s
                self.assertRc(r, 0)
                self.assertVerified(entries)
                self.assertIn("events not delivered", r.stderr)
                self.assertNotIn("T0KEN", r.stderr)
                self.assertIn("webhook", json.loads(stats.read_text())["events_dropped"])

    def test_every_queued_file_hook_runs_after_the_downloads_end(self):
        log = self.work / "ran.txt"
        entries = [self.ok(f"h/f{i}.bin") for i in range(40)]
        r = self.run_job(self.manifest(entries), "--on-file-done",
                         f"sh -c 'sleep 0.3; echo \"$DLHOST_PATH\" >> {log}'",
                         env={"DOWNLOAD_HOOK_CONCURRENCY": 2}, timeout=120)  # 6 s of hooks
        self.assertRc(r, 0)
        self.assertEqual(sorted(log.read_text().split()), sorted(e["path"] for e in entries))
        self.assertNotIn("not run", r.stderr)

    def test_the_drain_timeout_names_the_hooks_it_did_not_run(self):
        entries = [self.ok(f"d/f{i}.bin") for i in range(6)]
        r = self.run_job(self.manifest(entries), "--on-file-done", "sleep 1",
                         env={"DOWNLOAD_HOOK_CONCURRENCY": 1,
                              "DOWNLOAD_HOOK_DRAIN_TIMEOUT": 300}, timeout=120)
        self.assertRc(r, 0)
        [line] = [x for x in r.stderr.splitlines() if "was not run for" in x]
        self.assertRegex(line, r"--on-file-done was not run for [1-6] files \(0 beyond its backlog "
                               r"of \d+, [1-6] past DOWNLOAD_HOOK_DRAIN_TIMEOUT\): d/f\d\.bin")

    def test_a_hooks_background_child_cannot_keep_stderr_open(self):
        entries = [self.ok("bg/a.bin")]
        # run_job reads stderr to its end: a child holding it would keep it
        # open for 30 s.
        r = self.run_job(self.manifest(entries), "--on-job-done",
                         "sh -c 'echo hook-says-hello; sleep 30 &'", timeout=20)
        self.assertRc(r, 0)
        self.assertIn("hook-says-hello", r.stderr)


class WorkEvents(dlfix.FaultOriginTestCase):
    """`dlhost work` writes the same stream: one terminal event per file."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("redis-server"):
            raise unittest.SkipTest("redis-server is not installed")
        cls.redis = dlfix.Redis(workdir=cls.class_tmp / "redis").start()
        cls.addClassCleanup(cls.redis.stop)

    def test_work_events(self):
        entries = [{"url": self.origin.url(f"/ok/3000/wk/f{i}.bin"), "path": f"wk/f{i}.bin",
                    **dlfix.expected(f"wk/f{i}.bin", 3000)} for i in range(20)]
        gone = {"url": self.origin.url("/status/404/wk/gone.bin"), "path": "wk/gone.bin"}
        entries += [gone, gone]  # a duplicate line of a file that fails
        env = {"REDIS_URL": self.redis.url, "DOWNLOAD_JOB": "events-work"}
        r = dlfix.run_dlhost(["enqueue", self.manifest(entries)], env=env, cwd=self.work)
        self.assertRc(r, 0)
        events_file = self.work / "work.ndjson"
        r = dlfix.run_dlhost(["work", "--plugin", "multi-proxy", "--out", self.out,
                              "--progress", "none", "--events", events_file], env=env, cwd=self.work)
        self.assertRc(r, 1)
        events = parse_events(events_file.read_text())
        terminal = [e for e in events if e["type"] in TERMINAL]
        self.assertEqual(sorted(e["path"] for e in terminal), sorted(e["path"] for e in entries))
        # Each event carries the line the file was enqueued from.
        for e in events:
            if e["type"].startswith("file."):
                self.assertEqual(entries[e["line"] - 1]["path"], e["path"], e)
        by_line = terminal_by_line(events)
        self.assertEqual(sorted(by_line), list(range(1, len(entries) + 1)))
        self.assertEqual(by_line[22][0]["reason"], "duplicate")
        self.assertEqual(len(self.origin.requests_for("wk/gone.bin")), 1, "fetched once")
        self.assertEqual(events[-1]["type"], "job.summary")
        self.assertEqual(events[-1]["files"]["completed"], 20)
        self.assertEqual(events[-1]["duplicates"], 1)
        self.assertVerified(entries[:20])


if __name__ == "__main__":
    unittest.main()
