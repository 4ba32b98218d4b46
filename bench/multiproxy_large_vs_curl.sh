#!/usr/bin/env bash
# Issue 3, point 10b: a few large files at once, direct, on one local nginx:
# dlhost (multi-proxy plugin, all files in flight) vs `curl --parallel`
# (all at once). Prints throughput (MiB/s of wall time); target: dlhost's
# throughput >= 0.95x curl's. dlhost also hashes every byte (sha256) and
# checks the size; curl does not. Outputs are verified after each run.
#   bash bench/multiproxy_large_vs_curl.sh [--disk] [FILES [SIZE]]  (4 x 128 MiB)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bench_args 4 134217728 "$@"
bench_origin_start "$FILES" "$SIZE"
unset PROXY_LIST

side_dlhost() { PROXY_POST_LIMIT="$FILES" PROXY_ATTACHMENT_LIMIT="$FILES" run_dlhost_plugin multi-proxy "$1"; }
side_curl() { run_curl_parallel "$1" "$FILES"; }
bench_compare dlhost curl

mib=$(awk -v n="$FILES" -v s="$SIZE" 'BEGIN { print n * s / 1048576 }')
tput() { awk -v m="$mib" -v t="$1" 'BEGIN { printf "%.0f", (t > 0 ? m / t : 0) }'; }
md=$(bench_median_of dlhost); mc=$(bench_median_of curl)
r=$(ratio "$mc" "$md")  # throughput ratio = inverse of the wall-time ratio
echo "multiproxy_large_vs_curl: $FILES files x $SIZE bytes ($mib MiB), direct, all at once, median of $BENCH_REPEAT"
bench_row "dlhost multi-proxy" dlhost
bench_row "curl --parallel-max $FILES" curl
echo "  throughput                        : dlhost $(tput "$md") MiB/s, curl $(tput "$mc") MiB/s"
echo "  throughput ratio dlhost/curl      : ${r}   (target: >= 0.95)"
bench_footer
awk -v r="$r" 'BEGIN { exit !(r >= 0.95) }' && echo "  PASS" || echo "  BELOW TARGET"
