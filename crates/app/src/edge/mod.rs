//! The federated edge cache: remote videos played by our viewers from our own URLs
//! (`/static/edge/hls/<uuid>/<file>`), so that a video many people watch here costs its origin
//! about one copy. Owns the pieces on disk (`<data>/edge-cache/<uuid>/…`) and their index (least
//! recently used out past `federation.edge_cache_bytes`, rebuilt from the directory at start), the
//! single fetch per piece that concurrent requests wait for, the check of every segment against
//! the origin's `segments-sha256.json`, and the counters `/metrics` shows.
//!
//! Only what the origin's own files name may be asked for: the master playlist and the segment
//! hashes named by the video's stored data (which came signed by its server), the playlists the
//! master lists, byte ranges of the segments the hashes list (or a part of one: a player resuming
//! a cut download) and the init sections (`#EXT-X-MAP`) of those playlists. Nothing else is
//! fetched, so the cache is no open proxy. Every file is immutable for its name: PeerTube and
//! Flotilla give a playlist or a hashes file a new random name when its content changes, and the
//! video's `Update` brings the new names; when a video's stored data changes or it goes, its
//! pieces are dropped anyway. Segments are checked again when read back from disk.
//!
//! A live's files are none of that (their content changes under the same names): `live` serves
//! them from memory for a moment each.

mod live;

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::media_cache::Cached;
use crate::{App, Error, Result};

/// Largest playlist we read from an origin (ours are a few KiB).
const MAX_PLAYLIST: usize = 1024 * 1024;
/// Largest segment-hashes file (a ten-hour video in five renditions is about 4 MiB).
const MAX_HASHES: usize = 16 * 1024 * 1024;
/// Largest piece (a segment or an init section) we fetch.
const MAX_PIECE: u64 = 64 * 1024 * 1024;
/// Origin fetches at once, for all viewers.
const FETCH_SLOTS: usize = 16;
/// How long a video's eligibility (remote, public, where its files are) is trusted.
const VIDEO_TTL: Duration = Duration::from_secs(10);
/// Videos whose eligibility is remembered (keyed by the UUID a client asks for).
const MAX_VIDEOS: usize = 10_000;
/// Entries of parsed segment tables held in memory, all videos together.
const MAX_TABLE_ENTRIES: usize = 500_000;
/// What a file counts against the disk budget at least (the file system's blocks, the index).
const MIN_FILE_COST: u64 = 4096;

/// Where a remote video's files are at its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The directory of the master playlist, ending with `/`.
    pub base: String,
    pub master: String,
    pub hashes: String,
}

/// A name the edge cache may ask an origin for: letters, digits, `-`, `_` and dots, not hidden.
pub(crate) fn plain_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && !n.contains("..")
        && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The origin of a remote video's stored data (`remote_data`): its master playlist and segment
/// hashes, both plain names in one directory. `None` when it has no playlist, or its files are
/// laid out otherwise (such a video is played from its origin).
pub fn origin_of(remote_data: &Value) -> Option<Origin> {
    let playlist = remote_data["playlistUrl"].as_str()?;
    let sha = remote_data["segmentsSha256Url"].as_str()?;
    let (base, master) = playlist.rsplit_once('/')?;
    let hashes = sha.strip_prefix(base)?.strip_prefix('/')?;
    (url::Url::parse(playlist).is_ok()
        && plain_name(master)
        && master.ends_with(".m3u8")
        && plain_name(hashes)
        && hashes.ends_with(".json"))
    .then(|| Origin { base: format!("{base}/"), master: master.to_string(), hashes: hashes.to_string() })
}

/// The URIs a master playlist names (variant streams and `#EXT-X-MEDIA` renditions).
pub(crate) fn playlist_uris(master: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in master.lines().map(str::trim) {
        if line.starts_with("#EXT-X-MEDIA:") {
            out.extend(attribute(line, "URI"));
        } else if !line.is_empty() && !line.starts_with('#') {
            out.push(line);
        }
    }
    out
}

/// A quoted attribute of a playlist tag (`URI="…"`).
fn attribute<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &line[at..];
    Some(&rest[..rest.find('"')?])
}

