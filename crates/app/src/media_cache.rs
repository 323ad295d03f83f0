//! What makes serving media cheap: a memory cache of small files and hot byte ranges (playlists,
//! segment hashes, init sections, segments that many viewers fetch), bounded in bytes and evicted
//! least-recently-used first; and a short-lived cache of which videos' files anyone may fetch, so a
//! segment request does not cost a database query.
//!
//! Media files have random names that change whenever their content does, so cached bytes never go
//! stale by being rewritten; entries are dropped when a video's files are removed or replaced
//! (`invalidate_dir`) and access entries when its privacy or state changes (`invalidate_access`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

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
    /// Each piece with the tick of its last use.
    map: HashMap<Key, (Cached, u64)>,
    tick: u64,
    size: usize,
}

pub struct MediaCache {
    capacity: usize,
    /// Pieces larger than this are streamed from disk instead (the OS page cache still helps).
    pub max_entry: usize,
    inner: Mutex<Inner>,
    access: Mutex<HashMap<String, (bool, Instant)>>,
}

/// How long "anyone may fetch this video's files" is trusted without asking the database. Privacy
/// changes invalidate it at once; this bounds anything missed (another process sharing the database).
const ACCESS_TTL: Duration = Duration::from_secs(10);

impl MediaCache {
    pub fn new(capacity: usize) -> Self {
        MediaCache {
            capacity,
            max_entry: (capacity / 16).clamp(64 * 1024, 4 * 1024 * 1024),
            inner: Mutex::new(Inner { map: HashMap::new(), tick: 0, size: 0 }),
            access: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, path: &Path, start: u64, len: u64) -> Option<Cached> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.map.get_mut(&(path.to_path_buf(), start, len))?;
        entry.1 = tick;
        Some(entry.0.clone())
    }

    pub fn put(&self, path: &Path, start: u64, len: u64, value: Cached) {
        if self.capacity == 0 || value.bytes.len() > self.max_entry {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (path.to_path_buf(), start, len);
        if inner.map.contains_key(&key) {
            return;
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.size += value.bytes.len();
        inner.map.insert(key, (value, tick));
        // Evicting scans for the least recently used piece: rare (only when full) and over pieces
        // of at least a few hundred bytes, so the map stays modest.
        while inner.size > self.capacity {
            let Some(old) = inner.map.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| k.clone()) else { break };
            if let Some((v, _)) = inner.map.remove(&old) {
                inner.size -= v.bytes.len();
            }
        }
    }

    /// Drops every cached piece of the files under `dir`.
    pub fn invalidate_dir(&self, dir: &Path) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<Key> = inner.map.keys().filter(|k| k.0.starts_with(dir)).cloned().collect();
        for k in gone {
            if let Some((v, _)) = inner.map.remove(&k) {
                inner.size -= v.bytes.len();
            }
        }
    }

    /// Bytes held now.
    pub fn size(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).size
    }

    /// `Some(true)`: anyone may fetch the files of `uuid`, known recently; `None`: ask the database.
    pub fn public_access(&self, uuid: &str) -> Option<bool> {
        let m = self.access.lock().unwrap_or_else(|p| p.into_inner());
        m.get(uuid).filter(|(_, at)| at.elapsed() < ACCESS_TTL).map(|(public, _)| *public)
    }

    pub fn remember_access(&self, uuid: &str, public: bool) {
        let mut m = self.access.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 50_000 {
            m.retain(|_, (_, at)| at.elapsed() < ACCESS_TTL);
        }
        m.insert(uuid.to_string(), (public, Instant::now()));
    }

    pub fn invalidate_access(&self, uuid: &str) {
        self.access.lock().unwrap_or_else(|p| p.into_inner()).remove(uuid);
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
}

/// Totals of video lists by filter, trusted for a few seconds.
#[derive(Default)]
pub struct ListTotals(Mutex<HashMap<String, Total>>);

struct Total {
    n: i64,
    at: Instant,
    /// When a caller took on counting again (the others keep the old total meanwhile).
    recounting: Option<Instant>,
}

/// A total is fresh this long.
const TOTALS_TTL: Duration = Duration::from_secs(5);
/// A stale total is still answered (while one caller counts again) up to this age; older, the
/// caller counts itself.
const TOTALS_MAX_AGE: Duration = Duration::from_secs(60);

impl ListTotals {
    /// The total to answer with, and whether this caller should count again and [`put`] it. When a
    /// total goes stale only one caller counts; the others answer the old total meanwhile, so a
    /// burst of page views never counts 100,000 rows twenty times at once.
    ///
    /// [`put`]: ListTotals::put
    pub fn lookup(&self, key: &str) -> (Option<i64>, bool) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(key) {
            Some(t) if t.at.elapsed() < TOTALS_TTL => (Some(t.n), false),
            Some(t) if t.at.elapsed() < TOTALS_MAX_AGE => {
                if t.recounting.is_some_and(|r| r.elapsed() < TOTALS_TTL) {
                    (Some(t.n), false)
                } else {
                    t.recounting = Some(Instant::now());
                    (Some(t.n), true)
                }
            }
            _ => (None, true),
        }
    }

    pub fn put(&self, key: String, total: i64) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 1000 {
            m.retain(|_, t| t.at.elapsed() < TOTALS_MAX_AGE);
        }
        m.insert(key, Total { n: total, at: Instant::now(), recounting: None });
    }
}

/// When each remote actor's key was last fetched again after a failed signature: at most once per
/// window, so forged requests cannot turn us into a fetch amplifier.
#[derive(Default)]
pub struct RefetchLimiter(Mutex<HashMap<String, Instant>>);

const REFETCH_WINDOW: Duration = Duration::from_secs(30);

impl RefetchLimiter {
    pub fn allow(&self, actor: &str) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 10_000 {
            m.retain(|_, at| at.elapsed() < REFETCH_WINDOW);
        }
        match m.get(actor) {
            Some(at) if at.elapsed() < REFETCH_WINDOW => false,
            _ => {
                m.insert(actor.to_string(), Instant::now());
                true
            }
        }
    }
}
