# bench/lib.sh: shared set-up for the benchmarks. Source it from bash:
#   source "$(dirname "$0")/lib.sh"
#   bench_origin_start 2000 65536        # N files of SIZE bytes, nginx on loopback
#   ... use $MANIFEST $URLS $CURL_CONF $ORIGIN_URL ...
#   bench_origin_stop                     # also done by the EXIT trap
# The origin (data, config, pid file, logs) lives in $BENCH_DIR (default
# /tmp/dlhost-bench); generated data is reused between runs of the same shape.
# Servers (nginx, tinyproxy) are started by this shell and stopped by their own
# pids, never by name.
#
# Fairness. Every run writes into a FRESH output directory (bench_fresh_out)
# on tmpfs by default (BENCH_OUT=disk puts them under $BENCH_DIR/out): ext4
# slows file creation right after thousands of files were deleted
# (find_inode_bit skips recently deleted inodes), which swung the ratios when
# each run reused and emptied one directory. On disk, outputs are only deleted
# when the benchmark ends, outside every measurement. bench_compare runs the
# sides in a rotating order (A B, B A, ...) after an untimed warm-up round, so
# every tool sees the same conditions, and verifies every output.

BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_LIB_DIR/.." && pwd)"
BUILD_DIR="${DLHOST_BUILD_DIR:-$REPO_DIR/build}"
DLHOST="${DLHOST:-$BUILD_DIR/bin/dlhost}"
BENCH_DIR="${BENCH_DIR:-/tmp/dlhost-bench}"
BENCH_REPEAT="${BENCH_REPEAT:-5}"
BENCH_WARMUP="${BENCH_WARMUP:-1}"
BENCH_OUT="${BENCH_OUT:-tmpfs}"
PYTHON="${PYTHON:-/usr/bin/python3}"
ORIGIN_PID=""
BENCH_PIDS=()
BENCH_OUT_ROOT=""
BENCH_OUT_SEQ=0
declare -A BENCH_WALL=() BENCH_CPU=()

bench_log() { printf '[bench] %s\n' "$*" >&2; }

# bench_origin_start N SIZE [extra origin.py prepare args, e.g. --rate 50 --burst 10]
bench_origin_start() {
  local n="$1" size="$2"; shift 2
  ORIGIN_DIR="$BENCH_DIR/origin-${n}x${size}"
  mkdir -p "$ORIGIN_DIR"
  local line
  line="$("$PYTHON" "$BENCH_LIB_DIR/origin.py" prepare --dir "$ORIGIN_DIR" \
          --files "$n" --size "$size" "$@")"
  ORIGIN_PORT="${line%% *}"
  local cmd="${line#* }"
  ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"
  MANIFEST="$ORIGIN_DIR/manifest.jsonl"
  MANIFEST_NOSHA="$ORIGIN_DIR/manifest-nosha.jsonl"  # no sha256: nothing to verify
  URLS="$ORIGIN_DIR/urls.txt"
  CURL_CONF="$ORIGIN_DIR/curl.conf"
  # shellcheck disable=SC2086
  $cmd >"$ORIGIN_DIR/nginx/stdout.log" 2>&1 &
  ORIGIN_PID=$!
  BENCH_PIDS+=("$ORIGIN_PID")
  trap bench_cleanup EXIT
  if bench_wait_port 127.0.0.1 "$ORIGIN_PORT" "$ORIGIN_PID"; then
    bench_log "origin: nginx pid $ORIGIN_PID on $ORIGIN_URL serving $n x $size bytes"
    return 0
  fi
  bench_log "origin failed to start; see $ORIGIN_DIR/nginx/error.log"
  cat "$ORIGIN_DIR/nginx/error.log" >&2 || true
  return 1
}

# bench_wait_port HOST PORT PID: wait until HOST:PORT accepts (PID must live)
bench_wait_port() {
  local i
  for i in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}

# bench_proxy_start BIND_IP: a tinyproxy (the tests' config) egressing from
# BIND_IP; appends its PROXY_LIST entry to $PROXY_ENTRIES (JSON objects, comma
# separated) and its pid to $BENCH_PIDS.
PROXY_ENTRIES=""
bench_proxy_start() {
  local dir="$BENCH_DIR/proxy-$1" line port cmd
  mkdir -p "$dir"
  line="$("$PYTHON" "$BENCH_LIB_DIR/origin.py" proxy --dir "$dir" --bind "$1")"
  port="${line%% *}"; cmd="${line#* }"
  # shellcheck disable=SC2086
  $cmd >"$dir/stdout.log" 2>&1 &
  local pid=$!
  BENCH_PIDS+=("$pid")
  trap bench_cleanup EXIT
  if ! bench_wait_port 127.0.0.1 "$port" "$pid"; then
    bench_log "tinyproxy (bind $1) failed to start; see $dir"
    return 1
  fi
  PROXY_ENTRIES+="${PROXY_ENTRIES:+,}{\"ip\":\"127.0.0.1\",\"port\":$port}"
  bench_log "proxy: tinyproxy pid $pid on 127.0.0.1:$port egressing from $1"
}

