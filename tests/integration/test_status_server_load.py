"""dlhost run --status under hostile clients, while a real job runs.

500 connections that never send a byte, a client that drips its request one
byte at a time, and one that sends requests but never reads the answers are
all open at once. /stats must still answer, and when the job is done the
process must exit with all of them still connected. (The old server served
one connection at a time: one slow client kept /stats from answering and
delayed the exit of a finished job by 87 s.)

The times are printed for the record; the only bounds asserted are generous
ones (the machine may be busy, or this may run under a sanitizer).
"""
import json
import re
import socket
import threading
import time
import urllib.request

import dlfix

IDLE_CONNECTIONS = 500
GENEROUS = 10.0  # s; the design target is well under 1 s


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


def fetch_stats(base, timeout=30):
    with urllib.request.urlopen(base + "/stats", timeout=timeout) as r:
        return r.status, json.loads(r.read().decode())


class Dripper(threading.Thread):
    """Sends a request head one byte every 50 ms, forever (a slowloris)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        head = b"GET /stats HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 100000
        for byte in head:
            if self.stop.wait(0.05):
                return
            try:
                self.sock.send(bytes([byte]))
                self.sent += 1
            except OSError:
                return  # the server gave up on us: what it should do, eventually


def never_reading_client(port, requests=200):
    """Pipelines many requests for the page and never reads an answer."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    try:
        s.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * requests)
    except BlockingIOError:
        pass
    return s


def closed_by_peer(sock):
    try:
        return sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False  # still open
    except ConnectionResetError:
        return True


def wait_for_summary(job, timeout, probe):
    """Polls the job's stderr for its summary line. Returns the time it
    appeared, and what probe() said the last time it ran entirely before
    the line was printed (the server stops only after printing it)."""
    deadline = time.monotonic() + timeout
    before = None
    while time.monotonic() < deadline:
        seen = probe()
        text = job._err_path.read_text(errors="replace")
        if re.search(r"^dlhost: \d+ files: ", text, re.M) or not job.running():
            return time.monotonic(), before
        before = seen
        time.sleep(0.01)
    return None, before


class StatusServerUnderLoad(dlfix.FaultOriginTestCase):
    def start_job(self, n=16, delay=0.5):
        entries = [{"url": self.origin.url(f"/slow/40000/g{i % 4}/f{i}.bin?delay={delay}"),
                    "path": f"g{i % 4}/f{i}.bin", "group": f"g{i % 4}"} for i in range(n)]
        port = dlfix.free_port()
        env = {"PROXY_POST_LIMIT": 1, "PROXY_ATTACHMENT_LIMIT": 2}  # about 4 s
        job = self.spawn_job(self.manifest(entries), "--status", f"127.0.0.1:{port}", env=env)
        self.addCleanup(lambda: job.running() and job.proc.kill())
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and job.running():
            try:
                if fetch_stats(base, timeout=5)[1]["files"]["total"] == n:
                    return job, port, base, n  # the manifest is read: the job runs
            except OSError:
                pass
            time.sleep(0.05)
        self.fail(f"the status server never answered\n{job.wait(5)}")

    def test_stats_answers_and_the_job_exits_with_hostile_clients_connected(self):
        job, port, base, n = self.start_job()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE_CONNECTIONS)]
        dripper = Dripper(port)
        dripper.start()
        mute = never_reading_client(port)
        self.addCleanup(lambda: [s.close() for s in idle + [dripper.sock, mute]])
        self.addCleanup(dripper.stop.set)
        time.sleep(0.3)  # let the server see them all

        latencies = []
        for _ in range(5):
            t0 = time.monotonic()
            status, stats = fetch_stats(base, timeout=GENEROUS)
            latencies.append(time.monotonic() - t0)
            self.assertEqual(status, 200)
            self.assertEqual(stats["files"]["total"], n)
            time.sleep(0.1)
        self.assertTrue(job.running(), "the job should outlast the measurement")
        self.assertGreater(dripper.sent, 0)

        def probe():
            return dripper.is_alive(), sum(1 for s in idle if closed_by_peer(s))

        summary_at, seen = wait_for_summary(job, 120, probe)
        self.assertIsNotNone(summary_at, "the job never printed its summary")
        self.assertIsNotNone(seen, "the job ended before the clients could be checked")
        dripping, idle_closed = seen
        r = job.wait(GENEROUS)
        exit_lag = time.monotonic() - summary_at
        self.assertRc(r, 0)
        self.assertTrue(dripping and idle_closed == 0,
                        "the hostile clients were still connected at the end: "
                        f"dripper {'on' if dripping else 'cut off'}, {idle_closed} idle closed")
        time.sleep(0.2)
        self.assertTrue(all(closed_by_peer(s) for s in idle), "the exit closed every connection")
        print(f"\n/stats with {IDLE_CONNECTIONS} idle, 1 dripping, 1 never-reading client: "
              f"max {max(latencies) * 1000:.1f} ms, median "
              f"{sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms; "
              f"exit {exit_lag * 1000:.0f} ms after the summary line", flush=True)
        self.assertLess(exit_lag, GENEROUS)


if __name__ == "__main__":
    import unittest
    unittest.main()