/// The init sections of a media playlist: `(file, start, end inclusive)`.
pub(crate) fn init_sections(playlist: &str) -> Vec<(String, u64, u64)> {
    playlist
        .lines()
        .filter(|l| l.trim().starts_with("#EXT-X-MAP:"))
        .filter_map(|l| {
            let uri = attribute(l, "URI")?;
            let (len, off) = attribute(l, "BYTERANGE")?.split_once('@')?;
            let (len, off): (u64, u64) = (len.parse().ok()?, off.parse().ok()?);
            (len > 0 && len <= MAX_PIECE).then_some((uri.to_string(), off, off.checked_add(len - 1)?))
        })
        .collect()
}

/// What may be asked of one video's files, parsed from its origin's playlists and hashes.
struct Table {
    /// The hashes file it was read from (a new one means a new table).
    hashes: String,
    /// Per file, its segments `(start, end inclusive, sha256)` by start.
    segments: HashMap<String, Vec<(u64, u64, [u8; 32])>>,
    inits: Vec<(String, u64, u64)>,
    /// The media playlists it was read from.
    playlists: Vec<String>,
    entries: usize,
}

impl Table {
    fn read(hashes_name: &str, hashes: &[u8], playlists: &[(String, Bytes)]) -> Result<Table> {
        let bad = |why: &str| Error::Upstream { code: "edge_origin_invalid", msg: format!("the origin's {why}") };
        let doc: HashMap<String, HashMap<String, String>> =
            serde_json::from_slice(hashes).map_err(|_| bad("segment hashes are not a valid hashes file"))?;
        let mut segments: HashMap<String, Vec<(u64, u64, [u8; 32])>> = HashMap::new();
        let mut entries = 0;
        for (file, ranges) in doc {
            if !plain_name(&file) {
                continue;
            }
            let list = segments.entry(file).or_default();
            for (range, hex_hash) in ranges {
                let Some((s, e)) = range.split_once('-') else { continue };
                let (Ok(s), Ok(e)) = (s.parse::<u64>(), e.parse::<u64>()) else { continue };
                let mut hash = [0u8; 32];
                if s > e || e - s >= MAX_PIECE || hex::decode_to_slice(&hex_hash, &mut hash).is_err() {
                    continue;
                }
                list.push((s, e, hash));
                entries += 1;
            }
            list.sort_unstable_by_key(|r| r.0);
        }
        let inits = playlists
            .iter()
            .flat_map(|(_, p)| init_sections(std::str::from_utf8(p).unwrap_or_default()))
            .filter(|(n, _, _)| plain_name(n))
            .collect::<Vec<_>>();
        entries += inits.len();
        let playlists = playlists.iter().map(|(n, _)| n.clone()).collect();
        Ok(Table { hashes: hashes_name.to_string(), segments, inits, playlists, entries })
    }

