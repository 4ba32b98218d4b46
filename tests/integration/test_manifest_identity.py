"""No file dropped in silence: lines are one file only when path and URL are
both equal; the same path for another URL is a manifest error naming both
lines (exit 2, nothing downloaded), judged by the origin's access log.
"""
import unittest

from dlfix import NginxOriginTestCase, sha256_file


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class ManifestIdentity(NginxOriginTestCase):
    plugin = "multi-proxy"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Two posts with a file of the same name, and different bytes.
        for post in ("p1", "p2"):
            (cls.data / post).mkdir()
            (cls.data / post / "a.jpg").write_bytes(f"{post}'s picture".encode() * 100)

    def test_colliding_default_names_are_an_error_naming_both_lines(self):
        mark = self.nginx.mark()
        manifest = self.manifest([self.nginx.url("p1/a.jpg"), self.nginx.url("p2/a.jpg")],
                                 plain=True)
        for plugin in ("multi-proxy", "legacy"):
            r = self.run_job(manifest, plugin=plugin)
            self.assertRc(r, 2)
            self.assertEqual(r.stderr.strip().splitlines(), [
                f'dlhost: {manifest}:2: "a.jpg" (the URL\'s file name) is already the '
                'destination of line 1, for another URL; give each of them its own "path"'])
        self.assertEqual(self.nginx.records_since(mark), [], "something was downloaded")
        self.assertEqual(self.files_under(), [])

    def test_a_given_path_for_two_urls_is_an_error(self):
        manifest = self.manifest([
            {"url": self.nginx.url("p1/a.jpg"), "path": "pics/a.jpg"},
            {"url": self.nginx.url("p1/a.jpg"), "path": "pics/other.jpg"},
            {"url": self.nginx.url("p2/a.jpg"), "path": "pics/a.jpg"}])
        r = self.run_job(manifest)
        self.assertRc(r, 2)
        self.assertIn(f'{manifest}:3: "path" "pics/a.jpg" is already the destination of line 1',
                      r.stderr)
        self.assertEqual(self.files_under(), [])

    def test_a_path_that_is_another_lines_part_file_is_an_error_in_either_order(self):
        # The case: a.bin's URL fails, a.bin.part completes; a rerun
        # took a.bin.part for a.bin's partial download and lost it, counted
        # "present". Now neither run downloads anything.
        missing = {"url": self.nginx.url("p1/missing.bin"), "path": "a.bin"}
        part = {"url": self.nginx.url("p1/a.jpg"), "path": "a.bin.part"}
        mark = self.nginx.mark()
        for order, (w, d) in (((missing, part), ("2", "1")), ((part, missing), ("1", "2"))):
            manifest = self.manifest(list(order), name=f"part-{w}.jsonl")
            for plugin in ("multi-proxy", "legacy"):
                for _ in range(2):
                    r = self.run_job(manifest, plugin=plugin)
                    self.assertRc(r, 2)
                    self.assertIn(f'"a.bin.part" (line {w}) is the name dlhost downloads '
                                  f'"a.bin" (line {d}) into before it is complete', r.stderr)
        self.assertEqual(self.nginx.records_since(mark), [], "something was downloaded")
        self.assertEqual(self.files_under(), [])

    def test_an_internationalized_host_is_fetched_as_curl_would(self):
        # libcurl converts an IDN host through the locale, which "C" cannot
        # read; the manifest converts it to punycode first, in any locale.
        # *.localhost resolves to loopback in libcurl.
        port = self.nginx.base_url.rsplit(":", 1)[1]
        url = f"http://b\u00fccher.localhost:{port}/p1/a.jpg"
        for plugin in ("multi-proxy", "legacy"):
            out = self.work / f"idn-{plugin}"
            r = self.run_job(self.manifest([{"url": url, "path": "a.jpg"}], name="idn.jsonl"),
                             plugin=plugin, out=out, env={"LC_ALL": "C", "LANG": "C"})
            self.assertRc(r, 0)
            self.assertEqual(sha256_file(out / "a.jpg"), sha256_file(self.data / "p1" / "a.jpg"))

    def test_paths_keep_same_named_files_apart(self):
        mark = self.nginx.mark()
        manifest = self.manifest([{"url": self.nginx.url(f"{p}/a.jpg"), "path": f"{p}/a.jpg"}
                                  for p in ("p1", "p2")])
        r = self.run_job(manifest)
        self.assertRc(r, 0)
        self.assertEqual(self.files_under(), ["p1/a.jpg", "p2/a.jpg"])
        for p in ("p1", "p2"):
            self.assertEqual(sha256_file(self.out / p / "a.jpg"),
                             sha256_file(self.data / p / "a.jpg"))
        self.assertEqual(sorted(rec["uri"] for rec in self.nginx.records_since(mark)),
                         ["/p1/a.jpg", "/p2/a.jpg"])

    def test_repeated_lines_are_one_file_fetched_once(self):
        mark = self.nginx.mark()
        url = self.nginx.url("p1/a.jpg")
        manifest = self.manifest([url, {"url": url, "path": "a.jpg"}, url,
                                  {"url": self.nginx.url("p2/a.jpg"), "path": "b.jpg"}])
        r = self.run_job(manifest, "--stats-json", self.work / "stats.json")
        self.assertRc(r, 0)
        self.assertIn("2 files: 2 completed", r.stderr)
        self.assertIn("2 duplicate lines ignored", r.stderr)
        self.assertEqual(self.load_json(self.work / "stats.json")["files"]["total"], 2)
        self.assertEqual(sorted(rec["uri"] for rec in self.nginx.records_since(mark)),
                         ["/p1/a.jpg", "/p2/a.jpg"])
        self.assertEqual(self.files_under(), ["a.jpg", "b.jpg"])


if __name__ == "__main__":
    unittest.main()
