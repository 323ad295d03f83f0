#!/usr/bin/env bash
# 6. The P2P tracker under load: Flotilla's /tracker/socket against bittorrent-tracker's server
# (npm, 11.2.3), same load from the same client (tracker-load/, Rust), same machine.
#
# For each size in $TRACKER_SIZES, $TRACKER_ROUNDS rounds alternating which tracker goes first; every
# run has a fresh server process (so that its memory before the connections is a clean baseline):
#   tracker-load: N WebSocket peers over $TRACKER_SWARMS swarms, 25 per source address (127.0.1.x,
#   127.0.2.x, …: Flotilla takes at most 32 connections per address); the server's VmRSS before and
#   with the N connections idle; then announces with 5 offers of ~1 KB SDPs, answers to every
#   offer, re-announces (closed loop) for $TRACKER_DURATION s after a warm-up.
# Flotilla runs on SQLite with $TRACKER_SWARMS seeded videos, one info hash each (its tracker admits
# only those); bittorrent-tracker admits any info hash and gets the same ones.
# Results are appended to $BENCH_WORK/results.jsonl. Needs BENCH_WORK, BENCH_BIN, TRACKER_SIZES,
# TRACKER_ROUNDS, TRACKER_DURATION from scripts/bench; node and npm.
set -euo pipefail
source "$(dirname "$0")/common.sh"
export BENCH_PIDFILE="$BENCH_WORK/pids.tracker"
track_pid $$
trap 'sed -i "/^$$ /d" "$BENCH_PIDFILE"; stop_tracked' EXIT
trap 'exit 130' INT TERM

root=$(cd "$bench_lib/../.." && pwd)
cache="$root/target/bench-cache"
dir="$BENCH_WORK/tracker"
mkdir -p "$dir" "$cache"
: "${TRACKER_SWARMS:=300}" "${TRACKER_PERIOD:=0.05}" "${TRACKER_JOIN:=2}" "${TRACKER_WARMUP:=4}" "${TRACKER_SETTLE:=3}"
BT_VERSION=11.2.3

# Both the client and the server hold one socket per peer.
max_n=0
for n in $TRACKER_SIZES; do ((n > max_n)) && max_n=$n; done
need_fds=$((max_n + 1024))
if (($(ulimit -Hn) < need_fds)); then
  ulimit -Hn "$need_fds" 2>/dev/null || die "the tracker benchmark needs $need_fds open files per process; the hard limit is $(ulimit -Hn) (raise it, or lower the sizes)"
fi
(($(ulimit -n) >= need_fds)) || ulimit -n "$need_fds"

# --- The load client: its own Cargo project and target directory --------------------------------
command -v cargo >/dev/null || die "the tracker benchmark builds its load client with cargo, which is not on PATH"
command -v node >/dev/null || die "the tracker benchmark runs bittorrent-tracker with node, which is not on PATH"
client_dir="$root/target/bench-build/tracker-load"
log "6. tracker: building the load client (scripts/bench-lib/tracker-load, into $client_dir)"
CARGO_BUILD_JOBS=1 timeout 1800 cargo build --release --quiet --manifest-path "$bench_lib/tracker-load/Cargo.toml" \
  --target-dir "$client_dir" || die "the tracker load client did not build"
client="$client_dir/release/tracker-load"

# --- The reference: bittorrent-tracker's server from npm, installed once into the cache ----------
bt="$cache/bittorrent-tracker-$BT_VERSION"
if [ ! -f "$bt/node_modules/bittorrent-tracker/server.js" ]; then
  log "6. tracker: npm install --ignore-scripts bittorrent-tracker@$BT_VERSION (into $bt)"
  mkdir -p "$bt"
  echo '{"private": true}' >"$bt/package.json"
  (cd "$bt" && timeout 600 npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
    "bittorrent-tracker@$BT_VERSION" >&2) || die "npm install bittorrent-tracker@$BT_VERSION failed"
fi
cp "$bench_lib/bt-tracker.mjs" "$bt/bt-tracker.mjs" # ESM finds node_modules from the script's folder
record kind=info key=tracker_versions value="node $(node --version), bittorrent-tracker $(jq -r .version "$bt/node_modules/bittorrent-tracker/package.json")"

