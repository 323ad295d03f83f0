//! `ffprobe` decides what a file is: its streams, duration, size, frame rate and bit rate. Files
//! with no audio or video stream, and still images, are refused as not media.
//!
//! An upload is read only by the demuxers of [`DEMUXERS`], containers that hold their media inside
//! the file, and only through the `file` protocol. Playlists and lists of other files (`hls`,
//! `dash`, `concat`), image sequences and raw text streams are never chosen: an `#EXTM3U` text that
//! names `/srv/…/another-users-video.mp4` would otherwise be "transcoded" and publish that file (the
//! TootRoot class, security-cases 20 and 22). Every later ffmpeg run on the upload forces the
//! demuxer the probe found ([`input_args`]).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::Error;

/// The demuxers an upload may be read with (ffmpeg's names; `mov` also answers for mp4, m4a, 3gp,
/// `matroska` for webm). Left out on purpose: `hls`, `dash`, `concat` and every other format that
/// opens further files or URLs, `image2` and the `*_pipe` image demuxers, `tty`, `data`, `subfile`.
pub const DEMUXERS: &[&str] =
    &["mov", "matroska", "avi", "mpegts", "flv", "ogg", "wav", "mp3", "flac", "aac", "asf", "mpeg"];

/// The ffmpeg/ffprobe input options that read `path` with `demuxer` and nothing else: only local
/// files, only the allowed demuxers, the demuxer named rather than guessed.
pub fn input_args(demuxer: &str, path: &Path) -> Vec<String> {
    vec![
        "-protocol_whitelist".into(),
        "file".into(),
        "-format_whitelist".into(),
        DEMUXERS.join(","),
        "-f".into(),
        demuxer.into(),
        "-i".into(),
        format!("file:{}", path.display()),
    ]
}

/// What an upload may claim before anything is decoded (`[upload]` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Seconds.
    pub max_duration: f64,
    /// Pixels, on the longer side.
    pub max_dimension: u32,
    /// Frames per second.
    pub max_fps: f64,
}

/// What we keep from a probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub duration: f64,
    pub has_video: bool,
    pub has_audio: bool,
    /// Display size, after any rotation a phone recorded in the metadata.
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    /// Bits per second of the whole file, 0 when unknown.
    pub bit_rate: u64,
    /// ffprobe's name of the container (`mov,mp4,m4a,3gp,3g2,mj2`).
    pub format: String,
    /// The demuxer of [`DEMUXERS`] that reads it: what later runs force with `-f`.
    pub demuxer: &'static str,
}

impl Probe {
    /// Refuses a file whose claims exceed `limits`, before any transcoding starts.
    pub fn check(&self, limits: &Limits) -> Result<(), Error> {
        if self.duration > limits.max_duration {
            return Err(Error::Rejected(format!(
                "the file lasts {:.0} s, longer than this instance accepts ({:.0} s)",
                self.duration, limits.max_duration
            )));
        }
        if self.width.max(self.height) > limits.max_dimension {
            return Err(Error::Rejected(format!(
                "the picture is {}×{}, larger than this instance accepts ({} pixels on a side)",
                self.width, self.height, limits.max_dimension
            )));
        }
        if self.fps > limits.max_fps {
            return Err(Error::Rejected(format!(
                "the video has {:.0} frames per second, more than this instance accepts ({:.0})",
                self.fps, limits.max_fps
            )));
        }
        Ok(())
    }

    /// PeerTube's "resolution" of a video: its smaller side (portrait videos are named by width).
    pub fn resolution(&self) -> u32 {
        self.width.min(self.height)
    }
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    #[serde(default)]
    disposition: Disposition,
    #[serde(default)]
    tags: Tags,
    #[serde(default)]
    side_data_list: Vec<SideData>,
    duration: Option<String>,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize, Default)]
struct Tags {
    rotate: Option<String>,
}

#[derive(Deserialize)]
struct SideData {
    rotation: Option<f64>,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
    bit_rate: Option<String>,
}

/// `30000/1001` → 29.97.
fn rate(s: &str) -> f64 {
    match s.split_once('/') {
        Some((n, d)) => {
            let (n, d) = (n.parse::<f64>().unwrap_or(0.0), d.parse::<f64>().unwrap_or(0.0));
            if d > 0.0 { n / d } else { 0.0 }
        }
        None => s.parse().unwrap_or(0.0),
    }
}

