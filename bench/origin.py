#!/usr/bin/env python3
"""Benchmark origin helper (standard library only; reuses tests/fixtures/dlfix).

  origin.py prepare --dir DIR --files N --size BYTES [--per-group G]
                    [--rate R] [--burst B] [--delay] [--retry-after N]
                    [--workers W]
      Creates DIR/data (deterministic files; kept and reused when the same
      N/size were made before), DIR/nginx/nginx.conf on a free loopback port,
      and, for that port, DIR/manifest.jsonl (url, path, group, sha256, size),
      DIR/manifest-nosha.jsonl (the same without sha256: nothing to verify),
      DIR/urls.txt, DIR/curl.conf (url/output pairs for ONE curl run) and
      DIR/aria2.txt (aria2c -i input: url, then "  out=path").
      --rate/--burst: nginx limit_req per client IP, excess answered 429 at
      once (nodelay); with --delay nginx queues up to --burst excess requests
      and releases them at the rate instead (a request fails only beyond it);
      --retry-after N: the 429s (and every answer) carry Retry-After: N.
      Prints: PORT NGINX_COMMAND...
  origin.py proxy --dir DIR --bind IP
      Writes DIR/tinyproxy.conf (the tests' tinyproxy, egressing from IP) on a
      free port. Prints: PORT TINYPROXY_COMMAND...
  origin.py verify --manifest M --out DIR
      Checks every manifest file under DIR (size and sha256); exit 1 if not.
"""
import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures"))
import dlfix  # noqa: E402


def prepare(a):
    d = Path(a.dir).resolve()
    data = d / "data"
    stamp = data / ".made"
    want = f"{a.files} {a.size} {a.per_group}"
    entries_file = d / "entries.json"
    if stamp.exists() and stamp.read_text() == want and entries_file.exists():
        entries = json.loads(entries_file.read_text())
    else:
        if data.exists():
            import shutil
            shutil.rmtree(data)
        data.mkdir(parents=True)
        entries = dlfix.make_files(data, a.files, a.size, per_group=a.per_group)
        entries_file.write_text(json.dumps(entries))
        stamp.write_text(want)
    ng = dlfix.Nginx(data, workdir=d / "nginx", worker_processes=a.workers, host=a.host,
                     **limit_options(a))
    ng.conf.write_text(ng.config_text())
    with open(d / "manifest.jsonl", "w") as m, open(d / "urls.txt", "w") as u, \
            open(d / "curl.conf", "w") as c, open(d / "aria2.txt", "w") as r, \
            open(d / "manifest-nosha.jsonl", "w") as n:
        for e in entries:
            url = ng.url(e["path"])
            m.write(json.dumps({"url": url, **e}) + "\n")
            n.write(json.dumps({"url": url, **{k: v for k, v in e.items() if k != "sha256"}}) + "\n")
            u.write(url + "\n")
            c.write(f'url = "{url}"\noutput = "{e["path"]}"\n')
            r.write(f'{url}\n  out={e["path"]}\n')
    print(ng.port, *ng.command())


def limit_options(a):
    """dlfix.Nginx keyword arguments for the per-IP limit."""
    if not a.rate or not a.delay:
        opts = {"rate": a.rate, "burst": a.burst}
        if a.retry_after is not None:  # 'always': error answers (the 429) carry it too
            opts["extra_server"] = f"add_header Retry-After {a.retry_after} always;"
        return opts
    # The fixture always adds nodelay; the delaying form is set at server
    # level (location / inherits it).
    rate = f"{a.rate}r/s" if str(a.rate).isdigit() else a.rate
    return {"extra_http": f"limit_req_zone $binary_remote_addr zone=perip:10m rate={rate};",
            "extra_server": f"limit_req zone=perip burst={a.burst}; limit_req_status 429; "
                            "limit_req_log_level info;"}


def proxy(a):
    p = dlfix.Tinyproxy(bind_ip=a.bind, workdir=a.dir)
    p.prepare()
    print(p.port, *p.command())


def verify(a):
    out = Path(a.out)
    bad = 0
    n = 0
    with open(a.manifest) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            e = json.loads(line)
            n += 1
            p = out / e["path"]
            if not p.is_file() or p.stat().st_size != e["size"] or \
                    dlfix.sha256_file(p) != e["sha256"]:
                bad += 1
                if bad <= 5:
                    print(f"verify: {p} missing or wrong", file=sys.stderr)
    if bad:
        print(f"verify: {bad} of {n} files bad in {out}", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", required=True)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--size", type=int, default=65536)
    p.add_argument("--per-group", type=int, default=10)
    p.add_argument("--rate", default=None)
    p.add_argument("--burst", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--delay", action="store_true")
    p.add_argument("--retry-after", type=int, default=None,
                   help="the limit's answers carry Retry-After: N (seconds)")
    p.add_argument("--host", default="127.0.0.1")
    x = sub.add_parser("proxy")
    x.add_argument("--dir", required=True)
    x.add_argument("--bind", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--manifest", required=True)
    v.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare(a)
        return 0
    if a.cmd == "proxy":
        proxy(a)
        return 0
    return verify(a)


if __name__ == "__main__":
    sys.exit(main())
