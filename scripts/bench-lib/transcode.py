#!/usr/bin/env python3
"""Transcoding benchmark helpers. Prints one JSON object on stdout.

  transcode.py bare CLIP OUTDIR RESOLUTIONS TIMEOUT_S [MODE]
      Runs, one after the other, the ffmpeg commands Flotilla's transcoding job runs for CLIP
      (crates/media/src/hls.rs: `still_frame`, then `ladder_args` for each pass of
      crates/app/src/video/transcode.rs's `passes`: the lowest rendition alone, then the others up
      to 1080p in one ffmpeg, then larger ones alone on one thread; threads = the machine's cores,
      `[transcoding] threads` 0), and times them. MODE `sequential` runs instead the commands of
      the pipeline before (each rendition alone, one thread each: `ffmpeg_args` with threads 1).

  transcode.py flotilla BASE_URL TOKEN CLIP TIMEOUT_S PID
      Uploads CLIP (POST /api/v1/videos/upload, channel 1), then polls GET /api/v1/videos/<uuid>
      every 100 ms until state 1 and transcodingProgress 100; the time counts from the end of the
      upload's HTTP response. PID is the instance's: its CPU time (with its ffmpeg children) over
      the same span is reported as cpu_seconds.

Both report cpu_seconds (user + system) beside the wall-clock seconds: CPU time hardly moves
when other programs compete for the machine, so it shows the overhead even on a busy machine.

The plan and the arguments mirror the Rust code; keep them in step when hls.rs changes (the run
compares the sizes of the files both produce: x264 and the AAC encoder are deterministic with
one thread, so equal arguments give byte-identical renditions).
"""
import json
import math
import os
import resource
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu import tree_ticks  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

SEGMENT_SECONDS = 4


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path],
                         check=True, capture_output=True, timeout=60).stdout
    j = json.loads(out)
    video = next((s for s in j["streams"] if s.get("codec_type") == "video"
                  and s.get("disposition", {}).get("attached_pic", 0) == 0), None)
    audio = next((s for s in j["streams"] if s.get("codec_type") == "audio"), None)

    def rate(s):
        if not s:
            return 0.0
        n, _, d = s.partition("/")
        try:
            return float(n) / float(d) if d else float(n)
        except (ValueError, ZeroDivisionError):
            return 0.0

    fps = rate(video.get("avg_frame_rate")) if video else 0.0
    if video and fps <= 0:
        fps = rate(video.get("r_frame_rate"))
    return {
        "duration": float(j["format"]["duration"]),
        "has_video": video is not None,
        "has_audio": audio is not None,
        "width": video["width"] if video else 0,
        "height": video["height"] if video else 0,
        "fps": fps,
        "bit_rate": int(j["format"].get("bit_rate", 0) or 0),
    }


def bits_per_pixel(r):
    for top, bpp in ((144, 0.19), (240, 0.17), (360, 0.15), (480, 0.12), (720, 0.11), (1080, 0.10), (1440, 0.09)):
        if r <= top:
            return bpp
    return 0.08


def even(x):
    # Rust's f64::round rounds half away from zero (Python's round() would round half to even).
    return max(int(math.floor(x / 2.0 + 0.5)), 1) * 2


def plan(p, resolutions):
    """hls::plan."""
    if not p["has_video"]:
        return [{"resolution": 0, "width": 0, "height": 0, "fps": 0.0, "max_bitrate": 0}]
    source = min(p["width"], p["height"])
    ladder = sorted({r for r in resolutions if r <= source} | {source})
    landscape = p["width"] >= p["height"]
    source_fps = p["fps"] if p["fps"] > 0 else 30.0
    out = []
    for r in ladder:
        if landscape:
            w, h = even(p["width"] * r / p["height"]), even(float(r))
        else:
            w, h = even(float(r)), even(p["height"] * r / p["width"])
        fps = min(source_fps, 60.0 if r >= 720 else 30.0)
        target = float(w) * float(h) * fps * bits_per_pixel(r)
        min_rate = float(w) * float(h) * fps * 0.02
        if p["bit_rate"] > 0:
            target = min(target, max(p["bit_rate"] * 1.3, min_rate))
        out.append({"resolution": r, "width": w, "height": h, "fps": fps, "max_bitrate": int(target)})
    return out


