#!/usr/bin/env bash
# Issue 3, point 10c: a job behind a per-IP limit, through 1 egress path and
# through 4, against the ideal 4x. nginx limits each client address with
# limit_req keyed on $binary_remote_addr at RATE requests/s. By default the
# limit DELAYS excess requests (burst=BURST, no nodelay): they queue and are
# served at the rate, so a client that keeps enough requests in flight gets
# exactly RATE files/s per address, and a second address doubles that. The
# paths are tinyproxy instances egressing (Bind) from 127.0.0.2, .3, .4, .5,
# so the origin sees 4 distinct clients; the 1-path run uses the first only.
# Target: 4 paths >= 3.2x faster than 1 path, no failed file.
# --reject answers excess requests 429 at once instead (burst 8, nodelay):
# then the figure also measures retries, backoff and the adaptive brake.
#   bash bench/multiproxy_scaling.sh [--reject] [--disk] [FILES [RATE]]  (400 x 64 KiB, 50 r/s)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MODE=delay
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --reject) MODE=reject ;;
    --disk) BENCH_OUT=disk ;;
    *) bench_log "unknown option $1"; exit 2 ;;
  esac
  shift
done
FILES="${1:-400}"
RATE="${2:-50}"
SIZE=65536
BENCH_GAP="${BENCH_GAP:-1}"
bench_require_dlhost
command -v tinyproxy >/dev/null || { bench_log "tinyproxy is not installed"; exit 2; }
if [[ $MODE == delay ]]; then
  bench_origin_start "$FILES" "$SIZE" --rate "$RATE" --burst 64 --delay
else
  bench_origin_start "$FILES" "$SIZE" --rate "$RATE" --burst 8
fi
for ip in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5; do bench_proxy_start "$ip"; done
FIRST="[${PROXY_ENTRIES%%\},*}}]"
ALL="[$PROXY_ENTRIES]"

# dlhost's defaults per path: 2 posts x 4 files = 8 in flight, under the burst.
run_paths() { # PROXY_LIST OUTDIR NAME
  PROXY_LIST="$1" run_dlhost_plugin multi-proxy "$2" || return 1
  cp "$BENCH_DIR/dlhost-stats.json" "$BENCH_DIR/stats-$3.json"
}
side_paths1() { run_paths "$FIRST" "$1" paths1; }
side_paths4() { run_paths "$ALL" "$1" paths4; }
bench_compare paths1 paths4

summary() { # NAME: per-path completed / 429s / retries, files failed (last run)
  "$PYTHON" - "$BENCH_DIR/stats-$1.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
f = s.get("files", {})
px = (s.get("plugin_stats") or s.get("plugin") or {})
px = px.get("proxies", []) if isinstance(px, dict) else s.get("proxies", [])
px = px or s.get("proxies", [])
per = " ".join(f'{p.get("completed", "?")}/{p.get("rate_limited", 0)}/{p.get("retries", 0)}' for p in px)
print(f'failed {f.get("failed", "?")}; per path completed/429s/retries: {per}')
PY
}
m1=$(bench_median_of paths1); m4=$(bench_median_of paths4)
speedup=$(ratio "$m1" "$m4")
ideal=$(awk -v n="$FILES" -v r="$RATE" 'BEGIN { printf "%.2f", n / r }')
echo "multiproxy_scaling: $FILES files x $SIZE bytes, per-IP limit $RATE r/s ($MODE), median of $BENCH_REPEAT"
bench_row "1 path (tinyproxy 127.0.0.2)" paths1
bench_row "4 paths (tinyproxy .2 .3 .4 .5)" paths4
echo "  ideal                             : 1 path ${ideal} s, 4 paths $(awk -v t="$ideal" 'BEGIN { printf "%.2f", t / 4 }') s"
echo "  speedup 4 paths / 1 path          : ${speedup}x   (ideal 4.00x, target >= 3.2x)"
echo "  last 1-path run                   : $(summary paths1)"
echo "  last 4-path run                   : $(summary paths4)"
bench_footer
awk -v r="$speedup" 'BEGIN { exit !(r >= 3.2) }' && echo "  PASS" || echo "  BELOW TARGET"
