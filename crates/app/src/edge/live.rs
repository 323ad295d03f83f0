//! The edge cache for another server's live: our viewers of it fetch from us, and its origin
//! sends each file about once for all of them. A live's playlists and segment hashes change every
//! segment under the same names, and its segment names come back in a permanent live's next
//! session, so nothing of it goes to disk or is kept long: a playlist or the hashes are fetched
//! at most once per [`PLAYLIST_TTL`] (every viewer asking meanwhile gets that copy, a fraction of
//! a segment old); a segment is fetched once, only when the live's `segments-sha256.json` lists
//! it (PeerTube's live shape: name → SHA-256 of the whole segment; no open proxy), served only
//! when it matches, and kept for the live's window ([`SEGMENT_TTL`]), all lives within
//! [`MAX_BYTES`] of memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;

use super::{EdgeCache, MAX_HASHES, MAX_PIECE, MAX_PLAYLIST, Origin, etag_of, plain_name, playlist_uris, sha256};
use crate::media_cache::Cached;
use crate::{App, Error, Result};

/// How long a live's playlist or hashes copy is served before the origin is asked again.
pub const PLAYLIST_TTL: Duration = Duration::from_millis(1000);
/// How long a segment is kept: the sliding window of a live (15 segments of 4 s) and a margin for
/// players at high latency.
pub const SEGMENT_TTL: Duration = Duration::from_secs(120);
/// How long a segment the playlist names but the hashes do not list yet is waited for (the
/// origin writes the hash just after the segment).
const HASH_WAIT: Duration = Duration::from_secs(4);
/// Memory for all lives' files at once (a 720p ladder's window is about 30 MB).
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

struct Held {
    c: Cached,
    at: Instant,
    ttl: Duration,
}

#[derive(Default)]
struct Inner {
    files: Option<LruCache<(String, String), Held>>,
    bytes: usize,
}

/// Lives' files in memory, least recently used out past [`MAX_BYTES`].
#[derive(Default)]
pub(super) struct LiveFiles(Mutex<Inner>);

impl LiveFiles {
    fn get(&self, uuid: &str, name: &str) -> Option<Cached> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let files = m.files.as_mut()?;
        let key = (uuid.to_string(), name.to_string());
        let fresh = files.get(&key).map(|h| h.at.elapsed() < h.ttl)?;
        if fresh {
            return files.get(&key).map(|h| h.c.clone());
        }
        let gone = files.pop(&key).map_or(0, |h| h.c.bytes.len());
        m.bytes -= gone;
        None
    }

    fn put(&self, uuid: &str, name: &str, c: Cached, ttl: Duration) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let len = c.bytes.len();
        let files = m.files.get_or_insert_with(LruCache::unbounded);
        let old = files.put((uuid.to_string(), name.to_string()), Held { c, at: Instant::now(), ttl });
        let mut bytes = m.bytes + len - old.map_or(0, |h| h.c.bytes.len());
        let files = m.files.as_mut().expect("just made");
        while bytes > MAX_BYTES {
            let Some((_, h)) = files.pop_lru() else { break };
            bytes -= h.c.bytes.len();
        }
        m.bytes = bytes;
    }

    /// Forgets a live's files (it ended, or went).
    pub(super) fn forget(&self, uuid: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(files) = m.files.as_mut() else { return };
        let keys: Vec<_> = files.iter().filter(|((u, _), _)| u == uuid).map(|(k, _)| k.clone()).collect();
        let mut freed = 0;
        for k in keys {
            freed += files.pop(&k).map_or(0, |h| h.c.bytes.len());
        }
        m.bytes -= freed;
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (m.files.as_ref().map_or(0, LruCache::len), m.bytes)
    }
}

impl EdgeCache {
    /// A live's file `name`: its master playlist, its hashes, a playlist the master names, or a
    /// segment its hashes list.
    pub(super) async fn live_file(&self, app: &App, uuid: &str, origin: &Origin, name: &str) -> Result<Cached> {
        if name == origin.master {
            return self.live_whole(app, uuid, origin, name, MAX_PLAYLIST).await;
        }
        if name == origin.hashes {
            return self.live_whole(app, uuid, origin, name, MAX_HASHES).await;
        }
        if name.ends_with(".m3u8") {
            let master = self.live_whole(app, uuid, origin, &origin.master, MAX_PLAYLIST).await?;
            if !playlist_uris(std::str::from_utf8(&master.bytes).unwrap_or_default()).contains(&name) {
                return Err(Error::not_found("file"));
            }
            return self.live_whole(app, uuid, origin, name, MAX_PLAYLIST).await;
        }
        if name.ends_with(".ts") && plain_name(name) {
            return self.live_segment(app, uuid, origin, name).await;
        }
        Err(Error::not_found("file"))
    }

