#!/usr/bin/env bash
# Soak test (benchmark 9) on one database: `soak.sh sqlite`, or `soak.sh postgres` run through
# scripts/with-postgres (which exports FLOTILLA_TEST_PG_URL). See bench/README.md.
#
# Prepares the instance's place and runs scripts/bench-lib/soak.py, which starts `flotilla serve`,
# drives the clients, kills and restarts the server and fills the disk once, then checks what is
# left. As root, the data directory lives on a tmpfs mounted here (so the disk can be filled
# without touching the machine's disks) and unmounted at exit; otherwise in the scratch directory,
# and the disk fill is skipped (recorded). With PostgreSQL the database is a fresh `soakdb` in the
# throwaway cluster, outside the tmpfs: a full disk then hits the files only.
#
# Needs BENCH_WORK, BENCH_BIN and SOAK_CLIP from scripts/bench; SOAK_SECONDS (600), SOAK_KILL_EVERY
# (90), SOAK_CLIENTS (20), SOAK_UPLOAD_EVERY (seconds between a client's uploads), SOAK_SETTLE
# (300), SOAK_FILL_SECONDS (20), SOAK_DISK_MB (the tmpfs, 1024), SOAK_MEDIA_CACHE_BYTES (the
# server's in-memory media cache, 4 MiB: full within the warm-up, see bench/README.md). Appends one `kind: soak` line to
# $BENCH_WORK/results.jsonl (or `soak_error`).
set -euo pipefail
source "$(dirname "$0")/common.sh"
kind=$1
[ -n "${SOAK_CLIP:-}" ] && [ -s "$SOAK_CLIP" ] || die "soak.sh: SOAK_CLIP must name the test clip"
export BENCH_PIDFILE="$BENCH_WORK/pids.soak-$kind"
track_pid $$

dir="$BENCH_WORK/soak-$kind"
mnt="$dir/disk"
mounted=""
cleanup() {
  local i
  sed -i "/^$$ /d" "$BENCH_PIDFILE"
  stop_tracked "$BENCH_PIDFILE" 15
  if [ -n "$mounted" ]; then
    for i in 1 2 3 4 5; do
      umount "$mnt" 2>/dev/null && { mounted=""; break; }
      sleep 1
    done
    if [ -n "$mounted" ]; then
      log "soak/$kind: $mnt is still busy: lazy unmount"
      umount -l "$mnt" || log "soak/$kind: could not unmount $mnt"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$mnt"
fill=()
if [ "$(id -u)" = 0 ]; then
  if mount -t tmpfs -o "size=${SOAK_DISK_MB:-1024}m,mode=0755" "flotilla-soak-$kind" "$mnt"; then
    mounted=1
    fill=(--fill-dir "$mnt")
    log "soak/$kind: data directory on a ${SOAK_DISK_MB:-1024} MiB tmpfs at $mnt"
  else
    fill=(--no-fill-reason "mounting a tmpfs failed: the disk fill was skipped")
    log "soak/$kind: cannot mount a tmpfs: the disk fill is skipped"
  fi
else
  fill=(--no-fill-reason "not root: no tmpfs to fill, the disk fill was skipped")
  log "soak/$kind: not root: the data directory is on the scratch disk and the disk fill is skipped"
fi
data="$mnt/data"
mkdir -p "$data"

db=()
if [ "$kind" = postgres ]; then
  [ -n "${FLOTILLA_TEST_PG_URL:-}" ] || die "soak.sh postgres must run under scripts/with-postgres"
  socket_dir=${FLOTILLA_TEST_PG_URL##*host=}
  psql -X -q -v ON_ERROR_STOP=1 "$FLOTILLA_TEST_PG_URL" -c "CREATE DATABASE soakdb"
  db_url="postgres://postgres@localhost/soakdb?host=$socket_dir"
  db=(--database-url "$db_url")
  record kind=info key=postgres_version value="$(psql -X -At "$db_url" -c "SHOW server_version" | awk '{print $1}')"
fi

port=$(free_port)
log "soak/$kind: ${SOAK_SECONDS:-600} s, ${SOAK_CLIENTS:-20} clients, kill -9 every ${SOAK_KILL_EVERY:-90} s, on 127.0.0.1:$port"
rc=0
python3 "$bench_lib/soak.py" --db "$kind" --bin "$BENCH_BIN" --data "$data" --log "$dir/serve.log" \
  --clip "$SOAK_CLIP" --pidfile "$BENCH_PIDFILE" --port "$port" "${db[@]}" "${fill[@]}" \
  --seconds "${SOAK_SECONDS:-600}" --kill-every "${SOAK_KILL_EVERY:-90}" --clients "${SOAK_CLIENTS:-20}" \
  --upload-every "${SOAK_UPLOAD_EVERY:-20}" --settle "${SOAK_SETTLE:-300}" \
  --fill-seconds "${SOAK_FILL_SECONDS:-20}" --media-cache-bytes "${SOAK_MEDIA_CACHE_BYTES:-4194304}" >"$dir/soak.json" &
py=$!
track_pid "$py"
wait "$py" || rc=$?
sed -i "/^$py /d" "$BENCH_PIDFILE"
if [ "$rc" = 0 ]; then
  jq -c '. + {kind: "soak"}' "$dir/soak.json" >>"$BENCH_WORK/results.jsonl"
else
  why=$(jq -r '.error // empty' "$dir/soak.json" 2>/dev/null || true)
  record kind=soak_error db="$kind" message="${why:-exit status $rc (see the log above)}"
  log "soak/$kind FAILED: ${why:-exit status $rc}"
fi
exit "$rc"
