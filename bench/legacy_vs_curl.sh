#!/usr/bin/env bash
# dlhost --plugin legacy against curl fetching the same URLs one after another
# over ONE connection (a single curl with a -K config of url/output pairs, no
# --parallel). Both outputs are verified (size + sha256). Each side runs
# BENCH_REPEAT times (default 5), the medians are compared. Target: ratio
# dlhost/curl <= 1.1.
#   bash bench/legacy_vs_curl.sh [FILES [SIZE]]     (default 2000 x 65536)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

FILES="${1:-2000}"
SIZE="${2:-65536}"
bench_require_dlhost
bench_origin_start "$FILES" "$SIZE"

RUN_DIR="$BENCH_DIR/run-legacy-vs-curl"
declare -a T_DLHOST=() T_CURL=() C_DLHOST=() C_CURL=()
for i in $(seq 1 "$BENCH_REPEAT"); do
  # alternate the order so neither side always runs on a warmer cache
  for side in dlhost curl; do
    [[ $((i % 2)) -eq 0 ]] && side=$([[ $side == dlhost ]] && echo curl || echo dlhost)
    out="$RUN_DIR/$side"
    rm -rf "$out"; mkdir -p "$out"
    if [[ $side == dlhost ]]; then
      bench_time t run_dlhost_plugin legacy "$out" || { bench_log "dlhost failed"; exit 1; }
      T_DLHOST+=("$t"); C_DLHOST+=("$t_cpu")
    else
      bench_time t run_curl_serial "$out" || { bench_log "curl failed"; exit 1; }
      T_CURL+=("$t"); C_CURL+=("$t_cpu")
    fi
    bench_verify "$out" || { bench_log "$side output failed verification"; exit 1; }
  done
  bench_log "round $i: dlhost ${T_DLHOST[-1]}s curl ${T_CURL[-1]}s"
done
rm -rf "$RUN_DIR"

md=$(median "${T_DLHOST[@]}")
mc=$(median "${T_CURL[@]}")
r=$(ratio "$md" "$mc")
cd_=$(median "${C_DLHOST[@]}")
cc=$(median "${C_CURL[@]}")
echo "legacy_vs_curl: $FILES files x $SIZE bytes, one connection, median of $BENCH_REPEAT"
echo "  dlhost --plugin legacy : ${md} s wall, ${cd_} s cpu   (wall runs: ${T_DLHOST[*]})"
echo "  curl, one connection   : ${mc} s wall, ${cc} s cpu   (wall runs: ${T_CURL[*]})"
echo "  ratio dlhost/curl      : ${r} wall, $(ratio "$cd_" "$cc") cpu   (target: wall <= 1.1)"
echo "  load average           : $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (busy machine = noisy figures)"
awk -v r="$r" 'BEGIN { exit !(r <= 1.1) }' && echo "  PASS" || echo "  ABOVE TARGET"
