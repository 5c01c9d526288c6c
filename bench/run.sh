#!/usr/bin/env bash
# Issue 7's benchmarks of the release server, over HTTP, on datasets M (5,000 authors) and
# L (50,000 authors). For each dataset it
#   - generates the CSV (`bookgraph generate --authors N --seed 1`);
#   - times `bookgraph import` into a fresh database against the baseline, SQLite's own
#     `.import --csv` into a flat table plus normalising INSERT … SELECT statements into the
#     tables of migrations/0001_init.sql, all in one transaction; and times `bookgraph export`;
#   - runs the criterion benchmark (benches/queries.rs) for the floor of Q1–Q3;
#   - serves the imported database and drives it with oha (Q1–Q4) and examples/load.rs (W1
#     and the 90/10 mixed load) at each concurrency, recording throughput, p50 and p99, the
#     SQL statements per request and the server's peak RSS during the 64-client runs;
# and writes a Markdown table to stdout and to bench/results-<dataset>.md.
#
#   bench/run.sh                          # M and L, 10 s per run, 1/8/32/64 clients
#   QUICK=1 bench/run.sh                  # smoke test: M only, 3 s per run, 1 and 32 clients
#   BENCH_SECONDS=30 DATASETS="L" bench/run.sh
#   FLOOR=0 bench/run.sh                  # skip the criterion run (no floor ratios)
#
# Needs cargo; installs oha (into bench/.tools) and sqlite3, jq, curl and GNU time (apt)
# when missing. Only ever talks to 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
  seconds=${BENCH_SECONDS:-3}
  read -r -a datasets <<<"${DATASETS:-M}"
  read -r -a concurrencies <<<"${CONCURRENCIES:-1 32}"
else
  seconds=${BENCH_SECONDS:-10}
  read -r -a datasets <<<"${DATASETS:-M L}"
  read -r -a concurrencies <<<"${CONCURRENCIES:-1 8 32 64}"
fi
floor=${FLOOR:-1}

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- tools --------------------------------------------------------------------------------

missing=()
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

oha=$root/bench/.tools/bin/oha
if [ ! -x "$oha" ]; then
  log "installing oha into bench/.tools (cargo install --locked)"
  cargo install oha --locked --quiet --root "$root/bench/.tools"
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit+=" (plus uncommitted changes)"
fi

log "building the release binary and the load driver"
cargo build --release --quiet --bin bookgraph --example load
if [ "$floor" = 1 ]; then
  cargo bench --quiet --bench queries --no-run 2>/dev/null
fi
bookgraph=$root/target/release/bookgraph
load=$root/target/release/examples/load

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# ---- helpers ------------------------------------------------------------------------------

now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic with awk.
calc() { awk "BEGIN { printf \"%s\", $1 }"; }
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, x }'; }
# ratio A B: A / B with two decimals, or "n/a".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "") printf "%.2f", a / b; else printf "n/a" }'; }
# meets VALUE OP BOUND: "met" or "**missed**".
meets() { awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN {
  ok = (op == "<=") ? (v <= b) : (op == "<") ? (v < b) : (op == ">=") ? (v >= b) : 0
  print (ok ? "met" : "**missed**") }'; }

free_port() {
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  return 1
}

# timed OUT CMD…: runs CMD, writes "seconds peak_rss_kib" to OUT.
timed() {
  local out=$1
  shift
  local start end
  start=$(now)
  /usr/bin/time -f '%M' -o "$out.rss" "$@"
  end=$(now)
  echo "$(calc "$end - $start") $(cat "$out.rss")" >"$out"
}

q1='{ authors(first: 100) { nodes { name books { title publishers { name } } } } }'
q2='{ publishers(first: 100, orderBy: {field: BOOK_COUNT, direction: DESC}) { nodes { name bookCount authorCount } } }'
q3='{ publishers(first: 10) { nodes { name authors(first: 10) { name books(first: 5) { title publishers { name } } } } } }'
q4='query Q4($id: ID!) { book(id: $id) { title author { name } publishers { name } } }'
w1='mutation W1($input: AddBookInput!) { addBook(input: $input) { outcome book { id } } }'

body() {
  local variables=${2:-}
  jq -cn --arg q "$1" --argjson v "${variables:-"{}"}" '{query: $q, variables: $v}'
}

# post BODY [CURL ARGS…]: the server's JSON answer.
post() { curl -sf -H 'content-type: application/json' "${@:2}" --data-binary "$1" "$url"; }

# statements BODY: the SQL statements it ran, which the server says only when asked.
statements() {
  post "$1" -H 'x-bookgraph-diagnostics: sql' | jq -r '.extensions.sqlStatements // "?"'
}

# Comparisons with other services run beside us, interleaved: bench/versus-node.sh.

# ---- one dataset --------------------------------------------------------------------------

run_dataset() {
  local name=$1 authors
  case $name in
    M) authors=5000 ;;
    L) authors=50000 ;;
    *) log "unknown dataset $name (M or L)"; exit 2 ;;
  esac
  local csv=$work/$name.csv db=$work/$name.db base=$work/$name-sqlite3.db
  local out=$root/bench/results-$name.md
  local md=$work/$name.md
  : >"$md"
  emit() { printf '%s\n' "$*" >>"$md"; }

  log "[$name] generating $authors authors"
  "$bookgraph" generate --authors "$authors" --seed 1 "$csv"
  local rows
  rows=$(($(wc -l <"$csv") - 1))

  log "[$name] bookgraph import"
  timed "$work/import" "$bookgraph" import "$csv" --database "sqlite:$db" >/dev/null 2>&1
  read -r import_s import_kib <"$work/import"

  log "[$name] sqlite3 .import + INSERT … SELECT"
  cat >"$work/baseline.sql" <<SQL
