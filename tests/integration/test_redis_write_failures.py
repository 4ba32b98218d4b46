"""Redis refusing writes mid-run loses no record (issue 10, point 10).

A real redis-server (with a password) is made to refuse writes while a job
runs against a slow nginx origin: full under maxmemory with noeviction
(OOM), turned into a replica (READONLY), or unable to save its snapshot
(MISCONF). The host must stop taking new files and exit 1 naming the cause
without the password. No lease of a file is released unless its completion
record is in Redis. Once Redis takes writes again, a rerun records every
file it finds complete on disk and downloads only the rest, so the job's
`done` hash counts every file.
"""
from __future__ import annotations

import collections
import shutil
import socket
import subprocess
import time

import dlfix
from dlfix.dlhost import clean_env, require_dlhost

PASSWORD = "wr1te-fail-s3cret"
JOB = "writefail"
DONE = f"dlhost:{{{JOB}}}:done"
FILES = 96
SIZE = 40 * 1024


class RedisWithPassword(dlfix.Redis):
    def command(self):
        return super().command() + ["--requirepass", PASSWORD]

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@{self.host}:{self.port}/0"

    def call(self, *args):
        """AUTH, then one command; its reply (bytes, int, list, str, or an
        Exception for an error reply)."""
        def encode(items):
            out = b"*%d\r\n" % len(items)
            for a in items:
                b = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(b), b)
            return out

        with socket.create_connection((self.host, self.port), timeout=10) as s:
            s.sendall(encode(["AUTH", PASSWORD]) + encode(list(args)))
            f = s.makefile("rb")
            auth = read_reply(f)
            if isinstance(auth, Exception):
                raise auth
            return read_reply(f)


