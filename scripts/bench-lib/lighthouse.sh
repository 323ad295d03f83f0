#!/usr/bin/env bash
# Web client benchmark: Lighthouse (npm, run against Debian's Chromium on 127.0.0.1) performance
# and accessibility scores of the home page and a watch page, and the JavaScript bytes (gzipped)
# the home page loads first. Target: both scores >= 90, first-load JS < 150 KB.
#
#   scripts/bench-lib/lighthouse.sh            (BENCH_BIN: the flotilla binary, default target/debug)
#
# Needs the built client (web/build: scripts/build-web). Lighthouse itself (12.8.2, the last line
# for Node 20) is installed on first use under target/bench-cache/lighthouse, outside the web
# client's own dependencies. Prints one JSON object; records results when run from scripts/bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${BENCH_WORK:=$(mktemp -d)}"
export BENCH_WORK
source "$root/scripts/bench-lib/common.sh"
: "${BENCH_BIN:=$root/target/debug/flotilla}"
[ -x "$BENCH_BIN" ] || die "no flotilla binary at $BENCH_BIN"
[ -f "$root/web/build/index.html" ] || die "web/build is missing: run scripts/build-web"
[ -x /usr/bin/chromium ] || die "Chromium is missing: apt-get install chromium"
command -v jq >/dev/null || die "jq is missing: apt-get install jq"

lh_dir=$root/target/bench-cache/lighthouse
if [ ! -x "$lh_dir/node_modules/.bin/lighthouse" ]; then
  log "installing lighthouse@12.8.2 into $lh_dir (once)"
  mkdir -p "$lh_dir"
  (cd "$lh_dir" && npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error lighthouse@12.8.2 >/dev/null)
fi

BENCH_PIDFILE=$BENCH_WORK/lighthouse.pids
export BENCH_PIDFILE
trap 'stop_tracked "$BENCH_PIDFILE"' EXIT
port=$(free_port)
base=http://127.0.0.1:$port
start_flotilla "$BENCH_WORK/lh-data" "$port" "$BENCH_WORK/lh-flotilla.log" \
  FLOTILLA_HTTP_WEB_DIR="$root/web/build" FLOTILLA_TRANSCODING_RESOLUTIONS=240,480

# A few published videos, so the home page has cards and the watch page a real player.
token=$(login_root "$base")
channel=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/users/me" | jq -r '.videoChannels[0].id')
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=854x480:rate=25 -f lavfi -i sine \
  -t 10 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac "$BENCH_WORK/lh.mp4"
short=
for n in 1 2 3 4; do
  short=$(curl -sf -H "Authorization: Bearer $token" -F "channelId=$channel" -F "name=Benchmark clip $n" \
    -F "description=A generated clip for **Lighthouse**." -F "videofile=@$BENCH_WORK/lh.mp4" \
    "$base/api/v1/videos/upload" | jq -r .video.shortUUID)
done
for _ in $(seq 1 240); do
  state=$(curl -sf "$base/api/v1/videos/$short" | jq -r '.state.id' || true)
  [ "$state" = 1 ] && break
  sleep 0.5
done
[ "$state" = 1 ] || die "the benchmark video was not published in 120 s"

run_lh() { # NAME URL → prints "perf a11y"
  local name=$1 url=$2 out=$BENCH_WORK/lighthouse-$1.json
  CHROME_PATH=/usr/bin/chromium "$lh_dir/node_modules/.bin/lighthouse" "$url" --quiet \
    --only-categories=performance,accessibility --output=json --output-path="$out" \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync" \
    >/dev/null 2>"$BENCH_WORK/lighthouse-$name.log" || { tail -n 20 "$BENCH_WORK/lighthouse-$name.log" >&2; die "lighthouse failed on $url"; }
  jq -r '[(.categories.performance.score * 100 | round), (.categories.accessibility.score * 100 | round)] | @tsv' "$out"
}
read -r home_perf home_a11y < <(run_lh home "$base/")
read -r watch_perf watch_a11y < <(run_lh watch "$base/w/$short")
js_bytes=$(cd "$root/web" && node scripts/size.mjs 2>/dev/null | grep -oE '[0-9]+ bytes gzipped' | grep -oE '^[0-9]+' || echo 0)
printf '{"home_performance": %s, "home_accessibility": %s, "watch_performance": %s, "watch_accessibility": %s, "home_first_load_js_gzip_bytes": %s}\n' \
  "$home_perf" "$home_a11y" "$watch_perf" "$watch_a11y" "$js_bytes"
if [ -f "$BENCH_WORK/results.jsonl" ]; then
  record kind=lighthouse home_performance="$home_perf" home_accessibility="$home_a11y" \
    watch_performance="$watch_perf" watch_accessibility="$watch_a11y" first_load_js_gzip="$js_bytes"
fi
