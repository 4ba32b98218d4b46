#!/usr/bin/env bash
# Issue 12 point 8 / issue 10 point 2: peak RSS of one dlhost run by manifest
# size. For each N (default 10000 100000 1000000) files of 1 KiB on a local
# nginx, one multi-proxy run (sha256 in the manifest) into a fresh tmpfs
# directory under /usr/bin/time -v, and a rerun (everything skipped). Prints
# the maximum resident set and the wall time of each run. Set DLHOST_B to a
# second binary (e.g. an older build) to measure both side by side.
#   bash bench/manifest_memory.sh [N...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(10000 100000 1000000)
BINARIES=("$DLHOST")
[[ -n "${DLHOST_B:-}" ]] && BINARIES+=("$DLHOST_B")
: >"$BENCH_DIR/empty.env"

measure() { # BINARY OUT LABEL: one run, prints "LABEL: RSS MB, WALL s"
  local t="$BENCH_DIR/time.txt"
  /usr/bin/time -v "$1" run --plugin multi-proxy --out "$2" --progress none \
    --env-file "$BENCH_DIR/empty.env" "$MANIFEST" >"$BENCH_DIR/dlhost.log" 2>"$t" || {
    tail -n 20 "$t" >&2
    return 1
  }
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$t")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
                      for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' "$t")
  printf '  %-44s peak RSS %7s MB   wall %7s s\n' "$3" "$rss" "$wall"
}

echo "manifest_memory: 1 KiB files, multi-proxy, direct, sha256 in the manifest (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for n in "${SIZES[@]}"; do
  bench_origin_start "$n" 1024
  for bin in "${BINARIES[@]}"; do
    bench_fresh_out "n$n"
    measure "$bin" "$BENCH_OUT_DIR" "$n lines, $(basename "$(dirname "$(dirname "$bin")")") run"
    measure "$bin" "$BENCH_OUT_DIR" "$n lines, $(basename "$(dirname "$(dirname "$bin")")") rerun"
    rm -rf "$BENCH_OUT_DIR"
  done
  bench_origin_stop
done
