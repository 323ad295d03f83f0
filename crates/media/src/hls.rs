//! HLS packaging the way PeerTube's player expects it: per resolution, one fragmented MP4
//! (`<prefix>-<res>-fragmented.mp4`, segments are byte ranges of it) and its media playlist; a
//! master playlist listing the renditions; `segments-sha256.json` with the SHA-256 of every byte
//! range. Plus the ladder (which resolutions, fps and bit rates) and still frames for thumbnails.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::Error;
use crate::probe::Probe;

/// Seconds per segment; keyframes are forced on this grid so every rendition switches cleanly.
pub const SEGMENT_SECONDS: u32 = 4;

/// One rendition to produce. `resolution` is PeerTube's label (the smaller side); 0 is audio only.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendition {
    pub resolution: u32,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Peak video bit rate (bits/s) for `-maxrate`; 0 for audio only.
    pub max_bitrate: u64,
}

/// PeerTube's average bits per pixel per resolution (`core-utils/videos/bitrate.ts`).
pub(crate) fn bits_per_pixel(resolution: u32) -> f64 {
    match resolution {
        0..=144 => 0.19,
        145..=240 => 0.17,
        241..=360 => 0.15,
        361..=480 => 0.12,
        481..=720 => 0.11,
        721..=1080 => 0.10,
        1081..=1440 => 0.09,
        _ => 0.08,
    }
}

/// The nearest even number, as ffmpeg's `scale=-2` rounds (x264 needs even sizes).
fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32).max(1) * 2
}

/// The renditions for a source: every configured resolution up to the source's (never upscale),
/// plus the source's own when it is not in the list; lowest first, so the first one is ready soonest.
/// Frame rates are capped at 30, or 60 for 720p and above; bit rates follow PeerTube's ladder and
/// never exceed 1.3× the source's.
pub fn plan(p: &Probe, resolutions: &[u32]) -> Vec<Rendition> {
    if !p.has_video {
        return vec![Rendition { resolution: 0, width: 0, height: 0, fps: 0.0, max_bitrate: 0 }];
    }
    let source = p.resolution();
    let mut ladder: Vec<u32> = resolutions.iter().copied().filter(|r| *r <= source).collect();
    if !ladder.contains(&source) {
        ladder.push(source);
    }
    ladder.sort_unstable();
    ladder.dedup();
    let landscape = p.width >= p.height;
    let source_fps = if p.fps > 0.0 { p.fps } else { 30.0 };
    ladder
        .into_iter()
        .map(|r| {
            let (width, height) = if landscape {
                (even(f64::from(p.width) * f64::from(r) / f64::from(p.height)), even(f64::from(r)))
            } else {
                (even(f64::from(r)), even(f64::from(p.height) * f64::from(r) / f64::from(p.width)))
            };
            let cap = if r >= 720 { 60.0 } else { 30.0 };
            let fps = source_fps.min(cap);
            let ladder_rate = f64::from(width) * f64::from(height) * fps * bits_per_pixel(r);
            let min_rate = f64::from(width) * f64::from(height) * fps * 0.02;
            let mut target = ladder_rate;
            if p.bit_rate > 0 {
                target = target.min((p.bit_rate as f64 * 1.3).max(min_rate));
            }
            Rendition { resolution: r, width, height, fps, max_bitrate: target as u64 }
        })
        .collect()
}

/// File names of one rendition, under a random prefix that changes on every transcode so caches
/// never serve an old file under a new meaning.
pub fn names(prefix: &str, resolution: u32) -> (String, String) {
    (format!("{prefix}-{resolution}-fragmented.mp4"), format!("{prefix}-{resolution}.m3u8"))
}

/// The name of a web video (PeerTube's `<random>-<res>.mp4`).
pub fn web_name(prefix: &str, resolution: u32) -> String {
    format!("{prefix}-{resolution}.mp4")
}

