"""The legacy plugin end to end: dlhost run --plugin legacy against real origins.

What a user checks: exit status, the files on disk (and their sha256), what
stderr says, what the origin saw (its access log), and the stats JSON.
"""
import json
import os
import tempfile
import time
import unittest
from pathlib import Path

import dlfix
from dlfix import DlhostTestCase


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class LegacyAgainstNginx(dlfix.NginxOriginTestCase):
    """Jobs against an nginx origin serving deterministic files."""

    def files(self, n, size, prefix, per_group=0):
        return dlfix.make_files(self.data, n, size, prefix=prefix, per_group=per_group,
                                base_url=self.nginx.base_url, subdir=prefix)

    def requests(self, mark):
        return self.nginx.records_since(mark)

    # -- the normal job ------------------------------------------------------

    def test_job_of_300_files_completes_and_verifies(self):
        entries = self.files(300, 8192, "job300", per_group=10)
        m = self.nginx.mark()
        r = self.run_job(self.manifest(entries))
        self.assertRc(r, 0)
        self.assertVerified(entries)
        self.assertEqual(self.part_files(), [], "no .part file is left after success")
        self.assertEqual(len(self.files_under()), 300)
        reqs = self.requests(m)
        # every file fetched exactly once
        self.assertEqual(sorted(x["uri"] for x in reqs if x["method"] == "GET" and x["status"] == 200),
                         sorted("/" + e["path"] for e in entries))
        # legacy is one connection, one file at a time: nginx saw one keep-alive connection
        self.assertEqual(len({x["connection"] for x in reqs}), 1,
                         "legacy should reuse one connection for the whole job")

    def test_rerun_makes_no_request(self):
        entries = self.files(30, 4096, "rerun", per_group=5)
        manifest = self.manifest(entries)
        r = self.run_job(manifest)
        self.assertRc(r, 0)
        self.assertVerified(entries)
        m = self.nginx.mark()
        r = self.run_job(manifest)
        self.assertRc(r, 0)
        self.assertEqual(self.requests(m), [], "a rerun of a finished job asks the origin nothing")
        self.assertVerified(entries)

    def test_plain_url_list_with_comments(self):
        entries = self.files(5, 1000, "plain")
        lines = ["# a comment", ""] + [e["url"] for e in entries] + ["# another"]
        manifest = self.work / "urls.txt"
        manifest.write_text("\n".join(lines) + "\n")
        r = self.run_job(manifest)
        self.assertRc(r, 0)
        # path defaults to the URL's last segment
        self.assertVerified([{**e, "path": e["path"].rsplit("/", 1)[1]} for e in entries])

    def test_manifest_from_stdin(self):
        entries = self.files(3, 1000, "stdin")
        text = "".join(json.dumps(e) + "\n" for e in entries)
        r = self.run_job("-", input=text)
        self.assertRc(r, 0)
        self.assertVerified(entries)

    def test_download_dir_setting(self):
        entries = self.files(2, 500, "dldir")
        manifest = self.manifest(entries)
        r = dlfix.run_dlhost(["run", "--plugin", "legacy", "--progress", "none", manifest],
                             env={"DOWNLOAD_DIR": self.work / "from-env"}, cwd=self.work)
        self.assertRc(r, 0)
        self.assertVerified(entries, out=self.work / "from-env")

    # -- failures ------------------------------------------------------------

    def test_404_fails_that_file_only(self):
        entries = self.files(20, 2048, "nf")
        missing = {"url": self.nginx.url("nf/does-not-exist.bin"), "path": "nf/missing.bin"}
        r = self.run_job(self.manifest(entries[:10] + [missing] + entries[10:]))
        self.assertRc(r, 1)
        self.assertVerified(entries)
        self.assertAbsent(self.out / "nf/missing.bin")
        self.assertIn(missing["url"], r.stderr)
        self.assertIn("404", r.stderr)

    def test_redirect_followed_within_limit(self):
        e = self.files(1, 3000, "redir1")[0]
        entry = {**e, "url": self.nginx.url("hop1/" + e["path"])}
        m = self.nginx.mark()
        r = self.run_job(self.manifest([entry]), env={"PROXY_MAX_REDIRECTS": 1})
        self.assertRc(r, 0)
        self.assertVerified([entry])
        self.assertEqual([x["status"] for x in self.requests(m) if x["method"] == "GET"], [302, 200])

    def test_redirect_chain_longer_than_limit_fails(self):
        e = self.files(1, 3000, "redir2")[0]
        entry = {**e, "url": self.nginx.url("hop2/" + e["path"])}
        r = self.run_job(self.manifest([entry]), env={"PROXY_MAX_REDIRECTS": 1})
        self.assertRc(r, 1)
        self.assertAbsent(self.out / e["path"])
        self.assertIn(entry["url"], r.stderr)
        # the same chain is fine when the limit allows it
        r = self.run_job(self.manifest([entry]), env={"PROXY_MAX_REDIRECTS": 2})
        self.assertRc(r, 0)
        self.assertVerified([entry])

    def test_env_file_and_precedence(self):
        e = self.files(1, 3000, "envfile")[0]
        entry = {**e, "url": self.nginx.url("hop2/" + e["path"])}
        manifest = self.manifest([entry])
        (self.work / ".env").write_text("# settings\nPROXY_MAX_REDIRECTS=2\n")
        # the environment wins over .env
        r = self.run_job(manifest, env={"PROXY_MAX_REDIRECTS": 1})
        self.assertRc(r, 1)
        self.assertAbsent(self.out / e["path"])
        # .env in the working directory is read
        r = self.run_job(manifest)
        self.assertRc(r, 0)
        self.assertVerified([entry])
        # --env-file names another file
        (self.work / ".env").unlink()
        other = self.work / "other.env"
        other.write_text("PROXY_MAX_REDIRECTS=0\n")
        r = self.run_job(manifest, "--env-file", other, out=self.work / "out2")
        self.assertRc(r, 1)
        self.assertAbsent(self.work / "out2" / e["path"])

    # -- proxy authentication ----------------------------------------------------

    def test_wrong_proxy_password_fails_as_proxy_auth(self):
        # tinyproxy answers wrong BasicAuth on plain HTTP with a 401 (realm
        # "Tinyproxy"), not a 407: still the proxy's refusal, not the origin's.
        secret = "Wr0ng-Pa55word"
        tp = dlfix.Tinyproxy("127.0.0.3", basic_auth=("dluser", "Right-Pa55word"),
                             workdir=self.class_tmp / "tp-auth").start()
        self.addCleanup(tp.stop)
        entries = self.files(3, 2048, "pxauth")
        manifest = self.manifest(entries)
        stats_path = self.work / "stats.json"
        m = self.nginx.mark()
        r = self.run_job(manifest, "--stats-json", stats_path, timeout=60,
                         env={"PROXY_LIST": json.dumps([{**tp.entry(), "password": secret}])})
        self.assertRc(r, 1)
        self.assertEqual(self.files_under(), [])
        self.assertEqual(self.requests(m), [], "nothing reached the origin")
        for e in entries:
            lines = [ln for ln in r.stderr.splitlines() if e["url"] in ln]
            self.assertTrue(lines, f"{e['url']} is not named:\n{r.stderr}")
            for ln in lines:
                self.assertIn("the proxy rejected its credentials", ln)
        stats = self.load_json(stats_path)
        self.assertEqual(stats["files"]["failed"], 3)
        self.assertEqual(stats["files"]["completed"], 0)
        proxies = {p["id"]: p for p in stats["proxies"]}
        self.assertEqual(set(proxies), {tp.url}, "the proxy is named without credentials")
        self.assertEqual(proxies[tp.url]["failed"], 3)
        self.assertEqual(proxies[tp.url]["completed"], 0)
        for label, text in (("stdout", r.stdout), ("stderr", r.stderr),
                            ("the stats JSON", stats_path.read_text())):
            self.assertNotIn(secret, text, f"the password appears in {label}")

        # the same job with the right password goes through that proxy
        out = self.work / "out-right"
        m = self.nginx.mark()
        r = self.run_job(manifest, out=out, env={"PROXY_LIST": json.dumps([tp.entry()])},
                         timeout=60)
        self.assertRc(r, 0)
        self.assertVerified(entries, out=out)
        self.assertEqual({x["remote_addr"] for x in self.requests(m)}, {"127.0.0.3"})

    # -- manifest and configuration errors --------------------------------------

    def test_bad_manifest_line_names_the_line(self):
        entries = self.files(2, 100, "badline")
        cases = {
            "broken-json": '{"url": "http://127.0.0.1:1/x", ',
            "no-url": '{"path": "x.bin"}',
        }
        for label, bad in cases.items():
            with self.subTest(label):
                manifest = self.manifest([entries[0], entries[1], bad], name=f"{label}.jsonl")
                m = self.nginx.mark()
                r = self.run_job(manifest, out=self.work / f"out-{label}")
                self.assertRc(r, 2)
                self.assertIn(f"{manifest.name}:3", r.stderr)
                # exit 2 means nothing was downloaded
                self.assertEqual(self.requests(m), [])
                self.assertEqual(self.files_under(self.work / f"out-{label}"), [])

    def test_path_escaping_out_dir_is_refused(self):
        entries = self.files(3, 100, "escape")
        abs_target = self.work / "abs" / "x.bin"
        cases = {
            "dotdot": "../x.bin",
            "dotdot-deep": "a/../../x.bin",
            "absolute": str(abs_target),
        }
        for label, bad_path in cases.items():
            with self.subTest(label):
                out = self.work / f"out-{label}"
                bad = {"url": entries[1]["url"], "path": bad_path}
                manifest = self.manifest([entries[0], bad, entries[2]], name=f"{label}.jsonl")
                m = self.nginx.mark()
                r = self.run_job(manifest, out=out)
                self.assertRc(r, 2)
                self.assertIn(f"{manifest.name}:2", r.stderr)
                self.assertEqual(self.requests(m), [], "nothing is downloaded")
                self.assertEqual(self.files_under(out), [], "nothing is written")
                self.assertAbsent(self.work / "x.bin")
                self.assertAbsent(abs_target)

    def test_missing_manifest_and_unknown_plugin(self):
        r = self.run_job(self.work / "no-such-manifest.jsonl")
        self.assertRc(r, 2)
        entries = self.files(1, 100, "noplugin")
        m = self.nginx.mark()
        r = self.run_job(self.manifest(entries), plugin="no-such-plugin")
        self.assertRc(r, 2)
        self.assertIn("no-such-plugin", r.stderr)
        self.assertEqual(self.requests(m), [])
        r = dlfix.run_dlhost(["run", "--plugin", "legacy", "--no-such-flag", "x"], cwd=self.work)
        self.assertRc(r, 2)

    # -- stats -----------------------------------------------------------------

    def assertStatsShape(self, stats):
        self.assertIsInstance(stats.get("plugin"), str)
        self.assertIn("legacy", stats["plugin"])
        self.assertIsInstance(stats.get("elapsed_s"), (int, float))
        self.assertGreaterEqual(stats["elapsed_s"], 0)
        for k in ("total", "completed", "skipped", "failed"):
            self.assertIsInstance(stats["files"].get(k), int, k)
        self.assertIsInstance(stats.get("bytes"), int)
        self.assertIsInstance(stats.get("proxies"), list)
        for p in stats["proxies"]:
            for k in ("id", "state", "completed", "failed", "retries", "rate_limited",
                      "bytes", "latency_ms"):
                self.assertIn(k, p)
            self.assertIn("p50", p["latency_ms"])
            self.assertIn("p95", p["latency_ms"])

    def test_stats_json(self):
        entries = self.files(10, 5000, "stats")
        missing = {"url": self.nginx.url("stats/none.bin")}
        manifest = self.manifest(entries + [missing])
        stats_path = self.work / "stats.json"
        r = self.run_job(manifest, "--stats-json", stats_path)
        self.assertRc(r, 1)
        stats = self.load_json(stats_path)
        self.assertStatsShape(stats)
        self.assertEqual(stats["files"], {**stats["files"], "total": 11, "completed": 10,
                                          "skipped": 0, "failed": 1})
        self.assertEqual(stats["bytes"], 10 * 5000)
        # rerun: the ten are already there, the missing one fails again
        stats_path.unlink()
        r = self.run_job(manifest, "--stats-json", stats_path)
        self.assertRc(r, 1)
        stats = self.load_json(stats_path)
        self.assertStatsShape(stats)
        self.assertEqual(stats["files"]["total"], 11)
        self.assertEqual(stats["files"]["skipped"], 10)
        self.assertEqual(stats["files"]["failed"], 1)