    /// The piece that holds bytes `a..=b` of `file` (`b` open: to the piece's end), with the hash
    /// it must have when it is a segment.
    fn piece(&self, file: &str, a: u64, b: Option<u64>) -> Option<(u64, u64, Option<[u8; 32]>)> {
        let fits = |s: u64, e: u64| a >= s && a <= e && b.is_none_or(|b| b >= a && b <= e);
        if let Some(list) = self.segments.get(file) {
            let i = list.partition_point(|r| r.0 <= a);
            if let Some(&(s, e, h)) = i.checked_sub(1).and_then(|i| list.get(i))
                && fits(s, e)
            {
                return Some((s, e, Some(h)));
            }
        }
        self.inits.iter().find(|(n, s, e)| n == file && fits(*s, *e)).map(|(_, s, e)| (*s, *e, None))
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Body bytes answered from the edge routes.
    pub served_bytes: AtomicU64,
    /// Bytes fetched from origins.
    pub origin_bytes: AtomicU64,
    /// Requests answered from what was held (memory or disk) / that needed a fetch.
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Files removed to stay within the budget.
    pub evictions: AtomicU64,
    /// Segments whose bytes did not match the origin's published hash (never kept or served).
    pub mismatches: AtomicU64,
    /// Origin fetches that failed (unreachable, an error status, a refused answer).
    pub origin_errors: AtomicU64,
}

/// The files on disk, least recently used first, with what they cost.
struct Disk {
    files: LruCache<PathBuf, u64>,
    used: u64,
}

/// Per UUID asked for: where its files are (`None`: not served here), whether it is a live
/// streaming, and since when known.
type Known = (Option<Arc<Origin>>, bool, Instant);

type Flight = Arc<tokio::sync::OnceCell<std::result::Result<Cached, (&'static str, String)>>>;

pub struct EdgeCache {
    root: PathBuf,
    capacity: u64,
    disk: Mutex<Disk>,
    videos: Mutex<LruCache<String, Known>>,
    tables: Mutex<(LruCache<String, Arc<Table>>, usize)>,
    flights: Mutex<HashMap<PathBuf, Flight>>,
    slots: tokio::sync::Semaphore,
    /// Lives' files, in memory for a moment each.
    live: live::LiveFiles,
    pub stats: Stats,
}

/// What a request gets: a whole small file, or the piece that holds the bytes it asked for.
pub enum Answer {
    Whole(Cached),
    /// A live's file, good for a moment (a playlist or its hashes) or for the live's window (a
    /// segment).
    Live(Cached),
    /// `start`: where the piece begins in its file.
    Piece {
        piece: Cached,
        start: u64,
    },
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn etag_of(hash: &[u8; 32]) -> String {
    format!("\"{}\"", hex::encode(&hash[..16]))
}

impl EdgeCache {
    /// The cache under `root`, rebuilt from the files a previous run left (half-written ones
    /// removed, the oldest evicted past `capacity`). `capacity` 0: off, and the directory untouched.
    pub fn open(root: PathBuf, capacity: u64) -> EdgeCache {
        let cache = EdgeCache {
            root,
            capacity,
            disk: Mutex::new(Disk { files: LruCache::unbounded(), used: 0 }),
            videos: Mutex::new(LruCache::new(NonZeroUsize::new(MAX_VIDEOS).expect("> 0"))),
            tables: Mutex::new((LruCache::unbounded(), 0)),
            flights: Mutex::new(HashMap::new()),
            slots: tokio::sync::Semaphore::new(FETCH_SLOTS),
            live: live::LiveFiles::default(),
            stats: Stats::default(),
        };
        if capacity > 0 {
            cache.rebuild();
        }
        cache
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn rebuild(&self) {
        let mut found = Vec::new();
        for dir in std::fs::read_dir(&self.root).into_iter().flatten().flatten() {
            let name = dir.file_name().to_string_lossy().to_string();
            if uuid::Uuid::parse_str(&name).is_err() || !dir.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for f in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                let file = f.file_name().to_string_lossy().to_string();
                let Ok(meta) = f.metadata() else { continue };
                if file.ends_with(".tmp") || !meta.is_file() {
                    let _ = std::fs::remove_file(f.path());
                    continue;
                }
                let at = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                found.push((at, PathBuf::from(&name).join(file), meta.len()));
            }
        }
        found.sort();
        let n = found.len();
        for (_, rel, len) in found {
            self.index(rel, len);
        }
        let used = self.disk.lock().unwrap_or_else(|p| p.into_inner()).used;
        tracing::info!(files = n, bytes = used, "edge cache opened");
    }

    /// Adds a file to the index and removes the least recently used ones past the budget.
    fn index(&self, rel: PathBuf, len: u64) {
        let cost = len.max(MIN_FILE_COST);
        let mut gone = Vec::new();
        {
            let mut d = self.disk.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(old) = d.files.put(rel.clone(), cost) {
                d.used -= old;
            }
            d.used += cost;
            while d.used > self.capacity {
                let Some((k, c)) = d.files.pop_lru() else { break };
                d.used -= c;
                gone.push(k);
            }
        }
        for k in gone {
            self.stats.evictions.fetch_add(1, Relaxed);
            if let Err(e) = std::fs::remove_file(self.root.join(&k))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %k.display(), error = %e, "cannot remove an evicted edge-cache file");
            }
        }
    }

    fn touch(&self, rel: &Path) {
        self.disk.lock().unwrap_or_else(|p| p.into_inner()).files.get(rel);
    }

    fn unindex(&self, rel: &Path) {
        let mut d = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = d.files.pop(rel) {
            d.used -= c;
        }
    }

    /// Bytes the files on disk count for now, and how many there are.
    pub fn usage(&self) -> (u64, usize) {
        let d = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        (d.used, d.files.len())
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Forgets everything held of a video (it changed or went): memory, disk, its table.
    pub async fn forget(&self, app: &App, uuid: &str) {
        self.live.forget(uuid);
        if !self.enabled() {
            return;
        }
        self.videos.lock().unwrap_or_else(|p| p.into_inner()).pop(uuid);
        {
            let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(old) = t.0.pop(uuid) {
                t.1 -= old.entries;
            }
        }
        let dir = self.root.join(uuid);
        {
            let mut d = self.disk.lock().unwrap_or_else(|p| p.into_inner());
            let mine: Vec<PathBuf> = d.files.iter().map(|(k, _)| k).filter(|k| k.starts_with(uuid)).cloned().collect();
            for k in mine {
                if let Some(c) = d.files.pop(&k) {
                    d.used -= c;
                }
            }
        }
        app.media_cache.invalidate_dir(&dir);
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a video's edge-cache files");
        }
    }

    /// Where the files of `uuid` come from, when the edge cache serves it: a remote video,
    /// published, public or unlisted (private and internal videos are never remote, and never
    /// go through here), with its files laid out as [`origin_of`] wants; and whether it is a live
    /// (streaming: published).
    async fn origin(&self, app: &App, uuid: &str) -> Result<(Arc<Origin>, bool)> {
        if let Some((o, live, at)) = self.videos.lock().unwrap_or_else(|p| p.into_inner()).get(uuid)
            && at.elapsed() < VIDEO_TTL
        {
            return o.clone().map(|o| (o, *live)).ok_or_else(|| Error::not_found("file"));
        }
        let v = flotilla_db::videos::get_by_uuid(&app.db, uuid).await?;
        let live = v.as_ref().is_some_and(|v| v.is_live);
        let origin = v
            .filter(|v| {
                v.remote_url.is_some()
                    && v.state == crate::video::STATE_PUBLISHED
                    && matches!(v.privacy, crate::video::PRIVACY_PUBLIC | crate::video::PRIVACY_UNLISTED)
                    // Not a video moderators blocked here, nor one of a server this instance blocks.
                    && v.blocked == 0
                    && !v.remote_url.as_deref().is_some_and(|u| crate::blocklist::refuses(app, u))
            })
            .and_then(|v| serde_json::from_str::<Value>(v.remote_data.as_deref()?).ok())
            .and_then(|d| origin_of(&d))
            .map(Arc::new);
        self.videos
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(uuid.to_string(), (origin.clone(), live, Instant::now()));
        origin.map(|o| (o, live)).ok_or_else(|| Error::not_found("file"))
    }

    /// One fetch for all who ask at once: the first caller's `fetch` runs (another's takes over if
    /// it goes away), the others wait for its result.
    async fn once<F>(&self, key: PathBuf, fetch: F) -> Result<Cached>
    where
        F: Future<Output = Result<Cached>>,
    {
        let cell = self.flights.lock().unwrap_or_else(|p| p.into_inner()).entry(key.clone()).or_default().clone();
        let out = cell.get_or_init(|| async { fetch.await.map_err(|e| (e.code(), e.to_string())) }).await.clone();
        let mut f = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if f.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            f.remove(&key);
        }
        drop(f);
        out.map_err(|(code, msg)| match code {
            "not_found" => Error::NotFound(msg),
            _ => Error::Upstream { code, msg },
        })
    }

