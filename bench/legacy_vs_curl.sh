#!/usr/bin/env bash
# dlhost --plugin legacy against curl fetching the same URLs one after another
# over ONE connection (a single curl with a -K config of url/output pairs, no
# --parallel). Every run writes into a fresh directory (tmpfs by default,
# --disk for $BENCH_DIR) and is verified (size + sha256); the two tools
# alternate run by run after a warm-up round; the medians of BENCH_REPEAT
# (default 5) runs are compared. Target: ratio dlhost/curl <= 1.1.
#   bash bench/legacy_vs_curl.sh [--disk] [FILES [SIZE]]   (default 2000 x 65536)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bench_args 2000 65536 "$@"
bench_origin_start "$FILES" "$SIZE"

side_dlhost() { run_dlhost_plugin legacy "$1"; }
side_curl() { run_curl_serial "$1"; }
bench_compare dlhost curl

md=$(bench_median_of dlhost); mc=$(bench_median_of curl)
r=$(ratio "$md" "$mc")
echo "legacy_vs_curl: $FILES files x $SIZE bytes, one connection, median of $BENCH_REPEAT"
bench_row "dlhost --plugin legacy" dlhost
bench_row "curl -K, one connection" curl
echo "  ratio dlhost/curl                 : ${r} wall, $(ratio "$(bench_median_of dlhost cpu)" "$(bench_median_of curl cpu)") cpu   (target: wall <= 1.1)"
bench_footer
awk -v r="$r" 'BEGIN { exit !(r <= 1.1) }' && echo "  PASS" || echo "  ABOVE TARGET"