/// Reads ffprobe's JSON. Public for tests over recorded outputs.
pub fn parse(json: &[u8]) -> Result<Probe, Error> {
    let out: Output =
        serde_json::from_slice(json).map_err(|e| Error::Tool(format!("ffprobe printed something unreadable: {e}")))?;
    let format = out.format.ok_or_else(|| Error::Rejected("the file is not a video or audio file".into()))?;
    let format_name = format.format_name.unwrap_or_default();
    // ffprobe ran with the allow-list already; this keeps the rule true for any output we parse.
    let demuxer = format_name.split(',').find_map(|n| DEMUXERS.iter().copied().find(|d| *d == n)).ok_or_else(|| {
        Error::Rejected(format!("'{format_name}' files are not accepted: upload a video or audio file"))
    })?;
    let video =
        out.streams.iter().find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0);
    let audio = out.streams.iter().find(|s| s.codec_type.as_deref() == Some("audio"));
    if video.is_none() && audio.is_none() {
        return Err(Error::Rejected("the file has no video or audio stream".into()));
    }
    let duration = format
        .duration
        .as_deref()
        .or_else(|| video.or(audio).and_then(|s| s.duration.as_deref()))
        .and_then(|d| d.parse::<f64>().ok())
        .unwrap_or(0.0);
    if !duration.is_finite() || duration <= 0.0 {
        return Err(Error::Rejected("the file has no duration: it is not a playable video or audio file".into()));
    }
    let (mut width, mut height, mut fps) = (0, 0, 0.0);
    if let Some(v) = video {
        width = v.width.unwrap_or(0);
        height = v.height.unwrap_or(0);
        fps = v.avg_frame_rate.as_deref().map(rate).filter(|f| *f > 0.0).unwrap_or(0.0);
        if fps <= 0.0 {
            fps = v.r_frame_rate.as_deref().map(rate).unwrap_or(0.0);
        }
        let rotation = v
            .tags
            .rotate
            .as_deref()
            .and_then(|r| r.parse::<f64>().ok())
            .or_else(|| v.side_data_list.iter().find_map(|s| s.rotation))
            .unwrap_or(0.0);
        if (rotation.abs() - 90.0).abs() < 1.0 || (rotation.abs() - 270.0).abs() < 1.0 {
            std::mem::swap(&mut width, &mut height);
        }
        if width == 0 || height == 0 {
            return Err(Error::Rejected("the video stream has no picture size".into()));
        }
    }
    Ok(Probe {
        duration,
        has_video: video.is_some(),
        has_audio: audio.is_some(),
        width,
        height,
        fps,
        video_codec: video.and_then(|v| v.codec_name.clone()),
        audio_codec: audio.and_then(|a| a.codec_name.clone()),
        bit_rate: format.bit_rate.and_then(|b| b.parse().ok()).unwrap_or(0),
        format: format_name,
        demuxer,
    })
}

/// The probe an earlier [`probe`] of `path` printed (`json`, as kept with the video), when it still
/// describes the file there: ffprobe names the file it read and its size, and both must match.
/// `None`: probe again. Spares the transcoding job a second ffprobe of the upload the API has just
/// probed (a start of ffprobe links ~215 libraries).
pub fn reuse(json: &str, path: &Path) -> Option<Probe> {
    #[derive(Deserialize)]
    struct Kept {
        format: Option<KeptFormat>,
    }
    #[derive(Deserialize)]
    struct KeptFormat {
        filename: Option<String>,
        size: Option<String>,
    }
    let kept: Kept = serde_json::from_str(json).ok()?;
    let format = kept.format?;
    if format.filename? != format!("file:{}", path.display()) {
        return None;
    }
    let size: u64 = format.size?.parse().ok()?;
    if std::fs::metadata(path).ok()?.len() != size {
        return None;
    }
    parse(json.as_bytes()).ok()
}

