//! Views: `POST /api/v1/videos/:id/views` counts a view once per viewer per video per hour. The
//! viewer is the logged-in user, or else the client address; the memory of who watched what is
//! kept in this process (a restart forgets it, as PeerTube's Redis-less setups do). Likes and
//! dislikes (`rate`) are stored, one per user and video.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct Seen(Mutex<HashMap<(i64, String), Instant>>);

impl Seen {
    /// True when this viewer has not been counted for this video within the window.
    fn first(&self, video: i64, viewer: String) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 100_000 {
            m.retain(|_, at| at.elapsed() < WINDOW);
        }
        match m.get(&(video, viewer.clone())) {
            Some(at) if at.elapsed() < WINDOW => false,
            _ => {
                m.insert((video, viewer), Instant::now());
                true
            }
        }
    }
}

/// Records a view; returns whether it counted.
pub async fn add(app: &App, who: Option<&AuthUser>, ip: IpAddr, key: &str, current_time: Option<f64>) -> Result<bool> {
    match current_time {
        Some(t) if t.is_finite() && t >= 0.0 => {}
        _ => return Err(Error::invalid("currentTime", "currentTime (seconds watched, 0 or more) is required")),
    }
    let v = flotilla_db::videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !crate::video::can_see(app, who, &v).await? {
        return Err(Error::not_found("video"));
    }
    let viewer = match who {
        Some(w) => format!("user:{}", w.user.id),
        None => format!("ip:{ip}"),
    };
    if !app.views_seen.first(v.id, viewer) {
        return Ok(false);
    }
    flotilla_db::videos::add_view(&app.db, v.id).await?;
    Ok(true)
}

/// `PUT /api/v1/videos/:id/rate`: `like`, `dislike` or `none`, by a user who can see the video.
pub async fn rate(app: &App, who: &AuthUser, key: &str, rating: Option<&str>) -> Result<()> {
    let rating = match rating {
        Some("like") => Some("like"),
        Some("dislike") => Some("dislike"),
        Some("none") => None,
        _ => return Err(Error::invalid("rating", "rating must be like, dislike or none")),
    };
    let v = flotilla_db::videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !crate::video::can_see(app, Some(who), &v).await? {
        return Err(Error::not_found("video"));
    }
    let mut tx = app.db.begin().await?;
    flotilla_db::rates::set(&mut tx, who.user.id, v.id, rating, flotilla_domain::time::now_ms()).await?;
    tx.commit().await?;
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
