# Sourced by bench/postgres.sh and bench/replicas.sh, from the repository's root, after they
# set `authors` and `admin` (a PostgreSQL URL that may create databases). Builds bookgraph
# and the load driver; imports `authors` generated authors into a fresh SQLite file
# ($work/template.db) and a fresh PostgreSQL database ($pg_url), and sets `books`; gives
# `start`, `stop_servers` and `log`. On exit the servers stop, the database is dropped and
# the work directory removed. Only ever talks to 127.0.0.1.

log() { printf '==> %s\n' "$*" >&2; }

cargo build --release --quiet --bin bookgraph --example load
bookgraph=$PWD/target/release/bookgraph
load=$PWD/target/release/examples/load

work=$(mktemp -d)
database=bookgraph_bench_$$
pg_url=${admin%/*}/$database
server_pids=()
endpoints=()
run_on=()

# start URL N: N servers on URL, each on a port of its own; appends to server_pids and
# endpoints (their /graphql URLs) once each listens.
start() {
  for n in $(seq "$2"); do
    RUST_LOG=warn,bookgraph=info "${run_on[@]}" "$bookgraph" serve --listen 127.0.0.1:0 \
      --database "$1" 2>"$work/server-$n.log" &
    server_pids+=($!)
    local endpoint=
    for _ in $(seq 300); do
      endpoint=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server-$n.log" | head -n1) || true
      [ -n "$endpoint" ] && break
      sleep 0.1
    done
    [ -n "$endpoint" ] || { cat "$work/server-$n.log" >&2; exit 1; }
    endpoints+=("$endpoint/graphql")
  done
}

stop_servers() {
  for pid in "${server_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
  endpoints=()
}

cleanup() {
  stop_servers
  psql -q "$admin" -c "drop database if exists $database" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

log "generating $authors authors; importing into SQLite and PostgreSQL"
"$bookgraph" generate --authors "$authors" --seed 1 "$work/data.csv" >/dev/null
"$bookgraph" import "$work/data.csv" --database "sqlite:$work/template.db" >/dev/null 2>&1
psql -q "$admin" -c "create database $database" >/dev/null
"$bookgraph" import "$work/data.csv" --database "$pg_url" >/dev/null 2>&1
books=$(sqlite3 "$work/template.db" 'select count(*) from book')
