"""Redis coordination with real processes: a real redis-server, a real nginx
origin whose access log judges duplicates, and several dlhost hosts sharing
one job.

Transfers are slowed with nginx's limit_rate so that hosts really overlap,
and a host can be killed while it holds leases.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import unittest
from pathlib import Path

import dlfix
from dlfix.dlhost import clean_env, require_dlhost

# nginx lets the first second of a response through at full speed, so a 64 KiB
# file at 32 KiB/s takes about a second.
SLOW = "limit_rate 32k;"


class RedisTestBase(dlfix.DlhostTestCase):
    """An nginx origin with slow responses and a redis-server, per test."""

    plugin = "multi-proxy"

    def setUp(self):
        super().setUp()
        self.data = self.work / "data"
        self.nginx = dlfix.Nginx(self.data, extra_http=SLOW).start()
        self.addCleanup(self.nginx.stop)
        self.redis = dlfix.Redis().start()
        self.addCleanup(self.redis.stop)

    def files(self, n, size=64 * 1024):
        return dlfix.make_files(self.data, n, size, per_group=4, base_url=self.nginx.base_url)

    def env(self, **extra):
        return {"REDIS_URL": self.redis.url, "PROXY_RETRY_BASE_DELAY": 50, **extra}

    def start_host(self, manifest, out, stats, env):
        """A dlhost process running in the background."""
        args = [str(require_dlhost()), "run", "--out", str(out), "--progress", "none",
                "--stats-json", str(stats), str(manifest)]
        return subprocess.Popen(args, env=clean_env(env), cwd=self.work,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, proc, timeout=180):
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, err

    def fetches(self):
        return self.nginx.fetches()

    def wait_for_requests(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.nginx.records(settle=0)) >= n:
                return
            time.sleep(0.05)
        self.fail(f"the origin never saw {n} requests")

    def verified_union(self, entries, outs):
        """Every entry is verified in at least one of the output dirs."""
        for e in entries:
            homes = [o for o in outs if (Path(o) / e["path"]).is_file()]
            self.assertTrue(homes, f"{e['path']} is in no output directory")
            for o in homes:
                self.assertVerified([e], out=o)



class RedisJobTest(RedisTestBase):
    """dlhost run with REDIS_URL: hosts sharing one job."""

    def test_two_hosts_split_one_job_without_duplicates(self):
        entries = self.files(96)
        manifest = self.manifest(entries)
        outs = [self.work / "out-a", self.work / "out-b"]
        stats = [self.work / "a.json", self.work / "b.json"]
        procs = [self.start_host(manifest, o, s, self.env()) for o, s in zip(outs, stats)]
        results = [self.finish(p) for p in procs]
        for rc, err in results:
            self.assertEqual(rc, 0, err)

        fetched = self.fetches()
        self.assertEqual(len(fetched), len(entries))
        self.assertEqual(max(fetched.values()), 1, "a file was downloaded twice")
        self.verified_union(entries, outs)

        docs = [self.load_json(s) for s in stats]
        shares = [d["files"]["completed"] for d in docs]
        self.assertEqual(sum(shares), len(entries))
        self.assertTrue(all(n > 0 for n in shares), f"one host did all the work: {shares}")
        # each host can also report the whole job
        for d in docs:
            self.assertEqual(d["job"]["completed"], len(entries))
        # the host that read last saw every host's bytes (each flushes its
        # counters before it reads)
        self.assertEqual(max(d["job"]["bytes"] for d in docs), sum(d["bytes"] for d in docs))

        # a rerun, by either host, downloads nothing
        mark = self.nginx.mark()
        for o in outs:
            r = self.run_job(manifest, env=self.env(), out=o)
            self.assertRc(r, 0)
        self.assertEqual(self.nginx.records_since(mark), [])

    def test_three_hosts_one_output_directory(self):
        entries = self.files(60)
        manifest = self.manifest(entries)
        procs = [self.start_host(manifest, self.out, self.work / f"{i}.json", self.env())
                 for i in range(3)]
        for p in procs:
            rc, err = self.finish(p)
            self.assertEqual(rc, 0, err)
        fetched = self.fetches()
        self.assertEqual(max(fetched.values()), 1, "a file was downloaded twice")
        self.assertEqual(len(fetched), len(entries))
        self.assertVerified(entries)
        self.assertEqual(self.part_files(), [])

    def test_killed_host_leases_expire_and_another_host_takes_over(self):
        entries = self.files(60)
        manifest = self.manifest(entries)
        env = self.env(DOWNLOAD_LEASE_TTL=2000)
        victim = self.start_host(manifest, self.out, self.work / "v.json", env)
        self.wait_for_requests(4)
        survivor = self.start_host(manifest, self.out, self.work / "s.json", env)
        time.sleep(0.5)
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
        rc, err = self.finish(survivor)
        self.assertEqual(rc, 0, err)
        # everything is there and verified, nothing half-written left behind
        self.assertVerified(entries)
        self.assertEqual(self.part_files(), [])
        # nothing was downloaded twice except what the victim had in flight
        # when it died (its transfers were cut, so the survivor fetched them
        # again once their leases expired)
        fetched = self.fetches()
        self.assertEqual(len(fetched), len(entries))
        twice = [u for u, n in fetched.items() if n > 1]
        self.assertLessEqual(len(twice), 8, twice)  # at most the victim's in-flight files
        # a rerun makes no request
        mark = self.nginx.mark()
        r = self.run_job(manifest, env=env)
        self.assertRc(r, 0)
        self.assertEqual(self.nginx.records_since(mark), [])

    def test_a_lease_without_a_ttl_expires_and_the_wait_is_named(self):
        # A lease key left with no TTL (by another client, an old version or
        # by hand) used to hold its file forever: the job waited at 5/6.
        entries = self.files(6, size=4096)
        manifest = self.manifest(entries)
        stuck = entries[2]["path"]
        self.redis.command_line("SET", "dlhost:{ttl-job}:lease:" + stuck, "someone-else")
        start = time.monotonic()
        r = self.run_job(manifest, "-v", timeout=60,
                         env=self.env(DOWNLOAD_JOB="ttl-job", DOWNLOAD_LEASE_TTL=1500))
        self.assertRc(r, 0)
        self.assertLess(time.monotonic() - start, 30)
        self.assertVerified(entries)
        self.assertIn(f"waiting for 1 file other workers hold: {stuck}", r.stderr)

    def test_redis_unreachable_at_start_is_a_configuration_error(self):
        entries = self.files(3)
        manifest = self.manifest(entries)
        port = dlfix.free_port()
        r = self.run_job(manifest, env={"REDIS_URL": f"redis://dl:s3cr3t-pw@127.0.0.1:{port}/0"})
        self.assertRc(r, 2)
        self.assertIn("REDIS_URL", r.stderr)
        self.assertIn(f"127.0.0.1:{port}", r.stderr)
        self.assertNotIn("s3cr3t-pw", r.stderr + r.stdout)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertEqual(self.nginx.records(), [])

    def test_bad_redis_url_names_the_setting(self):
        manifest = self.manifest(self.files(1))
        r = self.run_job(manifest, env={"REDIS_URL": "http://pw@nowhere"})
        self.assertRc(r, 2)
        self.assertIn("REDIS_URL", r.stderr)
        self.assertNotIn("pw@", r.stderr)

    def test_redis_lost_mid_run_stops_cleanly_and_a_rerun_completes(self):
        entries = self.files(80)
        manifest = self.manifest(entries)
        host = self.start_host(manifest, self.out, self.work / "h.json", self.env())
        self.wait_for_requests(6)
        port = self.redis.port
        self.redis.stop()
        rc, err = self.finish(host)
        self.assertEqual(rc, 1, err)
        self.assertIn("REDIS_URL", err)
        self.assertIn("coordination lost", err)
        # whatever is at a destination is complete and verified
        present = [e for e in entries if (self.out / e["path"]).is_file()]
        self.assertLess(len(present), len(entries))
        self.assertVerified(present)
        # Redis back (same port, empty): the rerun completes the job
        self.redis = dlfix.Redis(port=port).start()
        self.addCleanup(self.redis.stop)
        r = self.run_job(manifest, env=self.env())
        self.assertRc(r, 0)
        self.assertVerified(entries)
        self.assertEqual(self.part_files(), [])

    def test_unix_socket_with_a_password(self):
        """REDIS_URL=unix://:PASS@/path.sock against a redis-server that wants AUTH."""
        sock = self.work / "redis.sock"
        rdir = self.work / "redis-unix"
        rdir.mkdir()
        proc = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", "0", "--unixsocket", str(sock),
             "--requirepass", "pa55-word", "--save", "", "--appendonly", "no",
             "--dir", str(rdir), "--logfile", str(rdir / "redis.log")])
        self.addCleanup(lambda: (proc.terminate(), proc.wait()))
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        entries = self.files(6)
        manifest = self.manifest(entries)
        r = self.run_job(manifest, env={"REDIS_URL": f"unix://:pa55-word@{sock}"})
        self.assertRc(r, 0)
        self.assertVerified(entries)
        # the wrong password: a configuration error, with the password hidden
        r = self.run_job(manifest, env={"REDIS_URL": f"unix://:wrong-pw@{sock}"},
                         out=self.work / "other")
        self.assertRc(r, 2)
        self.assertIn("REDIS_URL unix://:***@", r.stderr)
        self.assertIn("authentication failed", r.stderr)
        self.assertNotIn("wrong-pw", r.stderr)

    def test_jobs_are_namespaced(self):
        entries = self.files(8)
        manifest = self.manifest(entries)
        r = self.run_job(manifest, env=self.env(DOWNLOAD_JOB="alpha"))
        self.assertRc(r, 0)
        keys = self.redis.command_line("KEYS", "*").decode(errors="replace")
        self.assertIn("dlhost:{alpha}:done", keys)
        # the same files under another job name are that job's own business:
        # its records say nothing is done, but the files on disk are skipped
        r = self.run_job(manifest, env=self.env(DOWNLOAD_JOB="beta"), out=self.work / "other")
        self.assertRc(r, 0)
        self.assertVerified(entries, out=self.work / "other")

    def test_skip_cache_is_shared_through_redis(self):
        # A URL that timed out on one host is deferred on every host of the
        # job (no request) until PROXY_SKIP_CACHE_TTL runs out.
        from dlfix.fault import FaultServer
        fs = FaultServer().start()
        self.addCleanup(fs.stop)
        name = "stall-shared.bin"
        stall = {"url": fs.url(f"stall/200000/{name}?after=1000"), "path": name,
                 **dlfix.expected(name, 200000)}
        good = self.files(2)
        manifest = self.manifest([stall, *good])
        env = self.env(PROXY_DOWNLOAD_TIMEOUT=1500, PROXY_SKIP_CACHE_TTL=3600,
                       PROXY_MAX_RETRIES=0, PROXY_STALL_TIMEOUT=600000)
        r = self.run_job(manifest, env=env, out=self.work / "out-a")
        self.assertRc(r, 1)
        asked = len(fs.requests_for(name))
        self.assertGreaterEqual(asked, 1)
        self.assertVerified(good, out=self.work / "out-a")

        r = self.run_job(manifest, env=env, out=self.work / "out-b")
        self.assertEqual(len(fs.requests_for(name)), asked,
                         "another host of the job asked the origin for a URL in the skip cache")
        self.assertRc(r, 1)
        self.assertIn("deferred", r.stderr)
        self.assertAbsent(self.work / "out-b" / name)
        # the good files are recorded complete: the second host skips them too
        self.assertFalse((self.work / "out-b" / good[0]["path"]).exists())


