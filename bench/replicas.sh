#!/usr/bin/env bash
# W1 (`addBook`, a fresh title per call) on PostgreSQL with 1, 2 and 4 replicas in one run,
# beside one server on SQLite: how writes scale with replicas. One dataset (AUTHORS, 2,000
# unless set) imported into a fresh SQLite file and a fresh PostgreSQL database; for each
# setup the servers start on their copy, are warmed up 2 s, then CLIENTS (32) clients split
# evenly over the replicas run examples/load.rs for BENCH_SECONDS (5) at once. Each setup
# after the first starts from the rows the one before it added. Prints a Markdown table
# and the load average before each run (the machine is shared), then for each PostgreSQL run
# what its backends were waiting on, sampled from pg_stat_activity. With DISJOINT=1, each
# replica's driver writes to authors and publishers of its own (`load --name-set`), so
# writers of two replicas share no count row: what is left between them is PostgreSQL's.
# With PROFILE=1, `perf record -a` samples the whole machine during each PostgreSQL run, and
# the table of each names the processes and PostgreSQL's functions that took the CPU.
# With SPLIT=1, PostgreSQL (every PostgreSQL process of the machine) runs on the first core
# alone and the servers and drivers on the others (`taskset`; PostgreSQL's processes get
# their cores back at exit), so that each run shows whether PostgreSQL's core or the
# replicas' ran out: writes over replicas as they go when the database has a machine of its
# own. Each run prints how busy every core was, and for PostgreSQL the write transactions
# (from the servers' /metrics) and PostgreSQL's CPU time per write and per transaction.
#
#   bench/replicas.sh                                 # PostgreSQL from .ci/postgres
#   REPLICAS="1 2" PG_URL=postgres://u:pw@127.0.0.1/postgres bench/replicas.sh
#   SPLIT=1 PROFILE=1 REPLICAS="1 2" bench/replicas.sh
#
# Needs cargo, psql, sqlite3, jq and curl, perf for PROFILE=1, and for SPLIT=1 the right to
# set the CPU affinity of PostgreSQL's processes (root, or PostgreSQL's own user). Only ever
# talks to 127.0.0.1.
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

if [ "${SPLIT:-0}" = 1 ]; then
  # The cores this script may use, one by one: the first for PostgreSQL, the rest for
  # the others.
  cores=()
  IFS=, read -r -a ranges <<<"$(taskset -c -p $$ | sed 's/.*: //')"
  for range in "${ranges[@]}"; do
    mapfile -t -O "${#cores[@]}" cores < <(seq "${range%-*}" "${range#*-}")
  done
  [ "${#cores[@]}" -ge 2 ] || { echo "SPLIT=1 needs two cores or more" >&2; exit 1; }
  # Every PostgreSQL process of the machine, each given back the cores it had at exit.
  # Backends fork from the postmaster and so start on its cores.
  declare -A postgres_cores
  for pid in $(pgrep -x postgres); do
    postgres_cores[$pid]=$(taskset -c -p "$pid" | sed 's/.*: //')
  done
  unpin_postgres() {
    local pid
    for pid in "${!postgres_cores[@]}"; do
      taskset -a -c -p "${postgres_cores[$pid]}" "$pid" >/dev/null 2>&1 || true
    done
  }
  trap 'unpin_postgres; cleanup' EXIT
  for pid in "${!postgres_cores[@]}"; do
    # A process may end meanwhile; one still there must take the core.
    taskset -a -c -p "${cores[0]}" "$pid" >/dev/null 2>&1 || ! kill -0 "$pid" 2>/dev/null ||
      { echo "cannot pin PostgreSQL's process $pid to core ${cores[0]}" >&2; exit 1; }
  done
  run_on=(taskset -c "$(IFS=,; echo "${cores[*]:1}")")
fi

