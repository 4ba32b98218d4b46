"""dlhost compare: legacy and multi-proxy on one manifest, side by side.

What a user checks: the exit status, the table on stdout, the verdict on the
two output trees, and that each run went into its own directory.
"""
import unittest

import dlfix
from dlfix import run_dlhost


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class CompareAgainstNginx(dlfix.NginxOriginTestCase):
    def compare(self, manifest, *extra):
        return run_dlhost(["compare", "--a", "legacy", "--b", "multi-proxy",
                           "--out", self.work / "cmp", "--progress", "none", *extra, manifest],
                          cwd=self.work, timeout=300)

    def table(self, stdout):
        rows = {}
        for line in stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and not line.startswith(" " * 14):
                rows[" ".join(parts[:-2])] = parts[-2:]
        return rows

    def test_same_manifest_is_identical(self):
        entries = dlfix.make_files(self.data, 40, 20000, prefix="same", per_group=8,
                                   base_url=self.nginx.base_url, subdir="same")
        r = self.compare(self.manifest(entries))
        self.assertRc(r, 0)
        self.assertIn("outputs: identical (40 files", r.stdout)
        self.assertVerified(entries, out=self.work / "cmp" / "a")
        self.assertVerified(entries, out=self.work / "cmp" / "b")
        rows = self.table(r.stdout)
        self.assertEqual(rows["ok"], ["40", "40"], r.stdout)
        self.assertEqual(rows["failed"], ["0", "0"], r.stdout)
        self.assertEqual(rows["retries"], ["0", "0"], r.stdout)
        for name in ("a: legacy", "b: multi-proxy", "wall time", "throughput", "bytes"):
            self.assertIn(name, r.stdout)

    def test_a_404_fails_the_comparison(self):
        entries = dlfix.make_files(self.data, 5, 1000, prefix="miss", base_url=self.nginx.base_url,
                                   subdir="miss")
        entries.append({"url": self.nginx.url("miss/not-there.bin"), "path": "miss/not-there.bin"})
        r = self.compare(self.manifest(entries))
        self.assertRc(r, 1)
        rows = self.table(r.stdout)
        self.assertEqual(rows["failed"], ["1", "1"], r.stdout)
        self.assertIn("failed: miss/not-there.bin", r.stderr)

    def test_different_outputs_are_reported(self):
        # A file in b that a did not download: the trees differ, exit 1.
        entries = dlfix.make_files(self.data, 3, 1000, prefix="diff", base_url=self.nginx.base_url,
                                   subdir="diff")
        extra = self.work / "cmp" / "b" / "stray.txt"
        extra.parent.mkdir(parents=True)
        extra.write_text("not from the manifest")
        r = self.compare(self.manifest(entries))
        self.assertRc(r, 1)
        self.assertIn("outputs: DIFFERENT (0 only in a, 1 only in b, 0 differ", r.stdout)
        self.assertIn("only in b: stray.txt", r.stdout)

    def test_usage_errors_exit_2_before_any_download(self):
        entries = dlfix.make_files(self.data, 2, 1000, prefix="usage", base_url=self.nginx.base_url,
                                   subdir="usage")
        m = self.nginx.mark()
        r = run_dlhost(["compare", "--a", "legacy", "--b", "no-such-plugin", self.manifest(entries)],
                       cwd=self.work)
        self.assertRc(r, 2)
        self.assertIn("no-such-plugin", r.stderr)
        r = run_dlhost(["compare", "--a", "legacy", self.manifest(entries)], cwd=self.work)
        self.assertRc(r, 2)
        self.assertEqual(self.nginx.records_since(m), [], "nothing was downloaded")


if __name__ == "__main__":
    unittest.main()
