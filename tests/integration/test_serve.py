"""`dlhost serve`: JSON-RPC at POST /rpc, Server-Sent Events at GET /events.

A real nginx origin; the service runs as a user would start it, and every
check is what a client program sees: RPC answers, the event stream, the files
on disk, the origin's access log, the exit status.
"""
import http.client
import json
import os
import signal
import socket
import threading
import time
import unittest
from collections import Counter

import dlfix
from dlfix import DlhostTestCase

DIRECT = {"isLocalhost": True}


def setUpModule():
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)


class Client:
    """A small JSON-RPC client over one keep-alive connection."""

    def __init__(self, port, token=None):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.next_id = 0

    def post(self, body, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.conn.request("POST", "/rpc", body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read().decode()

    def call(self, method, params=None):
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            req["params"] = params
        status, text = self.post(json.dumps(req))
        if status != 200:
            raise AssertionError(f"{method}: HTTP {status}: {text}")
        return json.loads(text)

    def result(self, method, params=None):
        r = self.call(method, params)
        if "error" in r:
            raise AssertionError(f"{method}: {r['error']}")
        return r["result"]

    def close(self):
        self.conn.close()


class Events:
    """Reads GET /events on a thread; keeps every event (parsed) with its id."""

    def __init__(self, port, query="", token=None):
        self.events = []
        self.cond = threading.Condition()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.sock.sendall(f"GET /events{query} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\ndata: " in buf:
                    start = buf.index(b"\ndata: ") + 7
                    end = buf.find(b"\n", start)
                    if end < 0:
                        break
                    head = buf[:start]
                    seq = None
                    for line in head.split(b"\n"):
                        if line.startswith(b"id: "):
                            seq = int(line[4:])
                    ev = json.loads(buf[start:end])
                    ev["_seq"] = seq
                    buf = buf[end + 1:]
                    with self.cond:
                        self.events.append(ev)
                        self.cond.notify_all()
        except OSError:
            pass

    def wait_for(self, pred, timeout=60):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"events: timed out; have {len(self.events)}")
                self.cond.wait(left)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Serve(DlhostTestCase):
    plugin = "multi-proxy"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = cls.class_tmp / "data"
        cls.data.mkdir()
        cls.nginx = dlfix.Nginx(cls.data, workdir=cls.class_tmp / "nginx").start()
        cls.addClassCleanup(cls.nginx.stop)

    def files(self, n, size, prefix, per_group=0):
        return dlfix.make_files(self.data, n, size, prefix=prefix, per_group=per_group,
                                base_url=self.nginx.base_url, subdir=prefix)

    def serve(self, *extra, env=None, listen=None):
        port = dlfix.free_port()
        args = ["serve", "--plugin", self.plugin, "--out", self.out, "--progress", "none",
                "--listen", listen or f"127.0.0.1:{port}", *extra]
        settings = {"PROXY_LIST": json.dumps([DIRECT])}
        settings.update(env or {})
        job = dlfix.spawn_dlhost(args, env=settings, cwd=self.work)
        self.addCleanup(lambda: job.running() and (job.send_signal(signal.SIGKILL), job.wait(30)))
        if listen is None:
            deadline = time.monotonic() + 30
            while not dlfix.port_answers("127.0.0.1", port):
                if not job.running() or time.monotonic() > deadline:
                    self.fail(f"dlhost serve did not listen\n{job.wait(10)}")
                time.sleep(0.05)
        return job, port

    def stop(self, job, client):
        client.result("shutdownOrchestrator", {"grace_ms": 2000})
        r = job.wait(60)
        self.assertRc(r, 0)
        return r

    # -- the methods -----------------------------------------------------------

    def test_download_file_and_get_file(self):
        job, port = self.serve()
        c = Client(port)
        entries = self.files(3, 4096, "basic")
        ev = Events(port)
        ids = [c.result("downloadFile", {"url": e["url"], "path": e["path"], "sha256": e["sha256"],
                                          "size": e["size"]}) for e in entries]
        self.assertEqual([x["path"] for x in ids], [e["path"] for e in entries])
        ev.wait_for(lambda evs: sum(1 for x in evs if x["type"] == "file.completed") == 3)
        for x in ids:
            f = c.result("getFile", {"id": x["id"]})
            self.assertEqual(f["state"], "completed", f)
            self.assertEqual(f["bytes"], 4096)
        completed = [x for x in ev.events if x["type"] == "file.completed"]
        self.assertEqual(sorted(x["id"] for x in completed), sorted(x["id"] for x in ids),
                         "each event carries the id downloadFile returned")
        seqs = [x["_seq"] for x in ev.events]
        self.assertEqual(seqs, sorted(seqs))
        # The same path and URL again is the same file: its id, no new download.
        again = c.result("downloadFile", {"url": entries[0]["url"], "path": entries[0]["path"]})
        self.assertEqual(again["id"], ids[0]["id"])
        # Another URL for a path that is taken: refused, naming the path.
        r = c.call("downloadFile", {"url": entries[1]["url"], "path": entries[0]["path"]})
        self.assertEqual(r["error"]["code"], -32000)
        self.assertIn(entries[0]["path"], r["error"]["message"])
        stats = c.result("getOrchestratorStats")
        self.assertEqual(stats["files"]["completed"], 3)
        self.assertEqual(c.result("getProxyHealth")["proxies"][0]["id"], "direct")
        self.assertEqual(c.result("getFile", {"id": "999"}) if False else
                         c.call("getFile", {"id": "999"})["error"]["code"], -32002)
        self.stop(job, c)
        ev.close()
        self.assertVerified(entries)
        recs = self.nginx.records()
        served = Counter(x["uri"] for x in recs if x["uri"].startswith("/basic/"))
        self.assertEqual(set(served.values()), {1}, f"each file served once: {served}")

    def test_bad_requests_get_errors_and_disturb_nothing(self):
        job, port = self.serve()
        c = Client(port)
        entries = self.files(40, 2048, "bad", per_group=8)
        ev = Events(port)
        for e in entries[:20]:
            c.result("downloadFile", {"url": e["url"], "path": e["path"]})
        cases = [
            ("not json", -32700, "not JSON"),
            ('{"jsonrpc":"2.0","id":1,"method":"nope"}', -32601, "'nope'"),
            ('{"jsonrpc":"1.0","id":1,"method":"getFile"}', -32600, "jsonrpc"),
            ('{"jsonrpc":"2.0","id":1,"method":"downloadFile","params":{"url":7}}', -32602,
             "params.url"),
            ('{"jsonrpc":"2.0","id":1,"method":"downloadFile","params":{"url":"http://x/a",'
             '"path":"../escape"}}', -32602, "escape"),
            ('{"jsonrpc":"2.0","id":1,"method":"downloadFile","params":{"path":"a"}}', -32602,
             "params.url"),
            ('{"jsonrpc":"2.0","id":1,"method":"downloadFile","params":{"url":"http://x/a",'
             '"size":-4}}', -32602, "params.size"),
            ('[]', -32600, "empty batch"),
        ]
        for body, code, words in cases:
            status, text = c.post(body)
            self.assertEqual(status, 200, body)
            err = json.loads(text)["error"]
            self.assertEqual(err["code"], code, f"{body}: {err}")
            self.assertIn(words, err["message"], body)
        # A chunked body is answered, and the connection is said to close.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/rpc", body=iter([b'{"jsonrpc":"2.0","id":1,',
                                                 b'"method":"listProxies"}']),
                     encode_chunked=True, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read())["result"][0]["id"], "direct")
        self.assertEqual(r.getheader("Connection"), "close")
        conn.close()
        # A notification gets no answer at all.
        status, text = c.post('{"jsonrpc":"2.0","method":"listProxies"}')
        self.assertEqual((status, text), (204, ""))
        # A body over 1 MB is refused before it is parsed.
        big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "downloadFile",
                          "params": {"url": "http://x/" + "a" * (1 << 20)}})
        status, _ = Client(port).post(big)
        self.assertEqual(status, 413)
        for e in entries[20:]:
            c.result("downloadFile", {"url": e["url"], "path": e["path"]})
        ev.wait_for(lambda evs: sum(1 for x in evs if x["type"] == "file.completed") == 40)
        self.stop(job, c)
        ev.close()
        self.assertVerified(entries)

    def test_hundred_clients_add_twenty_thousand_files_none_lost_none_twice(self):
        entries = self.files(20000, 16, "many", per_group=50)
        job, port = self.serve(env={"PROXY_POST_LIMIT": "8", "PROXY_ATTACHMENT_LIMIT": "8"})
        ev = Events(port)
        errors = []

        def client(k):
            try:
                c = Client(port)
                for e in entries[k::100]:
                    r = c.result("downloadFile", {"url": e["url"], "path": e["path"],
                                                  "group": e["group"]})
                    assert r["path"] == e["path"], r
                c.close()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"client {k}: {exc}")

        threads = [threading.Thread(target=client, args=(k,)) for k in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        self.assertEqual(errors, [])
        ev.wait_for(lambda evs: sum(1 for x in evs if x["type"] == "file.completed") == 20000,
                    timeout=600)
        c = Client(port)
        self.stop(job, c)
        ev.close()
        recs = self.nginx.records()
        served = Counter(x["uri"] for x in recs if x["uri"].startswith("/many/") and
                         x["status"] == 200)
        self.assertEqual(len(served), 20000, "every file was fetched")
        self.assertEqual(max(served.values()), 1, "no file was fetched twice")
        self.assertEqual(len(self.files_under()), 20000)

    def test_cancel_running_and_waiting_files(self):
        fs = dlfix.FaultServer().start()
        self.addCleanup(fs.stop)
        job, port = self.serve(env={"PROXY_POST_LIMIT": "1", "PROXY_ATTACHMENT_LIMIT": "1"})
        c = Client(port)
        ev = Events(port)
        slow = c.result("downloadFile", {"url": fs.url("slow/400000/c/slow.bin?delay=30"),
                                         "path": "c/slow.bin", "group": "c"})
        waiting = c.result("downloadFile", {"url": fs.url("ok/1000/c/next.bin"),
                                            "path": "c/next.bin", "group": "c"})
        ev.wait_for(lambda evs: any(x["type"] == "file.started" and x["id"] == slow["id"]
                                    for x in evs))
        time.sleep(0.3)  # the first half arrives
        for f in (waiting, slow):
            self.assertTrue(c.result("cancel", {"id": f["id"]})["cancelled"])
        ev.wait_for(lambda evs: sum(1 for x in evs if x["type"] == "file.failed"
                                    and x["failure"] == "cancelled") == 2)
        for f in (waiting, slow):
            self.assertEqual(c.result("getFile", {"id": f["id"]})["state"], "cancelled")
        again = c.result("cancel", {"id": slow["id"]})
        self.assertEqual((again["cancelled"], again["state"]), (False, "cancelled"))
        self.assertEqual(c.call("cancel", {"id": "12345"})["error"]["code"], -32002)
        # Asked for again after its cancel: a new try under a new id.
        retry = c.result("downloadFile", {"url": fs.url("ok/1000/c/next.bin"),
                                          "path": "c/next.bin", "group": "c"})
        self.assertNotEqual(retry["id"], waiting["id"])
        ev.wait_for(lambda evs: any(x["type"] == "file.completed" and x["id"] == retry["id"]
                                    for x in evs))
        stats = c.result("getOrchestratorStats")
        self.assertEqual(stats["files"]["failed"], 0, "a cancel asked for is not a failure")
        self.stop(job, c)
        ev.close()
        self.assertEqual(self.part_files(), ["c/slow.bin.part"])
        self.assertEqual(len(fs.requests_for("c/next.bin")), 1,
                         "the cancelled waiting file was never asked for, its retry once")

    # -- proxies -----------------------------------------------------------------

    def test_proxies_listed_added_removed_and_pinned(self):
        tp = dlfix.Tinyproxy("127.0.0.2", workdir=self.work / "tp").start()
        self.addCleanup(tp.stop)
        job, port = self.serve()
        c = Client(port)
        self.assertEqual([p["id"] for p in c.result("listProxies")], ["direct"])
        added = c.result("addProxy", {"entry": tp.entry()})
        self.assertEqual(added["id"], tp.url)
        self.assertEqual([p["id"] for p in c.result("listProxies")], ["direct", tp.url])
        r = c.call("addProxy", {"entry": tp.entry()})
        self.assertEqual(r["error"]["code"], -32602)
        self.assertIn(tp.url, r["error"]["message"])
        entries = self.files(6, 1024, "pinned")
        ev = Events(port)
        for e in entries:
            c.result("downloadFileWithProxy", {"url": e["url"], "path": e["path"], "proxy": tp.url})
        ev.wait_for(lambda evs: sum(1 for x in evs if x["type"] == "file.completed") == 6)
        recs = [x for x in self.nginx.records() if x["uri"].startswith("/pinned/")]
        self.assertEqual({x["remote_addr"] for x in recs}, {"127.0.0.2"},
                         "pinned files left through that proxy only")
        r = c.call("downloadFileWithProxy", {"url": entries[0]["url"], "path": "other",
                                            "proxy": "http://127.0.0.9:1"})
        self.assertIn("not a listed proxy", r["error"]["message"])
        c.result("removeProxy", {"id": tp.url})
        self.assertEqual([p["id"] for p in c.result("listProxies")], ["direct"])
        self.assertEqual(c.call("removeProxy", {"id": tp.url})["error"]["code"], -32002)
        self.stop(job, c)
        ev.close()

    # -- security ---------------------------------------------------------------

    def test_token_is_required_and_never_shown(self):
        token = "t0ken-" + os.urandom(8).hex()
        tf = self.work / "token"
        tf.write_text(token + "\n")
        os.chmod(tf, 0o600)
        job, port = self.serve("--token-file", tf)
        status, _ = Client(port).post('{"jsonrpc":"2.0","id":1,"method":"listProxies"}')
        self.assertEqual(status, 401)
        status, _ = Client(port, token + "x").post('{"jsonrpc":"2.0","id":1,"method":"listProxies"}')
        self.assertEqual(status, 401)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/stats")
        self.assertEqual(conn.getresponse().status, 401)
        c = Client(port, token)
        self.assertEqual(c.result("listProxies")[0]["id"], "direct")
        r = self.stop(job, c)
        self.assertNotIn(token, r.stdout + r.stderr)

    def test_beyond_loopback_needs_a_token_and_a_private_token_file(self):
        job, _ = self.serve(listen="0.0.0.0:0")
        r = job.wait(30)
        self.assertRc(r, 2)
        self.assertIn("--token-file", r.stderr)
        tf = self.work / "open-token"
        tf.write_text("secret-token\n")
        os.chmod(tf, 0o644)
        job, _ = self.serve("--token-file", tf, listen="127.0.0.1:0")
        r = job.wait(30)
        self.assertRc(r, 2)
        self.assertIn("chmod 600", r.stderr)
        self.assertNotIn("secret-token", r.stderr)

    # -- shutdown ---------------------------------------------------------------

    def test_sigterm_ends_the_service_and_keeps_partial_files(self):
        fs = dlfix.FaultServer().start()
        self.addCleanup(fs.stop)
        job, port = self.serve(env={"DOWNLOAD_INTERRUPT_GRACE": "500"})
        c = Client(port)
        ev = Events(port)
        c.result("downloadFile", {"url": fs.url("slow/400000/slow.bin?delay=30"), "path": "slow.bin"})
        ev.wait_for(lambda evs: any(x["type"] == "file.started" for x in evs))
        time.sleep(0.5)  # the first half arrives; the origin then waits 30 s
        job.send_signal(signal.SIGTERM)
        r = job.wait(60)
        self.assertRc(r, 0)
        self.assertAbsent(self.out / "slow.bin")
        self.assertEqual(self.part_files(), ["slow.bin.part"])
        self.assertGreater((self.out / "slow.bin.part").stat().st_size, 0)
        ev.close()


if __name__ == "__main__":
    unittest.main()
