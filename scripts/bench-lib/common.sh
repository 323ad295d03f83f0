# Shared helpers of scripts/bench, sourced by it and by its helper scripts. Expects:
#   BENCH_WORK  a scratch directory (removed by the entry script at exit)
#   BENCH_BIN   the flotilla binary
# Every process started here is recorded in $BENCH_WORK/pids and stopped by PID, never by name.

bench_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# A free TCP port on 127.0.0.1 (bound once and released, so there is a tiny race; good enough).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Each script records the processes it starts in its own file, $BENCH_PIDFILE (default
# $BENCH_WORK/pids), one "PID START" a line (START: the start time in /proc/PID/stat), so that a
# clean-up never signals another process that has reused the number.
pidfile() { echo "${BENCH_PIDFILE:-$BENCH_WORK/pids}"; }
proc_start() { awk '{sub(/^.*\) /, ""); if ($1 != "Z") print $20}' "/proc/$1/stat" 2>/dev/null; }
track_pid() { echo "$1 $(proc_start "$1")" >>"$(pidfile)"; }
ours() { [ -n "$2" ] && [ "$(proc_start "$1")" = "$2" ]; }

# stop_pid PID [GRACE [PIDFILE]]: stops one process we started: SIGTERM, then SIGKILL after GRACE
# seconds (default 15). Bounded.
stop_pid() {
  local pid=$1 grace=${2:-15} file=${3:-$(pidfile)} start i
  [ -n "$pid" ] || return 0
  start=$(awk -v p="$pid" '$1 == p {print $2}' "$file" 2>/dev/null | tail -n 1)
  if ours "$pid" "$start"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      ours "$pid" "$start" || break
      sleep 0.1
    done
    if ours "$pid" "$start"; then
      log "process $pid did not stop within ${grace}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  [ -f "$file" ] && sed -i "/^$pid /d" "$file"
  return 0
}

# stop_tracked [PIDFILE [GRACE]]: stops every process recorded in the file, newest first.
stop_tracked() {
  local file=${1:-$(pidfile)} grace=${2:-10} pid
  [ -f "$file" ] || return 0
  for pid in $(tac "$file" | awk '{print $1}'); do stop_pid "$pid" "$grace" "$file"; done
}

# Polls a URL until it answers 2xx: at most $2 seconds (default 60), every 0.1 s.
wait_http() {
  local url=$1 limit=${2:-60} i
  for ((i = 0; i < limit * 10; i++)); do
    curl -sf -o /dev/null --max-time 2 "$url" && return 0
    sleep 0.1
  done
  return 1
}

# start_flotilla DATA_DIR PORT LOGFILE [VAR=VALUE...]: starts `flotilla serve` in the background,
# sets FLOTILLA_PID, and waits until GET /api/v1/config answers (at most 90 s).
start_flotilla() {
  local data=$1 port=$2 logfile=$3
  shift 3
  mkdir -p "$data"
  env FLOTILLA_DATA_DIR="$data" FLOTILLA_LISTEN="127.0.0.1:$port" FLOTILLA_PUBLIC_URL="http://127.0.0.1:$port" \
    FLOTILLA_ADMIN_PASSWORD=bench-password FLOTILLA_LOG_LEVEL=warn FLOTILLA_SIGNUP=open FLOTILLA_RATE_LIMITS_ENABLED=false "$@" \
    "$BENCH_BIN" serve >>"$logfile" 2>&1 &
  FLOTILLA_PID=$!
  track_pid "$FLOTILLA_PID"
  if ! wait_http "http://127.0.0.1:$port/api/v1/config" 90; then
    tail -n 30 "$logfile" >&2
    die "flotilla did not answer on 127.0.0.1:$port within 90 s (log above)"
  fi
}

# The owner's bearer token for root on the instance at $1 (http://127.0.0.1:PORT).
login_root() {
  local base=$1 client id secret
  client=$(curl -sf --max-time 10 "$base/api/v1/oauth-clients/local") || die "GET oauth-clients/local failed"
  id=$(jq -r .client_id <<<"$client")
  secret=$(jq -r .client_secret <<<"$client")
  curl -sf --max-time 30 --data-urlencode "client_id=$id" --data-urlencode "client_secret=$secret" \
    -d grant_type=password -d username=root -d password=bench-password "$base/api/v1/users/token" |
    jq -er .access_token || die "login as root failed"
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# The anonymous part of the RSS (heap, stacks): VmRSS also counts the binary's own mapped pages.
anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }

