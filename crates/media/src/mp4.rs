//! The codecs of a finished rendition (a fragmented MP4 that our ffmpeg, or a remote runner, made),
//! read from its init section in process, as the RFC 6381 string a master playlist names
//! (`avc1.64001f,mp4a.40.2`). This was an `ffprobe` per rendition: a process start costs ~90 ms of
//! CPU on a loaded two-core machine, nearly all of it the dynamic linking of the 215 libraries
//! Debian's build loads, for reading a few bytes of a box we can walk ourselves.
//!
//! A runner's file is remote input: only the top-level box headers and the `moov` box (at most
//! [`MAX_MOOV`] bytes) are read, every size is checked against what holds it, and anything
//! malformed is refused with an error, never a panic.

use std::io::SeekFrom;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::Error;

/// The largest `moov` read: an init section is a few KiB (its sample tables are empty, the
/// samples being described in each fragment).
pub const MAX_MOOV: u64 = 1 << 20;

/// Top-level boxes looked at before giving up on finding `moov` (it follows `ftyp` in ours).
const MAX_TOP_BOXES: usize = 16;

/// The codec string of the H.264 and AAC streams of `file`, in the order of their tracks; the
/// same string the player's `CODECS` attribute always had (PeerTube's mapping: Baseline `42e0`,
/// Main `4d40`, any other profile `6400`, then the level).
pub async fn codecs(file: &Path) -> Result<String, Error> {
    let moov = read_moov(file).await?;
    let parts = codecs_in_moov(&moov).map_err(|why| Error::Rejected(format!("{}: {why}", file.display())))?;
    if parts.is_empty() {
        return Err(Error::Tool(format!("no H.264 or AAC stream in {}", file.display())));
    }
    Ok(parts.join(","))
}

