#!/usr/bin/env python3
"""Benchmark 18: how soon `flotilla serve` answers after it is started on an existing SQLite
database. The first start (which creates the database, runs the migrations and makes the admin)
is left out; then RUNS starts, each timed from the process's spawn to the first 200 of
`GET /api/v1/config` (asked again every millisecond on a fresh connection), then stopped with
SIGTERM and waited for. Prints one JSON object.

    startup.py BIN DATA_DIR PORT RUNS
"""

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time


def start(binary, data, port, log):
    env = dict(os.environ)
    env.update({
        "FLOTILLA_DATA_DIR": data,
        "FLOTILLA_LISTEN": f"127.0.0.1:{port}",
        "FLOTILLA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "FLOTILLA_ADMIN_PASSWORD": "bench-password",
        "FLOTILLA_LOG_LEVEL": "warn",
    })
    return subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log)


def first_answer(proc, port, limit=60.0):
    """Seconds from now until the first 200, or None (the process died or the limit passed)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if proc.poll() is not None:
            return None
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/api/v1/config")
            if c.getresponse().status == 200:
                return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.001)
    return None


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    binary, data, port, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(os.path.dirname(data.rstrip("/")), "startup.log"), "ab") as log:
        proc = start(binary, data, port, log)
        t0 = time.perf_counter()
        first = first_answer(proc, port, limit=120)
        stop(proc)
        if first is None:
            print(json.dumps({"error": "the first start never answered (see startup.log)"}))
            return 1
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            proc = start(binary, data, port, log)
            spawned = time.perf_counter() - t0
            took = first_answer(proc, port)
            stop(proc)
            if took is None:
                print(json.dumps({"error": "a start never answered (see startup.log)"}))
                return 1
            times.append((spawned + took) * 1000)
    print(json.dumps({
        "first_ms": round(first * 1000, 1),
        "runs_ms": [round(t, 1) for t in times],
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
