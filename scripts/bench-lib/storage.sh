#!/usr/bin/env bash
# Benchmark 15: object storage. A throwaway Garage (scripts/garage-start) and two instances on
# SQLite, 240p only: S keeps its videos in Garage, L on its disk; each publishes the same clip
# twice, once public and once private.
#   15a  the first segment (by byte range) of the public video's rendition: from Garage's website
#        endpoint (the URL S's API gives) vs from L's Flotilla (its local file), wrk as in 2 (two
#        rounds, alternating, best). A context figure: what serving from the store costs.
#   15b  the same segment of the private video, which only Flotilla serves (after checking the
#        owner's token): S streaming it from Garage's private bucket vs L from its disk. (Garage's
#        CPU, serving S, counts among "other programs" there: on 2 cores both compete.)
# Results are appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK, BENCH_BIN, BENCH_DURATION,
# BENCH_CONNS from scripts/bench, and the clip path as $1.
set -euo pipefail
source "$(dirname "$0")/common.sh"
clip=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
export BENCH_PIDFILE="$BENCH_WORK/pids.storage"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM

dir="$BENCH_WORK/storage"
mkdir -p "$dir"
g=$("$root/scripts/garage-start" "$dir/garage") || die "storage: Garage did not start"
gpid=$(jq -r .pid <<<"$g")
track_pid "$gpid"
web_port=$(jq -r .web_port <<<"$g")
sport=$(free_port)
lport=$(free_port)
sbase="http://127.0.0.1:$sport"
lbase="http://127.0.0.1:$lport"
common=(FLOTILLA_TRANSCODING_RESOLUTIONS=240)
start_flotilla "$dir/s" "$sport" "$dir/s.log" "${common[@]}" \
  FLOTILLA_OBJECT_STORAGE_ENABLED=true FLOTILLA_OBJECT_STORAGE_ENDPOINT="$(jq -r .endpoint <<<"$g")" \
  FLOTILLA_OBJECT_STORAGE_REGION=garage FLOTILLA_OBJECT_STORAGE_ACCESS_KEY_ID="$(jq -r .key_id <<<"$g")" \
  FLOTILLA_OBJECT_STORAGE_SECRET_ACCESS_KEY="$(jq -r .secret <<<"$g")" \
  FLOTILLA_OBJECT_STORAGE_STREAMING_PLAYLISTS_BUCKET_NAME=flotilla-hls \
  FLOTILLA_OBJECT_STORAGE_STREAMING_PLAYLISTS_BASE_URL="http://flotilla-hls.web.localhost:$web_port" \
  FLOTILLA_OBJECT_STORAGE_WEB_VIDEOS_BUCKET_NAME=flotilla-web \
  FLOTILLA_OBJECT_STORAGE_WEB_VIDEOS_BASE_URL="http://flotilla-web.web.localhost:$web_port" \
  FLOTILLA_OBJECT_STORAGE_PRIVATE_BUCKET_NAME=flotilla-private
spid=$FLOTILLA_PID
start_flotilla "$dir/l" "$lport" "$dir/l.log" "${common[@]}"
lpid=$FLOTILLA_PID
stoken=$(login_root "$sbase")
ltoken=$(login_root "$lbase")

# publish BASE TOKEN PRIVACY STORED: uploads the clip and waits until it is published and, with
# STORED, its playlist is in the store (the API then names the bucket, or for a private video our
# URL while `storage` says 1); prints the video's JSON.
publish() {
  local base=$1 token=$2 privacy=$3 stored=$4 channel uuid i v
  channel=$(curl -sf --max-time 10 -H "Authorization: Bearer $token" "$base/api/v1/users/me" | jq -r '.videoChannels[0].id')
  uuid=$(curl -sf --max-time 120 -H "Authorization: Bearer $token" -F "channelId=$channel" -F "name=Stored $privacy" \
    -F "privacy=$privacy" -F "videofile=@$clip;type=video/mp4" "$base/api/v1/videos/upload" | jq -er .video.uuid) ||
    die "storage: upload to $base failed"
  for ((i = 0; i < 600; i++)); do
    v=$(curl -sf --max-time 10 -H "Authorization: Bearer $token" "$base/api/v1/videos/$uuid" || true)
    if [ "$(jq -r '.state.id' <<<"$v")" = 1 ] &&
      { [ "$stored" = no ] || [ "$(jq -r '.streamingPlaylists[0].files[0].storage' <<<"$v")" = 1 ]; }; then
      echo "$v"
      return
    fi
    sleep 0.5
  done
  die "storage: a video was not published (and stored) on $base within 5 minutes"
}

