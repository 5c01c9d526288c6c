#!/usr/bin/env bash
# bookgraph on PostgreSQL beside bookgraph on SQLite: what moving costs. One dataset (M =
# 5,000 authors unless AUTHORS says otherwise), imported into a fresh SQLite file and a fresh
# PostgreSQL database; then for each workload (Q1 Q2 Q3 Q4 W1), SQLite then PostgreSQL, each
# server started on its copy, warmed up 2 s and driven by examples/load.rs for
# BENCH_SECONDS (10) at CLIENTS (32). Prints a Markdown table of req/s and the ratio.
#
#   bench/postgres.sh                        # PostgreSQL from .ci/postgres
#   PG_URL=postgres://user:pw@127.0.0.1/postgres bench/postgres.sh
#
# Needs cargo, psql's server (.ci/postgres installs and starts one) and sqlite3. Only ever
# talks to 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
authors=${AUTHORS:-5000}
seconds=${BENCH_SECONDS:-10}
clients=${CLIENTS:-32}
read -r -a workloads <<<"${WORKLOADS:-Q1 Q2 Q3 Q4 W1}"
admin=${PG_URL:-$(.ci/postgres)}

# shellcheck source=bench/postgres-common.sh
. bench/postgres-common.sh

drive() {
  "$load" --url "${endpoints[0]}" --workload "$(tr '[:upper:]' '[:lower:]' <<<"$1")" \
    --concurrency "$2" --seconds "$3" --max-book-id "$books" --tag "$4"
}

echo "| workload | SQLite req/s | PostgreSQL req/s | PostgreSQL ÷ SQLite | errors (SQLite / PostgreSQL) |"
echo "|---|---:|---:|---:|---|"
for workload in "${workloads[@]}"; do
  declare -A rps=() errors=()
  for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then
      rm -f "$work/run.db"*
      cp "$work/template.db" "$work/run.db"
      start "sqlite:$work/run.db" 1
    else
      start "$pg_url" 1
    fi
    drive "$workload" "$clients" 2 "warm-$backend" >/dev/null
    result=$(drive "$workload" "$clients" "$seconds" "pg-$backend")
    stop_servers
    rps[$backend]=$(jq -r .rps <<<"$result")
    errors[$backend]=$(jq -r .errors <<<"$result")
    log "$workload $backend: ${rps[$backend]} req/s"
  done
  awk -v w="$workload" -v s="${rps[sqlite]}" -v p="${rps[postgres]}" -v es="${errors[sqlite]}" -v ep="${errors[postgres]}" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.2f× | %s / %s |\n", w, s, p, p / s, es, ep }'
  unset rps errors
done
