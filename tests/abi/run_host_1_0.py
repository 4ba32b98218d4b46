#!/usr/bin/env python3
"""Today's plugin in a host that speaks only ABI 1.0 (host_1_0.c).

usage: run_host_1_0.py HOST_1_0 PLUGIN.so

Serves a few files over HTTP on a loopback port (Python's http.server),
runs HOST_1_0 with the plugin to download them, and checks that every file
arrived with the served bytes. The test plugin does not download (it writes
the URL's text), which is checked too.
"""
import hashlib
import http.server
import os
import subprocess
import sys
import tempfile
import threading

HOST, PLUGIN = sys.argv[1], sys.argv[2]


def serve(root):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=root, **k)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    with tempfile.TemporaryDirectory(prefix="dlhost-host10-") as tmp:
        root, out = os.path.join(tmp, "www"), os.path.join(tmp, "out")
        os.makedirs(root)
        os.makedirs(out)
        bodies = [os.urandom(1000 + 7919 * i) for i in range(5)]
        for i, body in enumerate(bodies):
            with open(os.path.join(root, "f%d.bin" % i), "wb") as f:
                f.write(body)
        server = serve(root)
        try:
            base = "http://127.0.0.1:%d/" % server.server_address[1]
            urls = [base + "f%d.bin" % i for i in range(len(bodies))]
            p = subprocess.run([HOST, PLUGIN, out] + urls, capture_output=True, text=True,
                               timeout=120)
        finally:
            server.shutdown()
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        if p.returncode != 0:
            raise SystemExit("host_1_0 exited %d" % p.returncode)
        if "speaks ABI 1.2" not in p.stdout:
            raise SystemExit("expected a 1.2 plugin: %r" % p.stdout)
        test_plugin = os.path.basename(PLUGIN).startswith("test-plugin")
        for i, body in enumerate(bodies):
            with open(os.path.join(out, "file%d" % i), "rb") as f:
                got = f.read()
            want = urls[i].encode() if test_plugin else body
            if got != want:
                raise SystemExit("file%d: %d bytes, sha256 %s; expected %d bytes, sha256 %s" % (
                    i, len(got), hashlib.sha256(got).hexdigest(), len(want),
                    hashlib.sha256(want).hexdigest()))
    print("ok")


if __name__ == "__main__":
    main()