    /// Reads a piece file: the whole file's length (8 bytes, little-endian; 0 when the origin
    /// did not say), then the bytes.
    async fn read_piece(&self, rel: &Path) -> Option<(u64, Bytes)> {
        let buf = tokio::fs::read(self.root.join(rel)).await.ok()?;
        if buf.len() < 8 {
            return None;
        }
        let total = u64::from_le_bytes(buf[..8].try_into().ok()?);
        Some((total, Bytes::from(buf).slice(8..)))
    }

    /// Writes a file under the cache (a temporary name, then renamed: a crash leaves no
    /// half-written file under a real name) and indexes it.
    async fn write(&self, rel: &Path, parts: &[&[u8]]) -> Result<()> {
        let path = self.root.join(rel);
        let dir = path.parent().expect("a file under a video's directory");
        tokio::fs::create_dir_all(dir).await.map_err(|e| Error::write("an edge-cache file", e))?;
        let tmp = dir.join(format!("{:016x}.tmp", rand::random::<u64>()));
        let mut all = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            all.extend_from_slice(p);
        }
        let len = all.len() as u64;
        let written = async {
            tokio::fs::write(&tmp, all).await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(Error::write("an edge-cache file", e));
        }
        self.index(rel.to_path_buf(), len);
        Ok(())
    }

    async fn fetch_from_origin(
        &self,
        app: &App,
        url: &str,
        range: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<(Vec<u8>, Option<u64>)> {
        let _slot = self.slots.acquire().await.map_err(|_| Error::Internal("edge fetch slots closed".into()))?;
        match app.fetcher.get_media(url, range, limit).await {
            Ok((bytes, total)) => {
                self.stats.origin_bytes.fetch_add(bytes.len() as u64, Relaxed);
                Ok((bytes, total))
            }
            Err(e) => {
                self.stats.origin_errors.fetch_add(1, Relaxed);
                tracing::warn!(url, error = %e, "the edge cache could not fetch from the origin");
                Err(Error::Upstream {
                    code: "edge_origin_unavailable",
                    msg: format!("the video's server did not give this file ({e}); play it from there"),
                })
            }
        }
    }

    /// A whole small file (a playlist, the segment hashes): from memory, disk, or the origin.
    async fn whole(&self, app: &App, uuid: &str, origin: &Origin, name: &str, limit: usize) -> Result<Cached> {
        let rel = PathBuf::from(uuid).join(name);
        let key = self.root.join(&rel);
        if let Some(c) = app.media_cache.get(&key, 0, u64::MAX) {
            self.stats.hits.fetch_add(1, Relaxed);
            self.touch(&rel);
            return Ok(c);
        }
        let load = || async {
            let bytes = tokio::fs::read(&key).await.ok()?;
            self.touch(&rel);
            Some(Bytes::from(bytes))
        };
        let keep = |bytes: Bytes| {
            let c = Cached { file_len: bytes.len() as u64, etag: etag_of(&sha256(&bytes)), bytes };
            app.media_cache.put(&key, 0, u64::MAX, c.clone());
            c
        };
        if let Some(bytes) = load().await {
            self.stats.hits.fetch_add(1, Relaxed);
            return Ok(keep(bytes));
        }
        self.once(key.clone(), async {
            if let Some(bytes) = load().await {
                return Ok(keep(bytes));
            }
            self.stats.misses.fetch_add(1, Relaxed);
            let (bytes, _) = self.fetch_from_origin(app, &format!("{}{name}", origin.base), None, limit).await?;
            self.write(&rel, &[&bytes]).await?;
            Ok(keep(Bytes::from(bytes)))
        })
        .await
    }

    /// The table of a video's pieces: its hashes and the init sections of the playlists its
    /// master names (all fetched through the cache).
    async fn table(&self, app: &App, uuid: &str, origin: &Origin) -> Result<Arc<Table>> {
        {
            let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(table) = t.0.get(uuid)
                && table.hashes == origin.hashes
            {
                return Ok(table.clone());
            }
        }
        let master = self.whole(app, uuid, origin, &origin.master, MAX_PLAYLIST).await?;
        let mut playlists = Vec::new();
        for name in playlist_uris(std::str::from_utf8(&master.bytes).unwrap_or_default()).into_iter().take(32) {
            if plain_name(name) && name.ends_with(".m3u8") {
                playlists.push((name.to_string(), self.whole(app, uuid, origin, name, MAX_PLAYLIST).await?.bytes));
            }
        }
        let hashes = self.whole(app, uuid, origin, &origin.hashes, MAX_HASHES).await?;
        let table = Arc::new(Table::read(&origin.hashes, &hashes.bytes, &playlists)?);
        let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = t.0.put(uuid.to_string(), table.clone()) {
            t.1 -= old.entries;
        }
        t.1 += table.entries;
        while t.1 > MAX_TABLE_ENTRIES && t.0.len() > 1 {
            let Some((_, old)) = t.0.pop_lru() else { break };
            t.1 -= old.entries;
        }
        Ok(table)
    }

    /// A piece (bytes `s..=e` of `name`): from memory, disk (a segment checked again against its
    /// hash), or the origin (a segment kept and served only when its hash matches).
    async fn piece(
        &self,
        app: &App,
        uuid: &str,
        origin: &Origin,
        table: &Table,
        name: &str,
        (s, e, hash): (u64, u64, Option<[u8; 32]>),
    ) -> Result<Cached> {
        let key = self.root.join(uuid).join(name);
        let rel = PathBuf::from(uuid).join(format!("{name}.{s}-{e}"));
        // A piece in use keeps the files it cannot be served without (playlists, hashes) in the
        // cache too, as recently used as it is: a restart then still finds them.
        let touch_all = || {
            let mut d = self.disk.lock().unwrap_or_else(|p| p.into_inner());
            for n in [&origin.master, &origin.hashes].into_iter().chain(&table.playlists) {
                d.files.get(&PathBuf::from(uuid).join(n));
            }
            d.files.get(&rel);
        };
        if let Some(c) = app.media_cache.get(&key, s, e) {
            self.stats.hits.fetch_add(1, Relaxed);
            touch_all();
            return Ok(c);
        }
        let load = || async {
            let (total, bytes) = self.read_piece(&rel).await?;
            let got = sha256(&bytes);
            if bytes.len() as u64 != e - s + 1 || hash.is_some_and(|h| h != got) {
                tracing::warn!(file = %rel.display(), "an edge-cache file changed on disk; fetched again");
                self.unindex(&rel);
                let _ = tokio::fs::remove_file(self.root.join(&rel)).await;
                return None;
            }
            touch_all();
            Some(Cached { bytes, file_len: total, etag: etag_of(&got) })
        };
        let keep = |c: Cached| {
            app.media_cache.put(&key, s, e, c.clone());
            c
        };
        if let Some(c) = load().await {
            self.stats.hits.fetch_add(1, Relaxed);
            return Ok(keep(c));
        }
        self.once(self.root.join(&rel), async {
            if let Some(c) = load().await {
                return Ok(keep(c));
            }
            self.stats.misses.fetch_add(1, Relaxed);
            // Before the new piece is indexed, so that what it needs is not what makes room for it.
            touch_all();
            let url = format!("{}{name}", origin.base);
            let (bytes, total) = self.fetch_from_origin(app, &url, Some((s, e)), MAX_PIECE as usize).await?;
            let got = sha256(&bytes);
            if hash.is_some_and(|h| h != got) {
                self.stats.mismatches.fetch_add(1, Relaxed);
                tracing::warn!(url, range = %format!("{s}-{e}"), "a segment from the origin does not match its published hash");
                return Err(Error::Upstream {
                    code: "edge_origin_mismatch",
                    msg: "the video's server sent a segment that does not match its published hash".into(),
                });
            }
            let total = total.unwrap_or(0);
            self.write(&rel, &[&total.to_le_bytes(), &bytes]).await?;
            Ok(keep(Cached { bytes: Bytes::from(bytes), file_len: total, etag: etag_of(&got) }))
        })
        .await
    }
}

