#!/usr/bin/env bash
# Soak test: builds bookgraph in release mode, starts it on a free loopback port over a
# fresh database (seeded with the tutorial's data), runs bench/soak.mjs against it for 30 s
# (mixed reads and ~10% writes from 64 concurrent clients, beside 100 idle WebSockets, 100
# connections that never finish their headers, and a `{ __typename }` probe every 100 ms),
# then stops the server with SIGTERM. Exits non-zero on any 5xx, any unexpected error, a
# probe p99 of 50 ms or more, a peak RSS (VmHWM) of 150 MiB or more, an idle WebSocket that
# does not stay open, or an unclean server exit.
#
#   bench/soak.sh                 # 30 s, 64 clients, 100 idle WebSockets, 100 slow headers
#   SOAK_SECONDS=300 SOAK_CLIENTS=128 SOAK_IDLE_WS=200 SOAK_SLOW_HEADERS=200 bench/soak.sh
#   BOOKGRAPH=target/release/bookgraph bench/soak.sh   # use this binary, do not build
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-30}
clients=${SOAK_CLIENTS:-64}
idle_ws=${SOAK_IDLE_WS:-100}
slow_headers=${SOAK_SLOW_HEADERS:-100}

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Node 18+ runs the load (global fetch); install it when missing, as .ci/run does.
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
  log "installing Node.js"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs
fi

if [ -n "${BOOKGRAPH:-}" ]; then
  bookgraph=$BOOKGRAPH
  [ -x "$bookgraph" ] || { log "BOOKGRAPH=$bookgraph is not an executable"; exit 1; }
else
  log "building the release binary"
  cargo build --release --quiet
  bookgraph=target/release/bookgraph
fi

dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

log "starting $bookgraph serve (database in $dir)"
RUST_LOG=${RUST_LOG:-info} "$bookgraph" serve \
  --listen 127.0.0.1:0 --database "sqlite:$dir/soak.db" 2>"$dir/server.log" &
server_pid=$!

url=
for _ in $(seq 300); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$dir/server.log" | head -n1 | sed 's/^listening on //') || true
  [ -n "$url" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$dir/server.log" >&2
    log "the server exited before listening"
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$dir/server.log" >&2
  log "the server did not start listening within 30 s"
  exit 1
fi
log "server $server_pid listening on $url; soaking for ${seconds} s with ${clients} clients," \
  "${idle_ws} idle WebSockets and ${slow_headers} slow-header connections"

status=0
node bench/soak.mjs --url "$url" --pid "$server_pid" --seconds "$seconds" --clients "$clients" \
  --idle-ws "$idle_ws" --slow-headers "$slow_headers" --server-log "$dir/server.log" || status=$?

log "stopping the server (SIGTERM)"
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
warnings=$(grep -cE '\b(WARN|ERROR)\b' "$dir/server.log" || true)
echo "server: exit status $server_status, $warnings WARN/ERROR log lines"
if [ "$warnings" -gt 0 ]; then
  grep -E '\b(WARN|ERROR)\b' "$dir/server.log" | head -n 10
fi

if [ "$status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
  log "soak FAILED"
  exit 1
fi
log "soak passed"
