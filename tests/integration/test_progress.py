"""Progress output when stderr is not a terminal (a pipe, a log file).

Plain mode: whole lines only, no carriage return or escape sequence, a
summary every few seconds and, with -v, one line per finished file. The bar
mode's rendering is unit-tested (host_progress_test.cpp) and was checked by
hand in tmux.
"""
import unittest

import dlfix



def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class PlainProgress(dlfix.FaultOriginTestCase):

    def entries(self, n, delay, prefix="g"):
        return [{"url": self.origin.url(f"/slow/20000/{prefix}/f{i}.bin?delay={delay}"),
                 "path": f"{prefix}/f{i}.bin", "group": prefix} for i in range(n)]

    def run_plain(self, *extra, n=12, delay=0.01, prefix="g"):
        """Like run_dlhost, but stderr is kept as raw bytes decoded without
        newline translation (text mode would turn a carriage return into a
        newline and hide it)."""
        import subprocess
        from types import SimpleNamespace
        args = ["run", "--plugin", self.plugin, "--out", str(self.out), *extra,
                str(self.manifest(self.entries(n, delay, prefix)))]
        p = subprocess.run([str(dlfix.require_dlhost()), *args], cwd=self.work,
                           env=dlfix.clean_env({"PROXY_ATTACHMENT_LIMIT": 2,
                                                "PROXY_POST_LIMIT": 1}),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        return SimpleNamespace(rc=p.returncode, stdout=p.stdout.decode(),
                               stderr=p.stderr.decode())

    def test_auto_is_plain_on_a_pipe_with_a_line_per_file_with_v(self):
        r = self.run_plain("-v")  # --progress auto: stderr is a pipe here
        self.assertRc(r, 0)
        self.assertNotIn("\r", r.stderr)
        self.assertNotIn("\033", r.stderr)
        done = [l for l in r.stderr.splitlines() if l.startswith("completed: ")]
        self.assertEqual(sorted(done), sorted(f"completed: g/f{i}.bin" for i in range(12)))
        self.assertRegex(r.stderr, r"dlhost: 12 files: 12 completed")

    def test_v_prints_each_failure_once(self):
        import subprocess
        entries = self.entries(2, 0.01, prefix="v") + [
            {"url": self.origin.url(f"/status/404/v/missing{i}.bin"), "path": f"v/missing{i}.bin"}
            for i in range(2)]
        for verbose in (["-v"], []):
            p = subprocess.run([str(dlfix.require_dlhost()), "run", "--plugin", self.plugin,
                                "--out", str(self.out), *verbose,
                                str(self.manifest(entries, name="v.jsonl"))],
                               cwd=self.work, env=dlfix.clean_env({"PROXY_MAX_RETRIES": 0}),
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 1, p.stderr)
            for i in range(2):
                lines = [l for l in p.stderr.splitlines() if f"v/missing{i}.bin" in l]
                self.assertEqual(len(lines), 1, (verbose, p.stderr))
                self.assertTrue(lines[0].startswith(f"failed: v/missing{i}.bin"), lines)

    def test_summary_every_few_seconds(self):
        r = self.run_plain("--progress", "plain", n=12, delay=1.2)  # ~7 s
        self.assertRc(r, 0)
        lines = [l for l in r.stderr.splitlines() if l.startswith("progress: ")]
        self.assertGreaterEqual(len(lines), 1, r.stderr)
        self.assertRegex(lines[0], r"^progress: \d+/12 files \(0 failed, 0 skipped\), .*/s, "
                                   r"ETA \S+; proxies: 1 healthy$")
        self.assertNotIn("\r", r.stderr)
        self.assertNotIn("completed: ", r.stderr, "no per-file line without -v")

    def test_none_and_bar_override(self):
        r = self.run_plain("--progress", "none", "-v")
        self.assertRc(r, 0)
        self.assertNotIn("progress: ", r.stderr)
        r = self.run_plain("--progress", "bar", n=6, delay=0.3, prefix="bar")
        self.assertRc(r, 0)
        self.assertIn("\r\033[1A\033[K[", r.stderr, "bar forced on a pipe redraws in place")
        self.assertIn("[####################] 6/6 files", r.stderr)


if __name__ == "__main__":
    unittest.main()
