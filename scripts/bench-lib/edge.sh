#!/usr/bin/env bash
# Benchmark 12: the edge cache. Two instances on SQLite: A (the origin) and B, which follows A.
# A publishes one video per viewer count (a cold cache each time), B publishes the same clip as
# a local video; both transcode to 240p only.
#   12a  EDGE_VIEWERS (1 10 50; quick 1 10) HTTP clients on B watch a video of A at playback pace
#        (edge.py offload): through B's edge cache (the playlistUrl B's API gives), then straight
#        from A (originPlaylistUrl: what B's API gives with the cache off): the segment bytes A
#        served, in copies of the video, and the viewers' time to first segment.
#   12b  time to first segment of a cached remote video on B vs B's local video (20 sequential
#        viewers each, median).
#   12c  a hot segment (the first of the 240p rendition, by byte range) from B's edge cache vs the
#        same segment of B's local copy, wrk like benchmark 2 (two rounds, alternating, best).
# Results are appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK, BENCH_BIN, BENCH_DURATION,
# BENCH_WARMUP, BENCH_CONNS from scripts/bench, and the clip path as $1.
set -euo pipefail
source "$(dirname "$0")/common.sh"
clip=$1
read -r -a counts <<<"${EDGE_VIEWERS:-1 10 50}"
export BENCH_PIDFILE="$BENCH_WORK/pids.edge"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM

dir="$BENCH_WORK/edge"
mkdir -p "$dir"
aport=$(free_port)
bport=$(free_port)
abase="http://127.0.0.1:$aport"
bbase="http://127.0.0.1:$bport"
common=(FLOTILLA_FEDERATION_ALLOW_PRIVATE=true FLOTILLA_TRANSCODING_RESOLUTIONS=240)
start_flotilla "$dir/a" "$aport" "$dir/a.log" "${common[@]}"
apid=$FLOTILLA_PID
start_flotilla "$dir/b" "$bport" "$dir/b.log" "${common[@]}"
bpid=$FLOTILLA_PID
atoken=$(login_root "$abase")
btoken=$(login_root "$bbase")
curl -sf --max-time 30 -o /dev/null -H "Authorization: Bearer $btoken" -H 'Content-Type: application/json' \
  -d "{\"hosts\":[\"127.0.0.1:$aport\"]}" "$bbase/api/v1/server/following" || die "edge: B cannot follow A"

# publish BASE TOKEN NAME: uploads the clip to root's channel and waits until it is published; its UUID.
publish() {
  local base=$1 token=$2 name=$3 channel uuid i
  channel=$(curl -sf --max-time 10 -H "Authorization: Bearer $token" "$base/api/v1/users/me" | jq -r '.videoChannels[0].id')
  uuid=$(curl -sf --max-time 120 -H "Authorization: Bearer $token" -F "channelId=$channel" -F "name=$name" -F privacy=1 \
    -F "videofile=@$clip;type=video/mp4" "$base/api/v1/videos/upload" | jq -er .video.uuid) || die "edge: upload to $base failed"
  for ((i = 0; i < 600; i++)); do
    [ "$(curl -sf --max-time 10 "$base/api/v1/videos/$uuid" | jq -r '.state.id')" = 1 ] && { echo "$uuid"; return; }
    sleep 0.5
  done
  die "edge: $name was not published on $base within 5 minutes"
}

# on_b UUID KEY: a field of the video's streaming playlist as B's API gives it, once B has it.
on_b() {
  local uuid=$1 key=$2 i v
  for ((i = 0; i < 600; i++)); do
    v=$(curl -sf --max-time 10 "$bbase/api/v1/videos/$uuid" | jq -r ".streamingPlaylists[0].$key // empty" || true)
    [ -n "$v" ] && { echo "$v"; return; }
    sleep 0.5
  done
  die "edge: B did not list $uuid within 5 minutes"
}

log "12. edge cache: A publishes ${#counts[@]} videos (one per viewer count), B one local copy"
videos=()
for n in "${counts[@]}"; do videos+=("$(publish "$abase" "$atoken" "Edge $n")"); done
local_uuid=$(publish "$bbase" "$btoken" "Local copy")

for i in "${!counts[@]}"; do
  n=${counts[$i]}
  uuid=${videos[$i]}
  edge_url=$(on_b "$uuid" playlistUrl)
  origin_url=$(on_b "$uuid" originPlaylistUrl)
  [[ $edge_url == "$bbase/static/edge/hls/"* ]] || die "edge: B gives $edge_url, not its edge cache"
  for mode in on off; do
    url=$edge_url
    [ "$mode" = off ] && url=$origin_url
    wait_quiet
    j=$(timeout 900 python3 "$bench_lib/edge.py" offload "$url" "$abase" "$n") || die "edge: edge.py offload failed"
    record kind=edge_offload cache="$mode" $(jq -r 'to_entries[] | select(.value != null) | "\(.key)=\(.value)"' <<<"$j" | tr ' ' '_')
    log "12a. $n viewer(s), edge cache $mode: $(jq -r '"A served \(.copies) copies; time to first segment p50 \(.ttfs_p50_ms) ms"' <<<"$j")"
  done
done

# 12b: the first video is cached on B by now.
edge_url=$(on_b "${videos[0]}" playlistUrl)
local_url=$(on_b "$local_uuid" playlistUrl)
for what in edge local; do
  url=$edge_url
  [ "$what" = local ] && url=$local_url
  j=$(timeout 300 python3 "$bench_lib/edge.py" ttfs "$url" 20) || die "edge: edge.py ttfs failed"
  record kind=edge_ttfs video="$what" $(jq -r 'to_entries[] | select(.value != null) | "\(.key)=\(.value)"' <<<"$j" | tr ' ' '_')
  log "12b. time to first segment, $what video on B: $(jq -r '"p50 \(.ttfs_p50_ms) ms"' <<<"$j")"
done

# 12c: a hot segment from the edge cache vs the local file, both on B.
edge_seg=$(python3 "$bench_lib/edge.py" segment "$edge_url")
local_seg=$(python3 "$bench_lib/edge.py" segment "$local_url")
export WRK_SERVER_PIDS=$bpid
for round in 1 2; do
  order=(edge local)
  ((round % 2)) || order=(local edge)
  for what in "${order[@]}"; do
    seg=$edge_seg
    [ "$what" = local ] && seg=$local_seg
    u=$(jq -r .url <<<"$seg")
    r=$(jq -r .range <<<"$seg")
    curl -sf --max-time 30 -o /dev/null -H "Range: $r" "$u" || die "edge: GET $u ($r) failed"
    j=$(run_wrk "edge-$what-$round" "$u" "$BENCH_DURATION" "$BENCH_CONNS" -H "Range: $r")
    record kind=edge_serve video="$what" round="$round" range="$r" $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
    log "12c. hot segment from B, $what (round $round): $(jq -r '"\(.rps) req/s"' <<<"$j")"
  done
done
record kind=edge_rss rss_kib="$(rss_kib "$bpid")" hwm_kib="$(hwm_kib "$bpid")" \
  edge_files="$(curl -sf "$bbase/metrics" | awk '/^flotilla_edge_cache_files / {print $2}')"
stop_pid "$bpid"
stop_pid "$apid"
