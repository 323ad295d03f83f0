//! Views: `POST /api/v1/videos/:id/views` counts a view once per viewer per video per hour. The
//! viewer is the logged-in user, or else the client address; the memory of who watched what is
//! kept in this process (a restart forgets it, as PeerTube's Redis-less setups do). Likes and
//! dislikes (`rate`) are stored, one per user and video. Who watches now (`viewers`, a live's
//! audience) is every viewer that reported within the last minute ([`Watching`]).

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

const WINDOW: Duration = Duration::from_secs(3600);

/// (video, viewer) pairs remembered at most. The viewer is chosen by the client (any address it
/// can send from), so the memory must be capped, not only aged: past the cap the least recently
/// counted pairs are forgotten, and such a viewer's next view within the hour counts again. About
/// 100 bytes a pair: 10 MB at the cap.
pub const MAX_REMEMBERED: usize = 100_000;

/// Who watched: a logged-in user, or else an address. Fixed size, so an entry's memory does not
/// depend on what the client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Viewer {
    User(i64),
    Ip(IpAddr),
}

pub struct Seen(Mutex<lru::LruCache<(i64, Viewer), Instant>>);

impl Default for Seen {
    fn default() -> Self {
        Seen::new(MAX_REMEMBERED)
    }
}

impl Seen {
    pub fn new(capacity: usize) -> Seen {
        Seen(Mutex::new(lru::LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN))))
    }

    /// True when this viewer has not been counted for this video within the window.
    pub fn first(&self, video: i64, viewer: Viewer) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match m.get(&(video, viewer)) {
            Some(at) if now.duration_since(*at) < WINDOW => false,
            _ => {
                m.put((video, viewer), now);
                true
            }
        }
    }

    /// Pairs remembered now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the cap (the least recently counted pairs go first when it shrinks). Tests use it
    /// to reach the cap with a few thousand requests.
    pub fn set_capacity(&self, capacity: usize) {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        self.0.lock().unwrap_or_else(|p| p.into_inner()).resize(cap);
    }
}

/// How long a viewer counts as watching after its last report (PeerTube's viewer counter).
pub const VIEWER_LIFETIME: Duration = Duration::from_secs(60);
/// Viewers remembered at most, over all videos: the viewer is chosen by the client, so the memory
/// is capped; past it, a new viewer is not counted until stale ones are forgotten.
pub const MAX_WATCHING: usize = 200_000;

/// Who watches what now (`viewers` of the video objects, a live's audience): each report of a
/// viewer (`POST /videos/:id/views`) keeps it counted for [`VIEWER_LIFETIME`].
#[derive(Default)]
pub struct Watching(Mutex<WatchingInner>);

#[derive(Default)]
struct WatchingInner {
    by_video: std::collections::HashMap<i64, std::collections::HashMap<Viewer, Watcher>>,
    total: usize,
}

#[derive(Clone, Copy)]
struct Watcher {
    /// Its last report.
    at: Instant,
    /// When its server was last told (a viewer of another server's video).
    told: Option<Instant>,
}

/// A viewer of another server's video is told to that server again after this long (PeerTube:
/// three quarters of the viewer's lifetime), so that it stays counted there.
pub const TELL_AGAIN_AFTER: Duration = Duration::from_secs(VIEWER_LIFETIME.as_secs() * 3 / 4);

impl WatchingInner {
    fn forget_stale(&mut self, now: Instant) {
        let mut total = 0;
        self.by_video.retain(|_, viewers| {
            viewers.retain(|_, w| now.duration_since(w.at) < VIEWER_LIFETIME);
            total += viewers.len();
            !viewers.is_empty()
        });
        self.total = total;
    }
}

