#!/usr/bin/env bash
# Benchmark 10: a video's comment threads under load, for one database: `comments.sh sqlite` or
# `comments.sh postgres` (run through scripts/with-postgres, which exports FLOTILLA_TEST_PG_URL).
#
# A fresh instance is started once (schema, the `root` admin and its channel `root_channel`), and
# $COMMENT_AUTHORS users are created through the API (the comments' authors, with root); it is
# stopped, one published public video is inserted with SQL as benchmark 4 does (seed.py), then
# $COMMENT_THREADS threads of 1 + $COMMENT_REPLIES comments under it (comments-seed.py: Python's
# sqlite3, or COPY on PostgreSQL followed by ANALYZE), and it is started again:
#   GET /api/v1/videos/<uuid>/comment-threads?count=20                    (PeerTube's default sort)
#   GET /api/v1/videos/<uuid>/comment-threads?count=20&sort=-totalReplies (a detail)
# with wrk (2 threads, $BENCH_API_CONNS connections, $BENCH_DURATION, --latency), anonymously as a
# visitor of the watch page. Results are appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK,
# BENCH_BIN, BENCH_DURATION, BENCH_WARMUP, BENCH_API_CONNS from scripts/bench.
set -euo pipefail
source "$(dirname "$0")/common.sh"
kind=$1
threads=${COMMENT_THREADS:-1000}
replies=${COMMENT_REPLIES:-9}
authors=${COMMENT_AUTHORS:-20}
# Our own list of processes; the entry script stops them (and this script) if it is interrupted.
export BENCH_PIDFILE="$BENCH_WORK/pids.comments-$kind"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM

dir="$BENCH_WORK/comments-$kind"
mkdir -p "$dir"
data="$dir/data"
port=$(free_port)
base="http://127.0.0.1:$port"
extra=()
if [ "$kind" = postgres ]; then
  [ -n "${FLOTILLA_TEST_PG_URL:-}" ] || die "comments.sh postgres must run under scripts/with-postgres"
  socket_dir=${FLOTILLA_TEST_PG_URL##*host=}
  psql_admin=(psql -X -q -v ON_ERROR_STOP=1 "$FLOTILLA_TEST_PG_URL")
  "${psql_admin[@]}" -c "CREATE DATABASE commentsdb"
  db_url="postgres://postgres@localhost/commentsdb?host=$socket_dir"
  psql_db=(psql -X -q -v ON_ERROR_STOP=1 "$db_url")
  extra=(FLOTILLA_DATABASE_URL="$db_url")
  # PostgreSQL works for us: its CPU time is ours, not the machine's background load.
  postmaster=$(head -n 1 "$socket_dir/data/postmaster.pid" 2>/dev/null || true)
  echo "$postmaster" >>"$BENCH_WORK/cpu-roots"
  # Its CPU time per request is in the details.
  export WRK_DB_PIDS=$postmaster
  record kind=info key=postgres_version value="$("${psql_db[@]}" -At -c "SHOW server_version" | awk '{print $1}')"
fi

log "comments/$kind: first start (schema, root admin and its channel), $authors users to write the comments"
start_flotilla "$data" "$port" "$dir/serve.log" "${extra[@]}"
token=$(login_root "$base")
for i in $(seq "$authors"); do
  curl -sf --max-time 30 -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"username\":\"viewer$i\",\"password\":\"bench-password\",\"email\":\"viewer$i@example.org\",\"role\":2,\"videoQuota\":-1,\"videoQuotaDaily\":-1}" \
    "$base/api/v1/users" || die "comments/$kind: POST /api/v1/users (viewer$i) failed"
done
stop_pid "$FLOTILLA_PID"

log "comments/$kind: seeding one video with $threads threads of $((replies + 1)) comments"
t0=$(date +%s.%N)
if [ "$kind" = sqlite ]; then
  video_id=$(python3 "$bench_lib/seed.py" "$data/flotilla.db" 1 | jq -r .first_id)
  accounts=$(python3 -c 'import sqlite3, sys; print(",".join(str(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(
    "SELECT id FROM accounts WHERE user_id IS NOT NULL ORDER BY id")))' "$data/flotilla.db")
  seeded=$(python3 "$bench_lib/comments-seed.py" sqlite "$data/flotilla.db" "$video_id" "$threads" "$replies" "$accounts")
