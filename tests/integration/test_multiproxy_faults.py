"""The multi-proxy plugin against broken origins, interrupted runs and resumes.

Every fault case ends verified (a transient fault is retried) or failed as it
should (exit 1, no file at the destination). The fault server's access log is
the judge of how many requests each file took.
"""
import json
import signal
import time
import unittest

import dlfix
from dlfix import DlhostTestCase

DIRECT = {"isLocalhost": True}


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class Faults(DlhostTestCase):
    plugin = "multi-proxy"
    RETRIES = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fs = dlfix.FaultServer(stall_seconds=10).start()
        cls.addClassCleanup(cls.fs.stop)
        cls.tp = dlfix.Tinyproxy("127.0.0.2", workdir=cls.class_tmp / "tp").start()
        cls.addClassCleanup(cls.tp.stop)

    def env(self, *paths, **settings):
        e = {"PROXY_RETRY_BASE_DELAY": 50, "PROXY_RETRY_BACKOFF": 2,
             "PROXY_MAX_RETRIES": self.RETRIES, "PROXY_STALL_TIMEOUT": 600,
             "PROXY_LIST": json.dumps(list(paths or [DIRECT]))}
        e.update(settings)
        return e

    def entry(self, url_path, name, size=None):
        e = {"url": self.fs.url(url_path), "path": name}
        if size is not None:
            e.update(dlfix.expected(name, size))
        return e

    def good(self, name, size=3000):
        return self.entry(f"ok/{size}/{name}", name, size)

    def run_one(self, bad, *paths, **settings):
        """Run [bad, a good file] and check the good one; returns the result."""
        good = self.good("good-" + bad["path"])
        out = self.work / ("out-" + bad["path"])
        r = self.run_job(self.manifest([bad, good], name=bad["path"] + ".jsonl"), out=out,
                         env=self.env(*paths, **settings), timeout=120)
        self.assertVerified([good], out=out)
        self.last_out = out
        return r

    def assertRecovered(self, bad, requests, *paths, **settings):
        r = self.run_one(bad, *paths, **settings)
        self.assertRc(r, 0)
        self.assertVerified([bad], out=self.last_out)
        self.assertEqual(self.part_files(self.last_out), [])
        self.assertEqual(len(self.fs.requests_for(bad["path"])), requests,
                         f"requests for {bad['path']}: {self.fs.requests_for(bad['path'])}")
        return r

    def assertFailedForGood(self, bad, requests, *paths, **settings):
        r = self.run_one(bad, *paths, **settings)
        self.assertRc(r, 1)
        self.assertAbsent(self.last_out / bad["path"])
        self.assertAbsent(self.last_out / (bad["path"] + ".part"))
        self.assertIn(f"failed: {bad['path']}", r.stderr)
        if requests is not None:
            self.assertEqual(len(self.fs.requests_for(bad["path"])), requests,
                             f"requests for {bad['path']}: {self.fs.requests_for(bad['path'])}")
        return r

    # -- retried, then verified ----------------------------------------------------

    def test_transient_truncation_is_retried(self):
        self.assertRecovered(self.entry("truncate/40000/tt.bin?fail_times=1", "tt.bin", 40000), 2)

    def test_transient_truncation_without_size_in_manifest(self):
        # only Content-Length tells the plugin the body was cut short
        bad = self.entry("truncate/40000/tn.bin?fail_times=1", "tn.bin")
        r = self.run_one(bad)
        self.assertRc(r, 0)
        self.assertVerified([{**bad, **dlfix.expected("tn.bin", 40000)}], out=self.last_out)

    def test_stall_is_abandoned_and_retried(self):
        begun = time.monotonic()
        self.assertRecovered(
            self.entry("stall/60000/sl.bin?after=1000&fail_times=1", "sl.bin", 60000), 2,
            PROXY_STALL_TIMEOUT=400)
        # dlhost gave up on the stall, not the server: it holds the
        # connection for stall_seconds (10 s), and the event loop once slept
        # through a silent transfer until then.
        self.assertLess(time.monotonic() - begun, self.fs.stall_seconds,
                        "the stall ended when the server closed, not at PROXY_STALL_TIMEOUT")

    def test_reset_is_retried(self):
        for name, q in (("rs0.bin", "size=5000&fail_times=1"),
                        ("rs1.bin", "size=5000&after=1000&fail_times=2")):
            with self.subTest(name):
                self.assertRecovered(self.entry(f"reset/{name}?{q}", name, 5000),
                                     int(q[-1]) + 1)

    def test_429_and_503_with_retry_after_are_honoured(self):
        for code in (429, 503):
            with self.subTest(code):
                name = f"ra{code}.bin"
                bad = self.entry(f"status/{code}/{name}?retry_after=1&fail_times=1&size=3000",
                                 name, 3000)
                self.assertRecovered(bad, 2)
                first, second = self.fs.requests_for(name)
                self.assertEqual((first["status"], second["status"]), (code, 200))
                # Retry-After: 1 is a lower bound on the wait (PROXY_RETRY_BASE_DELAY
                # is 50 ms), so this cannot fail on a slow machine.
                self.assertGreaterEqual(second["time"] - first["time"], 0.9,
                                        "the retry came before Retry-After")

    def test_every_path_down_fails_after_the_outage_timeout(self):
        # The only proxy listens nowhere: the files wait PROXY_OUTAGE_TIMEOUT
        # for it while probes go on, then fail with one clear reason.
        dead = {"ip": "127.0.0.1", "port": dlfix.free_port()}
        entries = [self.good(f"outage-{i}") for i in range(4)]
        out = self.work / "out-outage"
        r = self.run_job(self.manifest(entries, name="outage.jsonl"), out=out,
                         env=self.env(dead, PROXY_OUTAGE_TIMEOUT=1500, PROXY_HEALTH_FAILURES=1),
                         timeout=60)
        self.assertRc(r, 1)
        self.assertRegex(r.stderr, r"no usable path for \d+ s \(PROXY_OUTAGE_TIMEOUT\)")
        for e in entries:
            self.assertAbsent(out / e["path"])
            self.assertIn(f"failed: {e['path']}", r.stderr)
            self.assertEqual(self.fs.requests_for(e["path"]), [], "no request reached the origin")

    def test_5xx_is_retried(self):
        for code in (500, 502):
            with self.subTest(code):
                name = f"s{code}.bin"
                self.assertRecovered(
                    self.entry(f"status/{code}/{name}?fail_times=2&size=3000", name, 3000), 3)

    def test_transient_wrong_bytes_are_retried(self):
        self.assertRecovered(self.entry("wrong/8192/wt.bin?fail_times=1", "wt.bin", 8192), 2)

    def test_retry_moves_to_another_path(self):
        # two paths: the retry of a 503 is preferably sent through the other one
        name = "mv.bin"
        self.assertRecovered(self.entry(f"status/503/{name}?fail_times=1&size=3000", name, 3000),
                             2, DIRECT, self.tp.entry())
        first, second = self.fs.requests_for(name)
        self.assertNotEqual(first["client"], second["client"])

    def test_redirect_within_limit(self):
        self.assertRecovered(self.entry("redirect/1/rd1.bin?size=3000", "rd1.bin", 3000), 2,
                             PROXY_MAX_REDIRECTS=1)
        self.assertRecovered(self.entry("redirect/3/rd3.bin?size=3000", "rd3.bin", 3000), 4,
                             PROXY_MAX_REDIRECTS=3)

    # -- failed, as they should ---------------------------------------------------

    def test_404_and_410_fail_at_once(self):
        for code in (404, 410):
            with self.subTest(code):
                name = f"gone{code}.bin"
                r = self.assertFailedForGood(
                    self.entry(f"status/{code}/{name}?size=3000", name, 3000), 1,
                    DIRECT, self.tp.entry())
                self.assertIn(str(code), r.stderr)

    def test_permanent_truncation_fails_after_the_retries(self):
        self.assertFailedForGood(self.entry("truncate/40000/tp.bin", "tp.bin", 40000),
                                 1 + self.RETRIES)

    def test_permanent_wrong_bytes_fail_after_the_retries(self):
        r = self.assertFailedForGood(self.entry("wrong/8192/wp.bin", "wp.bin", 8192),
                                     1 + self.RETRIES)
        self.assertRegex(r.stderr, r"(?i)sha256|checksum|mismatch")

    def test_permanent_503_fails_after_the_retries(self):
        self.assertFailedForGood(self.entry("status/503/p503.bin?size=3000", "p503.bin", 3000),
                                 1 + self.RETRIES)

    def test_redirect_chain_longer_than_limit_fails(self):
        self.assertFailedForGood(self.entry("redirect/3/rdx.bin?size=3000", "rdx.bin", 3000),
                                 None, PROXY_MAX_REDIRECTS=1)

    def test_block_page_on_every_path_fails(self):
        self.assertFailedForGood(self.entry("html/bp.bin", "bp.bin", 8192), None,
                                 DIRECT, self.tp.entry())

    # -- bans: one path refused, the others not ------------------------------------

    def banned_job(self, kind, tag, only):
        """12 files in 3 posts that answer `kind` (403 or a block page) to the
        addresses in `only`, through the direct line and tinyproxy (.2)."""
        entries = []
        for i in range(12):
            name = f"{tag}/p{i // 4}/f{i}.bin"
            path = (f"status/403/{name}?size=4000&only={only}" if kind == "403"
                    else f"html/{name}?size=4000&only={only}")
            entries.append({**self.entry(path, name, 4000), "group": f"{tag}-p{i // 4}"})
        out = self.work / f"out-{tag}"
        r = self.run_job(self.manifest(entries, name=f"{tag}.jsonl"), out=out,
                         env=self.env(DIRECT, self.tp.entry()))
        return r, entries, out

    def test_banned_path_moves_files_to_another(self):
        for kind in ("403", "html"):
            with self.subTest(kind):
                tag = f"ban{kind}"
                r, entries, out = self.banned_job(kind, tag, "127.0.0.2")
                self.assertRc(r, 0)
                self.assertVerified(entries, out=out)
                recs = [x for x in self.fs.records() if x["name"].startswith(tag + "/")]
                self.assertTrue(any(x["client"] == "127.0.0.2" for x in recs),
                                "the banned path was tried (else this proves nothing)")
                served = {x["name"] for x in recs
                          if x["client"] == "127.0.0.1" and x["status"] == 200}
                self.assertEqual(served, {e["path"] for e in entries},
                                 "every file came through the path that is not banned")

    def test_file_refused_by_every_path_fails(self):
        r, entries, out = self.banned_job("403", "banall", "127.0.0.1,127.0.0.2")
        self.assertRc(r, 1)
        self.assertEqual(self.files_under(out), [])
        self.assertEqual(r.stderr.count("failed: "), 12, r.stderr)

    # -- resume ----------------------------------------------------------------------

    def leave_part(self, name, size, fraction=0.5):
        """A .part as an interrupted run leaves it: the first `fraction` of the
        file arrived (from /stall/), then SIGINT. Its sidecar records the
        origin's ETag, so a rerun can resume it."""
        have = int(size * fraction)
        entry = self.entry(f"stall/{size}/{name}?after={have}&seconds=30", name, size)
        r = self.interrupt_once_requested(self.manifest([entry], name=name + "-stall.jsonl"),
                                          self.fs, name, env=self.env(DOWNLOAD_INTERRUPT_GRACE=0))
        self.assertRc(r, 130)
        part = self.out / (name + ".part")
        self.assertEqual(part.stat().st_size, have)
        self.assertTrue((self.out / (name + ".part.meta")).exists())
        self.fs.clear(counters=False)
        return have

    def test_part_without_its_sidecar_starts_from_zero(self):
        # Bytes of unknown origin (no validator recorded): resuming them could
        # splice two versions of the file together.
        name, size = "nosidecar.bin", 200000
        part = self.out / (name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(dlfix.det_bytes(name, size)[: size // 2])
        r = self.run_job(self.manifest([self.entry(f"ok/{size}/{name}", name, size)]),
                         env=self.env())
        self.assertRc(r, 0)
        self.assertVerified([{"path": name, **dlfix.expected(name, size)}])
        [req] = self.fs.requests_for(name)
        self.assertIsNone(req["range"])
        self.assertEqual(req["status"], 200)

    def test_part_is_resumed_with_range(self):
        name, size = "resume.bin", 200000
        have = self.leave_part(name, size)
        r = self.run_job(self.manifest([self.entry(f"ok/{size}/{name}", name, size)]),
                         env=self.env())
        self.assertRc(r, 0)
        self.assertVerified([{"path": name, **dlfix.expected(name, size)}])
        self.assertEqual(self.part_files(), [])
        [req] = self.fs.requests_for(name)
        self.assertEqual(req["range"], f"bytes={have}-")
        self.assertEqual(req["if_range"], dlfix.etag_of(name, size))
        self.assertEqual(req["status"], 206)
        self.assertEqual(req["bytes"], size - have, "only the missing bytes were sent")

    def test_part_is_restarted_when_range_is_ignored(self):
        name, size = "norange.bin", 200000
        self.leave_part(name, size)
        r = self.run_job(self.manifest([self.entry(f"ok/{size}/{name}?norange=1", name, size)]),
                         env=self.env())
        self.assertRc(r, 0)
        self.assertVerified([{"path": name, **dlfix.expected(name, size)}])
        self.assertEqual(self.part_files(), [])
        self.assertEqual([x["status"] for x in self.fs.requests_for(name)], [200])

    def test_part_without_sha256_in_manifest_is_resumed_correctly(self):
        name, size = "resume-nosha.bin", 100000
        self.leave_part(name, size, 0.3)
        r = self.run_job(self.manifest([self.entry(f"ok/{size}/{name}", name)]), env=self.env())
        self.assertRc(r, 0)
        self.assertVerified([{"path": name, **dlfix.expected(name, size)}])


class Interrupt(DlhostTestCase):
    """SIGINT mid-run, then a rerun that resumes."""

    plugin = "multi-proxy"

    def test_sigint_keeps_parts_and_rerun_completes(self):
        data = self.class_tmp / "data"
        entries_all = dlfix.make_files(data, 6, 512 * 1024, prefix="big", subdir="big")
        nginx = dlfix.Nginx(data, workdir=self.class_tmp / "nginx",
                            extra_server="limit_rate 128k;").start()
        self.addCleanup(nginx.stop)
        entries = [{**e, "url": nginx.url(e["path"]), "group": "big"} for e in entries_all]
        manifest = self.manifest(entries)
        # No grace after the signal: the transfers are stopped mid-file (the
        # grace itself is tested in test_interrupt.py).
        env = {"PROXY_POST_LIMIT": 1, "PROXY_ATTACHMENT_LIMIT": 6,
               "PROXY_RETRY_BASE_DELAY": 50, "DOWNLOAD_INTERRUPT_GRACE": 0}
        job = self.spawn_job(manifest, env=env)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                parts = [self.out / p for p in self.part_files()]
                if len(parts) == 6 and all(p.stat().st_size > 0 for p in parts):
                    break
                time.sleep(0.05)
            self.assertTrue(job.running(), "the job ended before it could be interrupted")
            job.send_signal(signal.SIGINT)
            r = job.wait(15)  # "within a few seconds"; a hang fails here
        finally:
            if job.running():
                job.proc.kill()
        self.assertRc(r, 130)
        for e in entries:
            dest = self.out / e["path"]
            self.assertFalse(dest.exists(), f"{dest} is incomplete but at its destination")
        kept = self.part_files()
        self.assertEqual(len(kept), 6, "the .part files are kept for resume")
        m = nginx.mark()
        r = self.run_job(manifest, env=env, timeout=120)
        self.assertRc(r, 0)
        self.assertVerified(entries)
        self.assertEqual(self.part_files(), [])
        resumed = [x for x in nginx.records_since(m) if x["status"] == 206]
        self.assertEqual(len(resumed), 6, "the rerun resumed every .part with a Range request")


if __name__ == "__main__":
    unittest.main()
