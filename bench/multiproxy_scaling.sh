#!/usr/bin/env bash
# Issue 22: a job behind a per-address limit that REJECTS, through k = 1, 2
# and 4 egress paths, against the ideal N / (k R). nginx limits each client
# address with limit_req keyed on $binary_remote_addr at RATE requests/s,
# burst 5, nodelay: a request over the limit is answered 429 at once, with no
# Retry-After, as real sites answer. The paths are tinyproxy instances
# egressing (Bind) from 127.0.0.2 .. .5, so the origin sees k distinct
# clients; the k-path run uses the first k.
# Targets: every k within 1.2x of the ideal, so 4 paths >= 3.3x faster than
# 1; 429s under 15 % of requests; no failed file.
#   --retry-after N  the 429s carry Retry-After: N (the same targets hold)
#   --delay          the limit queues excess requests instead (burst 64, no
#                    nodelay): the old, easier form of this benchmark
#   --disk           outputs on disk instead of tmpfs
#   bash bench/multiproxy_scaling.sh [options] [FILES [RATE]]   (8 x RATE files, RATE 20)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MODE=reject
RETRY_AFTER=()
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --delay) MODE=delay ;;
    --retry-after) RETRY_AFTER=(--retry-after "$2"); shift ;;
    --disk) BENCH_OUT=disk ;;
    *) bench_log "unknown option $1"; exit 2 ;;
  esac
  shift
done
RATE="${2:-20}"
FILES="${1:-$((8 * RATE))}"
SIZE=65536
BENCH_GAP="${BENCH_GAP:-1}"  # the limiter's bucket drains between runs
BENCH_REPEAT="${BENCH_REPEAT:-3}"
bench_require_dlhost
command -v tinyproxy >/dev/null || { bench_log "tinyproxy is not installed"; exit 2; }
if [[ $MODE == delay ]]; then
  bench_origin_start "$FILES" "$SIZE" --per-group 4 --rate "$RATE" --burst 64 --delay
else
  bench_origin_start "$FILES" "$SIZE" --per-group 4 --rate "$RATE" --burst 5 "${RETRY_AFTER[@]}"
fi
ENTRIES=()
for ip in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5; do
  PROXY_ENTRIES=""
  bench_proxy_start "$ip"
  ENTRIES+=("$PROXY_ENTRIES")
done
paths_list() { # K: the PROXY_LIST of the first K paths
  local IFS=,
  echo "[${ENTRIES[*]:0:$1}]"
}

# dlhost's defaults per path: 2 posts x 4 files = 8 in flight.
declare -A SHARE=()
run_paths() { PROXY_LIST="$(paths_list "$1")" run_dlhost_plugin multi-proxy "$2"; }
side_paths1() { run_paths 1 "$1"; }
side_paths2() { run_paths 2 "$1"; }
side_paths4() { run_paths 4 "$1"; }
# Per run: the share of 429s among requests, and files per path.
bench_after_side() { # SIDE ROUND
  local line
  line="$("$PYTHON" - "$BENCH_DIR/dlhost-stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
px = s.get("proxies", [])
done = [p.get("completed", 0) for p in px]
limited = sum(p.get("rate_limited", 0) for p in px)
requests = sum(done) + limited
print(f'{100.0 * limited / max(1, requests):.1f} {s["files"].get("failed", 0)} {"/".join(map(str, done))}')
PY
)"
  ((${2} >= 1)) && SHARE[$1]+="${line%% *} "
  LAST[$1]="$line"
}
declare -A LAST=()
bench_side_note() { echo " (429s ${LAST[$1]%% *}%)"; }
bench_compare paths1 paths2 paths4

ideal1=$(awk -v n="$FILES" -v r="$RATE" 'BEGIN { printf "%.3f", n / r }')
echo "multiproxy_scaling: $FILES files x $SIZE bytes, per-address limit $RATE r/s ($MODE${RETRY_AFTER:+, Retry-After ${RETRY_AFTER[1]} s}), median of $BENCH_REPEAT"
worst=0
for k in 1 2 4; do
  m=$(bench_median_of "paths$k")
  ideal=$(awk -v t="$ideal1" -v k="$k" 'BEGIN { printf "%.3f", t / k }')
  r=$(ratio "$m" "$ideal")
  # shellcheck disable=SC2086
  share=$(median ${SHARE[paths$k]})
  read -r _ failed per <<<"${LAST[paths$k]}"
  printf '  %d path%-2s: %7.3f s (runs: %s)  ideal %6.3f s  ratio %s  429s %s %%  failed %s  files per path (last run) %s\n' \
    "$k" "$([[ $k == 1 ]] && echo ' ' || echo s)" "$m" "${BENCH_WALL[paths$k]% }" "$ideal" "$r" "$share" "$failed" "$per"
  worst=$(awk -v a="$worst" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
  maxshare=$(awk -v a="${maxshare:-0}" -v b="$share" 'BEGIN { print (b > a) ? b : a }')
done
speedup=$(ratio "$(bench_median_of paths1)" "$(bench_median_of paths4)")
echo "  speedup 4 paths / 1 path: ${speedup}x (ideal 4.00x, target >= 3.3x); worst ratio to ideal ${worst} (target <= 1.2); most 429s ${maxshare} % (target < 15)"
bench_footer
awk -v w="$worst" -v s="$maxshare" 'BEGIN { exit !(w <= 1.2 && s < 15) }' && echo "  PASS" || echo "  BELOW TARGET"
