#!/usr/bin/env bash
# Benchmark 14: lives. One instance on SQLite with its RTMP server on a free port of 127.0.0.1 and
# the live ladder 720/480/360 (FLOTILLA_LIVE_RESOLUTIONS), FLOTILLA_LIVE_THREADS ffmpeg threads.
#   14a  latency, per latency mode (default and small; high as a figure): a new live, LIVE_SECONDS
#        of a 720p30 test picture pushed with ffmpeg -re over RTMP; 0.m3u8 polled every 50 ms;
#        per segment, the time it was first listed − its program date time, and − (push start +
#        its start in media time) (live.py session … 1)
#   14b  cost: a fourth live pushed the same, nothing polled: the CPU time of `flotilla serve` and
#        its live ffmpeg per live second, vs the same ffmpeg command run bare on the same FLV
#        (recorded once into the bench cache), fed in real time (live.py bare)
# Results are appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK, BENCH_BIN, LIVE_SECONDS and
# LIVE_CACHE (the bench cache) from scripts/bench.
set -euo pipefail
source "$(dirname "$0")/common.sh"
export BENCH_PIDFILE="$BENCH_WORK/pids.live"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM

secs=${LIVE_SECONDS:-60}
resolutions=${LIVE_RESOLUTIONS:-720,480,360}
threads=${LIVE_THREADS:-2}
dir="$BENCH_WORK/live"
mkdir -p "$dir"

# The push recorded once, for the bare run: the pusher's command with a file as its output (no
# -re: it only paces the reading, the bytes are the same).
flv="$LIVE_CACHE/live-push-720p30-${secs}s.flv"
if [ ! -s "$flv" ]; then
  log "14. recording the ${secs}s push into $flv"
  rm -f "$flv.part.flv"
  cmd=$(python3 "$bench_lib/live.py" pusher "$flv.part.flv" "$secs" file | jq -r .command)
  # shellcheck disable=SC2086 # the command is words without spaces
  timeout $((secs * 10 + 120)) $cmd
  mv "$flv.part.flv" "$flv"
fi

port=$(free_port)
rport=$(free_port)
base="http://127.0.0.1:$port"
start_flotilla "$dir/data" "$port" "$dir/serve.log" FLOTILLA_LIVE_RTMP_LISTEN="127.0.0.1:$rport" \
  FLOTILLA_LIVE_RESOLUTIONS="$resolutions" FLOTILLA_LIVE_THREADS="$threads"
pid=$FLOTILLA_PID
token=$(login_root "$base")

# py_step OUT LIMIT ARGS...: live.py ARGS into OUT (one JSON object) within LIMIT seconds, tracked
# so that a stop reaches it (it stops its own pusher and ffmpeg).
py_step() {
  local out=$1 limit=$2 rc=0
  shift 2
  timeout "$limit" python3 "$bench_lib/live.py" "$@" >"$out" &
  local p=$!
  track_pid "$p"
  wait "$p" || rc=$?
  sed -i "/^$p /d" "$BENCH_PIDFILE"
  if [ "$rc" != 0 ]; then
    log "14. live.py $1 failed (exit $rc): $(jq -r '.error // empty' "$out" 2>/dev/null || true)"
    tail -n 20 "$dir/serve.log" >&2
  fi
  return $rc
}

failed=0
# 14a: one live per latency mode.
for mode in 1 3 2; do
  name=$(case $mode in 1) echo default ;; 2) echo high ;; 3) echo small ;; esac)
  log "14a. latency, $name latency mode: a live, ${secs}s pushed, 0.m3u8 polled every 50 ms"
  wait_quiet
  mark=$(cpu_mark)
  out="$dir/latency-$name.json"
  if py_step "$out" $((secs + 300)) session "$base" "$token" "$mode" "$secs" "$pid" "$resolutions" "$threads" 1; then
    jq -c --arg n "$name" --argjson o "$(cpu_other "$mark")" '. + {kind: "live_latency", mode: $n, other_cpu: $o}' "$out" \
      >>"$BENCH_WORK/results.jsonl"
    log "14a. $name: $(jq -r '"pusher-side p50 \(.pusher_p50) s, p95 \(.pusher_p95) s; PDT p50 \(.pdt_p50) s, p95 \(.pdt_p95) s (\(.segments_measured) segments)"' "$out")"
  else
    record kind=live_error step="latency $name" message="$(jq -r '.error // "see the log"' "$out" 2>/dev/null || echo "see the log")"
    failed=1
  fi
done

# 14b: the cost, Flotilla then bare.
log "14b. cost: a live, ${secs}s pushed, the CPU of flotilla serve and its live ffmpeg"
wait_quiet
mark=$(cpu_mark)
out="$dir/cost-flotilla.json"
if py_step "$out" $((secs + 300)) session "$base" "$token" 1 "$secs" "$pid" "$resolutions" "$threads" 0; then
  jq -c --argjson o "$(cpu_other "$mark")" '. + {kind: "live_cost", who: "flotilla", other_cpu: $o}' "$out" \
    >>"$BENCH_WORK/results.jsonl"
  log "14b. flotilla: $(jq -r '"\(.cpu_seconds) s CPU, \(.cpu_per_live_second) s per live second"' "$out")"
else
  record kind=live_error step="cost flotilla" message="$(jq -r '.error // "see the log"' "$out" 2>/dev/null || echo "see the log")"
  failed=1
fi
record kind=live_rss rss_kib="$(rss_kib "$pid")" hwm_kib="$(hwm_kib "$pid")"
stop_pid "$pid"

log "14b. cost: the same ffmpeg command bare, fed the recorded push in real time"
wait_quiet
mark=$(cpu_mark)
out="$dir/cost-bare.json"
if py_step "$out" $((secs + 300)) bare "$flv" "$dir/bare" "$secs" "$resolutions" "$threads" 4; then
  jq -c --argjson o "$(cpu_other "$mark")" --argjson c "$(nproc)" \
    '. + {kind: "live_cost", who: "bare", other_cpu: $o, cores: $c}' "$out" >>"$BENCH_WORK/results.jsonl"
  log "14b. bare: $(jq -r '"\(.cpu_seconds) s CPU, \(.cpu_per_live_second) s per live second"' "$out")"
else
  record kind=live_error step="cost bare" message="$(jq -r '.error // "see the log"' "$out" 2>/dev/null || echo "see the log")"
  failed=1
fi
rm -rf "$dir/bare"
record kind=info key=live_ladder value="${resolutions//,//}"
record kind=info key=live_settings value="${secs}s per live, ladder $resolutions, $threads ffmpeg threads; pusher: $(python3 "$bench_lib/live.py" pusher 'RTMP_URL/KEY' "$secs" | jq -r .command)"
exit $failed
