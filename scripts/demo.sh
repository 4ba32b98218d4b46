#!/usr/bin/env bash
# A first run of dlhost.
#   bash scripts/demo.sh              # demo: local origin, 200 files in 20 posts
#   bash scripts/demo.sh MANIFEST     # your own manifest instead (no demo origin)
# Files go to ./downloads (DOWNLOAD_DIR) with the default plugin; no Redis.
# Extra arguments after MANIFEST are passed to `dlhost run`.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

export BUILD_DIR="${BUILD_DIR:-build}"
bash scripts/setup.sh
DLHOST="$REPO/$BUILD_DIR/bin/dlhost"
export DLHOST_BUILD_DIR="$REPO/$BUILD_DIR"
unset REDIS_URL
STATS="$(mktemp /tmp/dlhost-demo-stats.XXXXXX.json)"

summary() {
  /usr/bin/python3 - "$STATS" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
f = s.get("files", {})
print(f"summary: plugin {s.get('plugin')}, {f.get('total')} files: "
      f"{f.get('completed')} downloaded, {f.get('skipped')} already there, "
      f"{f.get('failed')} failed; {s.get('bytes', 0) / 1e6:.1f} MB in {s.get('elapsed_s', 0):.2f} s")
PY
}

rc=0
if [[ $# -ge 1 ]]; then
  "$DLHOST" run --stats-json "$STATS" "$@" || rc=$?
else
  export BENCH_DIR="${DEMO_DIR:-/tmp/dlhost-demo}"
  source "$REPO/bench/lib.sh"
  # 200 files of 256 KiB in 20 posts, served by nginx on a free loopback port
  bench_origin_start 200 262144 --per-group 10
  echo "demo: origin $ORIGIN_URL (nginx pid $ORIGIN_PID), manifest $MANIFEST"
  head -n 2 "$MANIFEST" | cut -c1-160
  "$DLHOST" run --out "$REPO/downloads" --stats-json "$STATS" "$MANIFEST" || rc=$?
  bench_origin_stop
  echo "demo: files are in $REPO/downloads (run it again: everything is skipped)"
fi
summary
rm -f "$STATS"
echo "demo: dlhost exit status $rc"
exit $rc
