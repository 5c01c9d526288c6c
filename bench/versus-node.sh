#!/usr/bin/env bash
# bookgraph beside the Node peer (GraphQL Yoga + DataLoader + better-sqlite3, ../shared/peers/
# node), on the same machine, in the same run, interleaved, each run on a fresh copy of the
# same imported data:
#
#   for each dataset (M = 5,000 authors, L = 50,000), for each round, for each workload
#   (Q1 Q2 Q3 Q4 W1): Node then bookgraph in odd rounds, bookgraph then Node in even ones.
#
# Every run is examples/load.rs: closed loop, CLIENTS clients (32), BENCH_SECONDS seconds (6)
# after a 2 s warm-up, no compression asked of either server, ROUNDS rounds (4). The machine's
# speed drifts from minute to minute, so a workload's ratio is the median of its rounds'
# ratios, each between the two servers' runs side by side in that round.
#
# Then Q1 at one client, ms per request at p50, interleaved with the honest floor
# (examples/floor.rs: the floor of `cargo bench`, rusqlite in-process, on a copy of the same
# data) for SINGLE_ROUNDS rounds (5) of SINGLE_SECONDS seconds (4), and bookgraph's peak RSS
# under Q1 and under W1 at 64 clients.
# Prints a Markdown table of medians over the rounds and the ratios bookgraph ÷ Node, and
# writes it to bench/results-versus-node.md.
#
#   bench/versus-node.sh
#   DATASETS=M ROUNDS=1 BENCH_SECONDS=3 SINGLE_ROUNDS=1 bench/versus-node.sh   # smoke run, about 2 min
#   WORKLOADS=W1 DATASETS=M bench/versus-node.sh                 # one workload only
#
# Needs cargo, node and npm (the peer's better-sqlite3 builds from source against the local
# Node headers), sqlite3 and jq. Only ever talks to 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
read -r -a datasets <<<"${DATASETS:-M L}"
rounds=${ROUNDS:-4}
seconds=${BENCH_SECONDS:-6}
clients=${CLIENTS:-32}
single_rounds=${SINGLE_ROUNDS:-5}
single_seconds=${SINGLE_SECONDS:-4}
read -r -a workloads <<<"${WORKLOADS:-Q1 Q2 Q3 Q4 W1}"
peer_src=${PEER:-$root/../shared/peers/node}
contract=${CONTRACT:-$root/../shared/api/contract.graphql}

log() { printf '==> %s\n' "$*" >&2; }

for tool in node npm jq sqlite3 curl; do
  command -v "$tool" >/dev/null || { log "$tool is missing"; exit 1; }
done

log "building the release binary and the load driver"
cargo build --release --quiet --bin bookgraph --example load --example floor
bookgraph=$root/target/release/bookgraph
load=$root/target/release/examples/load
floor=$root/target/release/examples/floor

