# bench/lib.sh: shared set-up for the benchmarks. Source it from bash:
#   source "$(dirname "$0")/lib.sh"
#   bench_origin_start 2000 65536        # N files of SIZE bytes, nginx on loopback
#   ... use $MANIFEST $URLS $CURL_CONF $ORIGIN_URL ...
#   bench_origin_stop                     # also done by the EXIT trap
# The origin (data, config, pid file, logs) lives in $BENCH_DIR (default
# /tmp/dlhost-bench); generated data is reused between runs of the same shape.
# nginx is started by this shell and stopped by its own pid, never by name.

BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_LIB_DIR/.." && pwd)"
BUILD_DIR="${DLHOST_BUILD_DIR:-$REPO_DIR/build}"
DLHOST="${DLHOST:-$BUILD_DIR/bin/dlhost}"
BENCH_DIR="${BENCH_DIR:-/tmp/dlhost-bench}"
BENCH_REPEAT="${BENCH_REPEAT:-5}"
PYTHON="${PYTHON:-/usr/bin/python3}"
ORIGIN_PID=""

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
  URLS="$ORIGIN_DIR/urls.txt"
  CURL_CONF="$ORIGIN_DIR/curl.conf"
  # shellcheck disable=SC2086
  $cmd >"$ORIGIN_DIR/nginx/stdout.log" 2>&1 &
  ORIGIN_PID=$!
  trap bench_origin_stop EXIT
  local i
  for i in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$ORIGIN_PORT") 2>/dev/null; then
      bench_log "origin: nginx pid $ORIGIN_PID on $ORIGIN_URL serving $n x $size bytes"
      return 0
    fi
    if ! kill -0 "$ORIGIN_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  bench_log "origin failed to start; see $ORIGIN_DIR/nginx/error.log"
  cat "$ORIGIN_DIR/nginx/error.log" >&2 || true
  return 1
}

bench_origin_stop() {
  if [[ -n "${ORIGIN_PID:-}" ]] && kill -0 "$ORIGIN_PID" 2>/dev/null; then
    kill -TERM "$ORIGIN_PID" 2>/dev/null || true
    wait "$ORIGIN_PID" 2>/dev/null || true
  fi
  ORIGIN_PID=""
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

bench_require_dlhost() {
  if [[ ! -x "$DLHOST" ]]; then
    bench_log "no $DLHOST; build first (bash scripts/setup.sh) or set DLHOST_BUILD_DIR"
    exit 2
  fi
}

# Runners. Each takes an empty output directory.
run_dlhost_plugin() { # PLUGIN OUTDIR  (dlhost's own output: $BENCH_DIR/dlhost.log)
  if ! "$DLHOST" run --plugin "$1" --out "$2" --progress none "$MANIFEST" \
      >"$BENCH_DIR/dlhost.log" 2>&1; then
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