impl Watching {
    /// A viewer reported watching `video` now. Returns whether its video's server (when the video
    /// is another server's) should be told of it now: first seen, or told [`TELL_AGAIN_AFTER`] ago.
    pub fn touch(&self, video: i64, viewer: Viewer) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let known = m.by_video.get(&video).is_some_and(|v| v.contains_key(&viewer));
        if !known && m.total >= MAX_WATCHING {
            m.forget_stale(now);
            if m.total >= MAX_WATCHING {
                return false;
            }
        }
        let w = m.by_video.entry(video).or_default().entry(viewer).or_insert(Watcher { at: now, told: None });
        w.at = now;
        let tell = w.told.is_none_or(|t| now.duration_since(t) >= TELL_AGAIN_AFTER);
        if tell {
            w.told = Some(now);
        }
        if !known {
            m.total += 1;
        }
        tell
    }

    /// The videos someone watches now.
    pub fn videos(&self) -> Vec<i64> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.by_video
            .iter()
            .filter(|(_, v)| v.values().any(|w| now.duration_since(w.at) < VIEWER_LIFETIME))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Viewers of `video` who reported within [`VIEWER_LIFETIME`].
    pub fn count(&self, video: i64) -> usize {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.by_video.get(&video).map_or(0, |v| v.values().filter(|w| now.duration_since(w.at) < VIEWER_LIFETIME).count())
    }

    /// Viewers remembered now (stale ones included until forgotten).
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The furthest in the future a remote viewer's `expires` is taken (PeerTube's are 2 minutes ahead).
pub const MAX_REMOTE_EXPIRY: Duration = Duration::from_secs(300);
/// Remote viewers remembered at most, and at most from one server: the senders choose the ids.
pub const MAX_REMOTE_VIEWERS: usize = 100_000;
pub const MAX_REMOTE_VIEWERS_PER_HOST: usize = 10_000;
/// The largest total a video's origin is believed for.
pub const MAX_REMOTE_TOTAL: u64 = 10_000_000;

/// Viewers other servers tell us of (PeerTube's "viewer" `View`s, which carry `expires`): of our
/// videos, one per viewer of theirs, by the `View`'s id (a viewer told again keeps its entry); of
/// their videos, what their origin says (one entry per viewer, or one total that replaces them,
/// PeerTube's viewers federation v2). Each entry counts until its expiry. Capped overall and per
/// sending server; ids are kept as 64-bit keyed hashes, so an entry's size does not depend on
/// what is sent.
pub struct RemoteViewers {
    inner: Mutex<RemoteInner>,
    hasher: std::hash::RandomState,
}

#[derive(Default)]
struct RemoteInner {
    by_video: std::collections::HashMap<i64, std::collections::HashMap<u64, RemoteViewer>>,
    per_host: std::collections::HashMap<u64, usize>,
    total: usize,
    /// When expired entries were last swept out to make room (at most once a second: a full map
    /// refuses the next reports at once, without a sweep each).
    swept: Option<Instant>,
}

#[derive(Clone, Copy)]
struct RemoteViewer {
    host: u64,
    count: u64,
    expires: Instant,
}

impl Default for RemoteViewers {
    fn default() -> Self {
        RemoteViewers { inner: Mutex::default(), hasher: std::hash::RandomState::new() }
    }
}

impl RemoteInner {
    fn remove_where(&mut self, mut gone: impl FnMut(i64, &RemoteViewer) -> bool) {
        let (per_host, total) = (&mut self.per_host, &mut self.total);
        self.by_video.retain(|video, viewers| {
            viewers.retain(|_, v| {
                if !gone(*video, v) {
                    return true;
                }
                *total -= 1;
                if let Some(n) = per_host.get_mut(&v.host) {
                    *n -= 1;
                    if *n == 0 {
                        per_host.remove(&v.host);
                    }
                }
                false
            });
            !viewers.is_empty()
        });
    }
}

impl RemoteViewers {
    /// `host` says `count` viewers (1 for a viewer, or its origin's total when `replace`) watch
    /// `video` until `expires`; the `View`'s `id` names the entry. Returns whether it was kept
    /// (not when full).
    pub fn report(&self, video: i64, host: &str, id: &str, count: u64, expires: Instant, replace: bool) -> bool {
        use std::hash::BuildHasher;
        let now = Instant::now();
        let expires = expires.min(now + MAX_REMOTE_EXPIRY);
        if expires <= now {
            return false;
        }
        let host = self.hasher.hash_one(host);
        let key = self.hasher.hash_one(id);
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if replace {
            m.remove_where(|v, _| v == video);
        }
        let entry = RemoteViewer { host, count: count.min(MAX_REMOTE_TOTAL), expires };
        if let Some(old) = m.by_video.get_mut(&video).and_then(|v| v.get_mut(&key)) {
            if old.host == host {
                *old = entry;
                return true;
            }
            return false;
        }
        let full = |m: &RemoteInner| {
            m.total >= MAX_REMOTE_VIEWERS || m.per_host.get(&host).copied().unwrap_or(0) >= MAX_REMOTE_VIEWERS_PER_HOST
        };
        if full(&m) {
            if m.swept.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
                return false;
            }
            m.swept = Some(now);
            m.remove_where(|_, v| v.expires <= now);
            if full(&m) {
                return false;
            }
        }
        m.by_video.entry(video).or_default().insert(key, entry);
        *m.per_host.entry(host).or_default() += 1;
        m.total += 1;
        true
    }

    /// Viewers of `video` other servers told of, not expired.
    pub fn count(&self, video: i64) -> u64 {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.by_video.get(&video).map_or(0, |v| v.values().filter(|r| r.expires > now).map(|r| r.count).sum())
    }

    /// The videos other servers told of viewers of, not expired.
    pub fn videos(&self) -> Vec<i64> {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.by_video.iter().filter(|(_, v)| v.values().any(|r| r.expires > now)).map(|(id, _)| *id).collect()
    }

    /// Entries remembered now (expired ones included until forgotten).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A video's `viewers`: who watches it now here, and elsewhere as other servers say. For our