/// The `moov` box's body, found among the file's first top-level boxes.
async fn read_moov(file: &Path) -> Result<Vec<u8>, Error> {
    let mut f = tokio::fs::File::open(file).await?;
    let len = f.metadata().await?.len();
    let mut at = 0u64;
    for _ in 0..MAX_TOP_BOXES {
        if len.saturating_sub(at) < 8 {
            break;
        }
        let mut head = [0u8; 16];
        f.seek(SeekFrom::Start(at)).await?;
        f.read_exact(&mut head[..8]).await?;
        let kind = [head[4], head[5], head[6], head[7]];
        let (size, header) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 => (len - at, 8),
            1 => {
                if len - at < 16 {
                    break;
                }
                f.read_exact(&mut head[8..16]).await?;
                (u64::from_be_bytes(head[8..16].try_into().expect("8 bytes")), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header || size > len - at {
            return Err(Error::Rejected(format!("{}: a box's size does not fit the file", file.display())));
        }
        if &kind == b"moov" {
            let body = size - header;
            if body > MAX_MOOV {
                return Err(Error::Rejected(format!("{}: its moov box is over {MAX_MOOV} bytes", file.display())));
            }
            let mut buf = vec![0u8; body as usize];
            f.read_exact(&mut buf).await?;
            return Ok(buf);
        }
        at += size;
    }
    Err(Error::Rejected(format!("{}: no moov box at its start", file.display())))
}

/// A box: its four-character type and its body.
type Mp4Box<'a> = ([u8; 4], &'a [u8]);

/// The boxes `buf` is made of, in order; an error when one does not fit in what is left.
fn boxes(buf: &[u8]) -> Result<Vec<Mp4Box<'_>>, &'static str> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 8 {
            return Err("a box header is cut short");
        }
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        let (size, header) = match u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) {
            0 => (rest.len() as u64, 8usize),
            1 => {
                let Some(large) = rest.get(8..16) else { return Err("a box header is cut short") };
                (u64::from_be_bytes(large.try_into().expect("8 bytes")), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header as u64 || size > rest.len() as u64 {
            return Err("a box's size does not fit its parent");
        }
        let size = size as usize;
        out.push((kind, &rest[header..size]));
        rest = &rest[size..];
    }
    Ok(out)
}

/// The first box of `kind` in `buf`.
fn child<'a>(buf: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, &'static str> {
    Ok(boxes(buf)?.into_iter().find(|(k, _)| k == kind).map(|(_, b)| b))
}

/// The codec of each track's sample descriptions, in track order: H.264 and AAC ones only.
fn codecs_in_moov(moov: &[u8]) -> Result<Vec<String>, &'static str> {
    let mut parts = Vec::new();
    for (kind, trak) in boxes(moov)? {
        if &kind != b"trak" {
            continue;
        }
        let mut stsd = Some(trak);
        for path in [b"mdia", b"minf", b"stbl", b"stsd"] {
            stsd = match stsd {
                Some(b) => child(b, path)?,
                None => None,
            };
        }
        let Some(stsd) = stsd else { continue };
        // A full box (version, flags), then the entry count, then the entries as boxes.
        let entries = stsd.get(8..).ok_or("an stsd box is cut short")?;
        for (kind, entry) in boxes(entries)? {
            match &kind {
                b"avc1" | b"avc3" => parts.push(avc(entry)?),
                b"mp4a" => {
                    if let Some(codec) = aac(entry)? {
                        parts.push(codec);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(parts)
}

/// `avc1.PPPPLL` from a visual sample entry's `avcC`: its fixed fields are 78 bytes.
fn avc(entry: &[u8]) -> Result<String, &'static str> {
    let children = entry.get(78..).ok_or("an H.264 sample entry is cut short")?;
    let config = child(children, b"avcC")?.ok_or("an H.264 sample entry has no avcC")?;
    let [_, profile, _, level, ..] = *config else { return Err("an avcC box is cut short") };
    let profile = match profile {
        66 => "42e0",
        77 => "4d40",
        _ => "6400",
    };
    Ok(format!("avc1.{profile}{level:02x}"))
}

/// `mp4a.40.2` when an audio sample entry's `esds` says AAC (MPEG-4 audio, or MPEG-2 AAC's
/// profiles); `None` for any other audio. Its fixed fields are 28 bytes (version 0, as MP4
/// files have them; QuickTime's versions 1 and 2 add 16 and 36).
fn aac(entry: &[u8]) -> Result<Option<String>, &'static str> {
    let version = entry.get(8..10).ok_or("an audio sample entry is cut short")?;
    let fixed = match u16::from_be_bytes([version[0], version[1]]) {
        0 => 28,
        1 => 44,
        2 => 64,
        _ => return Err("an audio sample entry of an unknown version"),
    };
    let children = entry.get(fixed..).ok_or("an audio sample entry is cut short")?;
    let Some(esds) = child(children, b"esds")? else { return Ok(None) };
    let object_type = object_type(esds.get(4..).ok_or("an esds box is cut short")?)?;
    Ok(matches!(object_type, 0x40 | 0x66..=0x68).then(|| "mp4a.40.2".to_string()))
}

/// The `objectTypeIndication` of the decoder configuration inside an ES descriptor.
fn object_type(es: &[u8]) -> Result<u8, &'static str> {
    let (tag, body) = descriptor(es)?;
    if tag != 0x03 {
        return Err("an esds box without an ES descriptor");
    }
    let flags = *body.get(2).ok_or("an ES descriptor is cut short")?;
    let mut at = 3;
    if flags & 0x80 != 0 {
        at += 2; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        at += 1 + usize::from(*body.get(at).ok_or("an ES descriptor is cut short")?); // URL
    }
    if flags & 0x20 != 0 {
        at += 2; // OCR_ES_Id
    }
    let (tag, config) = descriptor(body.get(at..).ok_or("an ES descriptor is cut short")?)?;
    if tag != 0x04 {
        return Err("an ES descriptor without its decoder configuration");
    }
    config.first().copied().ok_or("a decoder configuration is cut short")
}

/// One descriptor: its tag and body (its length is 7 bits a byte, at most four bytes).
fn descriptor(buf: &[u8]) -> Result<(u8, &[u8]), &'static str> {
    let tag = *buf.first().ok_or("a descriptor is cut short")?;
    let mut len = 0usize;
    let mut at = 1;
    loop {
        let b = *buf.get(at).ok_or("a descriptor is cut short")?;
        at += 1;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
        if at == 5 {
            return Err("a descriptor's length is over four bytes");
        }
    }
    let body = buf.get(at..at + len).ok_or("a descriptor's length does not fit its box")?;
    Ok((tag, body))
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    /// A box of `kind` around `body`.
    pub(super) fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// A `moov` with one track whose `stsd` holds `entry`.
    pub(super) fn moov_with(entry: Vec<u8>) -> Vec<u8> {
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(entry);
        let stbl = mp4_box(b"stbl", &mp4_box(b"stsd", &stsd));
        let trak = mp4_box(b"trak", &mp4_box(b"mdia", &mp4_box(b"minf", &stbl)));
        mp4_box(b"moov", &trak)
    }

    fn avc1(profile: u8, level: u8) -> Vec<u8> {
        let mut body = vec![0u8; 78];
        body.extend(mp4_box(b"avcC", &[1, profile, 0, level, 0xff]));
        mp4_box(b"avc1", &body)
    }

    fn mp4a(object_type: u8) -> Vec<u8> {
        let mut body = vec![0u8; 28];
        // ES descriptor (ES_ID 1, no flags) holding a decoder configuration.
        let config = [0x04, 2, object_type, 0x15];
        let mut es = vec![0x03, (3 + config.len()) as u8, 0, 1, 0];
        es.extend(config);
        let mut esds = vec![0, 0, 0, 0];
        esds.extend(es);
        body.extend(mp4_box(b"esds", &esds));
        mp4_box(b"mp4a", &body)
    }

    #[test]
    fn profiles_map_as_peertube_names_them_with_the_level_in_hex() {
        for (profile, want) in [(66, "avc1.42e01e"), (77, "avc1.4d401e"), (100, "avc1.64001e"), (110, "avc1.64001e")] {
            let moov = moov_with(avc1(profile, 30));
            assert_eq!(codecs_in_moov(&moov[8..]).unwrap(), [want], "profile {profile}");
        }
    }

    #[test]
    fn aac_is_named_and_other_audio_is_left_out() {
        let mut entries = avc1(100, 31);
        entries.extend(mp4a(0x40));
        assert_eq!(codecs_in_moov(&moov_with(entries)[8..]).unwrap(), ["avc1.64001f", "mp4a.40.2"]);
        // MP3 in MP4 (0x6b): not AAC, not named, as with ffprobe's reading before.
        assert_eq!(codecs_in_moov(&moov_with(mp4a(0x6b))[8..]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn an_entry_cut_short_or_without_its_configuration_is_refused() {
        let mut body = vec![0u8; 78];
        body.extend(mp4_box(b"avcC", &[1, 100]));
        assert!(codecs_in_moov(&moov_with(mp4_box(b"avc1", &body))[8..]).is_err());
        assert!(codecs_in_moov(&moov_with(mp4_box(b"avc1", &[0u8; 78]))[8..]).is_err());
        assert!(codecs_in_moov(&moov_with(mp4_box(b"avc1", &[0u8; 20]))[8..]).is_err());
        let mut moov = moov_with(avc1(100, 31));
        moov[3] = moov[3].wrapping_add(1); // the moov says one byte more than there is
        assert!(boxes(&moov).is_err());
    }

    #[tokio::test]
    async fn a_file_whose_moov_is_too_large_missing_or_past_its_end_is_refused() {
        let dir = std::env::temp_dir().join(format!("flotilla-mp4-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A moov claiming 2 MiB (the file holds it): over the cap.
        let path = dir.join("big.mp4");
        let mut bytes = mp4_box(b"ftyp", b"isom\0\0\0\0");
        bytes.extend(((MAX_MOOV as u32) + 9).to_be_bytes());
        bytes.extend(b"moov");
        bytes.resize(bytes.len() + MAX_MOOV as usize + 1, 0);
        std::fs::write(&path, &bytes).unwrap();
        let r = codecs(&path).await;
        assert!(matches!(&r, Err(Error::Rejected(m)) if m.contains("over")), "{r:?}");
        // Only media data: no moov.
        let path = dir.join("none.mp4");
        std::fs::write(&path, mp4_box(b"mdat", &[0u8; 64])).unwrap();
        let r = codecs(&path).await;
        assert!(matches!(&r, Err(Error::Rejected(m)) if m.contains("no moov")), "{r:?}");
        // A 64-bit size past the end of the file.
        let path = dir.join("large.mp4");
        let mut bytes = vec![0, 0, 0, 1];
        bytes.extend(b"free");
        bytes.extend(u64::MAX.to_be_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let r = codecs(&path).await;
        assert!(matches!(&r, Err(Error::Rejected(m)) if m.contains("does not fit")), "{r:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What `ffprobe` reads in the file, mapped as the codec string was before this module: the
    /// reference the in-process reading must match on ffmpeg's real output.
    async fn ffprobe_codecs(file: &Path) -> String {
        let out = tokio::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_name,profile,level", "-of", "json"])
            .arg(file)
            .output()
            .await
            .expect("ffprobe (apt-get install ffmpeg)");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut parts = Vec::new();
        for s in v["streams"].as_array().unwrap() {
            match s["codec_name"].as_str() {
                Some("h264") => {
                    let profile = match s["profile"].as_str().unwrap() {
                        "Baseline" | "Constrained Baseline" => "42e0",
                        "Main" => "4d40",
                        _ => "6400",
                    };
                    parts.push(format!("avc1.{profile}{:02x}", s["level"].as_i64().unwrap()));
                }
                Some("aac") => parts.push("mp4a.40.2".into()),
                _ => {}
            }
        }
        parts.join(",")
    }

    #[tokio::test]
    async fn renditions_made_by_ffmpeg_read_as_ffprobe_reads_them() {
        let dir = std::env::temp_dir().join(format!("flotilla-mp4-ffmpeg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let video = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"];
        let audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"];
        let cases: [(&str, &[&str], &[&str]); 4] = [
            ("high", &[&video[..], &audio[..]].concat(), &["-profile:v", "high", "-c:a", "aac"]),
            ("main", &video, &["-profile:v", "main", "-level", "4.1"]),
            ("baseline", &[&video[..], &audio[..]].concat(), &["-profile:v", "baseline", "-c:a", "aac"]),
            ("audio", &audio, &["-c:a", "aac"]),
        ];
        for (name, inputs, codec) in cases {
            let out = dir.join(format!("{name}-fragmented.mp4"));
            let status = tokio::process::Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y"])
                .args(inputs)
                .args(["-t", "1", "-c:v", "libx264", "-preset", "veryfast"])
                .args(codec)
                .args(["-f", "hls", "-hls_segment_type", "fmp4", "-hls_flags", "single_file"])
                .arg("-hls_segment_filename")
                .arg(&out)
                .arg(dir.join(format!("{name}.m3u8")))
                .status()
                .await
                .expect("ffmpeg (apt-get install ffmpeg)");
            assert!(status.success(), "ffmpeg made the {name} rendition");
            let ours = codecs(&out).await.unwrap();
            assert_eq!(ours, ffprobe_codecs(&out).await, "{name}");
            assert!(!ours.is_empty());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
