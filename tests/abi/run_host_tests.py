#!/usr/bin/env python3
"""End-to-end tests of the dlhost binary against test plugins (no network).

usage: run_host_tests.py DLHOST PLUGIN_DIR refuse KIND
       run_host_tests.py DLHOST PLUGIN_DIR e2e CASE

`refuse` runs `dlhost run --plugin <broken plugin>` and checks exit status 2
and a single stderr line naming the file. `e2e` runs one engine scenario with
the well-behaved test plugin (tests/abi/test_plugin.cpp); with
DLHOST_TEST_PLUGIN_FILE=test-plugin-1.0.so in the environment it runs it with
that plugin built against the frozen ABI 1.0 header instead.
"""
import json
import shutil
import os
import signal
import subprocess
import sys
import tempfile
import time

DLHOST, PLUGIN_DIR = sys.argv[1], sys.argv[2]
TEST_PLUGIN = os.path.join(PLUGIN_DIR, os.environ.get("DLHOST_TEST_PLUGIN_FILE", "test-plugin.so"))
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not (k.startswith("PROXY_") or k.startswith("DOWNLOAD") or k == "REDIS_URL")}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run(args, cwd, env_extra=None, stdin=None):
    env = dict(CLEAN_ENV, **(env_extra or {}))
    p = subprocess.run([DLHOST] + args, cwd=cwd, env=env, input=stdin, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def run_job(tmp, manifest_text, extra=None, env_extra=None, name="jobs.jsonl"):
    write(os.path.join(tmp, name), manifest_text)
    stats = os.path.join(tmp, "stats.json")
    if os.path.exists(stats):
        os.remove(stats)
    args = ["run", "--plugin", TEST_PLUGIN, "--out", "out", "--progress", "none",
            "--stats-json", stats] + (extra or []) + [name]
    rc, out, err = run(args, tmp, env_extra)
    doc = json.loads(read(stats)) if os.path.exists(stats) else None
    return rc, err, doc


def refuse(kind, tmp):
    write(os.path.join(tmp, "m.txt"), "https://example.invalid/a.bin\n")
    path = os.path.join(PLUGIN_DIR, "does-not-exist.so" if kind == "missing-file"
                        else "broken-%s.so" % kind)
    rc, out, err = run(["run", "--plugin", path, "--out", "out", "m.txt"], tmp)
    lines = err.rstrip("\n").split("\n")
    check(rc == 2, "exit status %d, expected 2; stderr: %r" % (rc, err))
    check(len(lines) == 1, "expected one stderr line, got %r" % err)
    check(path in lines[0], "stderr does not name %s: %r" % (path, err))
    expected = {"wrong-major": ["speaks ABI 2.0, this host speaks 1.2"], "no-entry": ["dlhost_plugin_entry"],
                "small-struct": ["16 bytes"], "null-function": ["submit"],
                "null-entry": ["no descriptor"], "missing-file": ["no such file"]}[kind]
    for word in expected:
        check(word in lines[0], "stderr lacks %r: %r" % (word, err))
    check(not os.path.exists(os.path.join(tmp, "out", "a.bin")), "something was downloaded")
    print(lines[0])


URLS = ("https://h.test/a.bin\n"
        "# a comment\n\n"
        '{"url": "https://h.test/b.bin?x=1", "path": "sub/dir/b.bin", "group": "post1"}\n'
        '{"url": "https://h.test/c%20d.bin"}\n')


def e2e_all_ok(tmp):
    rc, err, doc = run_job(tmp, URLS)
    check(rc == 0, "rc %d: %s" % (rc, err))
    check(read(os.path.join(tmp, "out/a.bin")) == "https://h.test/a.bin", "a.bin content")
    check(os.path.exists(os.path.join(tmp, "out/sub/dir/b.bin")), "nested path")
    check(os.path.exists(os.path.join(tmp, "out/c d.bin")), "percent-decoded default path")
    check(doc["files"] == {"total": 3, "completed": 3, "skipped": 0, "failed": 0, "deferred": 0,
                           "cancelled": 0}, doc["files"])


def e2e_some_failed(tmp):
    rc, err, doc = run_job(tmp, URLS + "https://h.test/fail.bin\n")
    check(rc == 1, "rc %d" % rc)
    check("failed: fail.bin: HTTP 404 Not Found\n" in err, err)
    check(err.rstrip("\n").split("\n")[-1].startswith("dlhost: 4 files: 3 completed"), err)
    check(doc["files"]["failed"] == 1 and doc["files"]["completed"] == 3, doc["files"])


def e2e_rerun_skips(tmp):
    rc, err, doc = run_job(tmp, URLS)
    check(rc == 0 and doc["submits"] == 3, (rc, err, doc))
    rc, err, doc = run_job(tmp, URLS)
    check(rc == 0, "rerun rc %d" % rc)
    check(doc["submits"] == 0, "rerun submitted %d" % doc["submits"])
    check(doc["files"] == {"total": 3, "completed": 0, "skipped": 3, "failed": 0, "deferred": 0,
                           "cancelled": 0}, doc["files"])
    # A file of the wrong size is downloaded again.
    write(os.path.join(tmp, "out/x.bin"), "short")
    rc, err, doc = run_job(tmp, '{"url":"https://h.test/x.bin","size":20}\n')
    check(rc == 0 and doc["submits"] == 1, (rc, err, doc))


def e2e_stats_json(tmp):
    rc, err, doc = run_job(tmp, URLS)
    for key in ("plugin", "elapsed_s", "files", "bytes", "proxies"):
        check(key in doc, "stats lacks %s" % key)
    check(doc["plugin"] == "test", doc["plugin"])
    check(doc["bytes"] == sum(len(u) for u in ["https://h.test/a.bin", "https://h.test/b.bin?x=1",
                                               "https://h.test/c%20d.bin"]), doc["bytes"])
    p = doc["proxies"][0]
    for key in ("id", "state", "completed", "failed", "retries", "rate_limited", "bytes",
                "latency_ms"):
        check(key in p, "proxy lacks %s" % key)
    check(not [f for f in os.listdir(tmp) if ".tmp" in f], "temp file left behind")


def e2e_path_refused(tmp):
    for bad, msg in [("../evil", '"path" must not contain "..": ../evil'),
                     ("/etc/passwd", '"path" must be relative: /etc/passwd'),
                     ("a//b", '"path" has an empty component: a//b')]:
        manifest = 'https://h.test/first.bin\n{"url":"https://h.test/x","path":"%s"}\n' % bad
        rc, err, doc = run_job(tmp, manifest)
        check(rc == 2, "rc %d for %s" % (rc, bad))
        check(err == "dlhost: jobs.jsonl:2: %s\n" % msg, repr(err))
        check(not os.path.exists(os.path.join(tmp, "out/first.bin")), "downloaded before refusing")
    rc, err, doc = run_job(tmp, '{"url":"https://h.test/x","sha256":"abc"}\n')
    check(rc == 2 and '"sha256" must be 64 hex digits' in err, err)
    rc, err, doc = run_job(tmp, '{"url":"https://h.test/x","size":-1}\n')
    check(rc == 2 and '"size" must not be negative' in err, err)


def e2e_duplicates(tmp):
    # The same path and URL twice: one file, the repeat counted and ignored.
    manifest = ("https://h.test/d.bin\n"
                '{"url":"https://h.test/d.bin","path":"d.bin"}\n'
                "https://h.test/e.bin\n")
    rc, err, doc = run_job(tmp, manifest)
    check(rc == 0 and doc["submits"] == 2, (rc, err, doc))
    check(doc["files"]["total"] == 2, doc["files"])
    check("1 duplicate lines ignored" in err, err)
    # The same path for another URL: a manifest error naming both lines, nothing fetched.
    shutil.rmtree(os.path.join(tmp, "out"))
    rc, err, doc = run_job(tmp, "https://h.test/d.bin\nhttps://other.test/d.bin\n")
    check(rc == 2 and doc is None, (rc, err))
    check("jobs.jsonl:2:" in err and "line 1" in err, err)
    check(not os.path.exists(os.path.join(tmp, "out", "d.bin")), "downloaded before refusing")


def e2e_skip_cache(tmp):
    rc, err, doc = run_job(tmp, "https://h.test/timeout.bin\n")
    check(rc == 1 and doc["files"]["failed"] == 1, (rc, err))
    check(os.path.exists(os.path.join(tmp, "out/.dlhost/skip-cache")), "skip cache not persisted")
    rc, err, doc = run_job(tmp, "https://h.test/timeout.bin\n", extra=["-v"])
    check(rc == 1 and doc["submits"] == 0 and doc["files"]["deferred"] == 1, (rc, err, doc))
    check("skip cache" in err, err)
    rc, err, doc = run_job(tmp, "https://h.test/timeout.bin\n",
                           env_extra={"PROXY_SKIP_CACHE_TTL": "0"})
    check(doc["submits"] == 1, "TTL 0 still skipped? %r" % doc)


def e2e_stdin_manifest(tmp):
    stats = os.path.join(tmp, "s.json")
    rc, out, err = run(["run", "--plugin", TEST_PLUGIN, "--out", "out", "--progress", "none",
                        "--stats-json", stats, "-"], tmp, stdin=URLS)
    check(rc == 0, (rc, err))
    check(json.loads(read(stats))["files"]["completed"] == 3, read(stats))
    rc, out, err = run(["run", "--plugin", TEST_PLUGIN, "--out", "out", "-"], tmp,
                       stdin="https://h.test/ok\nnot a url\n")
    check(rc == 2 and err == "dlhost: <stdin>:2: not a URL or JSON object: not a url\n", err)


def e2e_plugin_throws(tmp):
    rc, err, doc = run_job(tmp, "https://h.test/throw-submit.bin\nhttps://h.test/fine.bin\n")
    check(rc == 1, (rc, err))
    check("throw-submit.bin: rejected by the plugin: internal error" in err, err)
    check(os.path.exists(os.path.join(tmp, "out/fine.bin")), "later file not downloaded")


def e2e_unknown_status(tmp):
    # A status code no host knows is a rejected task with a readable reason.
    rc, err, doc = run_job(tmp, "https://h.test/status-999.bin\nhttps://h.test/fine.bin\n")
    check(rc == 1, (rc, err))
    check("status-999.bin: rejected by the plugin: unknown status 999" in err, err)
    check(os.path.exists(os.path.join(tmp, "out/fine.bin")), "later file not downloaded")


def e2e_throwing_wait_and_stats(tmp):
    # wait() and stats() throw: the job still ends (the host counts terminal
    # events itself), the files are there, and the stats say what failed.
    rc, err, doc = run_job(tmp, "https://h.test/throw-wait.bin\nhttps://h.test/two.bin\n")
    check(rc == 0, (rc, err))
    check(os.path.exists(os.path.join(tmp, "out/two.bin")), "file not downloaded")
    check("internal error" in doc.get("plugin_stats_error", ""), doc)
    check(doc["files"]["completed"] == 2, doc)


def e2e_bad_stats(tmp):
    rc, err, doc = run_job(tmp, "https://h.test/badstats.bin\n")
    check(rc == 0, (rc, err))
    check("plugin_stats_error" in doc and doc["proxies"] == [], doc)
    check(doc["files"]["completed"] == 1, doc)


def e2e_interrupt(tmp):
    write(os.path.join(tmp, "m.txt"), "".join("https://h.test/slow%d.bin\n" % i for i in range(4)))
    stats = os.path.join(tmp, "s.json")
    # No grace after the signal: the transfers are cancelled mid-file (the
    # grace is tested in tests/integration/test_interrupt.py).
    env = dict(CLEAN_ENV, DOWNLOAD_INTERRUPT_GRACE="0")
    p = subprocess.Popen([DLHOST, "run", "--plugin", TEST_PLUGIN, "--out", "out", "--progress",
                          "plain", "--stats-json", stats, "m.txt"], cwd=tmp, env=env,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=20)[1]
    check(p.returncode == 130, "rc %d: %s" % (p.returncode, err))
    check(os.path.exists(os.path.join(tmp, "out/slow0.bin.part")), ".part not kept")
    check(not os.path.exists(os.path.join(tmp, "out/slow0.bin")), "file finished anyway")
    check(json.loads(read(stats))["interrupted"] is True, read(stats))
    check("\r" not in err, "plain progress wrote a carriage return")


def e2e_settings_precedence(tmp):
    write(os.path.join(tmp, ".env"), "# settings\nDOWNLOAD_USER_AGENT='from .env'\n"
          "PROXY_MAX_RETRIES=5\nPROXY_POST_LIMIT=9 # comment\nDOWNLOAD_DIR=envfile-dir\n")
    rc, err, doc = run_job(tmp, "https://h.test/a\n", env_extra={"PROXY_MAX_RETRIES": "7"})
    check(rc == 0, (rc, err))
    cfg = doc["config"]
    check(cfg["DOWNLOAD_USER_AGENT"] == "from .env", cfg)
    check(cfg["PROXY_MAX_RETRIES"] == 7 and cfg["PROXY_POST_LIMIT"] == 9, cfg)
    check(cfg["PROXY_RETRY_BACKOFF"] == 2 and cfg["DOWNLOAD_FSYNC"] == 0, cfg)
    # The plugin gets the output directory the job writes into (--out wins), absolute.
    check(cfg["DOWNLOAD_DIR"] == os.path.join(os.path.realpath(tmp), "out") or
          cfg["DOWNLOAD_DIR"] == os.path.join(tmp, "out"), cfg)
    check("DOWNLOADER_PLUGIN" not in cfg, cfg)
    check(os.path.exists(os.path.join(tmp, "out/a")), "--out did not win over .env")
    write(os.path.join(tmp, "other.env"), "DOWNLOAD_USER_AGENT=other\n")
    rc, err, doc = run_job(tmp, "https://h.test/b\n", extra=["--env-file", "other.env"])
    check(doc["config"]["DOWNLOAD_USER_AGENT"] == "other", doc["config"])
    check(doc["config"]["PROXY_MAX_RETRIES"] == 3, "--env-file must replace ./.env")
    rc, err, doc = run_job(tmp, "https://h.test/c\n", env_extra={"PROXY_POST_LIMIT": "abc"})
    check(rc == 2 and err.count("\n") == 1 and err.startswith("dlhost: PROXY_POST_LIMIT:"), err)
    os.remove(os.path.join(tmp, ".env"))
    rc, err, doc = run_job(tmp, "https://h.test/d\n")
    check(doc["config"]["DOWNLOAD_USER_AGENT"].startswith("dlhost/"), doc["config"])
    rc, err, doc = run_job(tmp, "https://h.test/e\n", extra=["--env-file", "missing.env"])
    check(rc == 2 and "missing.env" in err, err)


def e2e_usage_errors(tmp):
    for args in ([], ["run"], ["run", "--progress", "fancy", "m"], ["run", "--bogus", "m"],
                 ["frobnicate"]):
        rc, out, err = run(args, tmp)
        check(rc == 2, "%r exited %d" % (args, rc))
    rc, out, err = run(["run", "--plugin", TEST_PLUGIN, "nope.jsonl"], tmp)
    check(rc == 2 and "nope.jsonl" in err, err)
    rc, out, err = run(["plugins"], tmp)
    check(rc == 0 and out.startswith("NAME") and "legacy" in out and "searched:" in out, out)
    rc, out, err = run(["--version"], tmp)
    check(rc == 0 and out.startswith("dlhost "), out)
    rc, out, err = run(["run", "--help"], tmp)
    check(rc == 0 and "--stats-json" in out and "--progress" in out, out)
    with open(os.path.join(tmp, "one.txt"), "w") as f:
        f.write("https://h.test/one.bin\n")
    rc, out, err = run(["run", "--plugin", TEST_PLUGIN, "one.txt"], tmp,
                       env_extra={"REDIS_URL": "redis://u:pw@127.0.0.1:1"})
    check(rc == 2 and "REDIS_URL redis://u:***@127.0.0.1:1" in err and "pw@" not in err, err)


def e2e_backpressure(tmp):
    n = 40
    manifest = "".join('{"url":"https://h.test/f%d","path":"g%d/f%d","group":"g%d"}\n'
                       % (i, i % 3, i, i % 3) for i in range(n))
    rc, err, doc = run_job(tmp, manifest)
    check(rc == 0 and doc["submits"] == n and doc["files"]["completed"] == n, (rc, err, doc))


def main():
    mode, name = sys.argv[3], sys.argv[4]
    with tempfile.TemporaryDirectory(prefix="dlhost-abi-") as tmp:
        if mode == "refuse":
            refuse(name, tmp)
        else:
            globals()["e2e_" + name](tmp)
    print("ok")


if __name__ == "__main__":
    main()