bench_origin_stop() {
  if [[ -n "${ORIGIN_PID:-}" ]] && kill -0 "$ORIGIN_PID" 2>/dev/null; then
    kill -TERM "$ORIGIN_PID" 2>/dev/null || true
    wait "$ORIGIN_PID" 2>/dev/null || true
  fi
  ORIGIN_PID=""
}

# On exit: stop every server this shell started (by pid), remove the outputs.
bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  BENCH_PIDS=(); ORIGIN_PID=""
  if [[ -n "$BENCH_OUT_ROOT" && -d "$BENCH_OUT_ROOT" ]]; then rm -rf "$BENCH_OUT_ROOT"; fi
}

# bench_fresh_out NAME: a new, empty output directory (never reused) in VAR
# BENCH_OUT_DIR. tmpfs (default): /dev/shm; BENCH_OUT=disk: $BENCH_DIR/out.
bench_fresh_out() {
  if [[ -z "$BENCH_OUT_ROOT" ]]; then
    local base="/dev/shm"
    [[ "$BENCH_OUT" == disk ]] && base="$BENCH_DIR"
    mkdir -p "$base"
    BENCH_OUT_ROOT="$(mktemp -d "$base/dlhost-bench-out.XXXXXX")"
    trap bench_cleanup EXIT
  fi
  BENCH_OUT_SEQ=$((BENCH_OUT_SEQ + 1))
  BENCH_OUT_DIR="$BENCH_OUT_ROOT/$(printf '%03d' "$BENCH_OUT_SEQ")-$1"
  mkdir -p "$BENCH_OUT_DIR"
}

# bench_out_done DIR: a run's output is verified. tmpfs: delete it now (cheap,
# no after-effect); disk: keep it until the end (see "Fairness" above).
bench_out_done() {
  [[ "$BENCH_OUT" == disk ]] || rm -rf "$1"
}

# bench_time VAR CMD...: run CMD; store its wall time in seconds in VAR and
# its CPU time (user+sys, children included) in VAR_cpu. Returns CMD's status.
# CPU time is the steadier figure on a busy machine; wall time is what counts.
bench_time() {
  local __var="$1"; shift
  local __tf __rc=0 __real __user __sys
  __tf=$(mktemp)
  local TIMEFORMAT="%R %U %S"
  { time "$@" 2>&4; } 4>&2 2>"$__tf" || __rc=$?
  read -r __real __user __sys <"$__tf" || true
  rm -f "$__tf"
  printf -v "$__var" '%.3f' "${__real:-0}"
  printf -v "${__var}_cpu" '%.3f' "$(awk -v u="${__user:-0}" -v s="${__sys:-0}" 'BEGIN{print u+s}')"
  return $__rc
}

# bench_compare SIDE...: each SIDE is a function `side_SIDE OUTDIR` that
# downloads the manifest into OUTDIR. One untimed warm-up round (BENCH_WARMUP),
# then BENCH_REPEAT rounds, the order rotating each round. Every output is
# verified; any failure stops the benchmark. Wall times land in
# BENCH_WALL[SIDE] and CPU times in BENCH_CPU[SIDE] (space-separated lists).
# Optional hooks, called when the script defines them: bench_before_side SIDE
# (just before the timed run), bench_after_side SIDE ROUND (just after it,
# before the output is verified; ROUND < 1 is the warm-up) and
# bench_side_note SIDE ROUND (prints text to add to the round's log line;
# it runs in a subshell, so it must not set anything).
bench_compare() {
  local sides=("$@") n=$# r k side t t_cpu line
  for ((r = 1 - BENCH_WARMUP; r <= BENCH_REPEAT; r++)); do
    line=""
    for ((k = 0; k < n; k++)); do
      side="${sides[(r + k + n) % n]}"
      sleep "${BENCH_GAP:-0}"  # e.g. let a rate limiter's bucket drain
      bench_fresh_out "$side"
      bench_hook bench_before_side "$side"
      bench_time t "side_$side" "$BENCH_OUT_DIR" || { bench_log "$side failed (round $r)"; return 1; }
      bench_hook bench_after_side "$side" "$r"
      bench_verify "$BENCH_OUT_DIR" || { bench_log "$side output failed verification"; return 1; }
      bench_out_done "$BENCH_OUT_DIR"
      line+=" $side ${t}s$(bench_hook bench_side_note "$side" "$r")"
      ((r >= 1)) || continue
      BENCH_WALL[$side]+="$t "; BENCH_CPU[$side]+="$t_cpu "
    done
    if ((r >= 1)); then bench_log "round $r:$line (load $(bench_load))"; else bench_log "warm-up:$line"; fi
  done
}

