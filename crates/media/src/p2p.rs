//! The info hashes under which p2p-media-loader 2 announces an HLS stream to a tracker, computed
//! the way the player library does, so the tracker can admit exactly the swarms of our videos.
//!
//! Per variant of the master playlist the library (with hls.js) builds a stream id
//! `base64(sha1("<BANDWIDTH>-<video codec>-<width>-<height>----<frame rate>-<video range>"))`,
//! the stream's swarm id `v2-<swarm id>-main-<stream id>` (the swarm id defaults to the master
//! playlist's URL), and the info hash `base64(first 15 bytes of sha1(swarm id of the stream))`:
//! 20 ASCII characters.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// One `#EXT-X-STREAM-INF` variant, with what hls.js reads from it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Variant {
    bandwidth: u64,
    video_codec: Option<String>,
    width: u32,
    height: u32,
    frame_rate: Option<String>,
    video_range: Option<String>,
}

fn attributes(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.split_once('"') {
                Some((v, n)) => (v, n.strip_prefix(',').unwrap_or(n)),
                None => (q, ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        out.push((key.trim().to_string(), value.to_string()));
        rest = next;
    }
    out
}

/// Video codecs as hls.js sorts a `CODECS` list into video and audio.
fn is_video_codec(c: &str) -> bool {
    ["avc1", "avc3", "hvc1", "hev1", "dvh1", "dvhe", "vp09", "vp08", "av01"].iter().any(|p| c.starts_with(p))
}

fn variants(master: &str) -> Vec<Variant> {
    master
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-STREAM-INF:"))
        .map(|l| {
            let mut v = Variant::default();
            for (k, val) in attributes(l) {
                match k.as_str() {
                    "BANDWIDTH" => v.bandwidth = val.parse().unwrap_or(0),
                    "RESOLUTION" => {
                        if let Some((w, h)) = val.split_once('x') {
                            v.width = w.parse().unwrap_or(0);
                            v.height = h.parse().unwrap_or(0);
                        }
                    }
                    "CODECS" => {
                        v.video_codec = val.split(',').map(str::trim).find(|c| is_video_codec(c)).map(str::to_string)
                    }
                    "FRAME-RATE" => v.frame_rate = Some(val),
                    "VIDEO-RANGE" => v.video_range = Some(val),
                    _ => {}
                }
            }
            v
        })
        .collect()
}

/// p2p-media-loader's normalisation of an `avc1.PROFILE.LEVEL` codec written in decimal.
fn normalise_codec(c: &str) -> String {
    let c = c.trim().to_lowercase();
    let parts: Vec<&str> = c.split('.').collect();
    if parts.len() == 3
        && (parts[0] == "avc1" || parts[0] == "avc")
        && let (Ok(p), Ok(l)) = (parts[1].parse::<u32>(), parts[2].parse::<u32>())
        && parts[1] == p.to_string()
        && parts[2] == l.to_string()
    {
        return format!("{}.{p:02x}00{l:02x}", parts[0]);
    }
    c
}

/// JavaScript's `Number(s).toString()` for the frame rates playlists carry ("25", "29.97").
fn js_number(s: &str) -> Option<String> {
    let n: f64 = s.trim().parse().ok()?;
    if !n.is_finite() {
        return None;
    }
    Some(if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") })
}

fn stream_id(v: &Variant) -> String {
    let missing = v.bandwidth == 0;
    let codecs =
        if missing { String::new() } else { v.video_codec.as_deref().map(normalise_codec).unwrap_or_default() };
    let (w, h) = if missing { (String::new(), String::new()) } else { (v.width.to_string(), v.height.to_string()) };
    let fr = if missing { String::new() } else { v.frame_rate.as_deref().and_then(js_number).unwrap_or_default() };
    let vr = if missing {
        String::new()
    } else {
        v.video_range.as_deref().map(|r| r.trim().to_uppercase()).unwrap_or_default()
    };
    let s = format!("{}-{codecs}-{w}-{h}----{fr}-{vr}", v.bandwidth);
    base64::engine::general_purpose::STANDARD.encode(Sha1::digest(s.as_bytes()))
}

/// The info hash of each variant of `master` (in its order), for players whose swarm id is
/// `swarm_id` (the master playlist's absolute URL unless the player sets another).
pub fn info_hashes(swarm_id: &str, master: &str) -> Vec<String> {
    variants(master)
        .iter()
        .map(|v| {
            let stream = format!("v2-{swarm_id}-main-{}", stream_id(v));
            base64::engine::general_purpose::STANDARD.encode(&Sha1::digest(stream.as_bytes())[..15])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_read_as_hls_js_reads_them() {
        let m = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=258124,RESOLUTION=426x240,FRAME-RATE=25,CODECS=\"avc1.640015,mp4a.40.2\"\na.m3u8\n\
                 #EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\nb.m3u8\n";
        let v = variants(m);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].bandwidth, v[0].width, v[0].height), (258124, 426, 240));
        assert_eq!(v[0].video_codec.as_deref(), Some("avc1.640015"));
        assert_eq!(v[0].frame_rate.as_deref(), Some("25"));
        assert_eq!((v[1].video_codec.as_deref(), v[1].width), (None, 0));
        let hashes = info_hashes("https://a.example/m.m3u8", m);
        assert_eq!(hashes.len(), 2);
        assert!(hashes.iter().all(|h| h.len() == 20 && h.is_ascii()), "{hashes:?}");
        assert_ne!(hashes[0], hashes[1]);
        assert_ne!(hashes, info_hashes("https://b.example/m.m3u8", m), "the swarm id is part of it");
        // What p2p-media-loader-core 2.3.1's own functions give for these variants (run in Node).
        assert_eq!(hashes, ["BDcmZYdWRkhnwVOUZGTF", "nfR+plCtfOkJPD17Bd6D"]);
    }

    #[test]
    fn codecs_and_numbers_are_normalised_like_the_library() {
        assert_eq!(normalise_codec("AVC1.66.30"), "avc1.42001e");
        assert_eq!(normalise_codec("avc1.64001f"), "avc1.64001f");
        assert_eq!(js_number("30.000").as_deref(), Some("30"));
        assert_eq!(js_number("29.970").as_deref(), Some("29.97"));
    }
}

#[cfg(test)]
mod props;