pragma journal_mode = wal;
pragma synchronous = normal;
.read $root/migrations/0001_init.sql
begin;
.import --csv $csv flat
insert into author (first_name, last_name, first_name_key, last_name_key)
  select first_name, last_name, lower(first_name), lower(last_name)
  from flat group by lower(last_name), lower(first_name);
insert into publisher (name, name_key)
  select publisher, lower(publisher) from flat group by lower(publisher);
insert into book (author_id, title, title_key)
  select a.id, f.title, lower(f.title)
  from flat f join author a
    on a.last_name_key = lower(f.last_name) and a.first_name_key = lower(f.first_name)
  group by a.id, lower(f.title);
insert or ignore into book_publisher (book_id, publisher_id)
  select b.id, p.id
  from flat f
  join author a on a.last_name_key = lower(f.last_name) and a.first_name_key = lower(f.first_name)
  join book b on b.author_id = a.id and b.title_key = lower(f.title)
  join publisher p on p.name_key = lower(f.publisher);
drop table flat;
commit;
SQL
  rm -f "$base"*
  timed "$work/baseline" sqlite3 "$base" ".read $work/baseline.sql" >/dev/null
  read -r base_s base_kib <"$work/baseline"
  local counts='select (select count(*) from author), (select count(*) from book),
    (select count(*) from publisher), (select count(*) from book_publisher)'
  local ours theirs
  ours=$(sqlite3 "$db" "$counts")
  theirs=$(sqlite3 "$base" "$counts")
  if [ "$ours" != "$theirs" ]; then
    log "[$name] warning: bookgraph made $ours rows, the baseline $theirs (authors|books|publishers|links)"
  fi

  log "[$name] bookgraph export"
  timed "$work/export" "$bookgraph" export "$work/$name-export.csv" --database "sqlite:$db" >/dev/null 2>&1
  read -r export_s export_kib <"$work/export"

  # The floor: criterion's in-process GraphQL and floor medians (ns).
  declare -A crit=()
  if [ "$floor" = 1 ]; then
    log "[$name] criterion: GraphQL in-process and the floor (benches/queries.rs)"
    local crit_args=()
    [ "$quick" = 1 ] && crit_args=(--warm-up-time 1 --measurement-time 2 --sample-size 10)
    BENCH_AUTHORS=$authors cargo bench --quiet --bench queries -- "${crit_args[@]}" >"$work/criterion.txt" 2>&1 || {
      cat "$work/criterion.txt" >&2
      exit 1
    }
    local q kind
    for q in Q1 Q2 Q3; do
      for kind in graphql floor; do
        crit[$q-$kind]=$(jq '.median.point_estimate' \
          "$root/target/criterion/$authors-authors/$q-$kind/new/estimates.json")
      done
    done
  fi

  log "[$name] starting the server"
  local port
  port=$(free_port)
  url=http://127.0.0.1:$port/graphql
  RUST_LOG=warn "$bookgraph" serve --listen "127.0.0.1:$port" --database "sqlite:$db" \
    2>"$work/server-$name.log" &
  server_pid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$work/server-$name.log" >&2
      log "the server exited before it was ready"
      exit 1
    fi
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null

  local books
  books=$(post "$(body '{ books(first: 0) { totalCount } }')" | jq '.data.books.totalCount')

  # Request bodies; Q4's are 10,000 random book ids, one body per line for `oha -Z`.
  local b1 b2 b3
  b1=$(body "$q1")
  b2=$(body "$q2")
  b3=$(body "$q3")
  awk -v n="$books" -v q="$q4" 'BEGIN {
    srand(7)
    for (i = 0; i < 10000; i++) printf "{\"query\":\"%s\",\"variables\":{\"id\":\"%d\"}}\n", q, 1 + int(rand() * n)
  }' >"$work/q4.jsonl"
  local q in_body
  for q in "$b1" "$b2" "$b3" "$(head -n1 "$work/q4.jsonl")"; do
    if ! post "$q" | jq -e '.errors == null' >/dev/null; then
      log "[$name] a workload query fails: $q"
      post "$q" >&2 || true
      exit 1
    fi
  done

  # SQL statements per request, small and large.
  declare -A st_small=() st_large=()
  st_small[Q1]=$(statements "$(body "${q1/first: 100/first: 10}")")
  st_large[Q1]=$(statements "$b1")
  st_small[Q2]=$(statements "$(body "${q2/first: 100/first: 10}")")
  st_large[Q2]=$(statements "$b2")
  st_small[Q3]=$(statements "$(body "${q3/publishers(first: 10)/publishers(first: 1)}")")
  st_large[Q3]=$(statements "$b3")
  st_small[Q4]=$(statements "$(head -n1 "$work/q4.jsonl")")
  st_large[Q4]=${st_small[Q4]}
  in_body=$(body "$w1" '{"input": {"authorFirstName": "Statement", "authorLastName": "Counter",
    "title": "Counted once", "publisherName": "Count Press"}}')
  # The first call creates the author and publisher; the next two each add a fresh book.
  statements "$in_body" >/dev/null
  st_small[W1]=$(statements "${in_body/Counted once/Counted twice}")
  st_large[W1]=$(statements "${in_body/Counted once/Counted thrice}")

  # The load runs: "rps p50_ms p99_ms errors" per workload and concurrency.
  local loadavg
  loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
  declare -A res=() rss=()
  local workload c file
  for workload in Q1 Q2 Q3 Q4 W1 mixed; do
    for c in "${concurrencies[@]}"; do
      log "[$name] $workload, $c clients, ${seconds} s"
      # VmHWM is the peak since start; writing 5 to clear_refs resets it, so after the
      # run it holds this run's peak.
      echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true
      file=$work/$name-$workload-$c.json
      case $workload in
        Q1 | Q2 | Q3)
          local b
          case $workload in Q1) b=$b1 ;; Q2) b=$b2 ;; Q3) b=$b3 ;; esac
          "$oha" --no-tui --output-format json -z "${seconds}s" -c "$c" -m POST \
            -T application/json -d "$b" "$url" >"$file"
          ;;
        Q4)
          "$oha" --no-tui --output-format json -z "${seconds}s" -c "$c" -m POST \
            -T application/json -Z "$work/q4.jsonl" "$url" >"$file"
          ;;
        W1 | mixed)
          "$load" --url "$url" --workload "$(tr '[:upper:]' '[:lower:]' <<<"$workload")" \
            --concurrency "$c" --seconds "$seconds" --max-book-id "$books" \
            --tag "$name-$c-$$" >"$file"
          ;;
      esac
      if [ "$workload" = W1 ] || [ "$workload" = mixed ]; then
        res[$workload-$c]=$(jq -r '"\(.rps) \(.p50_ms) \(.p99_ms) \(.errors)"' "$file")
      else
        # oha reports seconds; errors are non-2xx answers and failures other than the
        # requests cut off by the deadline.
        res[$workload-$c]=$(jq -r '[
            .summary.requestsPerSec,
            .latencyPercentiles.p50 * 1000,
            .latencyPercentiles.p99 * 1000,
            ([.statusCodeDistribution | to_entries[] | select(.key | startswith("2") | not) | .value] | add // 0)
              + ([.errorDistribution | to_entries[] | select(.key | test("deadline") | not) | .value] | add // 0)
          ] | map(tostring) | join(" ")' "$file")
      fi
      rss[$workload-$c]=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
    done
  done
  local lifetime_rss
  lifetime_rss=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")

  log "[$name] stopping the server"
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=

  # ---- the report ----
  local cmax=${concurrencies[-1]}
  emit "## Dataset $name: $authors authors, $rows CSV rows, $books books"
  emit ""
  emit "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit; $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo);" \
    "load average before the HTTP runs: $loadavg; ${seconds} s per run."
  emit ""
  emit "### Throughput and latency over HTTP"
  emit ""
  emit "Q1–Q4 with oha (Q4: 10,000 bodies of random book ids, \`oha -Z\`), W1 and mixed (90 % Q4," \
    "10 % addBook) with examples/load.rs. Cells: req/s, p50 / p99 in ms; errors when any."
  emit ""
  local header="| workload | SQL statements (small / large) |" rule="|---|---|"
  for c in "${concurrencies[@]}"; do
    header+=" c=$c |"
    rule+="---|"
  done
  header+=" peak RSS at c=$cmax |"
  rule+="---|"
  emit "$header"
  emit "$rule"
  local line rps p50 p99 errors st
  for workload in Q1 Q2 Q3 Q4 W1 mixed; do
    if [ "$workload" = mixed ]; then st="–"; else st="${st_small[$workload]} / ${st_large[$workload]}"; fi
    line="| $workload | $st |"
    for c in "${concurrencies[@]}"; do
      read -r rps p50 p99 errors <<<"${res[$workload-$c]}"
      line+=" $(fmt "$rps" 0) req/s, $(fmt "$p50" 2) / $(fmt "$p99" 2) ms"
      [ "${errors%.*}" != 0 ] && line+=", **$errors errors**"
      line+=" |"
    done
    line+=" $(fmt "$(calc "${rss[$workload-$cmax]} / 1024")") MiB |"
    emit "$line"
  done
  emit ""
  emit "SQL statements: Q1 and Q2 at \`first: 10\` / \`first: 100\`, Q3 at \`publishers(first: 1)\` /" \
    "\`publishers(first: 10)\`, W1 for two fresh books. Server peak RSS over the whole run" \
    "(VmHWM): $(fmt "$(calc "$lifetime_rss / 1024")") MiB."
  emit ""
  emit "### Import and export"
  emit ""
  emit "| step | seconds | peak RSS |"
  emit "|---|---|---|"
  emit "| \`bookgraph import\` into a fresh database | $(fmt "$import_s" 2) | $(fmt "$(calc "$import_kib / 1024")") MiB |"
  emit "| sqlite3 \`.import --csv\` + INSERT … SELECT, one transaction | $(fmt "$base_s" 2) | $(fmt "$(calc "$base_kib / 1024")") MiB |"
  emit "| ratio bookgraph / sqlite3 | $(ratio "$import_s" "$base_s") | |"
  emit "| \`bookgraph export\` | $(fmt "$export_s" 2) | $(fmt "$(calc "$export_kib / 1024")") MiB |"
  emit ""
  emit "Rows made (authors|books|publishers|links): bookgraph $ours, sqlite3 $theirs."
  emit ""

  if [ "$floor" = 1 ]; then
    emit "### Against the floor"
    emit ""
    emit "Floor: the same SQL statements in-process through \`bookgraph::db\`, serialised with serde" \
      "(criterion medians, benches/queries.rs). Server: p50 over HTTP at 1 client."
    emit ""
    emit "| query | floor | GraphQL in-process | in-process / floor | server p50 at c=1 | server / floor |"
    emit "|---|---|---|---|---|---|"
    local f g s
    for q in Q1 Q2 Q3; do
      f=$(calc "${crit[$q-floor]} / 1000000")
      g=$(calc "${crit[$q-graphql]} / 1000000")
      read -r rps s p99 errors <<<"${res[$q-1]:-0 0 0 0}"
      emit "| $q | $(fmt "$f" 2) ms | $(fmt "$g" 2) ms | $(ratio "$g" "$f") | $(fmt "$s" 2) ms | $(ratio "$s" "$f") |"
    done
    emit ""
  fi

  emit "### Targets of issue 7"
  emit ""
  emit "| target | measured | verdict |"
  emit "|---|---|---|"
  if [ "$floor" = 1 ] && [ -n "${res[Q1-1]:-}" ]; then
    for q in Q1 Q3; do
      read -r rps s p99 errors <<<"${res[$q-1]}"
      f=$(calc "${crit[$q-floor]} / 1000000")
      emit "| $q server time at c=1 ≤ 2× the floor (target on L) | $(ratio "$s" "$f")× | $(meets "$(ratio "$s" "$f")" "<=" 2) |"
    done
  fi
  local same=met
  for workload in Q1 Q2 Q3 Q4 W1; do
    [ "${st_small[$workload]}" = "${st_large[$workload]}" ] || same="**missed**"
  done
  emit "| SQL statements the same for 10 as for 100 | see table | $same |"
  emit "| import ≤ 2× sqlite3 (target on L) | $(ratio "$import_s" "$base_s")× | $(meets "$(ratio "$import_s" "$base_s")" "<=" 2) |"
  emit "| import peak RSS < 150 MB | $(fmt "$(calc "$import_kib * 1024 / 1000000")") MB | $(meets "$(calc "$import_kib * 1024 / 1000000")" "<" 150) |"
  if [ -n "${rss[Q1-64]:-}" ]; then
    local peak=0 w
    for w in Q1 Q2 Q3 Q4 W1 mixed; do
      [ "${rss[$w-64]}" -gt "$peak" ] && peak=${rss[$w-64]}
    done
    emit "| peak RSS with 64 clients < 100 MB (target on L) | $(fmt "$(calc "$peak * 1024 / 1000000")") MB | $(meets "$(calc "$peak * 1024 / 1000000")" "<" 100) |"
  fi
  emit ""

  cp "$md" "$out"
  cat "$md"
}

for dataset in "${datasets[@]}"; do
  run_dataset "$dataset"
done
log "results in $(for d in "${datasets[@]}"; do printf 'bench/results-%s.md ' "$d"; done)"
