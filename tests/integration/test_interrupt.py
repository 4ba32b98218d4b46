"""SIGINT/SIGTERM while a job runs, with real processes.

Once: no new file starts; files in flight get DOWNLOAD_INTERRUPT_GRACE (5 s by
default) to finish, then are cancelled. Twice: cancelled at once. Either way a
summary is printed, .part files of unfinished transfers are kept and the exit
status is 130. The origin is the fault server's /slow/ path, which sends half
a file, waits ?delay= seconds, then sends the rest.
"""
import signal
import time
import unittest

import dlfix



def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class Interrupt(dlfix.FaultOriginTestCase):

    def entries(self, name, n, delay, size=100000):
        return [{"url": self.origin.url(f"/slow/{size}/{name}/f{i}.bin?delay={delay}"),
                 "path": f"{name}/f{i}.bin", "group": name, **dlfix.expected(f"{name}/f{i}.bin", size)}
                for i in range(n)]

    def start(self, entries, **env):
        # One group, two files at a time: exactly two transfers in flight.
        env = {"PROXY_POST_LIMIT": 1, "PROXY_ATTACHMENT_LIMIT": 2, **env}
        job = self.spawn_job(self.manifest(entries), env=env)
        self.addCleanup(lambda: job.running() and job.proc.kill())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(self.part_files()) < 2:
            time.sleep(0.02)
        self.assertEqual(len(self.part_files()), 2, "two transfers should be in flight")
        self.assertTrue(job.running())
        return job

    def requested(self, name):
        return {r["name"] for r in self.origin.records() if r["name"].startswith(name + "/")}

    def test_once_in_flight_files_finish_and_nothing_new_starts(self):
        entries = self.entries("once", 20, delay=1.5)
        job = self.start(entries)
        in_flight = {p[:-len(".part")] for p in self.part_files()}
        job.send_signal(signal.SIGINT)
        started = time.monotonic()
        r = job.wait(30)
        self.assertRc(r, 130)
        self.assertLess(time.monotonic() - started, 5, "finished within the grace")
        self.assertVerified([e for e in entries if e["path"] in in_flight])
        self.assertEqual(self.part_files(), [])
        self.assertEqual(sorted(self.files_under()), sorted(in_flight), "no new file was started")
        self.assertEqual(self.requested("once"), in_flight, "the origin saw no other request")
        self.assertIn("interrupted: no new files", r.stderr)
        self.assertIn("dlhost: interrupted: 20 files: 2 completed, 0 skipped, 0 failed", r.stderr)

    def assertFilesAddUp(self, files):
        self.assertEqual(files["total"], files["completed"] + files["skipped"] + files["failed"]
                         + files["cancelled"] + files["deferred"], files)

    def test_twice_stops_at_once_and_keeps_parts(self):
        entries = self.entries("twice", 6, delay=30)
        events, stats = self.work / "ev.ndjson", self.work / "stats.json"
        env = {"PROXY_POST_LIMIT": 1, "PROXY_ATTACHMENT_LIMIT": 2}
        job = self.spawn_job(self.manifest(entries), "--events", events, "--stats-json", stats,
                             env=env)
        self.addCleanup(lambda: job.running() and job.proc.kill())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(self.part_files()) < 2:
            time.sleep(0.02)
        job.send_signal(signal.SIGINT)
        time.sleep(0.3)
        job.send_signal(signal.SIGINT)
        started = time.monotonic()
        r = job.wait(30)
        self.assertRc(r, 130)
        self.assertLess(time.monotonic() - started, 3, "a second signal stops at once")
        self.assertEqual(len(self.part_files()), 2, ".part files are kept for resume")
        self.assertIn("stopping now", r.stderr)
        self.assertIn("dlhost: interrupted: 6 files: 0 completed", r.stderr)
        self.assertIn("6 cancelled", r.stderr)
        import json
        summary = json.loads(events.read_text().splitlines()[-1])
        self.assertEqual(summary["type"], "job.summary")
        self.assertEqual(summary["files"]["cancelled"], 6)
        self.assertFilesAddUp(summary["files"])
        self.assertEqual(json.loads(stats.read_text())["files"], summary["files"])

    def test_sigterm_grace_runs_out_then_cancels(self):
        entries = self.entries("term", 4, delay=30)
        job = self.start(entries, DOWNLOAD_INTERRUPT_GRACE=1000)
        job.send_signal(signal.SIGTERM)
        started = time.monotonic()
        r = job.wait(30)
        elapsed = time.monotonic() - started
        self.assertRc(r, 130)
        self.assertGreater(elapsed, 0.9, "the transfers had their grace")
        self.assertLess(elapsed, 4)
        self.assertEqual(len(self.part_files()), 2)
        self.assertIn("dlhost: interrupted: 4 files: 0 completed", r.stderr)


if __name__ == "__main__":
    unittest.main()
