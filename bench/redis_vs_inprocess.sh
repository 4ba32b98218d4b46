#!/usr/bin/env bash
# Issue 4, point 9: the same job coordinated in-process and through Redis.
# 2000 files of 64 KiB (sha256 and size in the manifest) on one local nginx,
# default multi-proxy plugin, direct (no proxy). The script starts its own
# redis-server on a free loopback port (own directory, no persistence:
# --save "" --appendonly no) and stops it by its pid.
#
# Sides, alternating after an untimed warm-up round (order rotates):
#   inprocess  dlhost run, no REDIS_URL
#   redis      dlhost run with REDIS_URL; a fresh DOWNLOAD_JOB per run, so
#              Redis holds no completion records from earlier runs
#   redis2     informational: two dlhost run processes sharing one fresh job
#              and one output directory; wall time until both have finished
# Every output is verified (size + sha256 of every file). The Redis sides
# also report Redis's own work per run, read outside the timed region from
# INFO commandstats / INFO stats / INFO cpu deltas: commands per file (by
# command; the calls a Lua script makes count too, so a compare-and-delete
# release shows as eval + get + del), round trips per file
# (total_reads_processed: one read event per pipelined batch, about one per
# round trip) and redis-server CPU (not part of the timed process's CPU time).
# Target: median wall redis / inprocess <= 1.2.
#   bash bench/redis_vs_inprocess.sh [--disk] [FILES [SIZE]]   (2000 x 65536)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bench_args 2000 65536 "$@"
command -v redis-server >/dev/null || { bench_log "redis-server is not installed"; exit 2; }
command -v redis-cli >/dev/null || { bench_log "redis-cli is not installed"; exit 2; }
bench_origin_start "$FILES" "$SIZE"   # groups of 10 files (post-NNNN)
unset PROXY_LIST REDIS_URL DOWNLOAD_JOB

# --- redis-server -----------------------------------------------------------
REDIS_DIR="$BENCH_DIR/redis"
rm -rf "$REDIS_DIR"; mkdir -p "$REDIS_DIR"
REDIS_PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --save "" \
  --appendonly no --daemonize no --protected-mode yes \
  --logfile "$REDIS_DIR/redis.log" >"$REDIS_DIR/stdout.log" 2>&1 &
REDIS_PID=$!
BENCH_PIDS+=("$REDIS_PID")
bench_wait_port 127.0.0.1 "$REDIS_PORT" "$REDIS_PID" || { bench_log "redis-server failed; see $REDIS_DIR"; exit 1; }
BENCH_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
bench_log "redis: redis-server pid $REDIS_PID on $BENCH_REDIS_URL ($(redis-server --version | cut -d' ' -f3))"
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# --- runners ----------------------------------------------------------------
: >"$BENCH_DIR/empty.env"
JOB_SEQ=0
next_job() { JOB_SEQ=$((JOB_SEQ + 1)); BENCH_JOB="bench-$$-$JOB_SEQ"; }

dlhost_host() { # OUTDIR TAG [env...]: one dlhost run; log and stats under $BENCH_DIR/TAG.*
  local out="$1" tag="$2"; shift 2
  env "$@" "$DLHOST" run --out "$out" --progress none --env-file "$BENCH_DIR/empty.env" \
    --stats-json "$BENCH_DIR/$tag.stats.json" "$MANIFEST" >"$BENCH_DIR/$tag.log" 2>&1
}

side_inprocess() { dlhost_host "$1" inprocess || { tail -n 20 "$BENCH_DIR/inprocess.log" >&2; return 1; }; }
side_redis() {
  dlhost_host "$1" redis REDIS_URL="$BENCH_REDIS_URL" DOWNLOAD_JOB="$BENCH_JOB" \
    || { tail -n 20 "$BENCH_DIR/redis.log" >&2; return 1; }
}
side_redis2() { # two hosts, one job, one output directory
  local a b rc=0
  dlhost_host "$1" redis2-a REDIS_URL="$BENCH_REDIS_URL" DOWNLOAD_JOB="$BENCH_JOB" & a=$!
  dlhost_host "$1" redis2-b REDIS_URL="$BENCH_REDIS_URL" DOWNLOAD_JOB="$BENCH_JOB" & b=$!
  wait "$a" || rc=1
  wait "$b" || rc=1
  if ((rc)); then tail -n 10 "$BENCH_DIR/redis2-a.log" "$BENCH_DIR/redis2-b.log" >&2; fi
  return $rc
}