def ffmpeg_args(inp, r, has_audio, fragment, playlist, threads):
    """hls::ffmpeg_args."""
    a = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", inp]
    if r["resolution"] == 0:
        a += ["-map", "0:a:0", "-vn"]
    else:
        gop = max(round_half_away(r["fps"] * SEGMENT_SECONDS / 2.0), 1) * 2
        a += ["-map", "0:v:0"]
        if has_audio:
            a += ["-map", "0:a:0"]
        a += ["-vf", f"scale={r['width']}:{r['height']}:flags=bicubic,format=yuv420p",
              "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
              "-crf", "23", "-maxrate", str(r["max_bitrate"]), "-bufsize", str(r["max_bitrate"] * 2),
              "-r", f"{r['fps']:.3f}",
              "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
              "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})"]
    if has_audio:
        a += ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]
    a += ["-threads", str(threads), "-max_muxing_queue_size", "1024", "-map_metadata", "-1",
          "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod", "-hls_list_size", "0",
          "-hls_segment_type", "fmp4", "-hls_flags", "single_file", "-hls_segment_filename", fragment,
          "-progress", "pipe:1", "-nostats", playlist]
    return a


SHARED_PASS_MAX_PIXELS = 1920 * 1088


def video_settings(r, spec):
    """hls::video_settings: a rendition's own video settings, for stream `spec` (":v:1" or "")."""
    gop = max(round_half_away(r["fps"] * SEGMENT_SECONDS / 2.0), 1) * 2
    pairs = [("maxrate", str(r["max_bitrate"])), ("bufsize", str(r["max_bitrate"] * 2)), ("r", f"{r['fps']:.3f}"),
             ("g", str(gop)), ("keyint_min", str(gop)), ("sc_threshold", "0"),
             ("force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})")]
    return [x for k, v in pairs for x in (f"-{k}{spec}", v)]


def ladder_args(inp, outputs, has_audio, threads):
    """hls::ladder_args: outputs is [(rendition, fragment, playlist)]. Several: hls::shared_pass
    (the source decoded once, the audio encoded once, a tee muxer giving each HLS muxer its video
    and the audio)."""
    threads = max(threads, 1)
    if len(outputs) == 1:
        r, fragment, playlist = outputs[0]
        return ffmpeg_args(inp, r, has_audio, fragment, playlist, threads)
    a = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-threads", str(threads), "-i", inp]
    videos = [r for r, _, _ in outputs if r["resolution"] > 0]
    if videos:
        labels = "".join(f"[s{i}]" for i in range(len(videos)))
        graph = "[0:v:0]null[s0]" if len(videos) == 1 else f"[0:v:0]split={len(videos)}{labels}"
        for i, r in enumerate(videos):
            graph += f";[s{i}]scale={r['width']}:{r['height']}:flags=bicubic,format=yuv420p[v{i}]"
        a += ["-filter_complex", graph]
    a += ["-progress", "pipe:1", "-nostats"]
    for i, r in enumerate(videos):
        a += ["-map", f"[v{i}]"] + video_settings(r, f":v:{i}")
    if videos:
        a += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "23"]
    if has_audio:
        a += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]
    a += ["-threads", str(threads), "-max_muxing_queue_size", "1024", "-map_metadata", "-1",
          "-flags:v", "+global_header", "-flags:a", "+global_header", "-f", "tee"]
    slaves, vi = [], 0
    for r, fragment, playlist in outputs:
        if r["resolution"] == 0:
            select = "a"
        else:
            select = f"v:{vi},a" if has_audio else f"v:{vi}"
            vi += 1
        options = (f"hls_time={SEGMENT_SECONDS}:hls_playlist_type=vod:hls_list_size=0:hls_segment_type=fmp4:"
                   f"hls_flags=single_file:hls_segment_filename={fragment}")
        slaves.append(f"[select=\\'{select}\\':f=hls:{options}]{playlist}")
    return a + ["|".join(slaves)]