peer=$root/target/node-peer
if [ ! -d "$peer/node_modules/better-sqlite3" ]; then
  log "installing the Node peer into target/node-peer"
  rm -rf "$peer"
  cp -r "$peer_src" "$peer"
  (cd "$peer" && npm_config_nodedir=/usr npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for_url LOG: the URL the server's log names once it listens.
wait_for_url() {
  local log_file=$1 found=
  for _ in $(seq 600); do
    found=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log_file" | head -n1) || true
    [ -n "$found" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log_file" >&2; log "the server exited"; exit 1; }
    sleep 0.1
  done
  [ -n "$found" ] || { cat "$log_file" >&2; log "the server did not listen"; exit 1; }
  echo "$found/graphql"
}

# start SERVER DB: starts bookgraph or node on a copy of DB; sets server_pid and url.
start() {
  local server=$1 template=$2 db=$work/run.db
  rm -f "$db" "$db-wal" "$db-shm"
  cp "$template" "$db"
  # On disk before the server starts: otherwise the copy's dirty pages (96 MB on L) are
  # written back during the run, and the server's first checkpoint waits for all of them.
  sync "$db"
  if [ "$server" = bookgraph ]; then
    RUST_LOG=warn,bookgraph=info "$bookgraph" serve --listen 127.0.0.1:0 --database "sqlite:$db" \
      2>"$work/server.log" &
  else
    SCHEMA=$contract DB=$db PORT=0 node "$peer/server.mjs" >"$work/server.log" 2>&1 &
  fi
  server_pid=$!
  url=$(wait_for_url "$work/server.log")
}

# drive WORKLOAD CLIENTS SECONDS TAG: the load driver's JSON.
drive() {
  "$load" --url "$url" --workload "$(tr '[:upper:]' '[:lower:]' <<<"$1")" --concurrency "$2" \
    --seconds "$3" --max-book-id "$books" --tag "$4"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# median_ratio RATIOS: the median of the space-separated ratios that are numbers; n/a if none is.
median_ratio() {
  local numbers
  numbers=$(tr ' ' '\n' <<<"$1" | awk '/^[0-9.]+$/')
  if [ -n "$numbers" ]; then median <<<"$numbers"; else echo n/a; fi
}
# as_times RATIO: "1.23×", or n/a.
as_times() { if [ "$1" = n/a ]; then echo n/a; else echo "$(fmt "$1" 2)×"; fi; }
fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit+=" plus uncommitted changes"
out=$root/bench/results-versus-node.md
{
  echo "# bookgraph and the Node peer, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Commit $commit; $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo));" \
    "load average at the start $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds of ${seconds} s runs," \
    "$clients clients, interleaved."
} >"$work/report.md"

for name in "${datasets[@]}"; do
  case $name in M) authors=5000 ;; L) authors=50000 ;; *) log "unknown dataset $name"; exit 2 ;; esac
  csv=$work/$name.csv
  log "[$name] generating $authors authors; importing into both templates"
  "$bookgraph" generate --authors "$authors" --seed 1 "$csv" >/dev/null
  "$bookgraph" import "$csv" --database "sqlite:$work/$name-bookgraph.db" >/dev/null 2>&1
  SCHEMA=$contract DB=$work/$name-node.db CSV=$csv PORT=0 node "$peer/server.mjs" >"$work/import.log" 2>&1 &
  server_pid=$!
  wait_for_url "$work/import.log" >/dev/null
  stop_server
  books=$(sqlite3 "$work/$name-bookgraph.db" 'select count(*) from book')
  node_books=$(sqlite3 "$work/$name-node.db" 'select count(*) from book')
  [ "$books" = "$node_books" ] || log "[$name] warning: $books books in bookgraph's copy, $node_books in Node's"

  declare -A runs=() errors=() round_rps=() paired=()
  for round in $(seq "$rounds"); do
    order=(node bookgraph)
    [ $((round % 2)) = 0 ] && order=(bookgraph node)
    for workload in "${workloads[@]}"; do
      for server in "${order[@]}"; do
        start "$server" "$work/$name-$server.db"
        drive "$workload" "$clients" 2 "warm-$round" >/dev/null
        result=$(drive "$workload" "$clients" "$seconds" "$name-$round")
        stop_server
        rps=$(jq -r .rps <<<"$result")
        runs[$server-$workload]+="$rps "
        round_rps[$server]=$rps
        errors[$server-$workload]=$(( ${errors[$server-$workload]:-0} + $(jq -r .errors <<<"$result") ))
        log "[$name] round $round $workload $server: $(fmt "$rps") req/s, $(jq -r .errors <<<"$result") errors"
      done
      paired[$workload]+="$(ratio "${round_rps[bookgraph]}" "${round_rps[node]}") "
    done
  done

  # Q1 at one client: ms per request (p50), each server on its own, and the honest floor
  # on a fresh copy of bookgraph's data right before each of bookgraph's runs. The machine's
  # speed drifts from minute to minute, so each round's ratio sets bookgraph beside the floor
  # timed just before it, and the table gives the median of the rounds' ratios: short
  # rounds, and more of them, than the throughput runs.
  declare -A single=() ratios=()
  for round in $(seq 1 "$single_rounds"); do
    declare -A ms=()
    for server in node floor bookgraph; do
      if [ "$server" = floor ]; then
        rm -f "$work/run.db" "$work/run.db-wal" "$work/run.db-shm"
        cp "$work/$name-bookgraph.db" "$work/run.db"
        ms[$server]=$("$floor" --database "$work/run.db" --query q1 --seconds "$single_seconds" | jq -r .p50_ms)
      else
        start "$server" "$work/$name-$server.db"
        drive Q1 1 2 warm >/dev/null
        ms[$server]=$(drive Q1 1 "$single_seconds" single | jq -r .p50_ms)
        stop_server
      fi
      single[$server]+="${ms[$server]} "
      log "[$name] round $round Q1 at one client, $server: $(fmt "${ms[$server]}" 2) ms"
    done
    for server in node bookgraph; do
      ratios[$server]+="$(ratio "${ms[$server]}" "${ms[floor]}") "
    done
  done
  for server in node floor bookgraph; do
    single[$server]=$(tr ' ' '\n' <<<"${single[$server]}" | grep . | median)
  done
  for server in node bookgraph; do
    ratios[$server]=$(median_ratio "${ratios[$server]}")
  done

  # bookgraph's peak RSS at 64 clients, reads and writes.
  start bookgraph "$work/$name-bookgraph.db"
  drive Q1 64 "$seconds" rss >/dev/null
  drive W1 64 "$seconds" rss >/dev/null
  peak=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
  stop_server

  {
    echo
    echo "## Dataset $name: $authors authors, $books books"
    echo
    echo "| workload | Node | bookgraph | bookgraph ÷ Node | each round's ratio | errors (Node / bookgraph) |"
    echo "|---|---:|---:|---:|---|---|"
    for workload in "${workloads[@]}"; do
      n=$(tr ' ' '\n' <<<"${runs[node-$workload]}" | grep . | median)
      b=$(tr ' ' '\n' <<<"${runs[bookgraph-$workload]}" | grep . | median)
      r=$(median_ratio "${paired[$workload]}")
      echo "| $workload | $(fmt "$n") | $(fmt "$b") | $(as_times "$r") | ${paired[$workload]% } | ${errors[node-$workload]} / ${errors[bookgraph-$workload]} |"
    done
    echo
    echo "Node and bookgraph: medians of the rounds in req/s. bookgraph ÷ Node: the median of the" \
      "rounds' ratios, each between the two runs of one round."
    echo
    echo "Q1 at one client, p50, medians of $single_rounds rounds of $single_seconds s: Node $(fmt "${single[node]}" 2) ms," \
      "bookgraph $(fmt "${single[bookgraph]}" 2) ms, the honest floor $(fmt "${single[floor]}" 2) ms:" \
      "bookgraph $(as_times "${ratios[bookgraph]}") the floor, Node $(as_times "${ratios[node]}")" \
      "(each the median of the rounds' ratios to the floor timed in the same round)."
    echo "bookgraph's peak RSS over Q1 and W1 at 64 clients: $(fmt "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')" 1) MiB."
  } >>"$work/report.md"
  unset runs errors round_rps paired single
done

cp "$work/report.md" "$out"
cat "$out"