# drive SECONDS TAG: W1 on every endpoint at once, the clients split evenly; prints the
# summed req/s and errors.
drive() {
  local per=$((clients / ${#endpoints[@]})) n=0 drivers=()
  for endpoint in "${endpoints[@]}"; do
    local name_set=
    [ "${DISJOINT:-0}" = 1 ] && name_set="r$n-"
    "${run_on[@]}" "$load" --url "$endpoint" --workload w1 --concurrency "$per" --seconds "$1" \
      --max-book-id "$books" --tag "$2-$n" --name-set "$name_set" >"$work/result-$n.json" &
    drivers+=($!)
    n=$((n + 1))
  done
  # Only the drivers: a bare `wait` would wait for the servers too.
  wait "${drivers[@]}"
  jq -s -r '"\(map(.rps) | add) \(map(.errors) | add)"' "$work"/result-*.json
  rm -f "$work"/result-*.json
}

# write_transactions: the write transactions the servers have committed so far, together.
write_transactions() {
  local endpoint sum=0 count
  for endpoint in "${endpoints[@]}"; do
    count=$(curl -fsS "${endpoint%/graphql}/metrics" |
      awk '$1 == "bookgraph_write_transactions_total" { print $2 }')
    [[ $count =~ ^[0-9]+$ ]] || { echo "no write transaction count from $endpoint" >&2; exit 1; }
    sum=$((sum + count))
  done
  echo "$sum"
}

# sample_waits FILE: until FILE.stop exists, every 0.2 s, what each active backend of the
# bench's database is doing: one line per backend, its wait event or "running" (on a CPU or
# ready to be). The profile of where PostgreSQL holds writers back. One psql session for all
# samples, so that sampling costs the machine little.
sample_waits() {
  while [ ! -e "$1.stop" ]; do
    echo "select coalesce(wait_event_type || ':' || wait_event, 'running')
      from pg_stat_activity where datname = '$database' and state = 'active'
        and pid <> pg_backend_pid();"
    sleep 0.2
  done | psql -At "$admin" >>"$1" 2>/dev/null || true
}
# cpu_ticks: the CPU ticks so far of the live processes named postgres, then of those named
# bookgraph, then each core's busy and total ticks (the machine's first).
cpu_ticks() {
  local name pid ticks fields
  for name in postgres bookgraph; do
    ticks=0
    for pid in $(pgrep -x "$name"); do
      read -r -a fields <"/proc/$pid/stat" 2>/dev/null || continue
      ticks=$((ticks + fields[13] + fields[14]))
    done
    echo "$ticks"
  done
  awk '/^cpu/ { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}
# cpu_share BEFORE AFTER WRITES TRANSACTIONS: how busy the machine and each core were between
# two cpu_ticks, who used the machine (the rest is mostly the load driver, whose processes
# are gone by AFTER), and PostgreSQL's CPU time per write and per write transaction.
cpu_share() {
  paste -d' ' <(tr '\n' ' ' <<<"$1") <(tr '\n' ' ' <<<"$2") |
    awk -v writes="$3" -v transactions="$4" -v hz="$(getconf CLK_TCK)" '{
    half = NF / 2
    postgres = $(half + 1) - $1; bookgraph = $(half + 2) - $2
    busy = $(half + 3) - $3; total = $(half + 4) - $4
    printf "CPU busy %.0f %% of the machine: PostgreSQL %.0f %%, bookgraph %.0f %%, the rest %.0f %%\n",
      100 * busy / total, 100 * postgres / total, 100 * bookgraph / total,
      100 * (busy - postgres - bookgraph) / total
    printf "cores busy:"
    for (i = 5; i < half; i += 2) {
      printf " cpu%d %.0f %%", (i - 5) / 2, 100 * ($(half + i) - $i) / ($(half + i + 1) - $(i + 1))
    }
    printf "\n"
    if (transactions > 0 && writes > 0) {
      printf "%.0f write transactions, %.1f addBook each; PostgreSQL CPU: %.3f ms per addBook, %.3f ms per transaction\n",
        transactions, writes / transactions, 1000 * postgres / hz / writes,
        1000 * postgres / hz / transactions
    }
  }'
}
# profile_summary DATA: the processes that took the machine's samples, then PostgreSQL's
# busiest functions.
profile_summary() {
  if [ ! -s "$1" ]; then
    echo "no perf samples; perf record said:"
    sed 's/^/  /' "$1.log" 2>/dev/null || true
    return
  fi
  echo "perf samples by process:"
  perf report -i "$1" --stdio --sort comm 2>/dev/null | awk '!/^#/ && NF && ++n <= 8' || true
  echo "PostgreSQL's busiest functions, in % of all samples:"
  perf report -i "$1" --stdio --comm postgres --sort sym 2>/dev/null |
    awk '!/^#/ && NF && ++n <= 15' || true
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
  local before profiler=
  if [ -n "$sampler" ] && [ "${PROFILE:-0}" = 1 ]; then
    perf record -a -F 499 -o "$work/perf-$3.data" -- sleep "$seconds" >"$work/perf-$3.data.log" 2>&1 &
    profiler=$!
  fi
  before=$(cpu_ticks)
  local transactions
  transactions=$(write_transactions)
  read -r rps errors < <(drive "$seconds" "run-$1")
  transactions=$(($(write_transactions) - transactions))
  if [ -n "$sampler" ]; then
    touch "$work/waits-$3.stop"
    wait "$sampler" 2>/dev/null || true
    cpu_share "$before" "$(cpu_ticks)" "$(awk -v rps="$rps" -v s="$seconds" 'BEGIN { print rps * s }')" \
      "$transactions" >"$work/waits-$3.counts"
    sort "$work/waits-$3" | uniq -c | sort -rn >>"$work/waits-$3.counts"
  fi
  if [ -n "$profiler" ]; then
    wait "$profiler" || true
    profile_summary "$work/perf-$3.data" >>"$work/waits-$3.counts"
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
echo "How busy the machine was during each PostgreSQL run and who used it (the rest is mostly"
echo "the load driver's clients), then the active backends of the bench's database, sampled"
echo "during the run (samples: state or wait event):"
for n in "${replica_counts[@]}"; do
  echo
  echo "$n replica$([ "$n" = 1 ] || echo s):"
  sed 's/^/    /' "$work/waits-$n.counts"
done