class WorkerModeTest(RedisTestBase):
    """dlhost enqueue + dlhost work: a job on a Redis Stream."""

    def enqueue(self, manifest, **env):
        return dlfix.run_dlhost(["enqueue", manifest], env=self.env(**env), cwd=self.work)

    def start_worker(self, out, stats, **env):
        args = [str(require_dlhost()), "work", "--out", str(out), "--progress", "none",
                "--stats-json", str(stats)]
        return subprocess.Popen(args, env=clean_env(self.env(**env)), cwd=self.work,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_workers_share_an_enqueued_job(self):
        entries = self.files(72)
        manifest = self.manifest(entries)
        r = self.enqueue(manifest, DOWNLOAD_JOB="wjob")
        self.assertRc(r, 0)
        self.assertIn("job wjob: enqueued 72 files", r.stdout)
        stats = [self.work / f"w{i}.json" for i in range(3)]
        workers = [self.start_worker(self.out, s, DOWNLOAD_JOB="wjob") for s in stats]
        for w in workers:
            rc, err = self.finish(w)
            self.assertEqual(rc, 0, err)
        fetched = self.fetches()
        self.assertEqual(len(fetched), len(entries))
        self.assertEqual(max(fetched.values()), 1, "a file was downloaded twice")
        self.assertVerified(entries)
        shares = [self.load_json(s)["files"]["completed"] for s in stats]
        self.assertEqual(sum(shares), len(entries))
        self.assertGreater(sorted(shares)[-2], 0, f"only one worker got work: {shares}")
        # every entry was acknowledged: nothing pending in the group
        pending = self.redis.command_line("XPENDING", "dlhost:{wjob}:queue", "workers")
        self.assertTrue(pending.startswith(b"*4\r\n:0\r\n"), pending)
        # enqueueing again adds nothing; a worker then finds nothing to do
        r = self.enqueue(manifest, DOWNLOAD_JOB="wjob")
        self.assertRc(r, 0)
        self.assertIn("already enqueued (72 files)", r.stdout)
        mark = self.nginx.mark()
        w = self.start_worker(self.out, self.work / "again.json", DOWNLOAD_JOB="wjob")
        rc, err = self.finish(w)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.nginx.records_since(mark), [])

    def test_a_dead_workers_entries_are_claimed(self):
        entries = self.files(48)
        manifest = self.manifest(entries)
        self.assertRc(self.enqueue(manifest, DOWNLOAD_JOB="claim"), 0)
        env = {"DOWNLOAD_JOB": "claim", "DOWNLOAD_LEASE_TTL": 1500}
        victim = self.start_worker(self.out, self.work / "v.json", **env)
        self.wait_for_requests(4)
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
        survivor = self.start_worker(self.out, self.work / "s.json", **env)
        rc, err = self.finish(survivor)
        self.assertEqual(rc, 0, err)
        self.assertVerified(entries)
        self.assertEqual(self.part_files(), [])
        self.assertEqual(len(self.fetches()), len(entries))

    def test_work_needs_an_enqueued_job(self):
        r = dlfix.run_dlhost(["work", "--out", self.out], env=self.env(DOWNLOAD_JOB="nope"),
                             cwd=self.work)
        self.assertRc(r, 2)
        self.assertIn("DOWNLOAD_JOB: job nope has no queue", r.stderr)
        r = dlfix.run_dlhost(["work", "--out", self.out], env={"DOWNLOAD_JOB": "x"},
                             cwd=self.work)
        self.assertRc(r, 2)
        self.assertIn("REDIS_URL", r.stderr)

    def test_enqueue_refuses_a_bad_manifest(self):
        manifest = self.manifest([{"url": self.nginx.url("a.bin"), "path": "../a.bin"}])
        r = self.enqueue(manifest, DOWNLOAD_JOB="bad")
        self.assertRc(r, 2)
        self.assertIn(":1:", r.stderr)
        self.assertNotIn(b"bad", self.redis.command_line("KEYS", "*"))


if __name__ == "__main__":
    unittest.main()
