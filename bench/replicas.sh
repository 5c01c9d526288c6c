#!/usr/bin/env bash
# W1 (`addBook`, a fresh title per call) on PostgreSQL with 1, 2 and 4 replicas in one run,
# beside one server on SQLite: how writes scale with replicas. One dataset (AUTHORS, 2,000
# unless set) imported into a fresh SQLite file and a fresh PostgreSQL database; for each
# setup the servers start on their copy, are warmed up 2 s, then CLIENTS (32) clients split
# evenly over the replicas run examples/load.rs for BENCH_SECONDS (5) at once. Each setup
# after the first starts from the rows the one before it added. Prints a Markdown table
# and the load average before each run (the machine is shared).
#
#   bench/replicas.sh                                 # PostgreSQL from .ci/postgres
#   REPLICAS="1 2" PG_URL=postgres://u:pw@127.0.0.1/postgres bench/replicas.sh
#
# Needs cargo, psql, sqlite3 and jq. Only ever talks to 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
authors=${AUTHORS:-2000}
seconds=${BENCH_SECONDS:-5}
clients=${CLIENTS:-32}
read -r -a replica_counts <<<"${REPLICAS:-1 2 4}"
admin=${PG_URL:-$(.ci/postgres)}

# shellcheck source=bench/postgres-common.sh
. bench/postgres-common.sh
cp "$work/template.db" "$work/run.db"

# drive SECONDS TAG: W1 on every endpoint at once, the clients split evenly; prints the
# summed req/s and errors.
drive() {
  local per=$((clients / ${#endpoints[@]})) n=0 drivers=()
  for endpoint in "${endpoints[@]}"; do
    "$load" --url "$endpoint" --workload w1 --concurrency "$per" --seconds "$1" \
      --max-book-id "$books" --tag "$2-$n" >"$work/result-$n.json" &
    drivers+=($!)
    n=$((n + 1))
  done
  # Only the drivers: a bare `wait` would wait for the servers too.
  wait "${drivers[@]}"
  jq -s -r '"\(map(.rps) | add) \(map(.errors) | add)"' "$work"/result-*.json
  rm -f "$work"/result-*.json
}

# run LABEL URL N: one row of the table.
run() {
  start "$2" "$3"
  drive 2 "warm-$1" >/dev/null
  local load_average
  load_average=$(cut -d' ' -f1 /proc/loadavg)
  read -r rps errors < <(drive "$seconds" "run-$1")
  stop_servers
  log "$1: $rps req/s, $errors errors, load average $load_average before"
  printf '| %s | %.0f | %s | %s |\n' "$1" "$rps" "$errors" "$load_average"
}

echo "| W1 addBook, $clients clients | req/s | errors | load average before |"
echo "|---|---:|---:|---:|"
run "SQLite, 1 server" "sqlite:$work/run.db" 1
for n in "${replica_counts[@]}"; do
  run "PostgreSQL, $n replica$([ "$n" = 1 ] || echo s)" "$pg_url" "$n"
done
