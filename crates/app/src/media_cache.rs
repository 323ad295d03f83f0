//! What makes serving media cheap: a memory cache of small files and hot byte ranges (playlists,
//! segment hashes, init sections, segments that many viewers fetch), bounded in bytes and evicted
//! least-recently-used first; and a short-lived cache of which videos' files anyone may fetch, so a
//! segment request does not cost a database query.
//!
//! Media files have random names that change whenever their content does, so cached bytes never go
//! stale by being rewritten; entries are dropped when a video's files are removed or replaced
//! (`invalidate_dir`) and access entries when its privacy or state changes (`invalidate_access`).
//!
//! Also the other small memories keyed by what clients send — list totals and deep-page bookmarks
//! by filter, key refetches by actor — each an LRU with a fixed number of entries, so no request
//! pattern grows them without bound.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;

/// A cached piece of a file, with what the response headers need.
#[derive(Clone)]
pub struct Cached {
    pub bytes: Bytes,
    /// Length of the whole file.
    pub file_len: u64,
    pub etag: String,
}

type Key = (PathBuf, u64, u64);

struct Inner {
    /// The pieces, least recently used first out.
    map: LruCache<Key, Cached>,
    /// What the pieces cost, as [`cost`] counts it.
    size: usize,
}

pub struct MediaCache {
    capacity: usize,
    /// Pieces larger than this are streamed from disk instead (the OS page cache still helps).
    pub max_entry: usize,
    inner: Mutex<Inner>,
    access: Mutex<LruCache<String, (bool, Instant)>>,
}

/// How long "anyone may fetch this video's files" is trusted without asking the database. Privacy
/// changes invalidate it at once; this bounds anything missed (another process sharing the database).
const ACCESS_TTL: Duration = Duration::from_secs(10);

/// Videos whose access is remembered at most. Only stored videos get an entry, so this is a
/// backstop; the busiest ones stay.
pub const MAX_ACCESS: usize = 50_000;

/// What an entry costs besides its bytes, its path and its ETag: the key's numbers, the `Cached`
/// fields, the LRU's links and hash slot, the allocations' headers (rounded up). A client picks
/// the ranges it asks for, so a piece may be one byte: counting only the bytes would let a
/// million one-byte ranges hold far more memory than the capacity.
const ENTRY_OVERHEAD: usize = 192;

fn cost(key: &Key, value: &Cached) -> usize {
    value.bytes.len() + key.0.as_os_str().len() + value.etag.len() + ENTRY_OVERHEAD
}

impl MediaCache {
    pub fn new(capacity: usize) -> Self {
        MediaCache {
            capacity,
            max_entry: (capacity / 16).clamp(64 * 1024, 4 * 1024 * 1024),
            inner: Mutex::new(Inner { map: LruCache::unbounded(), size: 0 }),
            access: Mutex::new(LruCache::new(NonZeroUsize::new(MAX_ACCESS).expect("> 0"))),
        }
    }