/// Answers `GET /static/edge/hls/<uuid>/<name>` with `range` (`bytes=a-b`, `b` open when `None`)
/// as asked. Names that the video's own files do not name are not found; a segment file is only
/// given by byte ranges.
pub async fn get(app: &App, uuid: &str, name: &str, range: Option<(u64, Option<u64>)>) -> Result<Answer> {
    let edge = &app.edge;
    if !edge.enabled() || !plain_name(name) {
        return Err(Error::not_found("file"));
    }
    let (origin, live) = edge.origin(app, uuid).await?;
    if live {
        return Ok(Answer::Live(edge.live_file(app, uuid, &origin, name).await?));
    }
    if name == origin.master {
        return Ok(Answer::Whole(edge.whole(app, uuid, &origin, name, MAX_PLAYLIST).await?));
    }
    if name == origin.hashes {
        return Ok(Answer::Whole(edge.whole(app, uuid, &origin, name, MAX_HASHES).await?));
    }
    if name.ends_with(".m3u8") {
        let master = edge.whole(app, uuid, &origin, &origin.master, MAX_PLAYLIST).await?;
        if !playlist_uris(std::str::from_utf8(&master.bytes).unwrap_or_default()).contains(&name) {
            return Err(Error::not_found("file"));
        }
        return Ok(Answer::Whole(edge.whole(app, uuid, &origin, name, MAX_PLAYLIST).await?));
    }
    if !name.ends_with(".mp4") {
        return Err(Error::not_found("file"));
    }
    let Some((a, b)) = range else {
        return Err(Error::BadRequest {
            code: "range_required",
            msg: "the edge cache gives segments by byte range; ask the video's server for the whole file".into(),
        });
    };
    let table = edge.table(app, uuid, &origin).await?;
    let Some(found) = table.piece(name, a, b) else {
        return Err(Error::NotFound("no segment of this file holds that byte range".into()));
    };
    let piece = edge.piece(app, uuid, &origin, &table, name, found).await?;
    Ok(Answer::Piece { piece, start: found.0 })
}