# bench_hook NAME ARGS...: runs the function NAME if the script defined it.
bench_hook() {
  if declare -F "$1" >/dev/null; then "$@"; fi
}

bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_median_of SIDE [wall|cpu]
bench_median_of() {
  # shellcheck disable=SC2086
  if [[ "${2:-wall}" == cpu ]]; then median ${BENCH_CPU[$1]}; else median ${BENCH_WALL[$1]}; fi
}

# bench_row LABEL SIDE: one aligned line of the summary
bench_row() {
  printf '  %-34s: %7.3f s wall, %7.3f s cpu   (wall runs: %s)\n' "$1" \
    "$(bench_median_of "$2")" "$(bench_median_of "$2" cpu)" "${BENCH_WALL[$2]% }"
}

bench_footer() {
  echo "  load average                      : $(bench_load) on $(nproc) CPUs; outputs on $BENCH_OUT; $(date -u '+%Y-%m-%d %H:%M UTC')"
}

# median x1 x2 ...
median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
    if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'
}

# ratio a b -> a/b with 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a/b; else print "inf" }'; }

# bench_verify OUTDIR: every manifest file present with its size and sha256
bench_verify() {
  "$PYTHON" "$BENCH_LIB_DIR/origin.py" verify --manifest "$MANIFEST" --out "$1"
}

# bench_args DEFAULT_FILES DEFAULT_SIZE "$@": the common command line
# [--disk] [FILES [SIZE]]; sets BENCH_OUT, FILES and SIZE, and checks that
# dlhost is built.
bench_args() {
  local default_files="$1" default_size="$2"; shift 2
  if [[ "${1:-}" == --disk ]]; then BENCH_OUT=disk; shift; fi
  FILES="${1:-$default_files}"
  SIZE="${2:-$default_size}"
  bench_require_dlhost
}

bench_require_dlhost() {
  if [[ ! -x "$DLHOST" ]]; then
    bench_log "no $DLHOST; build first (bash scripts/setup.sh) or set DLHOST_BUILD_DIR"
    exit 2
  fi
}

# Runners. Each takes an empty output directory.
# dlhost reads its settings from the environment (PROXY_LIST, PROXY_POST_LIMIT,
# ...) and an empty env file, so a stray ./.env cannot change a benchmark.
run_dlhost_plugin() { # PLUGIN OUTDIR [MANIFEST]  (dlhost's own output: $BENCH_DIR/dlhost.log)
  : >"$BENCH_DIR/empty.env"
  if ! "$DLHOST" run --plugin "$1" --out "$2" --progress none --env-file "$BENCH_DIR/empty.env" \
      --stats-json "$BENCH_DIR/dlhost-stats.json" "${3:-$MANIFEST}" >"$BENCH_DIR/dlhost.log" 2>&1; then
    tail -n 20 "$BENCH_DIR/dlhost.log" >&2
    return 1
  fi
}
run_curl_serial() { # OUTDIR: one curl, one connection, URLs one after another
  (cd "$1" && curl -sS --fail --create-dirs -K "$CURL_CONF")
}
run_curl_parallel() { # OUTDIR [max]
  (cd "$1" && curl -sS --no-progress-meter --fail --create-dirs --parallel --parallel-max "${2:-50}" -K "$CURL_CONF")
}
# aria2c: -j = --max-concurrent-downloads (files at once; default 5);
# -x1 = --max-connection-per-server 1 (the default: one connection per file).
run_aria2() { # OUTDIR [j]  (aria2c's output: $BENCH_DIR/aria2.log)
  if ! aria2c -i "$ORIGIN_DIR/aria2.txt" -d "$1" -j "${2:-16}" -x1 --allow-overwrite=true \
      --auto-file-renaming=false --file-allocation=none --console-log-level=warn \
      --summary-interval=0 >"$BENCH_DIR/aria2.log" 2>&1; then
    tail -n 20 "$BENCH_DIR/aria2.log" >&2
    return 1
  fi
}