/// Runs ffprobe on `path`, letting it choose only among [`DEMUXERS`] and open nothing but the file
/// itself. Returns the probe and ffprobe's JSON (kept with the video).
pub async fn probe(path: &Path) -> Result<(Probe, String), Error> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .args(["-protocol_whitelist", "file", "-format_whitelist", &DEMUXERS.join(",")])
        .arg("-i")
        .arg(format!("file:{}", path.display()))
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .map_err(|_| Error::Tool("ffprobe took more than 60 s".into()))?
        .map_err(|e| Error::Tool(format!("cannot run ffprobe (apt-get install ffmpeg): {e}")))?;
    if !out.status.success() {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = out.status.signal() {
            return Err(Error::Tool(format!("ffprobe was killed (signal {signal})")));
        }
        let why = String::from_utf8_lossy(&out.stderr);
        // `[hls @ 0x…] Format not on whitelist`: a playlist or a list of other files.
        if let Some(kind) = why
            .lines()
            .find(|l| l.contains("not on whitelist"))
            .and_then(|l| l.strip_prefix('[').and_then(|r| r.split_once(" @")).map(|(k, _)| k.to_string()))
        {
            return Err(Error::Rejected(format!(
                "'{kind}' files are not accepted (playlists and lists of other files never are): upload a video or \
                 audio file"
            )));
        }
        let why = why.lines().last().unwrap_or("unknown reason").trim();
        // ffprobe names the file in its message: keep our quarantine path out of the answer.
        let why = why.rsplit(": ").next().unwrap_or(why);
        return Err(Error::Rejected(format!("the file cannot be read as video or audio: {why}")));
    }
    let probe = parse(&out.stdout)?;
    Ok((probe, String::from_utf8_lossy(&out.stdout).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_video_rotated_90_degrees_is_portrait() {
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
            "avg_frame_rate":"30000/1001","side_data_list":[{"rotation":-90}]},
            {"codec_type":"audio","codec_name":"aac"}],
            "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"12.5","bit_rate":"8000000"}}"#;
        let p = parse(json).unwrap();
        assert_eq!((p.width, p.height), (1080, 1920));
        assert_eq!(p.resolution(), 1080);
        assert!((p.fps - 29.97).abs() < 0.01);
        assert!(p.has_audio && p.has_video);
        assert_eq!(p.bit_rate, 8_000_000);
    }

    #[test]
    fn cover_art_does_not_make_an_mp3_a_video() {
        let json = br#"{"streams":[{"codec_type":"audio","codec_name":"mp3"},
            {"codec_type":"video","codec_name":"mjpeg","width":500,"height":500,"disposition":{"attached_pic":1}}],
            "format":{"format_name":"mp3","duration":"180.0"}}"#;
        let p = parse(json).unwrap();
        assert!(p.has_audio && !p.has_video);
    }

    #[test]
    fn playlists_and_file_lists_are_refused_whatever_ffprobe_says() {
        for format in ["hls", "concat", "dash", "image2", "png_pipe", "tty", "webm_dash_manifest"] {
            let json = format!(
                r#"{{"streams":[{{"codec_type":"video","codec_name":"h264","width":64,"height":64}}],
                   "format":{{"format_name":"{format}","duration":"2.0"}}}}"#
            );
            assert!(matches!(parse(json.as_bytes()), Err(Error::Rejected(_))), "{format}");
        }
        let mkv = br#"{"streams":[{"codec_type":"video","codec_name":"vp9","width":64,"height":64}],
            "format":{"format_name":"matroska,webm","duration":"2.0"}}"#;
        assert_eq!(parse(mkv).unwrap().demuxer, "matroska");
    }

    #[test]
    fn a_kept_probe_is_reused_only_for_the_same_file_at_the_same_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.upload");
        std::fs::write(&path, [0u8; 100]).unwrap();
        let kept = |name: &str, size: u64, format: &str| {
            format!(
                r#"{{"streams":[{{"codec_type":"video","codec_name":"h264","width":64,"height":64}}],
                   "format":{{"filename":"file:{name}","size":"{size}","format_name":"{format}","duration":"2.0"}}}}"#
            )
        };
        let here = path.display().to_string();
        assert_eq!(reuse(&kept(&here, 100, "mov,mp4"), &path).map(|p| p.demuxer), Some("mov"));
        assert_eq!(reuse(&kept(&here, 99, "mov,mp4"), &path), None, "the file changed size");
        assert_eq!(reuse(&kept("/elsewhere/a.upload", 100, "mov,mp4"), &path), None, "another file");
        assert_eq!(reuse(&kept(&here, 100, "hls"), &path), None, "the allow-list still holds");
        assert_eq!(reuse("{}", &path), None);
        assert_eq!(reuse("not json", &path), None);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(reuse(&kept(&here, 100, "mov,mp4"), &path), None, "the file is gone");
    }

    #[test]
    fn claims_beyond_the_limits_are_refused() {
        let limits = Limits { max_duration: 6.0 * 3600.0, max_dimension: 8192, max_fps: 240.0 };
        let file = |w: u32, h: u32, fps: &str, secs: &str| {
            format!(
                r#"{{"streams":[{{"codec_type":"video","codec_name":"h264","width":{w},"height":{h},
                   "avg_frame_rate":"{fps}"}}],"format":{{"format_name":"avi","duration":"{secs}"}}}}"#
            )
        };
        let ok = parse(file(1920, 1080, "30/1", "60.0").as_bytes()).unwrap();
        assert!(ok.check(&limits).is_ok());
        for (w, h, fps, secs, what) in [
            (100_000, 100_000, "30/1", "60.0", "larger"),
            (16_000, 720, "30/1", "60.0", "larger"),
            (1920, 1080, "30/1", "36000.0", "longer"),
            (1920, 1080, "1000000/1", "60.0", "frames per second"),
        ] {
            let p = parse(file(w, h, fps, secs).as_bytes()).unwrap();
            match p.check(&limits) {
                Err(Error::Rejected(m)) => assert!(m.contains(what), "{m}"),
                other => panic!("{w}x{h} {fps} {secs}: {other:?}"),
            }
        }
    }

    #[test]
    fn input_args_force_the_demuxer_and_the_file_protocol() {
        let a = input_args("mov", Path::new("/data/tmp/uploads/x.upload"));
        let joined = a.join(" ");
        assert!(joined.starts_with("-protocol_whitelist file -format_whitelist mov,matroska,"), "{joined}");
        assert!(joined.ends_with("-f mov -i file:/data/tmp/uploads/x.upload"), "{joined}");
        assert!(!a.iter().any(|x| x.contains("hls") || x.contains("concat")));
    }

    #[test]
    fn images_and_empty_files_are_refused() {
        let png = br#"{"streams":[{"codec_type":"video","codec_name":"png","width":10,"height":10}],
            "format":{"format_name":"png_pipe"}}"#;
        assert!(matches!(parse(png), Err(Error::Rejected(_))));
        let nothing = br#"{"streams":[],"format":{"format_name":"mov,mp4","duration":"1.0"}}"#;
        assert!(matches!(parse(nothing), Err(Error::Rejected(_))));
    }
}
