#!/usr/bin/env python3
"""Benchmark 14's helpers: lives (PeerTube's live streaming API, Flotilla's RTMP ingest). Prints
one JSON object (or {"error": ...} and exits 1).

  live.py session BASE TOKEN LATENCY_MODE SECONDS PID RESOLUTIONS THREADS POLL
      Creates a live on root's channel (POST /api/v1/videos/live, privacy 1, latencyMode), reads
      its RTMP URL and stream key (GET /api/v1/videos/live/{id}), and pushes SECONDS of a 720p30
      test picture with a tone to it with ffmpeg (PUSHER below, `-re`: in real time). PID is the
      instance's `flotilla serve`: its CPU time (user + system, with its waited-for children: the
      live's ffmpeg is waited for when the session ends) is read before the push and after the
      video's state is 5 (ended). While the push runs, the server's live ffmpeg (a child of PID)
      has its command line compared with `ffmpeg_args` below. POLL 1: the highest variant's media
      playlist (0.m3u8) is fetched every 50 ms, and for each newly listed segment the time it was
      first seen listed is kept with its #EXT-X-PROGRAM-DATE-TIME and its start in media time (the
      durations of the segments before it), so that two latencies come out:
        pdt     first seen listed − its program date time (the server's ffmpeg's wall clock when
                it began the segment's first frame: leaves out the time from the push to it)
        pusher  first seen listed − (push start + the segment's start in media time), the push
                start being when the pusher's media time 0 went out (from its `-progress`
                output: the least wall clock − out_time over the push)
      Segments listed after the pusher ended (the last one, cut short and flushed) are left out.
      POLL 0: nothing is fetched during the push (the cost session).

  live.py bare FLV WORKDIR SECONDS RESOLUTIONS THREADS SEGMENT_SECONDS
      The same ffmpeg command Flotilla runs for a live (crates/media/src/live.rs `ffmpeg_args`,
      for the stream of FLV: its size, audio and video), run bare in WORKDIR, fed on its standard
      input what Flotilla would feed it: an FLV header and the file's audio and video tags, each at
      its timestamp (real time, as a live arrives). Reports its CPU time (RUSAGE_CHILDREN) per
      SECONDS of live.

  live.py pusher URL SECONDS [file]
      Prints the pusher's command; with `file`, without -re (to record the push into a file: -re
      only paces the reading, the bytes are the same).

The live's ffmpeg arguments mirror the Rust code; keep them in step when live.rs changes (the
session compares them with the server's ffmpeg's command line: `args_identical`).
"""
import http.client
import json
import math
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu import tree_ticks  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
POLL_EVERY = 0.05
SKIP = 2  # segments left out at the start
PLAYLIST_SEGMENTS = 15
MAX_FPS = 30