else
  # The video as benchmark 4 inserts its videos.
  video_id=$("${psql_db[@]}" -At <<'EOF'
INSERT INTO videos (uuid, short_uuid, channel_id, name, description, privacy, state, duration, width, height, fps,
                    has_audio, has_video, input_size, created_at, updated_at, published_at)
SELECT gen_random_uuid()::text, substr(md5('bench-comments'), 1, 22), c.id, 'Benchmark video with comments',
       'Seeded by scripts/bench for the comments benchmark.', 1, 1, 600, 1920, 1080, 30.0, TRUE, TRUE, 100000000,
       t, t, t
FROM channels c JOIN actors a ON a.id = c.actor_id,
     LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - 86400000 AS t) AS tt
WHERE a.name = 'root_channel' AND a.host = ''
RETURNING id;
EOF
)
  accounts=$("${psql_db[@]}" -At -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM accounts WHERE user_id IS NOT NULL")
  cols="id, video_id, thread_id, in_reply_to, account_id, url, text, held, created_at, updated_at, deleted_at"
  python3 "$bench_lib/comments-seed.py" copy "$video_id" "$threads" "$replies" "$accounts" |
    "${psql_db[@]}" -c "\\copy video_comments ($cols) FROM STDIN"
  "${psql_db[@]}" -c "SELECT setval(pg_get_serial_sequence('video_comments', 'id'), (SELECT MAX(id) FROM video_comments))" >/dev/null
  python3 "$bench_lib/comments-seed.py" recount-sql | "${psql_db[@]}" -v ON_ERROR_STOP=1 >/dev/null
  "${psql_db[@]}" -c "ANALYZE video_comments; ANALYZE videos"
  seeded=$("${psql_db[@]}" -At -c "SELECT json_build_object('first_id', MIN(id), 'last_id', MAX(id), 'count', COUNT(*)) FROM video_comments")
fi
seed_s=$(python3 -c "import time,sys; print(round(time.time()-float(sys.argv[1]),1))" "$t0")
count=$(jq -r .count <<<"$seeded")
[ "$count" = $((threads * (replies + 1))) ] || die "comments/$kind: $count comments seeded, expected $((threads * (replies + 1)))"
log "comments/$kind: $count comments by $(tr ',' '\n' <<<"$accounts" | wc -l) accounts seeded in ${seed_s}s"

start_flotilla "$data" "$port" "$dir/serve.log" "${extra[@]}"
export WRK_SERVER_PIDS=$FLOTILLA_PID # the server's CPU time per request, in the details
uuid=$(curl -sf --max-time 30 "$base/api/v1/videos/$video_id" | jq -er .uuid) || die "comments/$kind: GET the video failed"
path="/api/v1/videos/$uuid/comment-threads?count=20"
# What a visitor gets must be the whole of it: every thread counted, 20 on the page, each with its replies.
first=$(curl -sf --max-time 30 "$base$path") || die "comments/$kind: GET $path failed"
jq -e --argjson t "$threads" --argjson n "$count" --argjson r "$replies" \
  '.total == $t and .totalNotDeletedComments == $n and (.data | length) == 20 and all(.data[]; .totalReplies == $r and .account != null)' \
  <<<"$first" >/dev/null || die "comments/$kind: unexpected answer to $path: $(head -c 600 <<<"$first")"
page_bytes=$(printf '%s' "$first" | wc -c)
for c in "threads|$path" "threads_by_replies|$path&sort=-totalReplies"; do
  IFS='|' read -r endpoint p <<<"$c"
  # One request alone, before any load: the latency of a single visitor.
  single=$(curl -s -o /dev/null -w '%{time_total}' --max-time 30 "$base$p")
  j=$(run_wrk "comments-$kind-$endpoint" "$base$p" "$BENCH_DURATION" "$BENCH_API_CONNS")
  record kind=comments_api db="$kind" endpoint="$endpoint" comments="$count" threads="$threads" \
    single_ms="$(awk -v s="$single" 'BEGIN{print s*1000}')" page_bytes="$page_bytes" \
    $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
  log "10. comments/$kind $endpoint: $(jq -r '"\(.rps) req/s, p99 \(.p99_ms) ms"' <<<"$j")"
done
record kind=comments_rss db="$kind" rss_kib="$(rss_kib "$FLOTILLA_PID")" hwm_kib="$(hwm_kib "$FLOTILLA_PID")" \
  seed_seconds="$seed_s" authors="$(tr ',' '\n' <<<"$accounts" | wc -l)"
stop_pid "$FLOTILLA_PID"