    pub fn get(&self, path: &Path, start: u64, len: u64) -> Option<Cached> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.map.get(&(path.to_path_buf(), start, len)).cloned()
    }

    pub fn put(&self, path: &Path, start: u64, len: u64, value: Cached) {
        if self.capacity == 0 || value.bytes.len() > self.max_entry {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (path.to_path_buf(), start, len);
        if inner.map.contains(&key) {
            return;
        }
        inner.size += cost(&key, &value);
        inner.map.put(key, value);
        while inner.size > self.capacity {
            let Some((k, v)) = inner.map.pop_lru() else { break };
            inner.size -= cost(&k, &v);
        }
    }

    /// Drops every cached piece of the files under `dir`.
    pub fn invalidate_dir(&self, dir: &Path) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<Key> = inner.map.iter().map(|(k, _)| k).filter(|k| k.0.starts_with(dir)).cloned().collect();
        for k in gone {
            if let Some(v) = inner.map.pop(&k) {
                inner.size -= cost(&k, &v);
            }
        }
    }

    /// Memory held now, in bytes as [`cost`] counts it (never above the capacity).
    pub fn size(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).size
    }

    /// Pieces held now.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Some(true)`: anyone may fetch the files of `uuid`, known recently; `None`: ask the database.
    pub fn public_access(&self, uuid: &str) -> Option<bool> {
        let mut m = self.access.lock().unwrap_or_else(|p| p.into_inner());
        m.get(uuid).filter(|(_, at)| at.elapsed() < ACCESS_TTL).map(|(public, _)| *public)
    }

    pub fn remember_access(&self, uuid: &str, public: bool) {
        let mut m = self.access.lock().unwrap_or_else(|p| p.into_inner());
        m.put(uuid.to_string(), (public, Instant::now()));
    }

    pub fn invalidate_access(&self, uuid: &str) {
        self.access.lock().unwrap_or_else(|p| p.into_inner()).pop(uuid);
    }

    /// Forgets every access decision (changes may have been missed: `changes::listen`).
    pub fn invalidate_all_access(&self) {
        self.access.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Videos whose access is remembered now.
    pub fn access_len(&self) -> usize {
        self.access.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// What a video list costs to find out and may be trusted for a few seconds: its total by filter
/// ([`ListTotals`]), and where its deep pages start ([`ListBookmarks`]). The filter comes from the
/// query string (categories, languages, tags, search words…), so the remembered filters are capped
/// ([`MAX_TOTALS`], least recently used out) and an over-long one is not remembered at all.
pub struct Remembered<V: Copy>(Mutex<LruCache<String, Entry<V>>>);

/// Totals of video lists by filter.
pub type ListTotals = Remembered<i64>;
/// The sort value and id of the row at a deep offset of a list (`db::videos::Bookmark`), by
/// filter, order and offset: a deep page seeks there instead of walking 50,000 index entries.
pub type ListBookmarks = Remembered<(i64, i64)>;

impl<V: Copy> Default for Remembered<V> {
    fn default() -> Self {
        Remembered(Mutex::new(LruCache::new(NonZeroUsize::new(MAX_TOTALS).expect("> 0"))))
    }
}

struct Entry<V> {
    value: V,
    at: Instant,
    /// When a caller took on finding it again (the others keep the old value meanwhile).
    recounting: Option<Instant>,
}

/// A value is fresh this long.
const TOTALS_TTL: Duration = Duration::from_secs(5);
/// A stale value is still answered (while one caller finds it again) up to this age; older, the
/// caller finds it itself.
const TOTALS_MAX_AGE: Duration = Duration::from_secs(60);
/// Filters remembered at most: the lists people actually browse are a few dozen.
pub const MAX_TOTALS: usize = 1000;
/// A filter written longer than this (hundreds of tags) is counted every time, never remembered,
/// so the memory stays under `MAX_TOTALS` × this.
pub const MAX_TOTALS_KEY: usize = 1024;

impl<V: Copy> Remembered<V> {
    /// The value to answer with, and whether this caller should find it again and [`put`] it.
    /// When a value goes stale only one caller finds it again; the others answer the old one
    /// meanwhile, so a burst of page views never counts 100,000 rows twenty times at once.
    ///
    /// [`put`]: Remembered::put
    pub fn lookup(&self, key: &str) -> (Option<V>, bool) {
        if key.len() > MAX_TOTALS_KEY {
            return (None, false);
        }
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(key) {
            Some(t) if t.at.elapsed() < TOTALS_TTL => (Some(t.value), false),
            Some(t) if t.at.elapsed() < TOTALS_MAX_AGE => {
                if t.recounting.is_some_and(|r| r.elapsed() < TOTALS_TTL) {
                    (Some(t.value), false)
                } else {
                    t.recounting = Some(Instant::now());
                    (Some(t.value), true)
                }
            }
            _ => (None, true),
        }
    }

    pub fn put(&self, key: String, value: V) {
        if key.len() > MAX_TOTALS_KEY {
            return;
        }
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.put(key, Entry { value, at: Instant::now(), recounting: None });
    }

    /// Filters remembered now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// When each remote actor's key was last fetched again after a failed signature: at most once per
/// window, so forged requests cannot turn us into a fetch amplifier. Capped at [`MAX_REFETCHES`]
/// actors, least recently refetched out: forgetting one only allows its next refetch early.
pub struct RefetchLimiter(Mutex<LruCache<String, Instant>>);

impl Default for RefetchLimiter {
    fn default() -> Self {
        RefetchLimiter(Mutex::new(LruCache::new(NonZeroUsize::new(MAX_REFETCHES).expect("> 0"))))
    }
}

const REFETCH_WINDOW: Duration = Duration::from_secs(30);
/// Actors whose last refetch is remembered at most.
pub const MAX_REFETCHES: usize = 10_000;

impl RefetchLimiter {
    pub fn allow(&self, actor: &str) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(actor) {
            Some(at) if at.elapsed() < REFETCH_WINDOW => false,
            _ => {
                m.put(actor.to_string(), Instant::now());
                true
            }
        }
    }

    /// Actors remembered now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_total_is_recounted_by_one_caller_while_the_others_answer_it() {
        let totals = ListTotals::default();
        assert_eq!(totals.lookup("k"), (None, true), "unknown: count");
        totals.put("k".into(), 7);
        assert_eq!(totals.lookup("k"), (Some(7), false), "fresh");
        totals.0.lock().unwrap().get_mut("k").unwrap().at -= TOTALS_TTL;
        assert_eq!(totals.lookup("k"), (Some(7), true), "stale: this caller counts again");
        assert_eq!(totals.lookup("k"), (Some(7), false), "the next ones answer the old total");
        totals.put("k".into(), 8);
        assert_eq!(totals.lookup("k"), (Some(8), false));
        totals.0.lock().unwrap().get_mut("k").unwrap().at -= TOTALS_MAX_AGE;
        assert_eq!(totals.lookup("k"), (None, true), "too old to answer");
    }

    fn piece(n: usize) -> Cached {
        Cached { bytes: Bytes::from(vec![1u8; n]), file_len: n as u64, etag: "\"e\"".into() }
    }

    #[test]
    fn the_least_recently_used_piece_goes_first_and_the_size_stays_bounded() {
        let mut c = MediaCache::new(1_100_000);
        c.max_entry = 1_000_000;
        let (a, b) = (Path::new("/d/a"), Path::new("/d/b"));
        c.put(a, 0, 10, piece(600_000));
        c.put(b, 0, 10, piece(400_000));
        assert!(c.get(a, 0, 10).is_some());
        c.put(Path::new("/e/c"), 0, 10, piece(300_000));
        assert!(c.get(b, 0, 10).is_none(), "b was the least recently used");
        assert!(c.get(a, 0, 10).is_some());
        assert!(c.size() <= 1_100_000);
        c.put(Path::new("/e/d"), 0, 10, piece(1_000_001));
        assert!(c.get(Path::new("/e/d"), 0, 10).is_none(), "pieces over max_entry are not kept");
        c.invalidate_dir(Path::new("/d"));
        assert!(c.get(a, 0, 10).is_none());
        assert!(c.get(Path::new("/e/c"), 0, 10).is_some());
    }

    #[test]
    fn access_is_remembered_until_invalidated() {
        let c = MediaCache::new(0);
        assert_eq!(c.public_access("u"), None);
        c.remember_access("u", true);
        assert_eq!(c.public_access("u"), Some(true));
        c.invalidate_access("u");
        assert_eq!(c.public_access("u"), None);
    }

    // A million distinct keys in each memory keyed by what clients send: the count stays at its
    // cap, and the most recent keys are still there (the structure still does its job).

    #[test]
    fn a_million_one_byte_ranges_keep_the_piece_cache_within_its_capacity() {
        let capacity = 4 * 1024 * 1024;
        let c = MediaCache::new(capacity);
        let path = Path::new("/data/streaming-playlists/hls/0f3c/0f3c-720-fragmented.mp4");
        for n in 0..1_000_000u64 {
            c.put(path, n, n, piece(1));
            if n % 10_000 == 0 {
                assert!(c.size() <= capacity);
            }
        }
        assert!(c.size() <= capacity);
        let per_piece = 1 + path.as_os_str().len() + "\"e\"".len() + ENTRY_OVERHEAD;
        assert_eq!(c.len(), capacity / per_piece, "as many pieces as their full cost allows");
        for n in (1_000_000 - 100)..1_000_000u64 {
            assert!(c.get(path, n, n).is_some(), "recent range {n} is kept");
        }
        assert!(c.get(path, 0, 0).is_none(), "the oldest went first");
    }

    #[test]
    fn a_million_videos_keep_the_access_memory_at_its_cap() {
        let c = MediaCache::new(0);
        for n in 0..1_000_000 {
            c.remember_access(&format!("video-{n}"), true);
        }
        assert_eq!(c.access_len(), MAX_ACCESS);
        assert_eq!(c.public_access("video-999999"), Some(true));
        assert_eq!(c.public_access(&format!("video-{}", 1_000_000 - MAX_ACCESS)), Some(true));
        assert_eq!(c.public_access("video-0"), None, "forgotten: the database is asked again");
    }

    #[test]
    fn a_million_list_filters_keep_the_totals_at_their_cap() {
        let totals = ListTotals::default();
        for n in 0..1_000_000 {
            totals.put(format!("VideoFilter {{ tags_one_of: [\"t{n}\"] }}"), n);
        }
        assert_eq!(totals.len(), MAX_TOTALS);
        assert_eq!(totals.lookup("VideoFilter { tags_one_of: [\"t999999\"] }"), (Some(999_999), false));
        assert_eq!(totals.lookup("VideoFilter { tags_one_of: [\"t0\"] }"), (None, true), "forgotten: count");
        // A filter too long to remember is counted by each caller and never stored.
        let long = "x".repeat(MAX_TOTALS_KEY + 1);
        assert_eq!(totals.lookup(&long), (None, false));
        totals.put(long.clone(), 5);
        assert_eq!(totals.lookup(&long), (None, false));
        assert_eq!(totals.len(), MAX_TOTALS);
    }

    #[test]
    fn a_million_actors_keep_the_refetch_limiter_at_its_cap() {
        let limiter = RefetchLimiter::default();
        for n in 0..1_000_000 {
            assert!(limiter.allow(&format!("https://h{n}.example/actor")));
        }
        assert_eq!(limiter.len(), MAX_REFETCHES);
        assert!(!limiter.allow("https://h999999.example/actor"), "refetched a moment ago: not again");
        assert!(limiter.allow("https://h0.example/actor"), "forgotten: may be refetched");
        assert_eq!(limiter.len(), MAX_REFETCHES);
    }
}
