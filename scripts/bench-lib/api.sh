#!/usr/bin/env bash
# API throughput at 10k/100k published public videos, for one database: `api.sh sqlite` or
# `api.sh postgres` (run through scripts/with-postgres, which exports FLOTILLA_TEST_PG_URL).
#
# A fresh instance is started once (it creates its schema and the `root` admin with the channel
# `root_channel`), stopped, seeded with SQL, then started again for each size:
#   GET /api/v1/videos?count=25 (the default sort; -views, -likes, -trending; a tagsOneOf filter; a
#   deep page, start=50000), GET /api/v1/search/videos?search=<a word>&count=25 and
#   GET /api/v1/videos/<random id>
# with wrk (2 threads, $BENCH_API_CONNS connections, $BENCH_DURATION, --latency). Results are
# appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK, BENCH_BIN, BENCH_SIZES, BENCH_DURATION,
# BENCH_WARMUP, BENCH_API_CONNS from scripts/bench.
set -euo pipefail
source "$(dirname "$0")/common.sh"
kind=$1
# Our own list of processes; the entry script stops them (and this script) if it is interrupted.
export BENCH_PIDFILE="$BENCH_WORK/pids.api-$kind"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM

dir="$BENCH_WORK/api-$kind"
mkdir -p "$dir"
data="$dir/data"
port=$(free_port)
base="http://127.0.0.1:$port"
extra=()
if [ "$kind" = postgres ]; then
  [ -n "${FLOTILLA_TEST_PG_URL:-}" ] || die "api.sh postgres must run under scripts/with-postgres"
  socket_dir=${FLOTILLA_TEST_PG_URL##*host=}
  psql_admin=(psql -X -q -v ON_ERROR_STOP=1 "$FLOTILLA_TEST_PG_URL")
  "${psql_admin[@]}" -c "CREATE DATABASE benchdb"
  db_url="postgres://postgres@localhost/benchdb?host=$socket_dir"
  psql_db=(psql -X -q -v ON_ERROR_STOP=1 "$db_url")
  extra=(FLOTILLA_DATABASE_URL="$db_url")
  # PostgreSQL works for us: its CPU time is ours, not the machine's background load.
  head -n 1 "$socket_dir/data/postmaster.pid" >>"$BENCH_WORK/cpu-roots" 2>/dev/null || true
  db_version=$("${psql_db[@]}" -At -c "SHOW server_version" | awk '{print $1}')
  record kind=info key=postgres_version value="$db_version"
fi

log "api/$kind: first start (schema, root admin and its channel)"
start_flotilla "$data" "$port" "$dir/serve.log" "${extra[@]}"
stop_pid "$FLOTILLA_PID"

seed() {
  local total=$1
  if [ "$kind" = sqlite ]; then
    python3 "$bench_lib/seed.py" "$data/flotilla.db" "$total"
  else
    "${psql_db[@]}" -v total="$total" -f "$bench_lib/seed-postgres.sql"
    "${psql_db[@]}" -f "$bench_lib/vacuum-postgres.sql"
    "${psql_db[@]}" -At -F ' ' -c "SELECT json_build_object('first_id', MIN(id), 'last_id', MAX(id), 'count', COUNT(*)) FROM videos"
  fi
}

for size in $BENCH_SIZES; do
  log "api/$kind: seeding up to $size videos"
  t0=$(date +%s.%N)
  seeded=$(seed "$size" | tail -n 1)
  seed_s=$(python3 -c "import time,sys; print(round(time.time()-float(sys.argv[1]),1))" "$t0")
  first_id=$(jq -r .first_id <<<"$seeded")
  last_id=$(jq -r .last_id <<<"$seeded")
  log "api/$kind: $size videos seeded in ${seed_s}s (ids $first_id..$last_id)"
  start_flotilla "$data" "$port" "$dir/serve.log" "${extra[@]}"
  total=$(curl -sf --max-time 30 "$base/api/v1/videos?count=1" | jq -r .total)
  [ "$total" = "$size" ] || die "api/$kind: the instance lists $total videos, expected $size"
  # One request alone, before any load: the latency of a single client.
  single_list=$(curl -s -o /dev/null -w '%{time_total}' --max-time 30 "$base/api/v1/videos?count=25")
  single_get=$(curl -s -o /dev/null -w '%{time_total}' --max-time 30 "$base/api/v1/videos/$last_id")
  j=$(run_wrk "api-$kind-$size-list" "$base/api/v1/videos?count=25" "$BENCH_DURATION" "$BENCH_API_CONNS")
  record kind=api db="$kind" videos="$size" endpoint=list single_ms="$(awk -v s="$single_list" 'BEGIN{print s*1000}')" \
    $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
  # The other lists: "bego" is a word of about 0.5 % of the seeded names, "tbadi" a tag of about
  # 1 % of the videos (seed.py's vocabularies).
  for variant in "views /api/v1/videos?count=25&sort=-views" "likes /api/v1/videos?count=25&sort=-likes" \
    "trending /api/v1/videos?count=25&sort=-trending" "tag /api/v1/videos?count=25&tagsOneOf=tbadi" \
    "search /api/v1/search/videos?search=bego&count=25" "deep /api/v1/videos?count=25&start=50000"; do
    name=${variant%% *}
    path=${variant#* }
    found=$(curl -sf --max-time 30 "$base$path" | jq -r '"\(.total) \(.data | length)"')
    [ "${found% *}" -gt 0 ] || die "api/$kind: $path finds nothing"
    single=$(curl -s -o /dev/null -w '%{time_total}' --max-time 30 "$base$path")
    j=$(run_wrk "api-$kind-$size-$name" "$base$path" "$BENCH_DURATION" "$BENCH_API_CONNS")
    record kind=api db="$kind" videos="$size" endpoint="$name" single_ms="$(awk -v s="$single" 'BEGIN{print s*1000}')" \
      found="${found% *}" page="${found#* }" $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
  done
  j=$(run_wrk "api-$kind-$size-get" "$base" "$BENCH_DURATION" "$BENCH_API_CONNS" -s "$bench_lib/random-id.lua" -- "$first_id" "$last_id")
  record kind=api db="$kind" videos="$size" endpoint=get single_ms="$(awk -v s="$single_get" 'BEGIN{print s*1000}')" \
    $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
  record kind=api_rss db="$kind" videos="$size" rss_kib="$(rss_kib "$FLOTILLA_PID")" hwm_kib="$(hwm_kib "$FLOTILLA_PID")" seed_seconds="$seed_s"
  stop_pid "$FLOTILLA_PID"
done