def read_reply(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise RuntimeError(f"unexpected reply {line!r}")


class RedisWriteFailures(dlfix.DlhostTestCase):
    plugin = "multi-proxy"

    def setUp(self):
        super().setUp()
        self.data = self.work / "data"
        # nginx sends the first 32 KiB at once and the rest when the next
        # second starts: half a second to a second a file, 8 at once
        self.nginx = dlfix.Nginx(self.data, extra_http="limit_rate 32k;").start()
        self.addCleanup(self.nginx.stop)
        self.redis = RedisWithPassword(workdir=self.work / "redis").start()
        self.addCleanup(self.redis.stop)
        self.entries = dlfix.make_files(self.data, FILES, SIZE, per_group=4,
                                        base_url=self.nginx.base_url)
        self.manifest_path = self.manifest(self.entries)

    def env(self, url=None):
        return {"REDIS_URL": url or self.redis.url, "DOWNLOAD_JOB": JOB}

    def records(self) -> set[str]:
        keys = self.redis.call("HKEYS", DONE)
        return {k.decode() for k in keys}

    def lease_held(self, path) -> bool:
        return self.redis.call("EXISTS", f"dlhost:{{{JOB}}}:lease:{path}") == 1

    def on_disk(self) -> set[str]:
        return {e["path"] for e in self.entries if (self.out / e["path"]).is_file()}

    def fetches(self):
        return self.nginx.fetches()

    def run_until_refused(self, refuse, url=None, wait_for_records=12):
        """Starts the job, lets some files be recorded, calls refuse(), and
        returns the job's exit status and stderr."""
        args = [str(require_dlhost()), "run", "--plugin", self.plugin, "--out", str(self.out),
                "--progress", "none", str(self.manifest_path)]
        host = subprocess.Popen(args, env=clean_env(self.env(url)), cwd=self.work,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: host.poll() is None and host.kill())
        deadline = time.monotonic() + 60
        while len(self.records()) < wait_for_records:
            self.assertLess(time.monotonic(), deadline, "no completion was recorded")
            self.assertIsNone(host.poll(), "the job ended before Redis refused writes")
            time.sleep(0.02)
        refuse()
        _, err = host.communicate(timeout=120)
        return host.returncode, err

    def check_stopped_and_repaired(self, rc, err, cause):
        self.assertEqual(rc, 1, err)
        self.assertIn("coordination lost", err)
        self.assertIn(cause, err)
        self.assertIn("Redis refuses writes", err)
        self.assertNotIn(PASSWORD, err)
        self.assertEqual(len([l for l in err.splitlines() if "coordination lost" in l]), 1, err)

        disk, recorded = self.on_disk(), self.records()
        fetched = self.fetches()
        lost = next(l for l in err.splitlines() if "coordination lost" in l)
        print(f"\n{lost}\n{cause}: {len(disk)} files on disk, {len(recorded)} recorded, "
              f"{len(fetched)} of {FILES} requested before the exit", flush=True)
        self.assertLess(len(fetched), FILES, "it stopped taking new files")
        self.assertTrue(recorded <= disk)
        self.assertVerified([e for e in self.entries if e["path"] in disk])
        self.assertTrue(disk - recorded, "files finished after the refusal are on disk, unrecorded")
        self.assertLeasesKept(disk - recorded)
        self.assertRerunRepairs(disk)

    def assertLeasesKept(self, unrecorded):
        """A lease is released only once its file's record is in Redis: the
        unrecorded files' leases are all still there (they expire later)."""
        released = sorted(p for p in unrecorded if not self.lease_held(p))
        self.assertEqual(released, [], "leases released without a completion record")

    def assertRerunRepairs(self, disk):
        mark = self.nginx.mark()
        r = self.run_job(self.manifest_path, env=self.env())
        self.assertRc(r, 0)
        self.assertVerified(self.entries)
        self.assertEqual(self.part_files(), [])
        self.assertEqual(self.redis.call("HLEN", DONE), FILES, "done counts every file")
        again = collections.Counter(r["uri"].lstrip("/") for r in self.nginx.records_since(mark))
        self.assertEqual(set(again), {e["path"] for e in self.entries} - disk,
                         "the rerun fetches only what is not on disk")
        self.assertEqual(max(again.values(), default=1), 1)

        mark = self.nginx.mark()
        r = self.run_job(self.manifest_path, env=self.env())
        self.assertRc(r, 0)
        self.assertEqual(self.nginx.records_since(mark), [])
        self.assertEqual(self.redis.call("HLEN", DONE), FILES)

    def test_a_refused_record_keeps_its_lease(self):
        # Redis refuses only the completion records (an ACL without HSET),
        # so the first refusal is always a batch of records queued in front
        # of the release of their leases: none of those leases may go.
        self.redis.call("ACL", "SETUSER", "writer", "on", ">" + PASSWORD, "~*", "&*", "+@all",
                        "-hset")
        url = f"redis://writer:{PASSWORD}@{self.redis.host}:{self.redis.port}/0"
        rc, err = self.run_until_refused(lambda: None, url=url, wait_for_records=0)
        self.assertEqual(rc, 1, err)
        self.assertIn("NOPERM", err)
        self.assertNotIn(PASSWORD, err)
        self.assertEqual(self.records(), set())
        disk = self.on_disk()
        self.assertTrue(disk, err)
        self.assertLeasesKept(disk)
        self.assertRerunRepairs(disk)

    def test_out_of_memory(self):
        def refuse():
            self.redis.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
            self.redis.call("CONFIG", "SET", "maxmemory", "1")

        rc, err = self.run_until_refused(refuse)
        self.redis.call("CONFIG", "SET", "maxmemory", "0")
        self.check_stopped_and_repaired(rc, err, "OOM")

    def test_read_only_replica(self):
        primary_port = dlfix.free_port()  # nothing listens: the data stays

        def refuse():
            self.assertEqual(self.redis.call("REPLICAOF", "127.0.0.1", primary_port), "OK")

        rc, err = self.run_until_refused(refuse)
        self.redis.call("REPLICAOF", "NO", "ONE")
        self.check_stopped_and_repaired(rc, err, "READONLY")

    def test_snapshot_failure(self):
        # With a save schedule and a failed background save, Redis refuses
        # writes (stop-writes-on-bgsave-error). The save fails because the
        # server's working directory is gone.
        def refuse():
            self.redis.call("CONFIG", "SET", "save", "3600 1")
            shutil.rmtree(self.redis.dir)
            self.redis.call("BGSAVE")
            deadline = time.monotonic() + 10
            while b"rdb_last_bgsave_status:err" not in self.redis.call("INFO", "persistence"):
                self.assertLess(time.monotonic(), deadline, "the snapshot did not fail")
                time.sleep(0.02)

        rc, err = self.run_until_refused(refuse)
        self.redis.call("CONFIG", "SET", "save", "")  # writes are taken again
        self.check_stopped_and_repaired(rc, err, "MISCONF")


if __name__ == "__main__":
    import unittest
    unittest.main()