# cpu_mark / cpu_other MARK: the share of the machine's CPU that programs other than ours used
# between the two calls (see cpu.py), recorded beside each measurement to flag noisy figures.
cpu_mark() { python3 "$bench_lib/cpu.py" mark; }
cpu_other() { python3 "$bench_lib/cpu.py" other "$1"; }

# wait_quiet: waits, at most $BENCH_QUIET_WAIT seconds (default 60), until programs other than
# ours use under 10 % of the CPU over a second, so that a measurement starts on a quiet machine
# when one can be had. Measures anyway after that (the figure then carries a warning).
wait_quiet() {
  local limit=${BENCH_QUIET_WAIT:-60} i m o=0
  for ((i = 0; i < limit; i++)); do
    m=$(cpu_mark)
    sleep 1
    o=$(cpu_other "$m")
    awk -v o="$o" 'BEGIN {exit !(o < 10)}' && return 0
  done
  log "the machine stayed busy (other programs use ${o}% of the CPU): measuring anyway"
}

# Appends one JSON result line (the arguments are key=value pairs; values that parse as numbers
# are stored as numbers) to $BENCH_WORK/results.jsonl.
record() {
  python3 - "$@" >>"$BENCH_WORK/results.jsonl" <<'EOF'
import json, sys
out = {}
for kv in sys.argv[1:]:
    k, _, v = kv.partition("=")
    try:
        out[k] = int(v)
    except ValueError:
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
print(json.dumps(out))
EOF
}

# run_wrk LABEL URL DURATION CONNECTIONS [wrk options...] [-- script arguments...]: a short
# warm-up ($BENCH_WARMUP), then the measured run with 2 threads; prints wrk's figures as JSON (see
# wrkparse.py) with other_cpu (cpu.py); when $WRK_SERVER_PIDS is set, also server_cpu_s, the CPU
# time those processes (and their descendants) used during the measured run, and the same as
# db_cpu_s for $WRK_DB_PIDS (PostgreSQL's postmaster). Raw output is kept in
# $BENCH_WORK/wrk/LABEL.txt.
run_wrk() {
  local label=$1 url=$2 dur=$3 conns=$4
  shift 4
  local opts=() rest=()
  while (($#)); do
    if [ "$1" = -- ]; then rest=("$@"); break; fi
    opts+=("$1"); shift
  done
  mkdir -p "$BENCH_WORK/wrk"
  wait_quiet
  timeout 60 wrk -t2 -c"$conns" -d"$BENCH_WARMUP" "${opts[@]}" "$url" "${rest[@]}" >/dev/null 2>&1 || true
  local mark srv0="" db0="" extra=()
  [ -z "${WRK_SERVER_PIDS:-}" ] || srv0=$(python3 "$bench_lib/cpu.py" seconds $WRK_SERVER_PIDS)
  [ -z "${WRK_DB_PIDS:-}" ] || db0=$(python3 "$bench_lib/cpu.py" seconds $WRK_DB_PIDS)
  mark=$(cpu_mark)
  timeout $((${dur%s} + 60)) wrk -t2 -c"$conns" -d"$dur" --latency "${opts[@]}" "$url" "${rest[@]}" \
    >"$BENCH_WORK/wrk/$label.txt" 2>&1 || log "wrk $label failed: $(tail -n 3 "$BENCH_WORK/wrk/$label.txt")"
  [ -z "$srv0" ] || extra+=(server_cpu_s="$(awk -v a="$srv0" -v b="$(python3 "$bench_lib/cpu.py" seconds $WRK_SERVER_PIDS)" 'BEGIN {print b - a}')")
  [ -z "$db0" ] || extra+=(db_cpu_s="$(awk -v a="$db0" -v b="$(python3 "$bench_lib/cpu.py" seconds $WRK_DB_PIDS)" 'BEGIN {print b - a}')")
  python3 "$bench_lib/wrkparse.py" other_cpu="$(cpu_other "$mark")" "${extra[@]}" <"$BENCH_WORK/wrk/$label.txt"
}
