#!/usr/bin/env bash
# Soak test: builds bookgraph in release mode, starts it on a free loopback port over a
# fresh database (seeded with the tutorial's data), runs bench/soak.mjs against it (mixed
# reads and ~10% writes from 64 concurrent clients for 30 s), then stops the server with
# SIGTERM. Exits non-zero on any 5xx, any unexpected error, or an unclean server exit.
#
#   bench/soak.sh                 # 30 s, 64 clients
#   SOAK_SECONDS=300 SOAK_CLIENTS=128 bench/soak.sh
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-30}
clients=${SOAK_CLIENTS:-64}

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Node 18+ runs the load (global fetch); install it when missing, as .ci/run does.
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
  log "installing Node.js"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs
fi

log "building the release binary"
cargo build --release --quiet

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

log "starting target/release/bookgraph serve (database in $dir)"
RUST_LOG=${RUST_LOG:-info} target/release/bookgraph serve \
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
log "server $server_pid listening on $url; soaking for ${seconds} s with ${clients} clients"

status=0
node bench/soak.mjs --url "$url" --pid "$server_pid" --seconds "$seconds" --clients "$clients" || status=$?

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
