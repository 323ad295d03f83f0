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
    by_video: std::collections::HashMap<i64, std::collections::HashMap<Viewer, Instant>>,
    total: usize,
}

impl WatchingInner {
    fn forget_stale(&mut self, now: Instant) {
        let mut total = 0;
        self.by_video.retain(|_, viewers| {
            viewers.retain(|_, at| now.duration_since(*at) < VIEWER_LIFETIME);
            total += viewers.len();
            !viewers.is_empty()
        });
        self.total = total;
    }
}

impl Watching {
    /// A viewer reported watching `video` now.
    pub fn touch(&self, video: i64, viewer: Viewer) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let known = m.by_video.get(&video).is_some_and(|v| v.contains_key(&viewer));
        if !known && m.total >= MAX_WATCHING {
            m.forget_stale(now);
            if m.total >= MAX_WATCHING {
                return;
            }
        }
        if m.by_video.entry(video).or_default().insert(viewer, now).is_none() {
            m.total += 1;
        }
    }

    /// Viewers of `video` who reported within [`VIEWER_LIFETIME`].
    pub fn count(&self, video: i64) -> usize {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.by_video.get(&video).map_or(0, |v| v.values().filter(|at| now.duration_since(**at) < VIEWER_LIFETIME).count())
    }

    /// Viewers remembered now (stale ones included until forgotten).
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
    // Watching now, whether or not this view counts again.
    app.watching.touch(v.id, viewer);
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
    Ok(flotilla_db::videos::prune_daily_views(&app.db, today - (TRENDING_DAYS - 1)).await?)
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