def log(msg):
    print(f"[live.py {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pusher(url, seconds, realtime=True, progress=False):
    """The creator's stream: a 720p30 test picture and a 440 Hz tone, x264 veryfast zerolatency
    3 Mbit/s with a keyframe every 2 s, AAC 128 kbit/s, FLV."""
    return (["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
            + (["-progress", "pipe:1"] if progress else [])
            + (["-re"] if realtime else [])
            + ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "60", "-pix_fmt", "yuv420p",
               "-b:v", "3M", "-c:a", "aac", "-b:a", "128k", "-f", "flv", url])


# --- crates/media/src/live.rs ---------------------------------------------------------------------

def ladder(has_video, width, height, resolutions):
    """live::ladder."""
    if not has_video:
        return []
    if width and height:
        s = min(width, height)
        fit = [r for r in resolutions if r <= s]
        out = fit if fit else [max(s, 2) & ~1]
    else:
        out = list(resolutions)
    return sorted(set(out), reverse=True)


def max_bitrate(height):
    """live::max_bitrate (f64 arithmetic in the same order, truncated as `as u64`)."""
    width = float(height) * 16.0 / 9.0
    for top, bpp in ((144, 0.19), (240, 0.17), (360, 0.15), (480, 0.12), (720, 0.11), (1080, 0.10), (1440, 0.09)):
        if height <= top:
            break
    else:
        bpp = 0.08
    return int(width * float(height) * float(MAX_FPS) * bpp)


def ffmpeg_args(has_video, has_audio, width, height, resolutions, segment_seconds, list_size, threads):
    """live::ffmpeg_args."""
    heights = ladder(has_video, width, height, resolutions)
    seg = max(segment_seconds, 1)
    a = ["-hide_banner", "-nostats", "-loglevel", "error", "-protocol_whitelist", "pipe", "-analyzeduration",
         "3000000", "-f", "flv", "-i", "pipe:0"]
    if heights:
        labels = "".join(f"[s{i}]" for i in range(len(heights)))
        graph = "[0:v:0]null[s0]" if len(heights) == 1 else f"[0:v:0]split={len(heights)}{labels}"
        for i, h in enumerate(heights):
            graph += (f";[s{i}]scale=w='if(gte(iw,ih),-2,min({h},iw))':h='if(gte(iw,ih),min({h},ih),-2)',"
                      f"format=yuv420p[v{i}]")
        a += ["-filter_complex", graph]
    gop = str(MAX_FPS * seg)
    streams = []
    for i, h in enumerate(heights):
        rate = max_bitrate(h)
        a += ["-map", f"[v{i}]",
              f"-c:v:{i}", "libx264", f"-preset:v:{i}", "veryfast", f"-tune:v:{i}", "zerolatency",
              f"-b:v:{i}", str(rate), f"-maxrate:v:{i}", str(rate), f"-bufsize:v:{i}", str(rate * 2),
              f"-g:v:{i}", gop]
        streams.append(f"v:{i},a:{i}" if has_audio else f"v:{i}")
    if has_audio:
        for _ in range(max(len(heights), 1)):
            a += ["-map", "0:a:0"]
        if not heights:
            streams.append("a:0")
    if heights:
        a += ["-fpsmax", str(MAX_FPS), "-sc_threshold", "0", "-force_key_frames", f"expr:gte(t,n_forced*{seg})"]
    if has_audio:
        a += ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]
    a += ["-threads", str(max(threads, 1)), "-max_muxing_queue_size", "1024", "-map_metadata", "-1",
          "-f", "hls", "-hls_time", str(seg), "-hls_list_size", str(max(list_size, 3)),
          "-hls_flags", "delete_segments+independent_segments+program_date_time+temp_file",
          "-hls_segment_type", "mpegts", "-hls_segment_filename", "%v-%06d.ts",
          "-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(streams), "%v.m3u8"]
    return a


def segment_seconds(latency_mode):
    """live::segment_seconds (crates/app/src/live/mod.rs)."""
    return 2 if latency_mode == 3 else 4


# --- Helpers ----------------------------------------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def r3(x):
    return None if x is None else round(x, 3)


class Api:
    def __init__(self, base, token):
        self.base, self.token = base.rstrip("/"), token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{method} {path}: HTTP {e.code} {e.read()[:300].decode(errors='replace')}")

    def state(self, uuid):
        return (self.call("GET", f"/api/v1/videos/{uuid}").get("state") or {}).get("id")


def parse_pdt(text):
    # 2026-12-05T10:06:10.984+0000 (ffmpeg's hlsenc: local time with its offset, milliseconds)
    import datetime
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.datetime.strptime(text, fmt).timestamp()
        except ValueError:
            pass
    return None


def parse_playlist(text):
    """[(name, duration, pdt)] of a live media playlist."""
    out, dur, pdt = [], None, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = parse_pdt(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            out.append((line, dur, pdt))
            dur, pdt = None, None
    return out


def seg_number(name):
    try:
        return int(name.rsplit("-", 1)[1].split(".")[0])
    except (IndexError, ValueError):
        return None


def children_of(pid, comm="ffmpeg"):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        if ppid == pid and name == comm:
            out.append(int(d))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [x.decode(errors="replace") for x in f.read().split(b"\0") if x]
    except OSError:
        return None


# Children this helper started, stopped on any exit (also SIGTERM from `timeout`).
PROCS = []


def stop_children():
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def on_term(signum, frame):
    raise SystemExit(f"stopped by signal {signum}")


# --- A session ------------------------------------------------------------------------------------

def session(base, token, latency_mode, seconds, pid, resolutions, threads, poll):
    api = Api(base, token)
    me = api.call("GET", "/api/v1/users/me")
    channel = me["videoChannels"][0]["id"]
    created = api.call("POST", "/api/v1/videos/live", {"channelId": channel, "name": "Bench live", "privacy": 1,
                                                        "latencyMode": latency_mode})
    vid, uuid = created["video"]["id"], created["video"]["uuid"]
    live = api.call("GET", f"/api/v1/videos/live/{vid}")
    rtmp_url, key = live.get("rtmpUrl"), live.get("streamKey")
    if not rtmp_url or not key:
        raise SystemExit(f"GET /api/v1/videos/live/{vid} gave no rtmpUrl or streamKey: {json.dumps(live)[:300]}")
    if live.get("latencyMode") != latency_mode:
        raise SystemExit(f"the live's latencyMode is {live.get('latencyMode')}, not {latency_mode}")
    state_before = api.state(uuid)
    seg = segment_seconds(latency_mode)
    expected_args = ffmpeg_args(True, True, 1280, 720, resolutions, seg, PLAYLIST_SEGMENTS, threads)
    u = urllib.parse.urlsplit(base)
    playlist_path = f"/static/streaming-playlists/hls/{uuid}/0.m3u8"

    cpu0 = tree_ticks({pid})
    t_launch = time.time()
    push = subprocess.Popen(pusher(f"{rtmp_url}/{key}", seconds, progress=True), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    PROCS.append(push)
    offsets = []  # wall clock − the pusher's out_time, for each progress report
    push_err = []

    def read_progress():
        for line in push.stdout:
            if line.startswith("out_time_us="):
                try:
                    v = int(line.split("=", 1)[1])
                except ValueError:
                    continue
                if v > 0:
                    offsets.append(time.time() - v / 1e6)

    def read_err():
        push_err.append(push.stderr.read())

    threads_ = [threading.Thread(target=read_progress, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in threads_:
        t.start()

    seen = {}  # name -> {first_seen, duration, pdt, number, after_end}
    polls = errors = 0
    server_ffmpeg = None
    server_args = None
    conn = None
    t_end = None
    deadline = t_launch + seconds + 120
    state_during, t_aired = None, None  # the state while streaming, and when it became 1 (published)
    next_state = t_launch
    while True:
        now = time.time()
        if now > deadline:
            raise SystemExit(f"the push did not end within {seconds + 120} s")
        if push.poll() is not None and t_end is None:
            t_end = time.time()
        # After the push: one more second of polling for the last (flushed) segment.
        if t_end is not None and (not poll or now > t_end + 1.0):
            break
        if server_ffmpeg is None:
            kids = children_of(pid)
            if kids:
                server_ffmpeg = kids[0]
                server_args = cmdline(server_ffmpeg)
        # The live airs (state 1) once its first segment is out: looked at every 0.25 s until then.
        if now >= next_state and t_aired is None:
            state_during = api.state(uuid)
            if state_during == 1:
                t_aired = time.time()
            next_state = now + 0.25
        if not poll:
            time.sleep(0.2)
            continue
        polls += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            conn.request("GET", playlist_path)
            r = conn.getresponse()
            body = r.read()
            t_seen = time.time()
            if r.status == 200:
                for name, dur, pdt in parse_playlist(body.decode(errors="replace")):
                    if name not in seen:
                        seen[name] = {"first_seen": t_seen, "duration": dur, "pdt": pdt, "number": seg_number(name),
                                      "after_end": t_end is not None}
            elif r.status != 404:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn = None
        time.sleep(max(0.0, POLL_EVERY - (time.time() - now)))
    push.wait()
    for t in threads_:
        t.join(timeout=5)
    if push.returncode != 0:
        raise SystemExit(f"the pusher failed (exit {push.returncode}): {(push_err[0] if push_err else '')[-500:]}")
    # The session ends: the server's ffmpeg is waited for, the video's state becomes 5.
    state_after, t_ended = None, None
    for _ in range(600):
        state_after = api.state(uuid)
        if state_after == 5:
            t_ended = time.time()
            break
        time.sleep(0.1)
    time.sleep(0.5)
    cpu1 = tree_ticks({pid})
    left = children_of(pid)

    push_start = min(offsets) if offsets else None
    segs = sorted(seen.values(), key=lambda s: s["number"] if s["number"] is not None else -1)
    # Each segment's start in media time: the durations of the segments before it.
    media, gaps = 0.0, 0
    prev = None
    for s in segs:
        if prev is not None and s["number"] != prev + 1:
            gaps += 1
        s["media_start"] = media
        media += s["duration"] or 0.0
        prev = s["number"]
    timed = [s for s in segs if not s["after_end"]]
    steady = timed[SKIP:]
    lat_pdt = [s["first_seen"] - s["pdt"] for s in steady if s["pdt"] is not None]
    lat_push = [s["first_seen"] - (push_start + s["media_start"]) for s in steady] if push_start else []
    first_pdt = segs[0]["pdt"] if segs and segs[0]["pdt"] else None
    out = {
        "latency_mode": latency_mode, "segment_seconds": seg, "seconds": seconds, "skip": SKIP, "uuid": uuid,
        "rtmp_url": rtmp_url, "state_before": state_before, "state_during": state_during, "state_after": state_after,
        "ended_seconds_after_push": r3(t_ended - t_end) if t_ended and t_end else None,
        "push_start_after_launch": r3(push_start - t_launch) if push_start else None,
        "aired_after_push": r3(t_aired - push_start) if t_aired and push_start else None,
        "push_seconds": r3(t_end - t_launch) if t_end else None,
        "cpu_seconds": round((cpu1 - cpu0) / HZ, 2),
        "cpu_per_live_second": round((cpu1 - cpu0) / HZ / seconds, 4),
        "server_ffmpeg_left": len(left),
        "args_identical": server_args == ["ffmpeg", *expected_args] if server_args else None,
        "server_args": " ".join(server_args) if server_args else None,
    }
    if server_args and server_args != ["ffmpeg", *expected_args]:
        out["expected_args"] = " ".join(["ffmpeg", *expected_args])
    if poll:
        out.update({
            "polls": polls, "poll_errors": errors, "segments_seen": len(segs), "segments_timed": len(timed),
            "segments_after_end": len(segs) - len(timed), "segments_measured": len(steady), "gaps": gaps,
            "first_number": segs[0]["number"] if segs else None,
            # The server's ffmpeg started its first segment this long after the pusher's media time 0.
            "server_start_after_push": r3(first_pdt - push_start) if first_pdt and push_start else None,
            "first_listed_after_push": r3(timed[0]["first_seen"] - push_start) if timed and push_start else None,
            "pdt_p50": r3(pct(lat_pdt, 50)), "pdt_p95": r3(pct(lat_pdt, 95)),
            "pdt_max": r3(max(lat_pdt)) if lat_pdt else None,
            "pusher_p50": r3(pct(lat_push, 50)), "pusher_p95": r3(pct(lat_push, 95)),
            "pusher_max": r3(max(lat_push)) if lat_push else None,
            "durations": [s["duration"] for s in segs],
            "per_segment": [[s["number"], r3(s["first_seen"] - s["pdt"]) if s["pdt"] else None,
                             r3(s["first_seen"] - (push_start + s["media_start"])) if push_start else None,
                             s["after_end"]] for s in segs],
        })
    return out


# --- Bare ffmpeg ----------------------------------------------------------------------------------

def flv_tags(path):
    """(type, timestamp_ms, tag bytes incl. the trailing size) of an FLV file's tags."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"FLV":
        raise SystemExit(f"{path} is not FLV")
    at = int.from_bytes(data[5:9], "big") + 4
    tags = []
    while at + 11 <= len(data):
        kind = data[at]
        size = int.from_bytes(data[at + 1:at + 4], "big")
        ts = int.from_bytes(data[at + 4:at + 7], "big") | (data[at + 7] << 24)
        end = at + 11 + size + 4
        if end > len(data):
            break
        tags.append((kind, ts, data[at:end]))
        at = end
    return tags


def bare(flv, workdir, seconds, resolutions, threads, seg):
    os.makedirs(workdir, exist_ok=True)
    tags = flv_tags(flv)
    # What Flotilla passes on: the audio (8) and video (9) messages, with the header of both; the
    # publisher's onMetaData is an RTMP data message, read for the size, not passed on.
    av = [t for t in tags if t[0] in (8, 9)]
    has_audio, has_video = any(t[0] == 8 for t in av), any(t[0] == 9 for t in av)
    p = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", flv],
                                  check=True, capture_output=True, timeout=60).stdout)
    v = next((s for s in p["streams"] if s.get("codec_type") == "video"), {})
    args = ffmpeg_args(has_video, has_audio, v.get("width"), v.get("height"), resolutions, seg, PLAYLIST_SEGMENTS,
                       threads)
    header = bytes([ord("F"), ord("L"), ord("V"), 1, (4 if has_audio else 0) | (1 if has_video else 0),
                    0, 0, 0, 9, 0, 0, 0, 0])
    errf = open(os.path.join(workdir, "ffmpeg.err"), "w+b")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(["ffmpeg", *args], cwd=workdir, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=errf)
    PROCS.append(proc)
    first_ts = av[0][1] if av else 0
    try:
        proc.stdin.write(header)
        i = 0
        while i < len(av):
            due = t0 + (av[i][1] - first_ts) / 1000.0
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            batch = []
            while i < len(av) and t0 + (av[i][1] - first_ts) / 1000.0 <= now:
                batch.append(av[i][2])
                i += 1
            proc.stdin.write(b"".join(batch))
            proc.stdin.flush()
        proc.stdin.close()
    except BrokenPipeError:
        pass
    rc = proc.wait(timeout=seconds + 120)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    errf.seek(0)
    err = errf.read().decode(errors="replace").strip()
    if rc != 0:
        raise SystemExit(f"bare ffmpeg failed (exit {rc}): {err[-500:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    made = sorted(f for f in os.listdir(workdir) if f.endswith(".m3u8"))
    return {"cpu_seconds": round(cpu, 2), "cpu_per_live_second": round(cpu / seconds, 4), "seconds": seconds,
            "wall_seconds": round(wall, 3), "media_seconds": round((av[-1][1] - first_ts) / 1000.0, 3) if av else 0,
            "tags": len(av), "playlists": made, "width": v.get("width"), "height": v.get("height"),
            "ffmpeg_stderr": err[-300:], "args": " ".join(["ffmpeg", *args])}


def main():
    signal.signal(signal.SIGTERM, on_term)
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    a = sys.argv
    try:
        if cmd == "session" and len(a) == 10:
            out = session(a[2], a[3], int(a[4]), int(a[5]), int(a[6]), [int(x) for x in a[7].split(",")],
                          int(a[8]), a[9] == "1")
        elif cmd == "bare" and len(a) == 8:
            out = bare(a[2], a[3], int(a[4]), [int(x) for x in a[5].split(",")], int(a[6]), int(a[7]))
        elif cmd == "pusher" and len(a) in (4, 5):
            out = {"command": " ".join(pusher(a[2], int(a[3]), realtime=a[4:] != ["file"]))}
        else:
            raise SystemExit(__doc__)
        print(json.dumps(out))
    except SystemExit as e:
        if isinstance(e.code, str):
            log(f"ERROR: {e.code}")
            print(json.dumps({"error": e.code}))
            sys.exit(1)
        raise
    except Exception as e:  # noqa: BLE001 — reported, with the traceback on stderr
        import traceback
        traceback.print_exc()
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
    finally:
        stop_children()


if __name__ == "__main__":
    main()
