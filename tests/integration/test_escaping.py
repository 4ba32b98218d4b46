"""No raw control characters in human output: paths, URLs, groups and
messages from a manifest or a server are escaped (ESC as the four characters
\\x1b) on stderr, in check-config and on the status server's pages; echoed
manifest text is cut to 200 characters; a UTF-8 byte order mark on line 1 of
a manifest or a .env is accepted. Every check reads the bytes as written.
"""
import json
import re
import time
import unittest
import urllib.parse
import urllib.request

from dlfix import (DlhostTestCase, FaultServer, NginxOriginTestCase, clean_env, dlhost_path,
                   free_port, run_dlhost)

# Bytes no human output may contain: C0 controls except the line feed that
# ends a line, DEL, C1 controls in UTF-8, and bytes that are not UTF-8.
RAW_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
NASTY = "\x1b]0;pwned\x07\x1b[2J\r\nfailed: forged\x9b"


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


def run_bytes(args, cwd, env=None, timeout=120):
    import subprocess
    p = subprocess.run([str(dlhost_path()), *map(str, args)], cwd=cwd, env=clean_env(env),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Escaping(NginxOriginTestCase):
    plugin = "multi-proxy"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        (cls.data / "ok.bin").write_bytes(b"fine" * 100)
        # A file whose own name holds an escape sequence, so a URL's file name
        # (percent-decoded) brings control characters into the path.
        (cls.data / "e\x1b[31mvil.bin").write_bytes(b"evil" * 100)

    def assertNoRawControl(self, data: bytes, what: str):
        m = RAW_CONTROL.search(data)
        if m:
            self.fail(f"{what} holds a raw control byte at {m.start()}: "
                      f"{data[max(0, m.start() - 40):m.start() + 40]!r}")
        data.decode("utf-8")  # valid UTF-8 throughout

    def hostile_manifest(self):
        ok = self.nginx.url("ok.bin")
        return self.manifest([
            {"url": ok, "path": "dir" + NASTY + "/a.bin", "group": "g" + NASTY},
            {"url": ok, "path": "b\x07\x1b[1A.bin", "group": NASTY},
            {"url": self.nginx.url("missing" + urllib.parse.quote(NASTY) + ".bin"),
             "path": "c" + NASTY + ".bin"},
            {"url": self.nginx.base_url + "/" + urllib.parse.quote("e\x1b[31mvil.bin")},
        ])

    def test_paths_urls_and_groups_are_escaped_on_stderr(self):
        manifest = self.hostile_manifest()
        for plugin in ("multi-proxy", "legacy"):
            for progress in ("plain", "bar"):
                with self.subTest(plugin=plugin, progress=progress):
                    rc, out, err = run_bytes(
                        ["run", "--plugin", plugin, "--out", self.work / f"out-{plugin}-{progress}",
                         "--progress", progress, "-v", manifest], self.work)
                    self.assertEqual(rc, 1, err)
                    if progress == "plain":
                        self.assertNoRawControl(err, "stderr")
                    else:  # the bar's own cursor movements are the only escapes
                        self.assertNoRawControl(re.sub(rb"\r|\x1b\[(\d+A|K|J)", b"", err),
                                                "stderr")
                    self.assertNoRawControl(out, "stdout")
                    text = err.decode()
                    self.assertIn(r"completed: dir\x1b]0;pwned\x07\x1b[2J\x0d\x0afailed: forged"
                                  r"\xc2\x9b/a.bin", text)
                    self.assertIn(r"completed: e\x1b[31mvil.bin", text)
                    self.assertIn(r"failed: c\x1b]0;pwned", text)
                    # the forged line exists only inside an escaped path
                    self.assertNotIn("\nfailed: forged", text)
        # The files themselves keep their real names.
        self.assertTrue((self.work / "out-legacy-bar" / ("b\x07\x1b[1A.bin")).is_file())

    def test_bad_lines_are_echoed_escaped_and_cut(self):
        bad = self.work / "bad.jsonl"
        bad.write_bytes(b"\xef\xbb\xbf" + self.nginx.url("ok.bin").encode() + b"\n"
                        + b"\x1b]0;pwned\x07" + b"z" * 300_000 + b"\n")
        rc, out, err = run_bytes(["run", "--out", self.work / "o", "--progress", "none", bad],
                                 self.work)
        self.assertEqual(rc, 2)
        self.assertNoRawControl(err, "stderr")
        line = err.decode().rstrip("\n")
        self.assertEqual(line.count("\n"), 0)
        self.assertTrue(line.startswith(f"dlhost: {bad}:2: not a URL or JSON object: "
                                        r"\x1b]0;pwned\x07zzz"), line)
        self.assertTrue(line.endswith("z\u2026"), line[-20:])
        echoed = line.split("not a URL or JSON object: ", 1)[1]
        self.assertEqual(len(echoed), 200)
        # A URL with a raw control character is refused, escaped.
        bad.write_text(self.nginx.url("a\x1b[2Jb.bin") + "\n")
        rc, out, err = run_bytes(["run", "--out", self.work / "o", bad], self.work)
        self.assertEqual(rc, 2)
        self.assertNoRawControl(err, "stderr")
        self.assertIn(r"a\x1b[2Jb.bin", err.decode())

    def test_a_byte_order_mark_on_line_one_is_accepted(self):
        m = self.work / "bom.txt"
        m.write_bytes(b"\xef\xbb\xbf" + self.nginx.url("ok.bin").encode() + b"\n")
        env_file = self.work / "bom.env"
        env_file.write_bytes(b"\xef\xbb\xbfPROXY_MAX_RETRIES=1\n")
        r = run_dlhost(["run", "--out", self.work / "o", "--env-file", env_file,
                        "--progress", "none", m], cwd=self.work)
        self.assertRc(r, 0)
        self.assertTrue((self.work / "o" / "ok.bin").is_file())
        r = run_dlhost(["check-config", "--env-file", env_file], cwd=self.work)
        self.assertRc(r, 0)
        self.assertRegex(r.stdout, r"PROXY_MAX_RETRIES\s+\.env \S+bom\.env\s+1\n")

    def test_check_config_escapes_setting_values(self):
        rc, out, err = run_bytes(["check-config", "--plugin", "legacy"], self.work,
                                 env={"DOWNLOAD_USER_AGENT": "agent" + NASTY})
        self.assertEqual(rc, 0, err)
        self.assertNoRawControl(out, "check-config stdout")
        self.assertIn(rb"agent\x1b]0;pwned\x07", out)


class StatusPage(DlhostTestCase):
    """The status server's pages while a job with hostile names runs."""

    def test_pages_hold_no_control_bytes(self):
        with FaultServer() as fault:
            # /slow/ keeps the job running while the pages are read.
            manifest = self.manifest([
                {"url": fault.url(f"/slow/20000/s{i}.bin?delay=4"), "path": f"s{i}" + NASTY + ".bin",
                 "group": "g" + NASTY} for i in range(4)])
            port = free_port()
            job = self.spawn_job(manifest, "--status", f"127.0.0.1:{port}", "-v",
                                 plugin="multi-proxy")
            pages = {}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(pages) < 4 and job.running():
                for path in ("/", "/stats", "/health", "/metrics"):
                    if path in pages:
                        continue
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                                    timeout=5) as resp:
                            pages[path] = resp.read()
                    except OSError:
                        time.sleep(0.05)
            r = job.wait(120)
        self.assertEqual(sorted(pages), ["/", "/health", "/metrics", "/stats"], r)
        for path, body in pages.items():
            self.assertIsNone(re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", body),
                              f"{path} holds a raw control byte")
        json.loads(pages["/stats"])
        self.assertIn(b"function shown(", pages["/"])  # text is shown escaped
        self.assertIsNone(RAW_CONTROL.search(r.stderr.encode()), r.stderr)


if __name__ == "__main__":
    unittest.main()