def passes(renditions):
    """transcode::passes: the lowest alone, the others up to 1080p together, larger ones alone."""
    if not renditions:
        return []
    first, rest = renditions[0], renditions[1:]
    shared = [r for r in rest if r["width"] * r["height"] <= SHARED_PASS_MAX_PIXELS]
    alone = [r for r in rest if r["width"] * r["height"] > SHARED_PASS_MAX_PIXELS]
    return [[first]] + ([shared] if shared else []) + [[r] for r in alone]


def round_half_away(x):
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def still_frame_args(inp, duration, out_png):
    """hls::still_frame (the usual path; the fallback only runs for clips too short to seek into)."""
    at = f"{min(max(duration / 3.0, 0.0), 60.0):.3f}"
    # Scaled to fit 1280 before `thumbnail` (STILL_MAX_SIDE), one decoder thread, as the server.
    fit = "scale=w='min(iw,1280)':h='min(ih,1280)':force_original_aspect_ratio=decrease"
    return ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-ss", at, "-threads", "1", "-i", inp,
            "-map", "0:v:0", "-vf", f"{fit},thumbnail=50", "-frames:v", "1", out_png]


def run_ffmpeg(args, cwd, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise SystemExit("bare ffmpeg: out of time")
    # stdout is a pipe that is read, as Flotilla reads ffmpeg's -progress lines.
    p = subprocess.run(["ffmpeg", *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=left)
    if p.returncode != 0:
        raise SystemExit(f"ffmpeg failed: {p.stderr.decode(errors='replace')[-500:]}")


def bare(clip, outdir, resolutions, timeout, mode="ladder"):
    clip = os.path.abspath(clip)
    os.makedirs(outdir, exist_ok=True)
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    cpu0 = children_cpu()
    p = probe(clip)
    steps = []
    if p["has_video"]:
        s = time.monotonic()
        run_ffmpeg(still_frame_args(clip, p["duration"], os.path.join(outdir, "frame.png")), outdir, deadline)
        steps.append({"step": "still frame", "seconds": round(time.monotonic() - s, 3)})
    renditions = plan(p, resolutions)
    files = {}
    cores = os.cpu_count() or 1
    groups = [[r] for r in renditions] if mode == "sequential" else passes(renditions)
    first_done = None

    def args_of(group, threads):
        outputs = [(r, f"bare-{r['resolution']}-fragmented.mp4", f"bare-{r['resolution']}.m3u8") for r in group]
        return outputs, ladder_args(clip, outputs, p["has_audio"], threads)

    def threads_of(group):
        big = any(r["width"] * r["height"] > SHARED_PASS_MAX_PIXELS for r in group)
        return 1 if mode == "sequential" or big else cores

    def sizes(outputs):
        for r, fragment, _ in outputs:
            files[str(r["resolution"])] = os.path.getsize(os.path.join(outdir, fragment))

    # transcode::run: the lowest rendition and the shared pass at once, the shared one niced.
    if mode != "sequential" and len(groups) >= 2 and len(groups[1]) > 1:
        s = time.monotonic()
        out1, args1 = args_of(groups[0], 1)
        out2, args2 = args_of(groups[1], threads_of(groups[1]))
        shared = subprocess.Popen(["nice", "-n", "10", "ffmpeg", *args2], cwd=outdir, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        run_ffmpeg(args1, outdir, deadline)
        first_done = time.monotonic() - t0
        sizes(out1)
        steps.append({"step": f"{groups[0][0]['resolution']}p", "seconds": round(time.monotonic() - s, 3)})
        _, err = shared.communicate(timeout=max(deadline - time.monotonic(), 1))
        if shared.returncode != 0:
            raise SystemExit(f"ffmpeg failed: {err.decode(errors='replace')[-500:]}")
        sizes(out2)
        steps.append({"step": "+".join(f"{r['resolution']}p" for r in groups[1]) + " (beside)",
                      "seconds": round(time.monotonic() - s, 3)})
        groups = groups[2:]
    for group in groups:
        outputs, args = args_of(group, threads_of(group))
        s = time.monotonic()
        run_ffmpeg(args, outdir, deadline)
        if first_done is None:
            first_done = time.monotonic() - t0
        sizes(outputs)
        steps.append({"step": "+".join(f"{r['resolution']}p" for r in group), "seconds": round(time.monotonic() - s, 3)})
    total = time.monotonic() - t0
    cpu = children_cpu() - cpu0
    print(json.dumps({"seconds": round(total, 3), "cpu_seconds": round(cpu, 2), "mode": mode,
                      "first_rendition_seconds": round(first_done or total, 3),
                      "steps": steps, "files": files, "probe": p,
                      "plan": renditions, "example_args": ffmpeg_args(clip, renditions[-1], p["has_audio"],
                                                                      "X-fragmented.mp4", "X.m3u8", 1)}))


def get_json(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def flotilla(base, token, clip, timeout, pid):
    t_start = time.monotonic()
    up = subprocess.run(["curl", "-sS", "--fail-with-body", "--max-time", "600",
                         "-H", f"Authorization: Bearer {token}", "-F", "channelId=1", "-F", "name=bench clip",
                         "-F", f"videofile=@{clip}", f"{base}/api/v1/videos/upload"],
                        capture_output=True, timeout=660)
    t0 = time.monotonic()  # the end of the upload's HTTP response
    cpu0 = tree_ticks({pid})
    if up.returncode != 0:
        raise SystemExit(f"upload failed: {up.stdout.decode(errors='replace')} {up.stderr.decode(errors='replace')}")
    uuid = json.loads(up.stdout)["video"]["uuid"]
    first_published = None
    v = None
    polls = 0
    while time.monotonic() - t0 < timeout:  # bounded by time, and so in count (one poll per 0.1 s)
        polls += 1
        v = get_json(f"{base}/api/v1/videos/{uuid}", token)
        state = (v.get("state") or {}).get("id")
        if state == 1 and first_published is None:
            first_published = time.monotonic() - t0
        if state == 1 and v.get("transcodingProgress") == 100:
            break
        if state not in (1, 2, 3):  # 7 = transcoding failed, or anything unexpected
            raise SystemExit(f"transcoding did not succeed: state {v.get('state')}, {v.get('stateError')}")
        time.sleep(0.1)
    else:
        raise SystemExit(f"transcoding did not finish within {timeout} s (last answer: {json.dumps(v)[:500]})")
    seconds = time.monotonic() - t0
    cpu = (tree_ticks({pid}) - cpu0) / HZ
    playlist = v["streamingPlaylists"][0]
    files = {str(f["resolution"]["id"]): f["size"] for f in playlist["files"]}
    print(json.dumps({"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 2), "upload_seconds": round(t0 - t_start, 3),
                      "first_published_seconds": round(first_published or seconds, 3), "uuid": uuid,
                      "polls": polls, "files": files, "master": playlist["playlistUrl"],
                      "file_urls": {str(f["resolution"]["id"]): f["fileUrl"] for f in playlist["files"]}}))


def main():
    cmd = sys.argv[1]
    if cmd == "bare":
        mode = sys.argv[6] if len(sys.argv) > 6 else "ladder"
        bare(sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split(",")], float(sys.argv[5]), mode)
    elif cmd == "flotilla":
        flotilla(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
