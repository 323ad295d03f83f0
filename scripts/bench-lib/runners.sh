#!/usr/bin/env bash
# Benchmark 17: transcoding throughput with 0, 1 and 2 remote runners, all on this machine. The
# same $RUNNER_VIDEOS clips (CLIP, the ladder $RESOLUTIONS) are uploaded at once with
# waitTranscoding to a fresh SQLite instance: with 0 runners its own workers transcode them
# (`jobs.concurrency` 1, every core); with 1 or 2, `[transcoding] remote_runners` hands each
# rendition to `flotilla runner` processes (the same binary; every core each). The time runs from
# the first upload's start to the last video's publication. On a 2-core machine runners share the
# cores with the server: the figure shows what the protocol costs (downloads, uploads, checks,
# one rendition per job instead of one shared pass), not what other machines would add
# (docs/DEPLOY.md). Results are appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK,
# BENCH_BIN, RESOLUTIONS from scripts/bench.
set -euo pipefail
source "$(dirname "$0")/common.sh"
export BENCH_PIDFILE="$BENCH_WORK/pids.runners"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM
clip=$1
videos=${RUNNER_VIDEOS:-3}
limit=${RUNNER_LIMIT:-1800}

for n in 0 1 2; do
  dir="$BENCH_WORK/runners-$n"
  rm -rf "$dir"
  mkdir -p "$dir"
  port=$(free_port)
  base="http://127.0.0.1:$port"
  vars=(FLOTILLA_TRANSCODING_RESOLUTIONS="$RESOLUTIONS")
  ((n == 0)) || vars+=(FLOTILLA_TRANSCODING_REMOTE_RUNNERS=true)
  start_flotilla "$dir/data" "$port" "$dir/server.log" "${vars[@]}"
  server=$FLOTILLA_PID
  token=$(login_root "$base")
  runner_pids=""
  if ((n > 0)); then
    curl -sf --max-time 30 -X POST -H "Authorization: Bearer $token" \
      "$base/api/v1/runners/registration-tokens/generate" >/dev/null || die "runners: cannot make a registration token"
    reg=$(curl -sf --max-time 30 -H "Authorization: Bearer $token" "$base/api/v1/runners/registration-tokens" |
      jq -er '.data[0].registrationToken') || die "runners: no registration token listed"
    for i in $(seq 1 "$n"); do
      RUST_LOG=warn "$BENCH_BIN" runner --url "$base" --registration-token "$reg" --name "bench-$i" \
        --data "$dir/runner-$i" --poll-secs 0.5 >>"$dir/runner-$i.log" 2>&1 &
      track_pid $!
      runner_pids+=" $!"
    done
    for _ in $(seq 1 100); do
      [ "$(curl -sf --max-time 10 -H "Authorization: Bearer $token" "$base/api/v1/runners" | jq -r .total)" = "$n" ] && break
      sleep 0.1
    done
  fi
  channel=$(curl -sf --max-time 10 -H "Authorization: Bearer $token" "$base/api/v1/users/me" | jq -er '.videoChannels[0].id')
  wait_quiet
  mark=$(cpu_mark)
  start=$(date +%s.%N)
  uuids=()
  for i in $(seq 1 "$videos"); do
    uuid=$(curl -sf --max-time 300 -H "Authorization: Bearer $token" -F "channelId=$channel" -F "name=bench $i" \
      -F waitTranscoding=true -F "videofile=@$clip;type=video/mp4" "$base/api/v1/videos/upload" | jq -er .video.uuid) ||
      die "runners: upload $i failed"
    uuids+=("$uuid")
  done
  deadline=$(($(date +%s) + limit))
  for uuid in "${uuids[@]}"; do
    until [ "$(curl -sf --max-time 10 "$base/api/v1/videos/$uuid" | jq -r .state.id)" = 1 ]; do
      (($(date +%s) < deadline)) || die "runners: $uuid not published within $limit s ($n runner(s))"
      sleep 0.2
    done
  done
  end=$(date +%s.%N)
  secs=$(python3 -c "print(round($end - $start, 2))")
  renditions=$(curl -sf --max-time 10 "$base/api/v1/videos/${uuids[0]}" | jq '.streamingPlaylists[0].files | length')
  record kind=runners runners="$n" videos="$videos" renditions="$renditions" seconds="$secs" \
    other_cpu="$(cpu_other "$mark")"
  log "17. $n runner(s): $videos videos of $renditions renditions in $secs s"
  for p in $runner_pids; do stop_pid "$p"; done
  stop_pid "$server"
done