# --- Flotilla's database: the schema, a user with its channel, videos with their info hashes -------
data="$dir/data"
mkdir -p "$data"
fenv=(env FLOTILLA_DATA_DIR="$data" FLOTILLA_ADMIN_PASSWORD=bench-password FLOTILLA_LOG_LEVEL=warn)
"${fenv[@]}" "$BENCH_BIN" migrate >>"$dir/setup.log" 2>&1 || die "flotilla migrate failed (see $dir/setup.log)"
"${fenv[@]}" "$BENCH_BIN" admin create-user --username bench --email bench@example.invalid \
  --password bench-password >>"$dir/setup.log" 2>&1 || die "flotilla admin create-user failed (see $dir/setup.log)"
hashes="$dir/hashes.txt"
python3 "$bench_lib/tracker-seed.py" "$data/flotilla.db" bench_channel "$TRACKER_SWARMS" "$hashes" >>"$dir/setup.log"
record kind=info key=tracker_settings value="$TRACKER_SWARMS swarms (Flotilla: $TRACKER_SWARMS seeded videos, one info hash each), 25 connections per source address, 5 offers of ~1 KB SDPs per announce, first announces spread over ${TRACKER_JOIN}s, re-announce ${TRACKER_PERIOD}s after the previous one at the soonest and never before its response (closed loop), ${TRACKER_WARMUP}s warm-up, ${TRACKER_DURATION}s measured; $TRACKER_ROUNDS round(s) per size, alternating which tracker goes first"

# wait_port PORT: until something accepts on 127.0.0.1:PORT, at most 30 s.
wait_port() {
  local i
  for ((i = 0; i < 300; i++)); do
    (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# run_one WHO N ROUND: a fresh server, the load client against it, the server stopped.
run_one() {
  local who=$1 n=$2 round=$3 port pid url out mark rc=0
  port=$(free_port)
  if [ "$who" = flotilla ]; then
    start_flotilla "$data" "$port" "$dir/flotilla.log"
    pid=$FLOTILLA_PID
    url="ws://127.0.0.1:$port/tracker/socket"
  else
    node "$bt/bt-tracker.mjs" "$port" >>"$dir/bittorrent-tracker.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    wait_port "$port" || die "bittorrent-tracker did not listen on 127.0.0.1:$port (see $dir/bittorrent-tracker.log)"
    url="ws://127.0.0.1:$port/"
  fi
  sleep 2 # the baseline: the server started and idle
  out="$dir/$who-$n-$round.json"
  wait_quiet
  mark=$(cpu_mark)
  local limit
  limit=$(awk -v w="$TRACKER_WARMUP" -v d="$TRACKER_DURATION" -v s="$TRACKER_SETTLE" 'BEGIN {print int(w + d + 2 * s + 240)}')
  timeout "$limit" "$client" --url "$url" --hashes "$hashes" --peers "$n" --pid "$pid" --per-addr 25 \
    --join "$TRACKER_JOIN" --period "$TRACKER_PERIOD" --warmup "$TRACKER_WARMUP" --duration "$TRACKER_DURATION" \
    --settle "$TRACKER_SETTLE" --offers 5 --sdp-bytes 1000 --threads 1 >"$out" 2>>"$dir/client.log" &
  local cpid=$!
  track_pid "$cpid"
  wait "$cpid" || rc=$?
  sed -i "/^$cpid /d" "$BENCH_PIDFILE"
  local other
  other=$(cpu_other "$mark")
  stop_pid "$pid"
  if [ "$rc" != 0 ] || ! jq -e . "$out" >/dev/null 2>&1; then
    record kind=tracker_error who="$who" peers="$n" round="$round" message="load client exit status $rc: $(tail -n 2 "$dir/client.log" | tr '\n' ' ')"
    log "6. $who, $n peers, round $round: FAILED (exit status $rc)"
    return 0
  fi
  jq -c --arg who "$who" --argjson round "$round" --argjson other "$other" \
    '. + {kind: "tracker", who: $who, round: $round, other_cpu: $other}' "$out" >>"$BENCH_WORK/results.jsonl"
  log "6. $who, $n peers, round $round: $(jq -r '"\(.messages_per_s) messages/s, announce RTT p50 \(.announce_rtt_p50_ms) ms, \(.idle_kib_per_connection) KiB per idle connection, server CPU \(.server_cpu_us_per_message) µs/message"' "$out")"
}

for n in $TRACKER_SIZES; do
  for round in $(seq "$TRACKER_ROUNDS"); do
    order=(flotilla bittorrent-tracker)
    ((round % 2)) || order=(bittorrent-tracker flotilla)
    for who in "${order[@]}"; do run_one "$who" "$n" "$round"; done
  done
done