    /// A playlist or the hashes: the copy fetched less than [`PLAYLIST_TTL`] ago, else a new one
    /// (one fetch for everyone asking at once).
    async fn live_whole(&self, app: &App, uuid: &str, origin: &Origin, name: &str, limit: usize) -> Result<Cached> {
        if let Some(c) = self.live.get(uuid, name) {
            self.stats.hits.fetch_add(1, Relaxed);
            return Ok(c);
        }
        self.once(flight_key(uuid, name), async {
            if let Some(c) = self.live.get(uuid, name) {
                return Ok(c);
            }
            self.stats.misses.fetch_add(1, Relaxed);
            let (bytes, _) = self.fetch_from_origin(app, &format!("{}{name}", origin.base), None, limit).await?;
            let c = Cached { file_len: bytes.len() as u64, etag: etag_of(&sha256(&bytes)), bytes: Bytes::from(bytes) };
            self.live.put(uuid, name, c.clone(), PLAYLIST_TTL);
            Ok(c)
        })
        .await
    }

    /// The SHA-256 the live's hashes give `name`, waiting up to [`HASH_WAIT`] for it to be listed.
    async fn live_hash(&self, app: &App, uuid: &str, origin: &Origin, name: &str) -> Result<[u8; 32]> {
        let until = Instant::now() + HASH_WAIT;
        loop {
            let table = self.live_whole(app, uuid, origin, &origin.hashes, MAX_HASHES).await?;
            let doc: HashMap<String, serde_json::Value> =
                serde_json::from_slice(&table.bytes).map_err(|_| Error::Upstream {
                    code: "edge_origin_invalid",
                    msg: "the live's segment hashes are not a hashes file".into(),
                })?;
            let mut hash = [0u8; 32];
            if let Some(hex_hash) = doc.get(name).and_then(serde_json::Value::as_str)
                && hex::decode_to_slice(hex_hash, &mut hash).is_ok()
            {
                return Ok(hash);
            }
            if Instant::now() >= until {
                return Err(Error::NotFound("the live's server lists no such segment".into()));
            }
            tokio::time::sleep(PLAYLIST_TTL / 2).await;
        }
    }

    /// A segment: held, or fetched once it is listed, and kept only when it matches its hash.
    async fn live_segment(&self, app: &App, uuid: &str, origin: &Origin, name: &str) -> Result<Cached> {
        if let Some(c) = self.live.get(uuid, name) {
            self.stats.hits.fetch_add(1, Relaxed);
            return Ok(c);
        }
        self.once(flight_key(uuid, name), async {
            if let Some(c) = self.live.get(uuid, name) {
                return Ok(c);
            }
            let hash = self.live_hash(app, uuid, origin, name).await?;
            self.stats.misses.fetch_add(1, Relaxed);
            let url = format!("{}{name}", origin.base);
            let (bytes, _) = self.fetch_from_origin(app, &url, None, MAX_PIECE as usize).await?;
            if sha256(&bytes) != hash {
                self.stats.mismatches.fetch_add(1, Relaxed);
                tracing::warn!(url, "a live segment from the origin does not match its published hash");
                return Err(Error::Upstream {
                    code: "edge_origin_mismatch",
                    msg: "the video's server sent a segment that does not match its published hash".into(),
                });
            }
            let c = Cached { file_len: bytes.len() as u64, etag: etag_of(&hash), bytes: Bytes::from(bytes) };
            self.live.put(uuid, name, c.clone(), SEGMENT_TTL);
            Ok(c)
        })
        .await
    }
}

/// The single-flight key of a live's file (never a path on disk).
fn flight_key(uuid: &str, name: &str) -> PathBuf {
    PathBuf::from("live").join(uuid).join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(n: usize) -> Cached {
        Cached { bytes: Bytes::from(vec![0u8; n]), file_len: n as u64, etag: String::new() }
    }

    #[test]
    fn files_expire_and_memory_stays_within_its_bound() {
        let l = LiveFiles::default();
        l.put("a", "0.m3u8", cached(10), Duration::ZERO);
        assert!(l.get("a", "0.m3u8").is_none(), "an expired copy is never served");
        assert_eq!(l.held(), (0, 0));
        let piece = 8 * 1024 * 1024;
        for n in 0..(MAX_BYTES / piece + 10) {
            l.put("a", &format!("0-{n:06}.ts"), cached(piece), SEGMENT_TTL);
        }
        let (files, bytes) = l.held();
        assert!(bytes <= MAX_BYTES && files == MAX_BYTES / piece, "{files} files, {bytes} bytes");
        assert!(l.get("a", &format!("0-{:06}.ts", MAX_BYTES / piece + 9)).is_some(), "the newest is kept");
        assert!(l.get("a", "0-000000.ts").is_none(), "the oldest went");
        l.put("b", "0-000000.ts", cached(5), SEGMENT_TTL);
        l.forget("a");
        assert_eq!(l.held(), (1, 5));
    }
}
