#!/usr/bin/env python3
"""Reads wrk's output (run with --latency) on stdin and prints its figures as one JSON object:
rps (requests/s), bytes_per_s (Transfer/sec, wrk's units are powers of 1024), p50_ms, p99_ms,
requests, non2xx (non-2xx/3xx answers) and socket_errors (connect+read+write+timeout). Arguments KEY=NUMBER are added to the object."""
import json
import re
import sys

UNITS_TIME = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
UNITS_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(m.group(1)) * UNITS_TIME[m.group(2)] if m else None


def main():
    text = sys.stdin.read()
    out = {"rps": 0.0, "bytes_per_s": 0.0, "p50_ms": None, "p99_ms": None, "requests": 0, "non2xx": 0,
           "socket_errors": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["rps"] = float(m.group(1))
    if m := re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", text):
        out["bytes_per_s"] = float(m.group(1)) * UNITS_BYTES[m.group(2)]
    if m := re.search(r"^\s*50(?:\.000)?%\s+(\S+)", text, re.M):
        out["p50_ms"] = ms(m.group(1))
    if m := re.search(r"^\s*99(?:\.000)?%\s+(\S+)", text, re.M):
        out["p99_ms"] = ms(m.group(1))
    if m := re.search(r"(\d+) requests in", text):
        out["requests"] = int(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        out["non2xx"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        out["socket_errors"] = sum(int(x) for x in m.groups())
    for kv in sys.argv[1:]:  # extra key=value figures
        k, _, v = kv.partition("=")
        out[k] = float(v)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
