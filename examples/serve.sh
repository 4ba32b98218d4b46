#!/usr/bin/env bash
# `dlhost serve` driven end to end with curl: start the service, add files,
# follow them on the event stream, read one file's state and the stats, shut
# down. Usage (from the repository, after a build):
#   bash examples/serve.sh URL [URL...]
# Each URL is downloaded into ./served/ (its last path segment as the name).
set -euo pipefail
DLHOST="${DLHOST:-$(dirname "$0")/../build/bin/dlhost}"
PORT="${PORT:-6801}"
RPC="http://127.0.0.1:$PORT/rpc"
(($# > 0)) || { echo "usage: $0 URL [URL...]" >&2; exit 2; }

"$DLHOST" serve --listen "127.0.0.1:$PORT" --out served --progress none &
SERVE=$!
trap 'kill "$SERVE" 2>/dev/null || true' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$PORT/stats"; do sleep 0.1; done

# Every event, one per line, while the job runs (its type and file).
curl -sN "http://127.0.0.1:$PORT/events" | sed -n 's/^data: //p' &
EVENTS=$!

call() { # METHOD PARAMS_JSON
  curl -s "$RPC" -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}"
  echo
}
ids=()
for url in "$@"; do
  answer=$(call downloadFile "{\"url\":\"$url\"}")
  echo "downloadFile $url -> $answer" >&2
  ids+=("$(sed -n 's/.*"result":{"id":"\([0-9]*\)".*/\1/p' <<<"$answer")")
done
# Wait until every file has settled, then show the first one and the stats.
for id in "${ids[@]}"; do
  until call getFile "{\"id\":\"$id\"}" | grep -Eq '"state":"(completed|failed|skipped)"'; do
    sleep 0.2
  done
done
call getFile "{\"id\":\"${ids[0]}\"}" >&2
call getOrchestratorStats '{}' >&2
call shutdownOrchestrator '{"grace_ms":2000}' >&2
wait "$SERVE"
kill "$EVENTS" 2>/dev/null || true
trap - EXIT