/// The URLs a viewer here is given for a remote video's playlist and segment hashes, when the
/// edge cache serves it: `(playlistUrl, segmentsSha256Url)` under our own base.
pub fn urls(app: &App, uuid: &str, remote_data: &Value) -> Option<(String, String)> {
    if !app.edge.enabled() {
        return None;
    }
    let o = origin_of(remote_data)?;
    let base = format!("{}/static/edge/hls/{uuid}/", app.public.base());
    Some((format!("{base}{}", o.master), format!("{base}{}", o.hashes)))
}

/// `GET /api/v1/server/edge-cache` (ours, admins): what the edge cache holds and has done since
/// the start, for the admin page.
pub fn stats(app: &App, who: &crate::auth::AuthUser) -> Result<Value> {
    who.require_admin()?;
    let e = &app.edge;
    let s = &e.stats;
    let (used, files) = e.usage();
    let (hits, misses) = (s.hits.load(Relaxed), s.misses.load(Relaxed));
    Ok(serde_json::json!({
        "enabled": e.enabled(),
        "capacityBytes": e.capacity,
        "usedBytes": used,
        "files": files,
        "servedBytes": s.served_bytes.load(Relaxed),
        "originBytes": s.origin_bytes.load(Relaxed),
        "hits": hits,
        "misses": misses,
        "hitRatio": if hits + misses == 0 { Value::Null } else { serde_json::json!(hits as f64 / (hits + misses) as f64) },
        "evictions": s.evictions.load(Relaxed),
        "hashMismatches": s.mismatches.load(Relaxed),
        "originErrors": s.origin_errors.load(Relaxed),
    }))
}