/// The ffmpeg arguments that turn a finished rendition (our own fragmented MP4) into a web video:
/// the same streams copied, not encoded again, into a plain MP4 whose index is at its start
/// (`faststart`), so a browser plays it, and a download seeks, before it has all of it. Run in
/// the rendition's directory, like [`ffmpeg_args`].
pub fn web_video_args(fragment: &str, out: &str) -> Vec<String> {
    [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        // Our own file, read as what it is: no other demuxer, no other protocol.
        "-f",
        "mov",
        "-protocol_whitelist",
        "file",
        "-i",
        fragment,
        "-map",
        "0",
        "-c",
        "copy",
        "-map_metadata",
        "-1",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        "-progress",
        "pipe:1",
        "-nostats",
        out,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// One rendition's output: where its fragmented MP4 and media playlist go.
pub struct Output<'a> {
    pub rendition: &'a Rendition,
    pub fragment: &'a str,
    pub playlist: &'a str,
}

/// The ffmpeg arguments of one rendition (see [`ladder_args`]).
pub fn ffmpeg_args(
    input: &Path,
    probe: &Probe,
    r: &Rendition,
    fragment: &str,
    playlist: &str,
    threads: u32,
) -> Vec<String> {
    ladder_args(input, probe, &[Output { rendition: r, fragment, playlist }], threads)
}

/// The largest picture worth encoding beside others in one process (1080p's pixels): above it,
/// x264's memory alone is over a gigabyte, so such a rendition runs on its own, on one thread.
pub const SHARED_PASS_MAX_PIXELS: u64 = 1920 * 1088;

/// The ffmpeg arguments that make one or several renditions in one process, into fragmented MP4s
/// whose segments are byte ranges (PeerTube's layout) and their media playlists. Each rendition
/// gets the settings it has alone: size, frame rate, bit rate cap, keyframes on the segment grid.
///
/// One output: the arguments a rendition always had (`-vf` scaling, its own x264 and AAC encoder,
/// the HLS muxer). Several ([`shared_pass`]): the source decoded once and `split` into one scaler
/// and x264 per rendition, the audio encoded once, and a `tee` muxer handing each rendition's
/// video and that audio to its own HLS muxer. The decoder and every encoder get `threads`: ffmpeg 5
/// runs its filters and calls its encoders from one thread, so an x264 with threads of its own is
/// what lets the renditions encode at once, on every core.
pub fn ladder_args(input: &Path, probe: &Probe, outputs: &[Output<'_>], threads: u32) -> Vec<String> {
    let threads = threads.max(1);
    let has_audio = probe.has_audio;
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut a: Vec<String> =
        vec!["-hide_banner", "-nostdin", "-y", "-loglevel", "error"].into_iter().map(String::from).collect();
    // The decoder too gets `threads` (before `-i`): left to itself it starts a thread per core,
    // each holding frames, and at 8192×8192 (100 MB a frame) memory grew with the machine's cores.
    a.extend(["-threads".to_string(), threads.to_string()]);
    a.extend(crate::probe::input_args(probe.demuxer, input));
    a.extend(["-t".to_string(), format!("{:.3}", probe.duration + 1.0)]);
    if outputs.len() > 1 {
        shared_pass(&mut a, has_audio, outputs, threads);
        return a;
    }
    a.extend(s(&["-progress", "pipe:1", "-nostats"]));
    for o in outputs {
        let r = o.rendition;
        if r.resolution == 0 {
            a.extend(s(&["-map", "0:a:0", "-vn"]));
        } else {
            a.extend(s(&["-map", "0:v:0"]));
            if has_audio {
                a.extend(s(&["-map", "0:a:0"]));
            }
            // Scale to the rendition's size (even dimensions, aspect kept by the plan).
            a.extend(["-vf".to_string(), format!("scale={}:{}:flags=bicubic,format=yuv420p", r.width, r.height)]);
            a.extend(s(&["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "23"]));
            a.extend(video_settings(r, ""));
        }
        if has_audio {
            a.extend(s(&AAC));
        }
        a.extend(output_options(threads));
        a.extend(s(&["-f", "hls"]));
        for (k, v) in hls_options(o.fragment) {
            a.extend([format!("-{k}"), v]);
        }
        a.push(o.playlist.to_string());
    }
    a
}

/// What every output of a pass gets: the encoders' threads, room for one stream to run ahead of
/// another, and none of the uploader's metadata (GPS, device, names).
fn output_options(threads: u32) -> Vec<String> {
    ["-threads", &threads.to_string(), "-max_muxing_queue_size", "1024", "-map_metadata", "-1"]
        .into_iter()
        .map(String::from)
        .collect()
}

/// The audio of every rendition: AAC, stereo, 48 kHz, 128 kb/s.
const AAC: [&str; 8] = ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"];

/// A rendition's own video settings; `spec` is the stream specifier they apply to (`:v:1`), empty
/// for an output's only video. Constant quality, capped (PeerTube's maxrate/bufsize ladder), and
/// keyframes exactly on the segment grid in every rendition, so players switch cleanly.
fn video_settings(r: &Rendition, spec: &str) -> Vec<String> {
    let gop = (r.fps * f64::from(SEGMENT_SECONDS) / 2.0).round().max(1.0) as u32 * 2;
    [
        ("maxrate", r.max_bitrate.to_string()),
        ("bufsize", (r.max_bitrate * 2).to_string()),
        ("r", format!("{:.3}", r.fps)),
        ("g", gop.to_string()),
        ("keyint_min", gop.to_string()),
        ("sc_threshold", "0".to_string()),
        ("force_key_frames", format!("expr:gte(t,n_forced*{SEGMENT_SECONDS})")),
    ]
    .into_iter()
    .flat_map(|(k, v)| [format!("-{k}{spec}"), v])
    .collect()
}

/// The HLS muxer's options for a rendition written to `fragment`: VOD, one file whose segments
/// are byte ranges (PeerTube's layout), fragmented MP4.
fn hls_options(fragment: &str) -> [(&'static str, String); 6] {
    [
        ("hls_time", SEGMENT_SECONDS.to_string()),
        ("hls_playlist_type", "vod".to_string()),
        ("hls_list_size", "0".to_string()),
        ("hls_segment_type", "fmp4".to_string()),
        ("hls_flags", "single_file".to_string()),
        ("hls_segment_filename", fragment.to_string()),
    ]
}

/// A name the `tee` muxer's syntax leaves alone (its `:`, `|`, `[`, `]`, `\` and quotes would need
/// escaping): ours are `<uuid>-<res>-fragmented.mp4` and `<uuid>-<res>.m3u8`.
fn tee_safe(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The arguments after the input of a pass of several renditions: one output whose streams are
/// every rendition's video then the audio, encoded once each, and a `tee` muxer giving each
/// rendition's HLS muxer its video and the audio (`select`). The audio was encoded once per
/// rendition before, on the thread that feeds every encoder (1.5 s of CPU for 30 s): a 30 s 720p
/// ladder went from 14.7–15.9 s to 12.3–13.2 s on two cores, its CPU 26–28 s to 22.5–24.4 s.
/// `global_header` because `tee` does not ask for it the way the HLS muxer does; with it the
/// renditions are those the per-output arguments made.
fn shared_pass(a: &mut Vec<String>, has_audio: bool, outputs: &[Output<'_>], threads: u32) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let videos: Vec<&Rendition> = outputs.iter().map(|o| o.rendition).filter(|r| r.resolution > 0).collect();
    if !videos.is_empty() {
        let labels: String = (0..videos.len()).map(|i| format!("[s{i}]")).collect();
        let mut graph = if videos.len() == 1 {
            "[0:v:0]null[s0]".to_string()
        } else {
            format!("[0:v:0]split={}{labels}", videos.len())
        };
        for (i, r) in videos.iter().enumerate() {
            graph.push_str(&format!(";[s{i}]scale={}:{}:flags=bicubic,format=yuv420p[v{i}]", r.width, r.height));
        }
        a.extend(["-filter_complex".to_string(), graph]);
    }
    a.extend(s(&["-progress", "pipe:1", "-nostats"]));
    for (i, r) in videos.iter().enumerate() {
        a.extend(["-map".to_string(), format!("[v{i}]")]);
        a.extend(video_settings(r, &format!(":v:{i}")));
    }
    if !videos.is_empty() {
        a.extend(s(&["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "23"]));
    }
    if has_audio {
        a.extend(s(&["-map", "0:a:0"]));
        a.extend(s(&AAC));
    }
    a.extend(output_options(threads));
    a.extend(s(&["-flags:v", "+global_header", "-flags:a", "+global_header", "-f", "tee"]));
    let mut video_index = 0;
    let slaves: Vec<String> = outputs
        .iter()
        .map(|o| {
            debug_assert!(tee_safe(o.fragment) && tee_safe(o.playlist), "{} {}", o.fragment, o.playlist);
            // The quotes keep `select`'s `:` and `,` from ending the option.
            let select = if o.rendition.resolution == 0 {
                "a".to_string()
            } else {
                video_index += 1;
                if has_audio { format!("v:{},a", video_index - 1) } else { format!("v:{}", video_index - 1) }
            };
            let options: Vec<String> = hls_options(o.fragment).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("[select=\\'{select}\\':f=hls:{}]{}", options.join(":"), o.playlist)
        })
        .collect();
    a.push(slaves.join("|"));
}

/// Runs ffmpeg with `args` in `dir`, calling `progress` with the seconds of output written so
/// far. Killed after `limit`, or when the future is dropped (a cancelled job).
pub async fn run_ffmpeg(dir: &Path, args: &[String], limit: Duration, progress: impl FnMut(f64)) -> Result<(), Error> {
    run_ffmpeg_niced(dir, args, limit, 0, progress).await
}

/// [`run_ffmpeg`] at a lower priority (`nice`, 0–19): a pass that runs beside a more urgent one
/// takes the cores that one leaves.
pub async fn run_ffmpeg_niced(
    dir: &Path,
    args: &[String],
    limit: Duration,
    niceness: u8,
    mut progress: impl FnMut(f64),
) -> Result<(), Error> {
    // `nice` execs ffmpeg: the child is ffmpeg itself, killed as such.
    let mut cmd = if niceness == 0 { Command::new("ffmpeg") } else { Command::new("nice") };
    if niceness > 0 {
        cmd.args(["-n", &niceness.min(19).to_string(), "ffmpeg"]);
    }
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Tool(format!("cannot run ffmpeg (apt-get install ffmpeg): {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut buf).await;
        buf
    });
    let work = async {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(us) = line.strip_prefix("out_time_us=").and_then(|v| v.trim().parse::<i64>().ok()) {
                progress(us.max(0) as f64 / 1e6);
            }
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(limit, work).await {
        Ok(s) => s.map_err(Error::Io)?,
        Err(_) => return Err(Error::Tool(format!("ffmpeg did not finish within {} s", limit.as_secs()))),
    };
    let stderr = err_task.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&stderr);
    Err(classify_failure(status, &text))
}

/// Whose fault an ffmpeg failure is. The input's ([`Error::Rejected`]: a broken file fails its
/// video for good) unless the machine is to blame ([`Error::Tool`]: tried again later): ffmpeg
/// killed by a signal (out of memory, a shutdown), or a full disk.
pub fn classify_failure(status: std::process::ExitStatus, stderr: &str) -> Error {
    use std::os::unix::process::ExitStatusExt;
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
    if let Some(signal) = status.signal() {
        return Error::Tool(format!("ffmpeg was killed (signal {signal}): {last}"));
    }
    if stderr.contains("No space left on device") {
        return Error::Tool(format!("the disk is full: {last}"));
    }
    if stderr.contains("Cannot allocate memory") {
        return Error::Tool(format!("out of memory: {last}"));
    }
    Error::Rejected(format!("ffmpeg failed ({status}): {last}"))
}

/// Byte ranges of the segments of a media playlist: `(file, offset, length)`, in order. The init
/// section (`#EXT-X-MAP`) is not a segment and is left out, as PeerTube does. Every range has at
/// least one byte and ends within `u64`; a segment whose byte range does not (a missing or zero
/// length, `18446744073709551615@18446744073709551615` in a corrupted file) is skipped.
pub fn segment_ranges(playlist: &str) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    let mut pending: Option<(u64, u64)> = None;
    let mut next_offset = 0u64;
    for line in playlist.lines() {
        let line = line.trim();
        if let Some(spec) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            let (len, off) = match spec.split_once('@') {
                Some((l, o)) => (l.parse::<u64>().ok(), o.parse().unwrap_or(next_offset)),
                None => (spec.parse::<u64>().ok(), next_offset),
            };
            pending = len.filter(|&len| len > 0 && off.checked_add(len).is_some()).map(|len| (off, len));
        } else if !line.is_empty()
            && !line.starts_with('#')
            && let Some((off, len)) = pending.take()
        {
            out.push((line.to_string(), off, len));
            next_offset = off + len;
        }
    }
    out
}

/// `{ "<file>": { "<start>-<end inclusive>": "<sha256 hex>" } }` for the given renditions, reading
/// the bytes from `dir`. Keys are ordered as PeerTube's player looks them up (by file, then range).
pub fn segments_sha256(dir: &Path, playlists: &[String]) -> Result<serde_json::Value, Error> {
    let mut root = serde_json::Map::new();
    for playlist in playlists {
        let text = std::fs::read_to_string(dir.join(playlist))?;
        for (file, off, len) in segment_ranges(&text) {
            let bytes = read_range(&dir.join(&file), off, len)?;
            let entry = root.entry(file.clone()).or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(m) = entry {
                m.insert(format!("{}-{}", off, off + len - 1), hex::encode(Sha256::digest(&bytes)).into());
            }
        }
    }
    Ok(serde_json::Value::Object(root))
}

fn read_range(path: &Path, off: u64, len: u64) -> Result<Vec<u8>, Error> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    // Checked before allocating: a corrupted playlist may claim more bytes than memory holds.
    let size = f.metadata()?.len();
    if off.checked_add(len).is_none_or(|end| end > size) {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{}: bytes {off}+{len} are past its end ({size} bytes)", path.display()),
        )));
    }
    f.seek(SeekFrom::Start(off))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// One line of the master playlist.
#[derive(Debug)]
pub struct MasterEntry {
    pub bandwidth: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub codecs: String,
    pub playlist: String,
}

/// The master playlist, renditions in ascending resolution (PeerTube's order).
pub fn master_playlist(entries: &[MasterEntry]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n\n");
    for e in entries {
        if e.width == 0 {
            out.push_str(&format!("#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"{}\"\n", e.bandwidth, e.codecs));
        } else {
            out.push_str(&format!(
                "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},FRAME-RATE={},CODECS=\"{}\"\n",
                e.bandwidth,
                e.width,
                e.height,
                e.fps.round() as u32,
                e.codecs
            ));
        }
        out.push_str(&e.playlist);
        out.push('\n');
    }
    out
}

/// The still frame's largest side: enough for the 850×480 preview, and what bounds the memory of
/// the `thumbnail` filter (it holds its 50 frames) and of decoding the PNG in our own process.
const STILL_MAX_SIDE: u32 = 1280;

/// A representative frame of the video as PNG bytes: ffmpeg's `thumbnail` filter picks the most
/// typical of 50 frames around a third of the way in (past intros and black openings).
pub async fn still_frame(input: &Path, probe: &Probe, out_png: &Path) -> Result<(), Error> {
    let at = format!("{:.3}", (probe.duration / 3.0).clamp(0.0, 60.0));
    // Scaled down *before* `thumbnail`: it keeps the frames it compares, and 50 frames at the
    // allowed 8192×8192 took 4.7 GB for a 200 KB upload (security-cases 22). One decoder thread,
    // as in the transcode, so that memory does not grow with the machine's cores.
    let fit =
        format!("scale=w='min(iw,{STILL_MAX_SIDE})':h='min(ih,{STILL_MAX_SIDE})':force_original_aspect_ratio=decrease");
    let args: Vec<String> = vec!["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-ss", &at, "-threads", "1"]
        .into_iter()
        .map(String::from)
        .chain(crate::probe::input_args(probe.demuxer, input))
        .chain(["-map", "0:v:0", "-vf", &format!("{fit},thumbnail=50"), "-frames:v", "1"].into_iter().map(String::from))
        .chain([out_png.display().to_string()])
        .collect();
    let dir = out_png.parent().unwrap_or(Path::new("."));
    run_ffmpeg(dir, &args, Duration::from_secs(120), |_| {}).await?;
    if std::fs::metadata(out_png).map(|m| m.len()).unwrap_or(0) == 0 {
        // Seeking past the end of a very short clip yields nothing: take the first frame instead.
        let args: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-threads", "1"]
            .into_iter()
            .map(String::from)
            .chain(crate::probe::input_args(probe.demuxer, input))
            .chain(["-map", "0:v:0", "-vf", &fit, "-frames:v", "1"].into_iter().map(String::from))
            .chain([out_png.display().to_string()])
            .collect();
        run_ffmpeg(dir, &args, Duration::from_secs(120), |_| {}).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(w: u32, h: u32, fps: f64, bit_rate: u64) -> Probe {
        Probe {
            duration: 10.0,
            has_video: true,
            has_audio: true,
            width: w,
            height: h,
            fps,
            video_codec: Some("h264".into()),
            audio_codec: Some("aac".into()),
            bit_rate,
            format: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            demuxer: "mov",
        }
    }

    #[test]
    fn the_ladder_never_upscales_and_keeps_the_source_height() {
        let r = plan(&probe(1280, 720, 30.0, 0), &[240, 360, 480, 720, 1080]);
        assert_eq!(r.iter().map(|x| x.resolution).collect::<Vec<_>>(), [240, 360, 480, 720]);
        assert_eq!((r[0].width, r[0].height), (426, 240));
        let r = plan(&probe(1000, 600, 30.0, 0), &[360, 1080]);
        assert_eq!(r.iter().map(|x| x.resolution).collect::<Vec<_>>(), [360, 600]);
    }

    #[test]
    fn vertical_videos_are_named_and_scaled_by_width() {
        let r = plan(&probe(720, 1280, 30.0, 0), &[240, 720, 1080]);
        assert_eq!(r.iter().map(|x| x.resolution).collect::<Vec<_>>(), [240, 720]);
        assert_eq!((r[0].width, r[0].height), (240, 426));
        assert_eq!((r[1].width, r[1].height), (720, 1280));
    }

    #[test]
    fn fps_is_capped_at_30_below_720p_and_60_above() {
        let r = plan(&probe(1920, 1080, 60.0, 0), &[360, 720, 1080]);
        let fps: Vec<f64> = r.iter().map(|x| x.fps).collect();
        assert_eq!(fps, [30.0, 60.0, 60.0]);
        let r = plan(&probe(1920, 1080, 120.0, 0), &[1080]);
        assert_eq!(r[0].fps, 60.0);
    }

    #[test]
    fn bit_rates_follow_the_ladder_and_the_source() {
        let r = plan(&probe(1280, 720, 30.0, 0), &[720]);
        assert_eq!(r[0].max_bitrate, (1280.0 * 720.0 * 30.0 * 0.11) as u64);
        // A low-bit-rate source is not inflated beyond 1.3×.
        let r = plan(&probe(1280, 720, 30.0, 500_000), &[720]);
        assert_eq!(r[0].max_bitrate, 650_000);
    }

    #[test]
    fn audio_only_sources_get_one_audio_rendition() {
        let mut p = probe(0, 0, 0.0, 128_000);
        p.has_video = false;
        assert_eq!(plan(&p, &[360, 720])[0].resolution, 0);
    }

    #[test]
    fn the_machine_s_faults_are_retried_and_the_input_s_are_not() {
        use std::os::unix::process::ExitStatusExt;
        let exit = |code: i32| std::process::ExitStatus::from_raw(code << 8);
        let killed = std::process::ExitStatus::from_raw(9);
        assert!(matches!(classify_failure(killed, ""), Error::Tool(m) if m.contains("signal 9")));
        let full = "[hls @ 0x1] failed to write: No space left on device\nConversion failed!";
        assert!(matches!(classify_failure(exit(1), full), Error::Tool(m) if m.contains("disk is full")));
        let broken = "[mov,mp4 @ 0x1] moov atom not found\nin.mp4: Invalid data found when processing input";
        assert!(matches!(classify_failure(exit(1), broken), Error::Rejected(m) if m.contains("Invalid data")));
    }

    #[tokio::test]
    async fn an_ffmpeg_past_its_time_limit_is_stopped_and_retried_later() {
        // An endless source: only the limit ends this run.
        let args: Vec<String> =
            ["-hide_banner", "-nostats", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-f", "null", "-"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let started = std::time::Instant::now();
        let r = run_ffmpeg(Path::new("/tmp"), &args, Duration::from_secs(1), |_| {}).await;
        assert!(matches!(&r, Err(Error::Tool(m)) if m.contains("did not finish within 1 s")), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "stopped at the limit");
    }

    #[tokio::test]
    async fn an_input_ffmpeg_cannot_read_fails_for_good() {
        let dir = std::env::temp_dir().join(format!("flotilla-hls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.upload");
        // Not a transport stream at all: a probe would have refused it; ffmpeg must fail on it too,
        // and the failure is the input's (state 7), not the machine's (retried).
        std::fs::write(&input, vec![0x47u8; 7]).unwrap();
        let args: Vec<String> = ["-hide_banner", "-protocol_whitelist", "file", "-f", "mpegts", "-i"]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("file:{}", input.display()), "-f".into(), "null".into(), "-".into()])
            .collect();
        let r = run_ffmpeg(&dir, &args, Duration::from_secs(60), |_| {}).await;
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(&r, Err(Error::Rejected(m)) if m.starts_with("ffmpeg failed")), "{r:?}");
    }

    #[test]
    fn ffmpeg_reads_the_upload_with_the_probed_demuxer_and_stops_at_its_duration() {
        let p = probe(1280, 720, 30.0, 0);
        let r = &plan(&p, &[240])[0];
        let a = ffmpeg_args(Path::new("/d/in.upload"), &p, r, "f.mp4", "p.m3u8", 1).join(" ");
        assert!(a.contains("-protocol_whitelist file -format_whitelist mov,"), "{a}");
        assert!(a.contains("-f mov -i file:/d/in.upload -t 11.000 "), "{a}");
        assert!(
            a.starts_with("-hide_banner -nostdin -y -loglevel error -threads 1 -protocol_whitelist"),
            "one decoder thread: {a}"
        );
    }

    #[test]
    fn a_ladder_decodes_once_encodes_the_audio_once_and_gives_each_rendition_its_own_settings() {
        let p = probe(1280, 720, 30.0, 0);
        let plan = plan(&p, &[240, 360, 480, 720]);
        let names: Vec<(String, String)> = plan.iter().map(|r| names("x", r.resolution)).collect();
        let outputs: Vec<Output<'_>> =
            plan.iter().zip(&names).map(|(r, (f, m))| Output { rendition: r, fragment: f, playlist: m }).collect();
        let args = ladder_args(Path::new("/d/in.upload"), &p, &outputs, 4);
        let a = args.join(" ");
        assert_eq!(a.matches(" -i ").count(), 1, "one input: {a}");
        assert!(a.contains("[0:v:0]split=4[s0][s1][s2][s3];[s0]scale=426:240:flags=bicubic,format=yuv420p[v0]"), "{a}");
        assert!(a.contains(";[s3]scale=1280:720:flags=bicubic,format=yuv420p[v3]"), "{a}");
        assert!(a.contains("-map [v0] -maxrate:v:0 "), "{a}");
        assert_eq!(a.matches("-c:v libx264").count(), 1, "one codec choice for every video stream: {a}");
        assert_eq!(a.matches("-c:a aac").count(), 1, "the audio encoded once: {a}");
        assert_eq!(a.matches("-map 0:a:0").count(), 1, "{a}");
        for (i, r) in plan.iter().enumerate() {
            assert!(
                a.contains(&format!("-maxrate:v:{i} {} -bufsize:v:{i} {} ", r.max_bitrate, r.max_bitrate * 2)),
                "{a}"
            );
            assert!(
                a.contains(&format!("-force_key_frames:v:{i} expr:gte(t,n_forced*4)")),
                "the same keyframe grid: {a}"
            );
        }
        assert!(a.starts_with("-hide_banner -nostdin -y -loglevel error -threads 4 "), "the decoder's threads");
        assert!(a.contains("-t 11.000 -filter_complex "), "the duration bounds the one output: {a}");
        assert_eq!(a.matches("-threads 4 -max_muxing_queue_size").count(), 1, "the encoders' threads: {a}");
        assert!(!a.contains("-vf"), "{a}");
        // The last argument: one HLS muxer per rendition, each given its video and the audio.
        let tee = args.last().unwrap();
        let slaves: Vec<&str> = tee.split('|').collect();
        assert_eq!(slaves.len(), 4, "{tee}");
        assert_eq!(
            slaves[3],
            "[select=\\'v:3,a\\':f=hls:hls_time=4:hls_playlist_type=vod:hls_list_size=0:hls_segment_type=fmp4:\
             hls_flags=single_file:hls_segment_filename=x-720-fragmented.mp4]x-720.m3u8"
        );
        assert!(slaves[0].starts_with("[select=\\'v:0,a\\':"), "{tee}");
        assert_eq!(args[args.len() - 2], "tee");
    }

    #[test]
    fn a_ladder_without_audio_selects_only_each_video() {
        let mut p = probe(1280, 720, 30.0, 0);
        p.has_audio = false;
        let plan = plan(&p, &[360, 720]);
        let names: Vec<(String, String)> = plan.iter().map(|r| names("y", r.resolution)).collect();
        let outputs: Vec<Output<'_>> =
            plan.iter().zip(&names).map(|(r, (f, m))| Output { rendition: r, fragment: f, playlist: m }).collect();
        let args = ladder_args(Path::new("/d/in.upload"), &p, &outputs, 2);
        let a = args.join(" ");
        assert!(!a.contains("0:a:0") && !a.contains("-c:a"), "{a}");
        assert!(args.last().unwrap().starts_with("[select=\\'v:0\\':f=hls:"), "{a}");
        assert!(args.last().unwrap().contains("|[select=\\'v:1\\':f=hls:"), "{a}");
    }

    #[test]
    fn one_rendition_keeps_the_arguments_it_always_had() {
        let p = probe(1280, 720, 30.0, 0);
        let r = &plan(&p, &[240])[0];
        let a = ffmpeg_args(Path::new("/d/in.upload"), &p, r, "f.mp4", "p.m3u8", 1).join(" ");
        let tail = format!(
            "-t 11.000 -progress pipe:1 -nostats -map 0:v:0 -map 0:a:0 -vf scale=426:240:flags=bicubic,format=yuv420p \
             -c:v libx264 -preset veryfast -profile:v high -crf 23 -maxrate {m} -bufsize {b} -r 30.000 -g 120 \
             -keyint_min 120 -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*4) \
             -c:a aac -b:a 128k -ac 2 -ar 48000 -threads 1 -max_muxing_queue_size 1024 -map_metadata -1 \
             -f hls -hls_time 4 -hls_playlist_type vod -hls_list_size 0 -hls_segment_type fmp4 -hls_flags single_file \
             -hls_segment_filename f.mp4 p.m3u8",
            m = r.max_bitrate,
            b = r.max_bitrate * 2
        );
        assert!(a.ends_with(&tail), "{a}");
    }

    #[test]
    fn segment_ranges_come_from_byteranges_without_the_init_section() {
        let playlist = "#EXTM3U\n#EXT-X-MAP:URI=\"a-240-fragmented.mp4\",BYTERANGE=\"1377@0\"\n#EXTINF:4.0,\n\
                        #EXT-X-BYTERANGE:125452@1377\na-240-fragmented.mp4\n#EXTINF:2.0,\n#EXT-X-BYTERANGE:66764\n\
                        a-240-fragmented.mp4\n#EXT-X-ENDLIST\n";
        let r = segment_ranges(playlist);
        assert_eq!(r, [("a-240-fragmented.mp4".into(), 1377, 125452), ("a-240-fragmented.mp4".into(), 126829, 66764)]);
    }

    #[test]
    fn a_byterange_that_overflows_is_skipped_not_a_panic() {
        let playlist = "#EXTINF:4.0,\n#EXT-X-BYTERANGE:18446744073709551615@18446744073709551615\nx.mp4\n\
                        #EXTINF:4.0,\n#EXT-X-BYTERANGE:1@18446744073709551615\nx.mp4\n\
                        #EXTINF:4.0,\n#EXT-X-BYTERANGE:10\nx.mp4\n";
        assert_eq!(segment_ranges(playlist), [("x.mp4".into(), 0, 10)]);
    }

    #[test]
    fn a_byterange_without_a_length_names_no_segment() {
        // Its last byte would be `off + 0 - 1`: an underflow when the hashes are keyed.
        assert_eq!(segment_ranges("#EXT-X-BYTERANGE:\n\n 0"), []);
        assert_eq!(segment_ranges("#EXT-X-BYTERANGE:0@5\nx.mp4\n#EXT-X-BYTERANGE:x@5\nx.mp4\n"), []);
    }

    #[test]
    fn a_range_past_the_end_of_its_file_is_an_error_not_an_allocation() {
        let file = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        let size = std::fs::metadata(file).unwrap().len();
        assert_eq!(read_range(file, 0, 8).unwrap(), b"[package");
        for (off, len) in [(0, u64::MAX), (u64::MAX, 1), (size - 1, 2)] {
            assert!(matches!(read_range(file, off, len), Err(Error::Io(_))), "{len}@{off}");
        }
    }

    #[test]
    fn the_master_playlist_lists_renditions_like_peertube() {
        let m = master_playlist(&[MasterEntry {
            bandwidth: 258124,
            width: 426,
            height: 240,
            fps: 25.0,
            codecs: "avc1.640015,mp4a.40.2".into(),
            playlist: "x-240.m3u8".into(),
        }]);
        assert_eq!(
            m,
            "#EXTM3U\n#EXT-X-VERSION:3\n\n#EXT-X-STREAM-INF:BANDWIDTH=258124,RESOLUTION=426x240,FRAME-RATE=25,\
             CODECS=\"avc1.640015,mp4a.40.2\"\nx-240.m3u8\n"
        );
    }
}

#[cfg(test)]
mod props;
