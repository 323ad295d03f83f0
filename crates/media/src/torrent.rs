//! Torrents of video files, as PeerTube makes them (its `create-torrent`): BitTorrent v1, one
//! file, a web seed (`url-list`, BEP 19) at the file's URL so any client can fetch it over HTTP,
//! announce to the instance's tracker; and the magnet URI PeerTube puts beside it. Bencoding is
//! serde_bencode's; this module only hashes the pieces and fills the dictionary.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::Error;

/// What a torrent says besides its file's bytes.
pub struct Spec<'a> {
    /// The name a client saves the file under (PeerTube: `<video name> <res>p.mp4`).
    pub name: &'a str,
    /// Tracker URLs, first one the `announce`.
    pub trackers: &'a [String],
    /// Web seeds: the file's URL, then its mirrors'.
    pub web_seeds: &'a [String],
    /// Seconds since the epoch.
    pub created: i64,
}

/// A torrent made: its bytes and its v1 info hash (hex).
pub struct Torrent {
    pub bytes: Vec<u8>,
    pub info_hash: String,
}

#[derive(Serialize)]
struct Info<'a> {
    length: u64,
    name: &'a str,
    #[serde(rename = "piece length")]
    piece_length: u64,
    #[serde(with = "serde_bytes")]
    pieces: Vec<u8>,
}

#[derive(Serialize)]
struct File<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    announce: Option<&'a str>,
    #[serde(rename = "announce-list", skip_serializing_if = "Vec::is_empty")]
    announce_list: Vec<Vec<&'a str>>,
    #[serde(rename = "created by")]
    created_by: &'a str,
    #[serde(rename = "creation date")]
    creation_date: i64,
    info: Info<'a>,
    #[serde(rename = "url-list", skip_serializing_if = "<[String]>::is_empty")]
    url_list: &'a [String],
}

/// The piece length `create-torrent` picks (npm `piece-length`): about 1,024 pieces, a power of
/// two, at least 16 KiB.
pub fn piece_length(size: u64) -> u64 {
    let x = if size < 1024 { 1.0 } else { size as f64 / 1024.0 };
    let exp = (x.log2() + 0.5).floor() as u32;
    (1u64 << exp.min(62)).max(16 * 1024)
}

/// Makes the torrent of the file at `path` (reads it once, in pieces; blocking: run it off the
/// async threads).
pub fn make(path: &Path, spec: &Spec<'_>) -> Result<Torrent, Error> {
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let piece = piece_length(length);
    let mut pieces = Vec::with_capacity((length / piece + 1) as usize * 20);
    let mut buf = vec![0u8; piece as usize];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        pieces.extend_from_slice(&Sha1::digest(&buf[..filled]));
        if filled < buf.len() {
            break;
        }
    }
    let info = Info { length, name: spec.name, piece_length: piece, pieces };
    let info_bytes = serde_bencode::to_bytes(&info).map_err(|e| Error::Tool(format!("bencode: {e}")))?;
    let info_hash = hex::encode(Sha1::digest(&info_bytes));
    let trackers: Vec<&str> = spec.trackers.iter().map(String::as_str).collect();
    let out = File {
        announce: trackers.first().copied(),
        announce_list: trackers.iter().map(|t| vec![*t]).collect(),
        created_by: "Flotilla",
        creation_date: spec.created,
        info,
        url_list: spec.web_seeds,
    };
    let bytes = serde_bencode::to_bytes(&out).map_err(|e| Error::Tool(format!("bencode: {e}")))?;
    Ok(Torrent { bytes, info_hash })
}

/// `encodeURIComponent`'s set: everything but letters, digits and `-_.!~*'()`.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string().replace("%20", "+")
}

/// PeerTube's magnet URI (npm `magnet-uri`'s order): `xs` the torrent's URL, `xt` the info hash,
/// `dn` the name, a `tr` per tracker, a `ws` per web seed.
pub fn magnet(info_hash: &str, name: &str, torrent_url: &str, trackers: &[String], web_seeds: &[String]) -> String {
    let mut m = format!("magnet:?xs={}&xt=urn:btih:{info_hash}&dn={}", component(torrent_url), component(name));
    for t in trackers {
        m.push_str(&format!("&tr={}", component(t)));
    }
    for w in web_seeds {
        m.push_str(&format!("&ws={}", component(w)));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_lengths_follow_create_torrent() {
        // npm piece-length: max(16384, 1 << log2(bytes / 1024) + 0.5 | 0)
        assert_eq!(piece_length(0), 16384);
        assert_eq!(piece_length(1_000_000), 16384);
        assert_eq!(piece_length(1_853_871), 16384);
        assert_eq!(piece_length(40 * 1024 * 1024), 32768);
        assert_eq!(piece_length(100 * 1024 * 1024), 131072);
        assert_eq!(piece_length(3 * 1024 * 1024 * 1024), 4 * 1024 * 1024);
    }

    #[test]
    fn magnets_are_encoded_as_peertubes() {
        let m = magnet(
            "b943e34130e1a5b50735d2b9248200e8905d4630",
            "Bar clip check",
            "http://127.0.0.1:9001/lazy-static/torrents/f-720.torrent",
            &["ws://127.0.0.1:9001/tracker/socket".to_string()],
            &["http://127.0.0.1:9001/static/web-videos/x-720.mp4".to_string()],
        );
        assert_eq!(
            m,
            "magnet:?xs=http%3A%2F%2F127.0.0.1%3A9001%2Flazy-static%2Ftorrents%2Ff-720.torrent\
             &xt=urn:btih:b943e34130e1a5b50735d2b9248200e8905d4630&dn=Bar+clip+check\
             &tr=ws%3A%2F%2F127.0.0.1%3A9001%2Ftracker%2Fsocket\
             &ws=http%3A%2F%2F127.0.0.1%3A9001%2Fstatic%2Fweb-videos%2Fx-720.mp4"
        );
    }

    #[test]
    fn a_torrent_hashes_every_piece_and_its_info() {
        let dir = std::env::temp_dir().join(format!("flotilla-torrent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.mp4");
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let t = make(
            &path,
            &Spec {
                name: "a b.mp4",
                trackers: &["ws://h/tracker/socket".into()],
                web_seeds: &["http://h/f.mp4".into()],
                created: 1,
            },
        )
        .unwrap();
        // Two full pieces of 16 KiB and a short one.
        let mut pieces = Vec::new();
        for c in data.chunks(16384) {
            pieces.extend_from_slice(&Sha1::digest(c));
        }
        let mut info = b"d6:lengthi40000e4:name7:a b.mp412:piece lengthi16384e6:pieces60:".to_vec();
        info.extend_from_slice(&pieces);
        info.push(b'e');
        assert_eq!(t.info_hash, hex::encode(Sha1::digest(&info)));
        let text = String::from_utf8_lossy(&t.bytes);
        assert!(text.starts_with("d8:announce21:ws://h/tracker/socket13:announce-listll21:ws://h/tracker/socketee"));
        assert!(text.ends_with("8:url-listl14:http://h/f.mp4ee"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
