#!/usr/bin/env python3
"""Benchmark 12's viewers: HTTP clients that fetch a video as a player does, at playback pace.

  edge.py offload MASTER_URL ORIGIN_BASE VIEWERS
      VIEWERS clients join within the first 2 s and each fetches the master playlist, the highest
      rendition's playlist, its init section and every segment (byte ranges, as the playlist gives
      them), segment i when playback would need it (two segments ahead). ORIGIN_BASE is the
      origin (A): its `flotilla_hls_served_bytes_total{kind="segment"}` is read before and after,
      and one copy is what one viewer fetched. Every piece must be byte-identical across viewers.
  edge.py ttfs MASTER_URL N
      N clients one after the other, each only until its first segment: time to first segment.

Prints one JSON object.
"""

import hashlib
import json
import random
import statistics
import sys
import threading
import time
import urllib.request

TIMEOUT = 30


def get(url, rng=None):
    req = urllib.request.Request(url)
    if rng:
        req.add_header("Range", f"bytes={rng[0]}-{rng[1]}")
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        body = r.read()
        want = 206 if rng else 200
        if r.status != want:
            raise RuntimeError(f"{url} {rng}: status {r.status}")
        return body


def attr(line, name):
    at = line.index(f'{name}="') + len(name) + 2
    return line[at:line.index('"', at)]


def plan(master_url):
    """The pieces a player fetches after the master playlist: (variant name, init, segments with durations)."""
    base = master_url[: master_url.rfind("/") + 1]
    master = get(master_url).decode()
    variants = [l for l in master.splitlines() if l and not l.startswith("#")]
    name = variants[-1]
    text = get(base + name).decode()
    init, segments, dur, pending = None, [], 4.0, None
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            length, off = map(int, attr(line, "BYTERANGE").split("@"))
            init = (attr(line, "URI"), (off, off + length - 1))
        elif line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-BYTERANGE:"):
            length, off = map(int, line[17:].split("@"))
            pending = (off, off + length - 1)
        elif line and not line.startswith("#"):
            segments.append((line, pending, dur))
    return base, name, init, segments


def metric(base, name):
    text = urllib.request.urlopen(f"{base}/metrics", timeout=TIMEOUT).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[-1]))
    raise RuntimeError(f"no {name} in {base}/metrics")


class Viewer(threading.Thread):
    def __init__(self, master_url, delay, whole=True):
        super().__init__(daemon=True)
        self.master_url, self.delay, self.whole = master_url, delay, whole
        self.ttfs = None
        self.hashes = {}
        self.bytes = 0
        self.error = None

    def take(self, url, rng):
        body = get(url, rng)
        self.hashes[(url.rsplit("/", 1)[1], rng)] = hashlib.sha256(body).hexdigest()
        self.bytes += len(body)

    def run(self):
        try:
            time.sleep(self.delay)
            t0 = time.monotonic()
            base, _, init, segments = plan(self.master_url)
            self.take(base + init[0], init[1])
            self.take(base + segments[0][0], segments[0][1])
            self.ttfs = time.monotonic() - t0
            if not self.whole:
                return
            start = time.monotonic()
            elapsed = 0.0
            for i, (name, rng, dur) in enumerate(segments[1:], 1):
                # Playback pace: a segment is fetched when playback is two segments before it.
                due = start + max(0.0, elapsed - 2 * dur)
                time.sleep(max(0.0, due - time.monotonic()))
                self.take(base + name, rng)
                elapsed += segments[i - 1][2]
        except Exception as e:  # noqa: BLE001 (reported in the JSON)
            self.error = f"{type(e).__name__}: {e}"


def offload(master_url, origin_base, n):
    before = metric(origin_base, 'flotilla_hls_served_bytes_total{kind="segment"}')
    viewers = [Viewer(master_url, random.uniform(0, 2)) for _ in range(n)]
    t0 = time.monotonic()
    for v in viewers:
        v.start()
    for v in viewers:
        v.join(600)
    wall = time.monotonic() - t0
    served = metric(origin_base, 'flotilla_hls_served_bytes_total{kind="segment"}') - before
    errors = [v.error for v in viewers if v.error]
    ok = [v for v in viewers if not v.error]
    identical = all(v.hashes == ok[0].hashes for v in ok) if ok else False
    one_copy = ok[0].bytes if ok else 0
    ttfs = sorted(v.ttfs for v in ok if v.ttfs is not None)
    return {
        "viewers": n,
        "origin_segment_bytes": served,
        "one_copy_bytes": one_copy,
        "copies": round(served / one_copy, 3) if one_copy else None,
        "ttfs_p50_ms": round(1000 * statistics.median(ttfs), 1) if ttfs else None,
        "ttfs_max_ms": round(1000 * ttfs[-1], 1) if ttfs else None,
        "identical": identical,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": round(wall, 1),
    }


def ttfs(master_url, n):
    times, errors = [], []
    for _ in range(n):
        v = Viewer(master_url, 0, whole=False)
        v.run()
        if v.error:
            errors.append(v.error)
        else:
            times.append(v.ttfs)
    return {
        "n": n,
        "ttfs_p50_ms": round(1000 * statistics.median(times), 2) if times else None,
        "ttfs_min_ms": round(1000 * min(times), 2) if times else None,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def main():
    cmd = sys.argv[1]
    if cmd == "offload":
        out = offload(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "ttfs":
        out = ttfs(sys.argv[2], int(sys.argv[3]))
    elif cmd == "segment":
        # The highest rendition's first segment: "NAME START-END", for wrk.
        base, _, _, segments = plan(sys.argv[2])
        name, (s, e), _ = segments[0]
        out = {"url": base + name, "range": f"bytes={s}-{e}"}
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