/// videos the two add up; for another server's, its origin's count already holds ours (we tell
/// it), so the larger of the two.
pub fn viewers(app: &App, v: &flotilla_db::videos::Video) -> u64 {
    let here = app.watching.count(v.id) as u64;
    let elsewhere = app.remote_viewers.count(v.id);
    if v.is_local() { here + elsewhere } else { here.max(elsewhere) }
}

/// The key naming a viewer of this instance to other servers: a keyed hash, so that neither
/// its address nor its user id leaves the instance.
pub fn viewer_key(app: &App, viewer: Viewer) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(&app.file_token_key);
    h.update(b"viewer:");
    match viewer {
        Viewer::User(id) => h.update(format!("user:{id}")),
        Viewer::Ip(ip) => h.update(format!("ip:{ip}")),
    }
    hex::encode(&h.finalize()[..16])
}

/// Records a view; returns whether it counted.
pub async fn add(
    app: &App,
    who: Option<&AuthUser>,
    attempt: &crate::video::passwords::Attempt,
    key: &str,
    current_time: Option<f64>,
) -> Result<bool> {
    match current_time {
        Some(t) if t.is_finite() && t >= 0.0 => {}
        _ => return Err(Error::invalid("currentTime", "currentTime (seconds watched, 0 or more) is required")),
    }
    let ip = attempt.client;
    let v = crate::video::open(app, who, key, attempt).await?;
    if let (Some(w), Some(t)) = (who, current_time) {
        crate::history::record(app, w, &v, t).await?;
    }
    let viewer = match who {
        Some(w) => Viewer::User(w.user.id),
        None => Viewer::Ip(ip),
    };
    // Watching now, whether or not this view counts again; a viewer of another server's video
    // is told to that server (PeerTube's viewer `View`), again before it expires there.
    if app.watching.touch(v.id, viewer) && !v.is_local() {
        let mut tx = app.db.begin().await?;
        let event = crate::events::Event::RemoteViewer { video_id: v.id, viewer: viewer_key(app, viewer) };
        crate::events::record(&mut tx, event).await?;
        tx.commit().await?;
        app.wake_jobs();
    }
    if !app.views_seen.first(v.id, viewer) {
        return Ok(false);
    }
    // Counted here (its total and its day's, for "trending"); a remote video's view is also
    // kept for its server, told in batches (`send-views`); followers of ours get new totals in
    // batches too (`video-counts`).
    let now = flotilla_domain::time::now_ms();
    let due = now + app.config.federation.views_batch_secs as i64 * 1000;
    let mut tx = app.db.begin().await?;
    flotilla_db::videos::add_views(&mut tx, v.id, 1, now, !v.is_local()).await?;
    let job = if v.is_local() {
        crate::jobs::Job::VideoCounts { video_id: v.id }
    } else {
        crate::jobs::Job::SendViews { video_id: v.id }
    };
    crate::jobs::enqueue_at(&mut tx, &job, due).await?;
    tx.commit().await?;
    Ok(true)
}

/// Days of daily view counts kept for the "trending" and "hot" sorts.
pub const TRENDING_DAYS: i64 = 7;

/// Forgets the daily view counts older than [`TRENDING_DAYS`] (hourly housekeeping).
pub async fn prune(app: &App, now: i64) -> Result<u64> {
    let today = now.div_euclid(86_400_000);
    let mut tx = app.db.begin().await?;
    let n = flotilla_db::videos::prune_daily_views(&mut tx, today - (TRENDING_DAYS - 1)).await?;
    tx.commit().await?;
    Ok(n)
}

