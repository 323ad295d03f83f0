//! `ffprobe` decides what a file is: its streams, duration, size, frame rate and bit rate. Files
//! with no audio or video stream, and still images, are refused as not media.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::Error;

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
    pub format: String,
}

impl Probe {
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
    if format_name.contains("image2") || format_name.ends_with("_pipe") || format_name == "tty" {
        return Err(Error::Rejected(format!("the file is an image or text ({format_name}), not a video")));
    }
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
    if duration.is_nan() || duration <= 0.0 {
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
    })
}

/// Runs ffprobe on `path`. Returns the probe and ffprobe's JSON (kept with the video).
pub async fn probe(path: &Path) -> Result<(Probe, String), Error> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]).arg(path).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .map_err(|_| Error::Tool("ffprobe took more than 60 s".into()))?
        .map_err(|e| Error::Tool(format!("cannot run ffprobe (apt-get install ffmpeg): {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().last().unwrap_or("unknown reason").trim();
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
    fn images_and_empty_files_are_refused() {
        let png = br#"{"streams":[{"codec_type":"video","codec_name":"png","width":10,"height":10}],
            "format":{"format_name":"png_pipe"}}"#;
        assert!(matches!(parse(png), Err(Error::Rejected(_))));
        let nothing = br#"{"streams":[],"format":{"format_name":"mov,mp4","duration":"1.0"}}"#;
        assert!(matches!(parse(nothing), Err(Error::Rejected(_))));
    }
}