class LegacyAgainstFaults(DlhostTestCase):
    """Broken origins: nothing unverified ever lands at a destination path."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fs = dlfix.FaultServer(stall_seconds=120).start()
        cls.addClassCleanup(cls.fs.stop)

    def good(self, name, size=3000):
        return {"url": self.fs.url(f"ok/{size}/{name}"), "path": name,
                **dlfix.expected(name, size)}

    def assertBadFileLeftOut(self, bad, good, label="manifest"):
        """A job of `bad` then `good`: exit 1, nothing at bad's path, good
        verified, and stderr names bad's URL."""
        out = self.work / f"out-{label}"
        r = self.run_job(self.manifest([bad, good], name=f"{label}.jsonl"), out=out)
        self.assertRc(r, 1)
        self.assertAbsent(out / bad["path"])
        self.assertVerified([good], out=out)
        self.assertIn(bad["url"], r.stderr)

    def test_truncated_response_leaves_no_file(self):
        good = self.good("tr-good.bin")
        cases = {
            "no-size-in-manifest": {"url": self.fs.url("truncate/100000/tr1.bin"), "path": "tr1.bin"},
            "size-in-manifest": {"url": self.fs.url("truncate/100000/tr2.bin"), "path": "tr2.bin",
                                 **dlfix.expected("tr2.bin", 100000)},
        }
        for label, bad in cases.items():
            with self.subTest(label):
                self.assertBadFileLeftOut(bad, good, label)

    def test_wrong_bytes_with_sha256_leave_no_file(self):
        good = self.good("wr-good.bin")
        cases = {
            "wrong-bytes": {"url": self.fs.url("wrong/4096/wr1.bin"), "path": "wr1.bin",
                            **dlfix.expected("wr1.bin", 4096)},
            "html-block-page": {"url": self.fs.url("html/wr2.bin"), "path": "wr2.bin",
                                **dlfix.expected("wr2.bin", 4096)},
        }
        for label, bad in cases.items():
            with self.subTest(label):
                self.assertBadFileLeftOut(bad, good, label)

    def test_connection_reset_leaves_no_file(self):
        good = self.good("rs-good.bin")
        bad = {"url": self.fs.url("reset/rs1.bin?size=5000&after=1000"), "path": "rs1.bin"}
        self.assertBadFileLeftOut(bad, good)

    def test_status_fails_without_retry(self):
        # legacy makes one attempt: a 503 fails the file (no retries)
        bad = {"url": self.fs.url("status/503/st1.bin?fail_times=1&size=1000"), "path": "st1.bin"}
        r = self.run_job(self.manifest([bad, self.good("st-good.bin")]))
        self.assertRc(r, 1)
        self.assertAbsent(self.out / "st1.bin")
        self.assertEqual(len(self.fs.requests_for("st1.bin")), 1)

    def test_timeout_fails_and_rerun_skips_within_ttl(self):
        name = "stall1.bin"
        stall = {"url": self.fs.url(f"stall/200000/{name}?after=1000"), "path": name,
                 **dlfix.expected(name, 200000)}
        good = self.good("stall-good.bin")
        manifest = self.manifest([stall, good])
        env = {"PROXY_DOWNLOAD_TIMEOUT": 1500, "PROXY_SKIP_CACHE_TTL": 3600,
               "PROXY_STALL_TIMEOUT": 600000}
        r = self.run_job(manifest, env=env)
        self.assertRc(r, 1)
        self.assertAbsent(self.out / name)
        self.assertVerified([good])
        first = len(self.fs.requests_for(name))
        self.assertGreaterEqual(first, 1)
        # within the TTL the timed-out file is skipped without asking the origin
        r = self.run_job(manifest, env=env)
        self.assertEqual(len(self.fs.requests_for(name)), first,
                         "the timed-out URL was requested again within PROXY_SKIP_CACHE_TTL")
        self.assertAbsent(self.out / name)
        # The file is neither done nor present, so the job is not a success:
        # exit 0 means "every file done or already present" (DESIGN.md).
        self.assertRc(r, 1)
        self.assertIn("deferred", r.stderr)

    def test_skip_cache_expires_after_ttl(self):
        name = "stall2.bin"
        stall = {"url": self.fs.url(f"stall/200000/{name}?after=1000"), "path": name}
        manifest = self.manifest([stall])
        env = {"PROXY_DOWNLOAD_TIMEOUT": 1000, "PROXY_SKIP_CACHE_TTL": 1,
               "PROXY_STALL_TIMEOUT": 600000}
        r = self.run_job(manifest, env=env)
        self.assertRc(r, 1)
        first = len(self.fs.requests_for(name))
        self.assertGreaterEqual(first, 1)
        time.sleep(2.5)  # let the 1 s TTL pass (not a timing assertion)
        r = self.run_job(manifest, env=env)
        self.assertRc(r, 1)
        self.assertGreater(len(self.fs.requests_for(name)), first,
                           "after PROXY_SKIP_CACHE_TTL the URL is tried again")
        self.assertAbsent(self.out / name)


class Plugins(DlhostTestCase):
    def test_plugins_lists_legacy(self):
        r = dlfix.run_dlhost(["plugins"], cwd=self.work)
        self.assertRc(r, 0)
        self.assertIn("legacy", r.stdout)
        self.assertIn("dlhost-legacy.so", r.stdout)


if __name__ == "__main__":
    unittest.main()