/// The counters in Prometheus' text format.
pub fn prometheus(edge: &EdgeCache) -> String {
    let s = &edge.stats;
    let (used, files) = edge.usage();
    format!(
        "# HELP flotilla_edge_served_bytes_total Body bytes answered from the edge cache's routes.\n\
         # TYPE flotilla_edge_served_bytes_total counter\nflotilla_edge_served_bytes_total {}\n\
         # HELP flotilla_edge_origin_bytes_total Bytes the edge cache fetched from remote videos' servers.\n\
         # TYPE flotilla_edge_origin_bytes_total counter\nflotilla_edge_origin_bytes_total {}\n\
         # HELP flotilla_edge_requests_total Edge-cache requests, answered from what was held (hit) or after a fetch (miss).\n\
         # TYPE flotilla_edge_requests_total counter\n\
         flotilla_edge_requests_total{{result=\"hit\"}} {}\nflotilla_edge_requests_total{{result=\"miss\"}} {}\n\
         # HELP flotilla_edge_evictions_total Files removed to keep the edge cache within its budget.\n\
         # TYPE flotilla_edge_evictions_total counter\nflotilla_edge_evictions_total {}\n\
         # HELP flotilla_edge_hash_mismatches_total Segments from an origin that did not match its published hash (never served).\n\
         # TYPE flotilla_edge_hash_mismatches_total counter\nflotilla_edge_hash_mismatches_total {}\n\
         # HELP flotilla_edge_origin_errors_total Fetches from origins that failed.\n\
         # TYPE flotilla_edge_origin_errors_total counter\nflotilla_edge_origin_errors_total {}\n\
         # HELP flotilla_edge_cache_bytes Bytes the edge cache holds on disk, and its budget.\n\
         # TYPE flotilla_edge_cache_bytes gauge\n\
         flotilla_edge_cache_bytes{{of=\"used\"}} {used}\nflotilla_edge_cache_bytes{{of=\"capacity\"}} {}\n\
         # HELP flotilla_edge_cache_files Files the edge cache holds on disk.\n\
         # TYPE flotilla_edge_cache_files gauge\nflotilla_edge_cache_files {files}\n",
        s.served_bytes.load(Relaxed),
        s.origin_bytes.load(Relaxed),
        s.hits.load(Relaxed),
        s.misses.load(Relaxed),
        s.evictions.load(Relaxed),
        s.mismatches.load(Relaxed),
        s.origin_errors.load(Relaxed),
        edge.capacity,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_plain_names_in_one_directory_go_through_the_cache() {
        let data = json!({
            "playlistUrl": "https://a.example/static/streaming-playlists/hls/u/m-master.m3u8",
            "segmentsSha256Url": "https://a.example/static/streaming-playlists/hls/u/s-segments-sha256.json",
        });
        assert_eq!(
            origin_of(&data),
            Some(Origin {
                base: "https://a.example/static/streaming-playlists/hls/u/".into(),
                master: "m-master.m3u8".into(),
                hashes: "s-segments-sha256.json".into(),
            })
        );
        for (p, s) in [
            ("https://a.example/hls/u/m.m3u8", "https://a.example/other/s.json"),
            ("https://a.example/hls/u/m.m3u8", "https://a.example/hls/u/x/../s.json"),
            ("https://a.example/hls/u/.m3u8", "https://a.example/hls/u/s.json"),
            ("https://a.example/hls/u/m.mp4", "https://a.example/hls/u/s.json"),
            ("https://a.example/hls/u/m.m3u8?x=1", "https://a.example/hls/u/s.json"),
        ] {
            assert_eq!(origin_of(&json!({ "playlistUrl": p, "segmentsSha256Url": s })), None, "{p} {s}");
        }
        assert_eq!(origin_of(&json!({ "playlistUrl": null })), None);
        for bad in ["..", "a/b.mp4", ".hidden.mp4", "a%2Fb.mp4", "", "a\\b.mp4"] {
            assert!(!plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_table_finds_the_piece_that_holds_a_range() {
        let hashes = json!({ "v-720-fragmented.mp4": {
            "1000-1999": "00".repeat(32), "2000-2999": "11".repeat(32), "bad": "22", "5-4": "33".repeat(32),
        }, "../x.mp4": { "0-9": "44".repeat(32) } });
        let playlist = Bytes::from_static(
            b"#EXTM3U\n#EXT-X-MAP:URI=\"v-720-fragmented.mp4\",BYTERANGE=\"1000@0\"\n#EXTINF:4,\n#EXT-X-BYTERANGE:1000@1000\nv-720-fragmented.mp4\n",
        );
        let t = Table::read("s.json", hashes.to_string().as_bytes(), &[("v-720.m3u8".into(), playlist)]).unwrap();
        assert_eq!(t.entries, 3, "two segments and one init section");
        let f = "v-720-fragmented.mp4";
        assert_eq!(t.piece(f, 1000, Some(1999)), Some((1000, 1999, Some([0; 32]))));
        assert_eq!(t.piece(f, 1500, None), Some((1000, 1999, Some([0; 32]))), "a resumed download");
        assert_eq!(t.piece(f, 2000, Some(2999)), Some((2000, 2999, Some([0x11; 32]))));
        assert_eq!(t.piece(f, 0, Some(999)), Some((0, 999, None)), "the init section");
        assert_eq!(t.piece(f, 1500, Some(2500)), None, "across two segments");
        assert_eq!(t.piece(f, 3000, None), None, "past the last one");
        assert_eq!(t.piece("../x.mp4", 0, Some(9)), None);
        assert_eq!(t.piece("other.mp4", 1000, Some(1999)), None);
        assert!(Table::read("s.json", b"[1,2]", &[]).is_err());
    }

    #[test]
    fn masters_name_their_playlists() {
        let m = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"a-audio.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv-240.m3u8\n\n";
        assert_eq!(playlist_uris(m), vec!["a-audio.m3u8", "v-240.m3u8"]);
    }

    #[tokio::test]
    async fn the_disk_budget_evicts_the_least_recently_used_and_a_restart_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let uuid = "4fbbe031-8b81-41f7-b378-f50407b01481";
        let cache = EdgeCache::open(dir.path().to_path_buf(), 3 * MIN_FILE_COST);
        for n in ["a", "b", "c"] {
            cache.write(&PathBuf::from(uuid).join(n), &[b"x"]).await.unwrap();
        }
        cache.touch(&PathBuf::from(uuid).join("a"));
        cache.write(&PathBuf::from(uuid).join("d"), &[b"x"]).await.unwrap();
        assert_eq!(cache.usage(), (3 * MIN_FILE_COST, 3));
        assert!(!dir.path().join(uuid).join("b").exists(), "b was the least recently used");
        assert!(dir.path().join(uuid).join("a").exists());
        assert_eq!(cache.stats.evictions.load(Relaxed), 1);
        std::fs::write(dir.path().join(uuid).join("0123.tmp"), b"half").unwrap();
        let again = EdgeCache::open(dir.path().to_path_buf(), 2 * MIN_FILE_COST);
        assert_eq!(again.usage().1, 2, "rebuilt within the smaller budget");
        assert!(!dir.path().join(uuid).join("0123.tmp").exists(), "half-written files are removed");
        let off = EdgeCache::open(dir.path().to_path_buf(), 0);
        assert!(!off.enabled());
        assert_eq!(off.usage(), (0, 0));
    }
}
