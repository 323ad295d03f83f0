#!/usr/bin/env bash
# P2P offload: segment bytes the origin serves per viewer with P2P on and off, for 3 and 5 Chromium
# viewers of one video (web/bench/offload.mjs), inside a loopback-only network namespace. Records
# one result per viewer count when run from scripts/bench. Target: later viewers >= 60 % from peers.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${BENCH_WORK:=$(mktemp -d)}"
source "$root/scripts/bench-lib/common.sh"
: "${BENCH_BIN:=$root/target/debug/flotilla}"
[ "$(id -u)" = 0 ] || die "the offload benchmark needs root (unshare -n)"
[ -f "$root/web/build/index.html" ] || die "web/build is missing: run scripts/build-web"
out=$BENCH_WORK/offload.jsonl
(cd "$root/web" && FLOTILLA_BIN="$BENCH_BIN" OFFLOAD_VIEWERS="${OFFLOAD_VIEWERS:-3,5}" \
  unshare -n sh -c 'ip link set lo up && node bench/offload.mjs') | tee "$out" >&2
if [ -f "$BENCH_WORK/results.jsonl" ]; then
  jq -c 'select(.summary) | del(.summary) | . + {kind: "offload"}' "$out" >>"$BENCH_WORK/results.jsonl"
fi
