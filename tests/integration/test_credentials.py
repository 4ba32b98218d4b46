"""Credentials stay hidden: passwords with any character ('/', '#', '?', '@',
percent-encoded or not) in PROXY_LIST and REDIS_URL, every DOWNLOAD_HEADERS
value, and "user:pass@" written into a proxy's "ip" (refused, entry named,
not echoed). Each case greps every output: stdout, stderr, the stats JSON and
the status server's pages.
"""
import json
import time
import unittest
import urllib.request

from dlfix import Microsocks, NginxOriginTestCase, Redis, free_port, make_files, run_dlhost

# Passwords as users write them, unencoded.
HARD_PASSWORDS = ["pa/ss#w?rd", "p@ss/w0rd", "x?y#z/w"]
HEADER_SECRETS = {"X-Pass": "hdr-secret-1", "X-Signature": "hdr-secret-2",
                  "Authorization": "Bearer hdr-secret-3", "X-Plain": "hdr-secret-4"}


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class Credentials(NginxOriginTestCase):
    plugin = "multi-proxy"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.entries = make_files(cls.data, 6, 2048, prefix="c", base_url=cls.nginx.base_url)

    def assertHidden(self, secrets, *outputs):
        for secret in secrets:
            for name, text in outputs:
                self.assertNotIn(secret, text, f"{secret!r} shown in {name}")

    def check_config(self, env):
        return run_dlhost(["check-config"], env=env, cwd=self.work)

    def test_check_config_hides_passwords_with_any_character(self):
        for pw in HARD_PASSWORDS:
            with self.subTest(password=pw):
                env = {"PROXY_LIST": json.dumps([{"url": f"http://al:{pw}@127.0.0.1:3128"},
                                                 {"url": f"socks5h://bo:{pw}@127.0.0.1:1080"}]),
                       "REDIS_URL": f"redis://dl:{pw}@127.0.0.1:1/0"}
                r = self.check_config(env)
                self.assertRc(r, 2)  # Redis is not there
                self.assertIn("http://al:***@127.0.0.1:3128", r.stdout)
                self.assertIn("socks5h://bo:***@127.0.0.1:1080", r.stdout)
                self.assertIn("redis://dl:***@127.0.0.1:1/0", r.stdout)
                self.assertIn("REDIS_URL redis://dl:***@127.0.0.1:1/0: ", r.stderr)
                self.assertHidden([pw], ("stdout", r.stdout), ("stderr", r.stderr))

    def test_every_header_value_is_masked(self):
        r = self.check_config({"DOWNLOAD_HEADERS": json.dumps(HEADER_SECRETS)})
        self.assertRc(r, 0)
        self.assertIn('{"X-Pass":"***","X-Signature":"***","Authorization":"***",'
                      '"X-Plain":"***"}', r.stdout)
        self.assertHidden(HEADER_SECRETS.values(), ("stdout", r.stdout), ("stderr", r.stderr))

    def test_user_pass_in_ip_is_refused_without_echo(self):
        env = {"PROXY_LIST": json.dumps([{"isLocalhost": True},
                                         {"ip": "bob:hunter2@127.0.0.1", "port": 3128}])}
        for plugin in ("multi-proxy", "legacy"):
            with self.subTest(plugin=plugin):
                r = run_dlhost(["check-config", "--plugin", plugin], env=env, cwd=self.work)
                self.assertRc(r, 2)
                self.assertIn('PROXY_LIST: entry 2: "ip" must be a host or address only',
                              r.stderr)
                self.assertIn('"ip":"***@127.0.0.1"', r.stdout)
                self.assertHidden(["hunter2", "bob:"], ("stdout", r.stdout),
                                  ("stderr", r.stderr))
                r = self.run_job(self.manifest(self.entries), env=env, plugin=plugin)
                self.assertRc(r, 2)
                self.assertIn("entry 2", r.stderr)
                self.assertHidden(["hunter2"], ("stdout", r.stdout), ("stderr", r.stderr))
                self.assertEqual(self.files_under(), [])

    def test_a_real_run_shows_no_secret_anywhere(self):
        pw = HARD_PASSWORDS[1] + "#x"  # a SOCKS5 password (tinyproxy's takes no '/')
        redis_pw = HARD_PASSWORDS[0]
        proxy = Microsocks(user="al", password=pw).start()
        self.addCleanup(proxy.stop)
        redis = Redis().start()
        self.addCleanup(redis.stop)
        redis.command_line("CONFIG", "SET", "requirepass", redis_pw)
        port = free_port()
        env = {"PROXY_LIST": json.dumps([{"url": f"socks5h://al:{pw}@127.0.0.1:{proxy.port}"}]),
               "REDIS_URL": f"redis://:{redis_pw}@127.0.0.1:{redis.port}/0",
               "DOWNLOAD_HEADERS": json.dumps(HEADER_SECRETS)}
        stats = self.work / "stats.json"
        # A missing file makes a failure message too, with the URL in it.
        entries = self.entries + [{"url": self.nginx.url("nope.bin"), "path": "nope.bin"}]
        job = self.spawn_job(self.manifest(entries), "-v", "--stats-json", stats,
                             "--status", f"127.0.0.1:{port}", env=env)
        pages = {}
        deadline = time.monotonic() + 15
        while job.running() and time.monotonic() < deadline and len(pages) < 4:
            for path in ("/", "/stats", "/health", "/metrics"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as p:
                        pages[path] = p.read().decode()
                except OSError:
                    pass
        r = job.wait(120)
        self.assertRc(r, 1)  # nope.bin
        self.assertVerified(self.entries)
        outputs = [("stdout", r.stdout), ("stderr", r.stderr), ("stats", stats.read_text())]
        outputs += [(f"status {p}", body) for p, body in pages.items()]
        self.assertHidden([pw, redis_pw, "p@ss", "pa/ss", "ss#w"] + list(HEADER_SECRETS.values()),
                          *outputs)
        self.assertEqual(len(pages), 4, pages.keys())
        self.assertIn(f"socks5h://127.0.0.1:{proxy.port}", stats.read_text())  # the proxy's id

    def test_manifest_url_passwords_never_show(self):
        # Percent-encoded, '/', '#', '?' and '@' are fine in a manifest URL's
        # password; the file is fetched and the password shows nowhere.
        secret = "SECRET-m1"
        userinfo = f"al:pa%2Fss%23w%3Frd%40{secret}@"
        host = self.nginx.base_url.split("://", 1)[1]
        entries = [{**e, "url": f"http://{userinfo}{host}/{e['path']}"} for e in self.entries[:3]]
        entries.append({"url": f"http://{userinfo}{host}/nope.bin", "path": "nope.bin"})
        events, hooks, stats = self.work / "ev.ndjson", self.work / "hooks.txt", self.work / "s.json"
        r = self.run_job(self.manifest(entries, name="pw.jsonl"), "-v", "--events", str(events),
                         "--stats-json", str(stats),
                         env={"DOWNLOAD_ON_FILE_DONE": f"sh -c 'echo \"$DLHOST_URL\" >> {hooks}'"})
        self.assertRc(r, 1)  # nope.bin
        self.assertVerified(self.entries[:3])
        outputs = [("stdout", r.stdout), ("stderr", r.stderr), ("events", events.read_text()),
                   ("stats", stats.read_text()), ("hooks", hooks.read_text())]
        self.assertHidden([secret, "pa%2Fss"], *outputs)
        self.assertIn("http://al:***@", events.read_text())
        self.assertIn("http://al:***@", hooks.read_text())

    def test_a_manifest_url_whose_password_cuts_its_authority_is_refused_redacted(self):
        host = self.nginx.base_url.split("://", 1)[1]
        for cut in ("/", "#", "?"):
            with self.subTest(cut):
                url = f"http://al:pa{cut}SECRET-m2@{host}/{self.entries[0]['path']}"
                events = self.work / "ev2.ndjson"
                r = self.run_job(self.manifest([{"url": url, "path": "x"}], name="cut.jsonl"),
                                 "-v", "--events", str(events))
                self.assertRc(r, 2)
                self.assertIn(f'"url" has a malformed host or port', r.stderr)
                self.assertIn(f"http://al:***@{host}/", r.stderr)
                self.assertHidden(["SECRET-m2"], ("stdout", r.stdout), ("stderr", r.stderr),
                                  ("events", events.read_text() if events.exists() else ""))
                self.assertFalse((self.out / "x").exists())


if __name__ == "__main__":
    unittest.main()
