#!/usr/bin/env bash
# W1 (`addBook`, a fresh title per call) on PostgreSQL with 1, 2 and 4 replicas in one run,
# beside one server on SQLite: how writes scale with replicas. One dataset (AUTHORS, 2,000
# unless set) imported into a fresh SQLite file and a fresh PostgreSQL database; for each
# setup the servers start on their copy, are warmed up 2 s, then CLIENTS (32) clients split
# evenly over the replicas run examples/load.rs for BENCH_SECONDS (5) at once. Each setup
# after the first starts from the rows the one before it added. Prints a Markdown table
# and the load average before each run (the machine is shared), then for each PostgreSQL run
# what its backends were waiting on, sampled from pg_stat_activity.
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

# sample_waits FILE: until killed, every 0.2 s, what each active backend of the bench's
# database is doing: one line per backend, its wait event or "running" (on a CPU or ready to
# be). The profile of where PostgreSQL holds writers back.
sample_waits() {
  while true; do
    psql -At "$admin" -c "select coalesce(wait_event_type || ':' || wait_event, 'running')
      from pg_stat_activity where datname = '$database' and state = 'active'
        and pid <> pg_backend_pid()" >>"$1" 2>/dev/null || true
    sleep 0.2
  done
}
# run LABEL URL N: one row of the table; on PostgreSQL, the waits sampled during the run.
run() {
  start "$2" "$3"
  drive 2 "warm-$1" >/dev/null
  local load_average sampler=
  load_average=$(cut -d' ' -f1 /proc/loadavg)
  if [[ $2 == postgres* ]]; then
    : >"$work/waits-$3"
    sample_waits "$work/waits-$3" &
    sampler=$!
  fi
  read -r rps errors < <(drive "$seconds" "run-$1")
  if [ -n "$sampler" ]; then
    kill "$sampler"
    wait "$sampler" 2>/dev/null || true
    sort "$work/waits-$3" | uniq -c | sort -rn >"$work/waits-$3.counts"
  fi
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
echo
echo "Active backends of the bench's database, sampled every 0.2 s during each PostgreSQL run"
echo "(samples: state or wait event):"
for n in "${replica_counts[@]}"; do
  echo
  echo "$n replica$([ "$n" = 1 ] || echo s):"
  sed 's/^/    /' "$work/waits-$n.counts"
done