/// `PUT /api/v1/videos/:id/rate`: `like`, `dislike` or `none`, by a user who can see the video.
pub async fn rate(
    app: &App,
    who: &AuthUser,
    key: &str,
    rating: Option<&str>,
    attempt: &crate::video::passwords::Attempt,
) -> Result<()> {
    let rating = match rating {
        Some("like") => Some("like"),
        Some("dislike") => Some("dislike"),
        Some("none") => None,
        _ => return Err(Error::invalid("rating", "rating must be like, dislike or none")),
    };
    let v = crate::video::open(app, Some(who), key, attempt).await?;
    let now = flotilla_domain::time::now_ms();
    let mut tx = app.db.begin().await?;
    if let Some(old) = flotilla_db::rates::set(&mut tx, who.user.id, v.id, rating, now).await? {
        let event = crate::events::Event::VideoRated {
            user_id: who.user.id,
            video_id: v.id,
            old,
            new: rating.map(|r| (r.to_string(), now)),
        };
        crate::events::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `GET /api/v1/users/me/videos/:id/rating`
pub async fn my_rating(app: &App, who: &AuthUser, key: &str) -> Result<serde_json::Value> {
    let v = flotilla_db::videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !crate::video::can_see(app, Some(who), &v).await? {
        return Err(Error::not_found("video"));
    }
    let rating = flotilla_db::rates::get(&app.db, who.user.id, v.id).await?;
    Ok(serde_json::json!({ "videoId": v.id, "rating": rating.as_deref().unwrap_or("none") }))
}

#[cfg(test)]
mod tests {

    #[test]
    fn viewers_count_once_each_and_the_memory_is_capped() {
        let w = super::Watching::default();
        let ip = |n: u32| super::Viewer::Ip(std::net::IpAddr::from(n.to_be_bytes()));
        w.touch(1, ip(1));
        w.touch(1, ip(1));
        w.touch(1, super::Viewer::User(7));
        w.touch(2, ip(1));
        assert_eq!((w.count(1), w.count(2), w.count(3)), (2, 1, 0));
        for n in 0..(super::MAX_WATCHING as u32 + 1000) {
            w.touch(3, ip(n + 10));
        }
        assert_eq!(w.len(), super::MAX_WATCHING, "capped");
        assert_eq!(w.count(1), 2, "those counted stay counted");
    }

    use super::*;

    #[test]
    fn remote_viewers_are_capped_per_server_and_overall_and_expire() {
        let r = RemoteViewers::default();
        let soon = Instant::now() + Duration::from_secs(60);
        // One server cannot take more than its share, whatever ids it makes up.
        for n in 0..(MAX_REMOTE_VIEWERS_PER_HOST + 500) {
            r.report(1, "a.example", &format!("https://a.example/v/{n}"), 1, soon, false);
        }
        assert_eq!(r.count(1), MAX_REMOTE_VIEWERS_PER_HOST as u64);
        // The same id again extends its viewer; another server cannot take it over.
        assert!(r.report(1, "a.example", "https://a.example/v/0", 1, soon, false));
        assert!(!r.report(1, "b.example", "https://a.example/v/0", 1, soon, false));
        assert_eq!(r.count(1), MAX_REMOTE_VIEWERS_PER_HOST as u64);
        // Overall: many servers fill it to its cap, no further.
        for h in 0..(MAX_REMOTE_VIEWERS / MAX_REMOTE_VIEWERS_PER_HOST + 2) {
            for n in 0..MAX_REMOTE_VIEWERS_PER_HOST {
                r.report(2, &format!("h{h}.example"), &format!("{h}/{n}"), 1, soon, false);
            }
        }
        assert_eq!(r.len(), MAX_REMOTE_VIEWERS);
        // A total replaces a video's viewers, and is capped.
        assert!(r.report(1, "a.example", "total", u64::MAX, soon, true));
        assert_eq!(r.count(1), MAX_REMOTE_TOTAL);
        // Already expired: not counted.
        assert!(!r.report(3, "c.example", "x", 1, Instant::now(), false));
        assert_eq!(r.count(3), 0);
    }

    #[test]
    fn a_million_distinct_viewers_keep_the_memory_at_its_cap_and_recent_ones_are_remembered() {
        let seen = Seen::default();
        let viewer = |n: u32| Viewer::Ip(IpAddr::from(n.to_be_bytes()));
        for n in 0..1_000_000u32 {
            assert!(seen.first(7, viewer(n)), "a new viewer counts");
        }
        assert_eq!(seen.len(), MAX_REMEMBERED);
        // The most recent viewers are still known: their second view within the hour does not count.
        for n in (1_000_000 - 1000)..1_000_000u32 {
            assert!(!seen.first(7, viewer(n)), "viewer {n} was counted a moment ago");
        }
        assert!(!seen.first(7, viewer(1_000_000 - MAX_REMEMBERED as u32)), "the oldest one still kept");
        // The oldest were forgotten to make room, and count again.
        assert!(seen.first(7, viewer(0)));
        assert_eq!(seen.len(), MAX_REMEMBERED);
        // A user and an address are different viewers; so are two videos.
        assert!(seen.first(7, Viewer::User(1)));
        assert!(seen.first(8, Viewer::User(1)));
        assert!(!seen.first(8, Viewer::User(1)));
    }
}
