//! Watch history and resume (PeerTube's user history): where a logged-in user stopped in each
//! video, recorded from the player's view reports (`POST /videos/{id}/views` with `currentTime`)
//! while their `videosHistoryEnabled` is on; shown as `userHistory.currentTime` in video answers
//! (the player resumes there) and listed at `/users/me/history/videos`.

use flotilla_db::{history, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

/// Records `who`'s position in `v` (seconds), unless they paused their history.
pub async fn record(app: &App, who: &AuthUser, v: &videos::Video, current_time: f64) -> Result<()> {
    if !who.user.videos_history_enabled {
        return Ok(());
    }
    // A position past the end is the end (a hostile client cannot store nonsense).
    let t = (current_time.floor() as i64).clamp(0, v.duration.max(0));
    history::record(&app.db, who.user.id, v.id, t, now_ms()).await?;
    Ok(())
}

/// `who`'s stored positions for `list`, in its order (`None`: not watched, or nobody logged in).
pub async fn positions_of(app: &App, who: Option<&AuthUser>, list: &[videos::Video]) -> Result<Vec<Option<i64>>> {
    let Some(w) = who else { return Ok(vec![None; list.len()]) };
    let ids: Vec<i64> = list.iter().map(|v| v.id).collect();
    let rows = history::positions(&app.db, w.user.id, &ids).await?;
    Ok(list.iter().map(|v| rows.iter().find(|(id, _)| *id == v.id).map(|(_, t)| *t)).collect())
}

/// Adds `userHistory` to the API objects of `list` (same order) for `who`.
pub async fn annotate(app: &App, who: Option<&AuthUser>, list: &[videos::Video], out: &mut [Value]) -> Result<()> {
    if who.is_none() {
        return Ok(());
    }
    for (o, t) in out.iter_mut().zip(positions_of(app, who, list).await?) {
        if let Some(t) = t {
            o["userHistory"] = json!({ "currentTime": t });
        }
    }
    Ok(())
}

/// `GET /users/me/history/videos`: the videos watched, most recent first, each with its
/// position; videos the user may no longer see are left out.
pub async fn list(
    app: &App,
    who: &AuthUser,
    search: Option<&str>,
    start: Option<i64>,
    count: Option<i64>,
) -> Result<Value> {
    let page = crate::page(start, count);
    let (ids, total) = history::list(&app.db, who.user.id, search, page.start, page.count).await?;
    let found = videos::get_many(&app.db, &ids).await?;
    let mut shown = Vec::new();
    for id in ids {
        if let Some(v) = found.iter().find(|v| v.id == id)
            && crate::video::can_see(app, Some(who), v).await?
        {
            shown.push(v.clone());
        }
    }
    let mut data = crate::video::views(app, &shown).await?;
    annotate(app, Some(who), &shown, &mut data).await?;
    Ok(json!({ "total": total, "data": data }))
}

/// `DELETE /users/me/history/videos/{videoId}`.
pub async fn remove(app: &App, who: &AuthUser, video: &str) -> Result<()> {
    let v = videos::get_by_any_id(&app.db, video).await?.ok_or_else(|| Error::not_found("video"))?;
    if !history::remove(&app.db, who.user.id, v.id).await? {
        return Err(Error::not_found("video in your history"));
    }
    Ok(())
}

/// `POST /users/me/history/videos/remove` (`beforeDate`: only what was watched before then).
pub async fn clear(app: &App, who: &AuthUser, before: Option<&str>) -> Result<u64> {
    let before = match before {
        Some(d) => {
            let t = time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Error::invalid("beforeDate", "beforeDate must be an ISO 8601 date"))?;
            Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
        }
        None => None,
    };
    Ok(history::clear(&app.db, who.user.id, before).await?)
}