# segment VIDEO_JSON: the rendition's file URL and its first segment's byte range (from its playlist).
segment() {
  python3 - "$1" "$2" <<'EOF'
import json, re, sys, urllib.request
v = json.loads(sys.argv[1])
token = sys.argv[2]
f = v["streamingPlaylists"][0]["files"][0]
playlist = f["playlistUrl"]
headers = {"Authorization": f"Bearer {token}"}
# The store's website endpoint picks the bucket by Host; *.localhost is not in the resolver here.
m = re.match(r"http://([a-z-]+\.web\.localhost)(:\d+)(/.*)", playlist)
if m:
    headers = {"Host": m.group(1) + m.group(2)}
    playlist = f"http://127.0.0.1{m.group(2)}{m.group(3)}"
req = urllib.request.Request(playlist, headers=headers)
text = urllib.request.urlopen(req, timeout=10).read().decode()
# The first #EXT-X-BYTERANGE after the first #EXTINF: length@offset.
m = re.search(r"#EXTINF:[^\n]*\n#EXT-X-BYTERANGE:(\d+)@(\d+)", text)
n, off = int(m.group(1)), int(m.group(2))
print(json.dumps({"url": f["fileUrl"], "range": f"bytes={off}-{off + n - 1}"}))
EOF
}

log "15. object storage: S (Garage) and L (disk) publish a public and a private video each"
s_pub=$(publish "$sbase" "$stoken" 1 yes)
s_priv=$(publish "$sbase" "$stoken" 3 yes)
l_pub=$(publish "$lbase" "$ltoken" 1 no)
l_priv=$(publish "$lbase" "$ltoken" 3 no)

# The bucket's URL is read on the website port by its Host (wrk cannot resolve *.localhost).
store_url() { sed -E "s#^http://(flotilla-[a-z]+)\.web\.localhost:$web_port#http://127.0.0.1:$web_port#" <<<"$1"; }
store_host() { sed -E "s#^http://([^/]+)/.*#\1#" <<<"$1"; }

s_seg=$(segment "$s_pub" "$stoken")
l_seg=$(segment "$l_pub" "$ltoken")
sp_seg=$(segment "$s_priv" "$stoken")
lp_seg=$(segment "$l_priv" "$ltoken")
for round in 1 2; do
  order=(store local)
  ((round % 2)) || order=(local store)
  for what in "${order[@]}"; do
    # 15a: public, from the store's website endpoint vs Flotilla's local file.
    # The server measured: Garage, or L's Flotilla (the others' CPU counts as "other programs").
    if [ "$what" = store ]; then
      export WRK_SERVER_PIDS=$gpid
      u=$(jq -r .url <<<"$s_seg")
      hdr=(-H "Host: $(store_host "$u")")
      u=$(store_url "$u")
      r=$(jq -r .range <<<"$s_seg")
    else
      export WRK_SERVER_PIDS=$lpid
      u=$(jq -r .url <<<"$l_seg")
      hdr=()
      r=$(jq -r .range <<<"$l_seg")
    fi
    curl -sf --max-time 30 -o /dev/null "${hdr[@]}" -H "Range: $r" "$u" || die "storage: GET $u ($r) failed"
    j=$(run_wrk "storage-public-$what-$round" "$u" "$BENCH_DURATION" "$BENCH_CONNS" "${hdr[@]}" -H "Range: $r")
    record kind=storage_serve file=public from="$what" round="$round" range="$r" $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
    log "15a. public segment from $what (round $round): $(jq -r '"\(.rps) req/s"' <<<"$j")"
    # 15b: private, streamed by Flotilla from the store vs from its disk (the owner's token).
    # Flotilla (S, which reads from Garage: Garage's CPU counts as "other"), or L.
    if [ "$what" = store ]; then seg=$sp_seg token=$stoken pid=$spid; else seg=$lp_seg token=$ltoken pid=$lpid; fi
    export WRK_SERVER_PIDS=$pid
    u=$(jq -r .url <<<"$seg")
    r=$(jq -r .range <<<"$seg")
    curl -sf --max-time 30 -o /dev/null -H "Authorization: Bearer $token" -H "Range: $r" "$u" ||
      die "storage: GET $u ($r) failed"
    j=$(run_wrk "storage-private-$what-$round" "$u" "$BENCH_DURATION" "$BENCH_CONNS" \
      -H "Authorization: Bearer $token" -H "Range: $r")
    record kind=storage_serve file=private from="$what" round="$round" range="$r" $(jq -r 'to_entries[] | "\(.key)=\(.value)"' <<<"$j")
    log "15b. private segment through Flotilla from $what (round $round): $(jq -r '"\(.rps) req/s"' <<<"$j")"
  done
done
stop_pid "$spid"
stop_pid "$lpid"
stop_pid "$gpid"
