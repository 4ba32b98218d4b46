"""dlhost check-config and --help: what the operator reads before a run.

check-config shows every setting's value and where it came from, never a
password, and validates the settings with the plugin itself (create, then
destroy, no start: nothing is downloaded).
"""
import json
import unittest

from dlfix import DlhostTestCase, run_dlhost

SECRETS = ("hunter2", "pw-in-url", "redispass", "Bearer tok-123", "sid=abc")


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class CheckConfig(DlhostTestCase):

    def check(self, *args, env=None):
        return run_dlhost(["check-config", *args], env=env, cwd=self.work)

    def sources(self, stdout):
        out = {}
        for line in stdout.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[0].isupper() and parts[0] != "SETTING":
                out[parts[0]] = line
        return out

    def test_sources_are_shown(self):
        (self.work / ".env").write_text("PROXY_POST_LIMIT=3\nPROXY_MAX_RETRIES=7\n")
        r = self.check("--plugin", "legacy", env={"PROXY_MAX_RETRIES": "5"})
        self.assertRc(r, 0)
        rows = self.sources(r.stdout)
        self.assertRegex(rows["DOWNLOADER_PLUGIN"], r"flag --plugin\s+legacy$")
        self.assertRegex(rows["PROXY_POST_LIMIT"], r"\.env \S*\.env\s+3$")
        self.assertRegex(rows["PROXY_MAX_RETRIES"], r"environment\s+5$")
        self.assertRegex(rows["PROXY_ATTACHMENT_LIMIT"], r"default\s+4$")
        self.assertIn("plugin: legacy", r.stdout)
        self.assertIn("configuration OK", r.stdout)
        self.assertEqual(len(rows), len([l for l in r.stdout.splitlines()
                                         if l.split(None, 1)[:1] and l.split()[0] in rows]))

    def test_env_file_flag(self):
        env_file = self.work / "other.env"
        env_file.write_text("DOWNLOAD_DIR=/tmp/elsewhere\n")
        r = self.check("--env-file", env_file)
        self.assertRc(r, 0)
        self.assertRegex(self.sources(r.stdout)["DOWNLOAD_DIR"], r"other\.env\s+/tmp/elsewhere$")

    def test_passwords_are_never_printed(self):
        env = {"PROXY_LIST": json.dumps([
                   {"ip": "127.0.0.1", "port": 3128, "username": "bob", "password": "hunter2"},
                   {"url": "socks5h://al:pw-in-url@127.0.0.1:1080"}]),
               "DOWNLOAD_HEADERS": json.dumps({"Authorization": "Bearer tok-123",
                                               "Cookie": "sid=abc", "Referer": "https://r/"})}
        r = self.check(env=env)
        self.assertRc(r, 0)
        for secret in SECRETS:
            self.assertNotIn(secret, r.stdout + r.stderr)
        self.assertIn('"username":"bob","password":"***"', r.stdout)
        self.assertIn("socks5h://al:***@127.0.0.1:1080", r.stdout)
        self.assertIn('"Referer":"***"', r.stdout)  # every header value is hidden
        self.assertIn("2 proxies", r.stdout)
        # an invalid PROXY_LIST: exit 2, one line, still no password
        env["PROXY_LIST"] = json.dumps([{"ip": "127.0.0.1", "port": "abc", "password": "hunter2"}])
        r = self.check(env=env)
        self.assertRc(r, 2)
        self.assertIn('PROXY_LIST: entry 1: "port" must be 1..65535', r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        for secret in SECRETS:
            self.assertNotIn(secret, r.stdout + r.stderr)

    def test_redis_password_redacted_and_unreachable_is_exit_2(self):
        r = self.check(env={"REDIS_URL": "redis://:redispass@127.0.0.1:1/0"})
        self.assertRc(r, 2)
        self.assertIn("redis://:***@127.0.0.1:1/0", r.stdout)
        self.assertIn("REDIS_URL", r.stderr)
        for secret in SECRETS:
            self.assertNotIn(secret, r.stdout + r.stderr)

    def test_files_that_cannot_be_read_exit_2(self):
        for setting in ("DOWNLOAD_CA_BUNDLE", "DOWNLOAD_COOKIES"):
            missing = self.work / "no-such.file"
            r = self.check(env={setting: str(missing)})
            self.assertRc(r, 2)
            self.assertEqual(r.stderr, f"dlhost: {setting}: cannot read {missing}: "
                                       "No such file or directory (from environment)\n")
            r = self.check(env={setting: str(self.work)})
            self.assertRc(r, 2)
            self.assertIn(f"{setting}: cannot read {self.work}: not a regular file", r.stderr)
        present = self.work / "cookies.txt"
        present.write_text("# Netscape HTTP Cookie File\n")
        r = self.check(env={"DOWNLOAD_COOKIES": str(present)})
        self.assertRc(r, 0)

    def test_legacy_with_several_proxies_is_warned_about(self):
        env = {"PROXY_LIST": json.dumps([{"ip": "127.0.0.1", "port": 3128},
                                         {"ip": "127.0.0.1", "port": 3129}])}
        r = self.check("--plugin", "legacy", env=env)
        self.assertRc(r, 0)
        self.assertIn("warning: legacy uses only the first of the 2 proxies in PROXY_LIST",
                      r.stdout)
        r = self.check("--plugin", "multi-proxy", env=env)
        self.assertRc(r, 0)
        self.assertNotIn("warning", r.stdout)

    def test_invalid_settings_exit_2(self):
        r = self.check(env={"PROXY_STRATEGY": "fastest"})
        self.assertRc(r, 2)
        self.assertIn("PROXY_STRATEGY: expected one of", r.stderr)
        r = self.check("--plugin", "no-such-plugin")
        self.assertRc(r, 2)
        self.assertIn("no-such-plugin", r.stderr)


class Help(unittest.TestCase):

    def test_every_command_documents_options_and_settings(self):
        from dlfix import require_dlhost
        require_dlhost()
        import re
        settings = None
        for cmd, options in {"run": ["--plugin", "--out", "--env-file", "--stats-json",
                                     "--progress", "--verbose", "--status"],
                             "work": ["--job", "--status", "--progress"],
                             "enqueue": ["--job", "--env-file"],
                             "compare": ["--a", "--b", "--out", "--progress"],
                             "check-config": ["--plugin", "--env-file"]}.items():
            r = run_dlhost([cmd, "--help"])
            self.assertEqual(r.rc, 0, r)
            for opt in options:
                self.assertRegex(r.stdout, rf"{re.escape(opt)}\b.*\S", f"{cmd} {opt}")
            names = re.findall(r"^  ([A-Z_]{6,}) +default ", r.stdout, re.M)
            self.assertIn("PROXY_LIST", names, cmd)
            self.assertIn("DOWNLOAD_INTERRUPT_GRACE", names, cmd)
            settings = settings or names
            self.assertEqual(names, settings, "the same table everywhere")
            self.assertIn("130 interrupted", r.stdout)
        r = run_dlhost(["plugins", "--help"])
        self.assertEqual(r.rc, 0)


if __name__ == "__main__":
    unittest.main()
