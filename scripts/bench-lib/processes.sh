#!/usr/bin/env bash
# Benchmark 16: one web process vs two on one PostgreSQL (run through scripts/with-postgres). The
# database is seeded with 10,000 published videos; process A has every role, B the web role only;
# nginx (round robin) sits in front of A alone, and of A and B. GET /api/v1/videos?count=25 with
# wrk through each front, two rounds alternating, best. On this 2-core machine the two processes
# share the same cores with PostgreSQL, nginx and wrk: the figure shows what a second process
# costs (coordination, context switches), not what a second machine would add (docs/DEPLOY.md).
# Results are appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK, BENCH_BIN, BENCH_DURATION,
# BENCH_API_CONNS from scripts/bench, and FLOTILLA_TEST_PG_URL from scripts/with-postgres.
set -euo pipefail
source "$(dirname "$0")/common.sh"
export BENCH_PIDFILE="$BENCH_WORK/pids.processes"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM
[ -n "${FLOTILLA_TEST_PG_URL:-}" ] || die "processes.sh must run under scripts/with-postgres"

dir="$BENCH_WORK/processes"
mkdir -p "$dir"
socket_dir=${FLOTILLA_TEST_PG_URL##*host=}
psql -X -q -v ON_ERROR_STOP=1 "$FLOTILLA_TEST_PG_URL" -c "CREATE DATABASE benchprocs"
db_url="postgres://postgres@localhost/benchprocs?host=$socket_dir"
head -n 1 "$socket_dir/data/postmaster.pid" >>"$BENCH_WORK/cpu-roots" 2>/dev/null || true
aport=$(free_port)
bport=$(free_port)
front=$(free_port)
public="http://127.0.0.1:$front"
common=(FLOTILLA_DATABASE_URL="$db_url" FLOTILLA_PUBLIC_URL="$public")

log "16. processes: schema, then 10,000 videos"
start_flotilla "$dir/data" "$aport" "$dir/a.log" "${common[@]}"
stop_pid "$FLOTILLA_PID"
psql -X -q -v ON_ERROR_STOP=1 "$db_url" -v total=10000 -f "$bench_lib/seed-postgres.sql"
psql -X -q -v ON_ERROR_STOP=1 "$db_url" -f "$bench_lib/vacuum-postgres.sql"
start_flotilla "$dir/data" "$aport" "$dir/a.log" "${common[@]}"
apid=$FLOTILLA_PID
start_flotilla "$dir/data" "$bport" "$dir/b.log" "${common[@]}" FLOTILLA_ROLES=web
bpid=$FLOTILLA_PID

# start_front PORT UPSTREAM...: nginx proxying to the upstreams, round robin, keep-alive to them.
start_front() {
  local port=$1 d="$dir/nginx-$1" user_line="" servers=""
  shift
  for u in "$@"; do servers+="server 127.0.0.1:$u; "; done
  mkdir -p "$d/tmp"
  [ "$(id -u)" = 0 ] && user_line="user root root;"
  cat >"$d/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    upstream web { $servers keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header Connection "";
        }
    }
}
EOF
  nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >>"$d/stdout.log" 2>&1 &
  track_pid $!
  wait_http "http://127.0.0.1:$port/api/v1/config" 30 || die "processes: nginx on $port did not answer"
}
one_front=$(free_port)
start_front "$one_front" "$aport"
two_front=$(free_port)
start_front "$two_front" "$aport" "$bport"

total=$(curl -sf --max-time 30 "http://127.0.0.1:$two_front/api/v1/videos?count=1" | jq -r .total)
[ "$total" = 10000 ] || die "processes: the instance lists $total videos, expected 10000"
for round in 1 2; do
  order=(1 2)
  ((round % 2)) || order=(2 1)
  for n in "${order[@]}"; do
    port=$one_front pids=$apid
    [ "$n" = 2 ] && port=$two_front pids="$apid $bpid"
    export WRK_SERVER_PIDS=$pids
    j=$(run_wrk "processes-$n-$round" "http://127.0.0.1:$port/api/v1/videos?count=25" "$BENCH_DURATION" "$BENCH_API_CONNS")
    record kind=processes web_processes="$n" round="$round" $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
    log "16. $n web process(es) behind nginx (round $round): $(jq -r '"\(.rps) req/s, p99 \(.p99_ms) ms"' <<<"$j")"
  done
done
stop_pid "$bpid"
stop_pid "$apid"
