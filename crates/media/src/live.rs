//! Live HLS, PeerTube's way: the creator's stream reaches ffmpeg on its standard input as FLV, and
//! ffmpeg writes a live ladder of MPEG-TS segments (`<variant>-<number>.ts`), a media playlist per
//! variant (`<variant>.m3u8`, a sliding window with program date time) and `master.m3u8`.
//!
//! The FLV framing is written here by hand, on purpose: an RTMP audio or video message's payload
//! *is* an FLV tag's body, so the container is a 13-byte header and an 11-byte header plus a
//! 4-byte trailer per message — less than any crate's API around it would be.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// FLV tag types (RTMP message types 8 and 9).
pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;

/// The FLV file header and the first `PreviousTagSize` (0), announcing the streams present.
pub fn flv_header(has_audio: bool, has_video: bool) -> [u8; 13] {
    let flags = (if has_audio { 0x04 } else { 0 }) | (if has_video { 0x01 } else { 0 });
    [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
}

/// Appends one FLV tag (header, body, trailing size) for an RTMP message. Bodies over 16 MiB
/// cannot be framed (RTMP's own lengths are 24 bits too); `false` then, nothing appended.
pub fn flv_tag(out: &mut Vec<u8>, kind: u8, timestamp_ms: u32, body: &[u8]) -> bool {
    let len = body.len();
    if len >= 1 << 24 {
        return false;
    }
    let ts = timestamp_ms.to_be_bytes();
    out.push(kind);
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    // 24 low bits, then the high byte (FLV's "timestamp extended").
    out.extend_from_slice(&[ts[1], ts[2], ts[3], ts[0]]);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(body);
    out.extend_from_slice(&(11 + len as u32).to_be_bytes());
    true
}

/// What is known of the incoming stream before ffmpeg starts (from the publisher's metadata and
/// the first messages).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Source {
    pub has_video: bool,
    pub has_audio: bool,
    /// The picture's size, when the publisher said it.
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Source {
    /// PeerTube's resolution label: the smaller side.
    pub fn resolution(&self) -> Option<u32> {
        match (self.width, self.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => Some(w.min(h)),
            _ => None,
        }
    }
}

/// The heights of a live ladder: the configured ones up to the source's own (never upscaled;
/// the source's own when it is below them all); all of them, highest first, when the size is
/// not known (each then also capped at the source's size by the scaler). Empty for audio only.
pub fn ladder(source: &Source, resolutions: &[u32]) -> Vec<u32> {
    if !source.has_video {
        return Vec::new();
    }
    let mut out: Vec<u32> = match source.resolution() {
        Some(s) => {
            let fit: Vec<u32> = resolutions.iter().copied().filter(|r| *r <= s).collect();
            if fit.is_empty() { vec![s.max(2) & !1] } else { fit }
        }
        None => resolutions.to_vec(),
    };
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

/// Settings of one live's ffmpeg.
pub struct Settings<'a> {
    pub resolutions: &'a [u32],
    /// Seconds per segment (PeerTube: 4, 2 in small-latency mode).
    pub segment_seconds: u32,
    /// Segments kept in each playlist (PeerTube: 15).
    pub list_size: u32,
    pub threads: u32,
}

/// The most frames per second a live rendition has (PeerTube's live default).
pub const MAX_FPS: u32 = 30;

/// The peak bit rate (bits/s) of a live rendition of `height` (16:9, 30 fps): PeerTube's bits per
/// pixel, as its VOD ladder.
pub fn max_bitrate(height: u32) -> u64 {
    let width = f64::from(height) * 16.0 / 9.0;
    let bpp = crate::hls::bits_per_pixel(height);
    (width * f64::from(height) * f64::from(MAX_FPS) * bpp) as u64
}

/// ffmpeg's arguments: FLV on standard input (the only thing it reads: the pipe protocol alone is
/// allowed), the ladder decoded once and `split`, each variant x264 + AAC with keyframes on the
/// segment grid, written by one HLS muxer into the working directory.
pub fn ffmpeg_args(source: &Source, s: &Settings<'_>) -> Vec<String> {
    ffmpeg_args_from(source, s, "pipe:0", "pipe")
}

/// [`ffmpeg_args`] reading `input` (a remote runner: the server's `rtmp://` URL) with only
/// `protocols` allowed (`rtmp,tcp`).
pub fn ffmpeg_args_from(source: &Source, s: &Settings<'_>, input: &str, protocols: &str) -> Vec<String> {
    let heights = ladder(source, s.resolutions);
    let seg = s.segment_seconds.max(1);
    let mut a: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        protocols,
        "-analyzeduration",
        "3000000",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    a.extend(["-f", "flv", "-i", input].into_iter().map(String::from));
    let has_audio = source.has_audio;
    if !heights.is_empty() {
        let labels: String = (0..heights.len()).map(|i| format!("[s{i}]")).collect();
        let mut graph = if heights.len() == 1 {
            "[0:v:0]null[s0]".to_string()
        } else {
            format!("[0:v:0]split={}{labels}", heights.len())
        };
        for (i, h) in heights.iter().enumerate() {
            // The smaller side becomes `h`, never larger than it was; the other keeps the aspect.
            graph.push_str(&format!(
                ";[s{i}]scale=w='if(gte(iw,ih),-2,min({h},iw))':h='if(gte(iw,ih),min({h},ih),-2)',format=yuv420p[v{i}]"
            ));
        }
        a.extend(["-filter_complex".to_string(), graph]);
    }
    let gop = (MAX_FPS * seg).to_string();
    let mut streams = Vec::new();
    for (i, h) in heights.iter().enumerate() {
        let rate = max_bitrate(*h);
        a.extend(["-map".to_string(), format!("[v{i}]")]);
        a.extend([
            format!("-c:v:{i}"),
            "libx264".into(),
            format!("-preset:v:{i}"),
            "veryfast".into(),
            format!("-tune:v:{i}"),
            "zerolatency".into(),
            format!("-b:v:{i}"),
            rate.to_string(),
            format!("-maxrate:v:{i}"),
            rate.to_string(),
            format!("-bufsize:v:{i}"),
            (rate * 2).to_string(),
            format!("-g:v:{i}"),
            gop.clone(),
        ]);
        streams.push(if has_audio { format!("v:{i},a:{i}") } else { format!("v:{i}") });
    }
    if has_audio {
        let n = heights.len().max(1);
        for _ in 0..n {
            a.extend(["-map".to_string(), "0:a:0".to_string()]);
        }
        if heights.is_empty() {
            streams.push("a:0".to_string());
        }
    }
    if !heights.is_empty() {
        a.extend(
            ["-fpsmax", &MAX_FPS.to_string(), "-sc_threshold", "0", "-force_key_frames"].into_iter().map(String::from),
        );
        a.push(format!("expr:gte(t,n_forced*{seg})"));
    }
    if has_audio {
        a.extend(["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"].into_iter().map(String::from));
    }
    a.extend(
        [
            "-threads",
            &s.threads.max(1).to_string(),
            "-max_muxing_queue_size",
            "1024",
            "-map_metadata",
            "-1",
            "-f",
            "hls",
            "-hls_time",
            &seg.to_string(),
            "-hls_list_size",
            &s.list_size.max(3).to_string(),
            // Old segments go (a sliding window); each is complete before its name appears.
            "-hls_flags",
            "delete_segments+independent_segments+program_date_time+temp_file",
            "-hls_segment_type",
            "mpegts",
            "-hls_segment_filename",
            "%v-%06d.ts",
            "-master_pl_name",
            "master.m3u8",
            "-var_stream_map",
            &streams.join(" "),
            "%v.m3u8",
        ]
        .into_iter()
        .map(String::from),
    );
    a
}

/// A finished live segment's name (`0-000012.ts`): what the hash file lists.
pub fn is_segment_name(name: &str) -> bool {
    name.strip_suffix(".ts").is_some_and(|stem| {
        let mut parts = stem.splitn(2, '-');
        let variant = parts.next().unwrap_or_default();
        let number = parts.next().unwrap_or_default();
        !variant.is_empty()
            && variant.len() <= 2
            && variant.bytes().all(|b| b.is_ascii_digit())
            && number.len() >= 6
            && number.len() <= 10
            && number.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The master playlist and the hash file of a live, as ffmpeg and the watcher name them.
pub const MASTER_PLAYLIST: &str = "master.m3u8";
pub const SEGMENTS_SHA256: &str = "segments-sha256.json";

/// A file only a live has (`master.m3u8`, `<variant>.m3u8`, `<variant>-<number>.ts`,
/// `segments-sha256.json`, or one of them being written, `.tmp`): a video's files are all named
/// `<uuid>-…`, so a live's and its replay's never mix in their directory.
pub fn is_live_file(name: &str) -> bool {
    let name = name.strip_suffix(".tmp").unwrap_or(name);
    name == MASTER_PLAYLIST
        || name == SEGMENTS_SHA256
        || is_segment_name(name)
        || name
            .strip_suffix(".m3u8")
            .is_some_and(|v| !v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()))
}

/// Closes the variant playlists of a live that stopped (`#EXT-X-ENDLIST` added where ffmpeg, killed
/// or failed, did not write it), so that players still behind the edge play to the end and stop
/// there instead of waiting for segments that will never come.
pub fn end_playlists(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.ends_with(".m3u8") && name != MASTER_PLAYLIST && is_live_file(name)) {
            continue;
        }
        let path = entry.path();
        let text = std::fs::read_to_string(&path)?;
        if text.contains("#EXT-X-ENDLIST") {
            continue;
        }
        let mut closed = text;
        if !closed.ends_with('\n') {
            closed.push('\n');
        }
        closed.push_str("#EXT-X-ENDLIST\n");
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, closed)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// Removes a live's files from `dir` (see [`is_live_file`]), leaving anything else (a replay's
/// renditions being written there); the directory too when nothing is left in it, unless
/// `keep_dir` (a replay's transcoding that has not moved its first rendition in yet writes there).
pub fn remove_live_files(dir: &Path, keep_dir: bool) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_str().is_some_and(is_live_file) {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    if !keep_dir {
        // Fails (and is ignored) when a replay's files are there.
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

/// Brings `known` (segment name → SHA-256, hex) up to date with the finished segments in `dir`:
/// new ones hashed, deleted ones forgotten. Returns whether anything changed.
pub fn refresh_hashes(dir: &Path, known: &mut BTreeMap<String, String>) -> std::io::Result<bool> {
    let mut present = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_segment_name(name) && entry.file_type()?.is_file() {
            present.push(name.to_string());
        }
    }
    let before = known.len();
    known.retain(|k, _| present.contains(k));
    let mut changed = known.len() != before;
    for name in present {
        if known.contains_key(&name) {
            continue;
        }
        let bytes = match std::fs::read(dir.join(&name)) {
            Ok(b) => b,
            // Deleted by the sliding window between the listing and now.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        known.insert(name, hex::encode(Sha256::digest(&bytes)));
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {

    #[test]
    fn live_files_are_told_from_a_videos() {
        for name in
            ["master.m3u8", "0.m3u8", "12.m3u8", "0-000001.ts", "segments-sha256.json", "1.m3u8.tmp", "0-000002.ts.tmp"]
        {
            assert!(super::is_live_file(name), "{name}");
        }
        for name in [
            "3f2c9d0e-1a2b-4c3d-8e9f-001122334455-master.m3u8",
            "3f2c9d0e-1a2b-4c3d-8e9f-001122334455-segments-sha256.json",
            "3f2c9d0e-1a2b-4c3d-8e9f-001122334455-240-fragmented.mp4",
            "3f2c9d0e-1a2b-4c3d-8e9f-001122334455-240.m3u8",
            ".m3u8",
            "123.m3u8",
            "a.m3u8",
        ] {
            assert!(!super::is_live_file(name), "{name}");
        }
    }

    #[test]
    fn ended_playlists_get_their_end_once_and_live_files_go_alone() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("0.m3u8"), "#EXTM3U\n#EXTINF:4.0,\n0-000000.ts\n").unwrap();
        std::fs::write(d.join("1.m3u8"), "#EXTM3U\n#EXTINF:4.0,\n1-000000.ts\n#EXT-X-ENDLIST\n").unwrap();
        std::fs::write(d.join("master.m3u8"), "#EXTM3U\n").unwrap();
        super::end_playlists(d).unwrap();
        super::end_playlists(d).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("0.m3u8")).unwrap(),
            "#EXTM3U\n#EXTINF:4.0,\n0-000000.ts\n#EXT-X-ENDLIST\n"
        );
        assert_eq!(std::fs::read_to_string(d.join("1.m3u8")).unwrap().matches("ENDLIST").count(), 1);
        assert_eq!(std::fs::read_to_string(d.join("master.m3u8")).unwrap(), "#EXTM3U\n");

        let vod = "3f2c9d0e-1a2b-4c3d-8e9f-001122334455-master.m3u8";
        std::fs::write(d.join("0-000000.ts"), b"ts").unwrap();
        std::fs::write(d.join(vod), "#EXTM3U\n").unwrap();
        super::remove_live_files(d, false).unwrap();
        let left: Vec<_> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(left, vec![vod.to_string()]);
        std::fs::remove_file(d.join(vod)).unwrap();
        std::fs::write(d.join("0.m3u8"), "#EXTM3U\n").unwrap();
        super::remove_live_files(d, true).unwrap();
        assert!(d.exists() && std::fs::read_dir(d).unwrap().next().is_none(), "kept, emptied");
        super::remove_live_files(d, false).unwrap();
        assert!(!d.exists(), "an emptied directory goes too");
        super::remove_live_files(d, false).unwrap();
    }

    use super::*;

    #[test]
    fn flv_tags_carry_24_bit_sizes_and_extended_timestamps() {
        let mut out = Vec::new();
        assert!(flv_tag(&mut out, TAG_VIDEO, 0x0102_0304, b"abc"));
        assert_eq!(out, [9, 0, 0, 3, 0x02, 0x03, 0x04, 0x01, 0, 0, 0, b'a', b'b', b'c', 0, 0, 0, 14]);
        let big = vec![0u8; 1 << 24];
        let mut out = Vec::new();
        assert!(!flv_tag(&mut out, TAG_AUDIO, 0, &big));
        assert!(out.is_empty());
        assert_eq!(flv_header(true, true)[4], 5);
        assert_eq!(flv_header(false, true)[4], 1);
    }

    #[test]
    fn the_ladder_never_upscales_and_keeps_a_small_source() {
        let src = |w, h| Source { has_video: true, has_audio: true, width: Some(w), height: Some(h) };
        assert_eq!(ladder(&src(1280, 720), &[360, 720, 480]), vec![720, 480, 360]);
        assert_eq!(ladder(&src(640, 360), &[720, 480, 360]), vec![360]);
        assert_eq!(ladder(&src(320, 180), &[720, 480, 360]), vec![180]);
        assert_eq!(ladder(&src(360, 640), &[720, 480, 360]), vec![360]);
        let unknown = Source { has_video: true, ..Default::default() };
        assert_eq!(ladder(&unknown, &[360, 720]), vec![720, 360]);
        let audio = Source { has_audio: true, ..Default::default() };
        assert!(ladder(&audio, &[720]).is_empty());
    }

    #[test]
    fn arguments_read_only_the_pipe_and_map_every_variant() {
        let src = Source { has_video: true, has_audio: true, width: Some(1280), height: Some(720) };
        let s = Settings { resolutions: &[720, 360], segment_seconds: 4, list_size: 15, threads: 2 };
        let a = ffmpeg_args(&src, &s);
        let at = |k: &str| a.iter().position(|x| x == k).map(|i| a[i + 1].clone());
        assert_eq!(at("-protocol_whitelist").as_deref(), Some("pipe"));
        assert_eq!(at("-i").as_deref(), Some("pipe:0"));
        assert_eq!(at("-var_stream_map").as_deref(), Some("v:0,a:0 v:1,a:1"));
        assert_eq!(at("-hls_time").as_deref(), Some("4"));
        assert_eq!(a.last().map(String::as_str), Some("%v.m3u8"));
        let audio = Source { has_audio: true, ..Default::default() };
        let a = ffmpeg_args(&audio, &s);
        let at = |k: &str| a.iter().position(|x| x == k).map(|i| a[i + 1].clone());
        assert_eq!(at("-var_stream_map").as_deref(), Some("a:0"));
        assert!(!a.iter().any(|x| x == "-filter_complex"));
    }

    #[test]
    fn segment_names_are_ffmpegs_and_nothing_else() {
        assert!(is_segment_name("0-000001.ts"));
        assert!(is_segment_name("12-0000001234.ts"));
        assert!(!is_segment_name("0-000001.ts.tmp"));
        assert!(!is_segment_name("../0-000001.ts"));
        assert!(!is_segment_name("0-1.ts"));
        assert!(!is_segment_name("master.m3u8"));
    }

    #[test]
    fn hashes_follow_the_sliding_window() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0-000001.ts"), b"one").unwrap();
        std::fs::write(dir.path().join("0-000002.ts.tmp"), b"partial").unwrap();
        let mut known = BTreeMap::new();
        assert!(refresh_hashes(dir.path(), &mut known).unwrap());
        assert_eq!(known.len(), 1);
        assert_eq!(known["0-000001.ts"], hex::encode(Sha256::digest(b"one")));
        assert!(!refresh_hashes(dir.path(), &mut known).unwrap());
        std::fs::rename(dir.path().join("0-000002.ts.tmp"), dir.path().join("0-000002.ts")).unwrap();
        std::fs::remove_file(dir.path().join("0-000001.ts")).unwrap();
        assert!(refresh_hashes(dir.path(), &mut known).unwrap());
        assert_eq!(known.keys().collect::<Vec<_>>(), vec!["0-000002.ts"]);
    }
}