# --- Redis's work per run, from INFO deltas (taken outside the timing) -------
declare -A R_BEFORE=()
redis_snapshot() { # -> "name value" lines: cmd_<name> calls, reads, commands, cpu
  rcli INFO all | tr -d '\r' | awk -F'[:,=]' '
    /^cmdstat_/ { sub(/^cmdstat_/, "", $1); print "cmd_" $1, $3 }
    /^total_commands_processed:/ { print "commands", $2 }
    /^total_reads_processed:/ { print "reads", $2 }
    /^used_cpu_sys:/ { s = $2 } /^used_cpu_user:/ { u = $2 }
    END { printf "cpu %.6f\n", s + u }'
}
redis_before() {
  R_BEFORE=()
  local k v
  while read -r k v; do R_BEFORE[$k]=$v; done < <(redis_snapshot)
}
declare -A R_SUM=()  # per side: summed deltas over the timed runs
redis_after() { # SIDE: add this run's deltas to R_SUM[SIDE.key]
  local k v
  while read -r k v; do
    R_SUM["$1.$k"]=$(awk -v a="${R_SUM[$1.$k]:-0}" -v v="$v" -v b="${R_BEFORE[$k]:-0}" 'BEGIN { printf "%.6f", a + v - b }')
  done < <(redis_snapshot)
}
# The INFO/redis-cli calls themselves are counted in the deltas: subtract the
# one INFO command and its read (CONFIG/INFO are not dlhost's).
redis_report() { # SIDE LABEL
  local side="$1" runs="$BENCH_REPEAT" files_total k name per parts=()
  files_total=$((FILES * runs))
  local cmds reads cpu
  cmds=$(awk -v c="${R_SUM[$side.commands]:-0}" -v r="$runs" -v f="$files_total" 'BEGIN { printf "%.2f", (c - r) / f }')
  reads=$(awk -v c="${R_SUM[$side.reads]:-0}" -v r="$runs" -v f="$files_total" 'BEGIN { printf "%.2f", (c - r) / f }')
  cpu=$(awk -v c="${R_SUM[$side.cpu]:-0}" -v r="$runs" 'BEGIN { printf "%.3f", c / r }')
  for k in "${!R_SUM[@]}"; do
    [[ "$k" == "$side.cmd_"* ]] || continue
    name="${k#"$side.cmd_"}"
    [[ "$name" == info ]] && continue
    per=$(awk -v c="${R_SUM[$k]}" -v f="$files_total" 'BEGIN { printf "%.2f", c / f }')
    [[ "$per" == 0.00 ]] && continue
    parts+=("$name $per")
  done
  printf '  %-34s: %s commands/file (%s), %s round trips/file, redis-server cpu %s s/run\n' \
    "$2" "$cmds" "$(IFS=,; echo "${parts[*]}" | sed 's/,/, /g')" "$reads" "$cpu"
}

# --- the comparison: bench_compare, with Redis's INFO taken around each run -
declare -A SHARE=()  # round -> files completed by each of the 2 hosts
bench_before_side() { # SIDE
  next_job
  [[ "$1" == inprocess ]] || redis_before
}
bench_after_side() { # SIDE ROUND
  if (($2 >= 1)) && [[ "$1" != inprocess ]]; then redis_after "$1"; fi
  if [[ "$1" == redis2 ]]; then
    SHARE[$2]=$("$PYTHON" -c 'import json,sys; print("/".join(str(json.load(open(p))["files"]["completed"]) for p in sys.argv[1:]))' \
                "$BENCH_DIR/redis2-a.stats.json" "$BENCH_DIR/redis2-b.stats.json")
  fi
}
bench_side_note() { # SIDE ROUND (in a subshell: only prints)
  if [[ "$1" == redis2 ]]; then echo " (files per host ${SHARE[$2]})"; fi
}
bench_compare inprocess redis redis2

mi=$(bench_median_of inprocess); mr=$(bench_median_of redis)
ratio_r=$(ratio "$mr" "$mi")
echo "redis_vs_inprocess: $FILES files x $SIZE bytes, multi-proxy, direct, sha256, median of $BENCH_REPEAT"
bench_row "in-process" inprocess
bench_row "REDIS_URL (fresh job per run)" redis
bench_row "REDIS_URL, 2 hosts, one job" redis2
echo "  ratio redis/in-process            : ${ratio_r} wall, $(ratio "$(bench_median_of redis cpu)" "$(bench_median_of inprocess cpu)") cpu (dlhost only)   (target: wall <= 1.2)"
shares=""; for ((r = 1; r <= BENCH_REPEAT; r++)); do shares+=" ${SHARE[$r]}"; done
echo "  ratio 2 hosts/in-process          : $(ratio "$(bench_median_of redis2)" "$mi") wall   (informational; files per host:$shares)"
redis_report redis "Redis work, 1 host"
redis_report redis2 "Redis work, 2 hosts (both)"
bench_footer
awk -v r="$ratio_r" 'BEGIN { exit !(r <= 1.2) }' && echo "  PASS" || echo "  ABOVE TARGET"
