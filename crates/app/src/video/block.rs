//! Video blocks (PeerTube's "blacklist"): moderators hold a video back with a reason. A blocked
//! video leaves every list and search, and its page and files answer only its owner and the
//! moderators; a local one is also withdrawn from the fediverse (its followers are sent `Delete`)
//! unless `unfederate` is `false`; a remote one is hidden here only. Unblocking brings it back (a
//! withdrawn video is sent again as new). Auto-block (`autoBlacklist.videos.ofUsers.enabled` in
//! the custom config) holds each new upload of a user who is not a moderator until a moderator
//! lets it through; it is not federated meanwhile. What a block causes is an event
//! (`VideoBlocked`, `VideoUnblocked`): federation and notifications (the owner hears of it; the
//! moderators hear of a held upload when it is published).

use flotilla_db::video_blocks::{self, VideoBlock};
use flotilla_db::videos;
use flotilla_domain::time::{iso8601, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::events::{self, Event};
use crate::{App, Error, Result};

/// PeerTube's `VideoBlacklistType`.
pub const MANUAL: i64 = 1;
pub const AUTO: i64 = 2;

/// The longest reason (PeerTube's).
pub const MAX_REASON_CHARS: usize = 300;

#[derive(Debug, Default, Deserialize)]
pub struct BlockBody {
    pub reason: Option<String>,
    pub unfederate: Option<bool>,
}

fn check_reason(reason: Option<&str>) -> Result<Option<String>> {
    match reason.map(str::trim) {
        None | Some("") => Ok(None),
        Some(r) => {
            let n = r.chars().count();
            if !(2..=MAX_REASON_CHARS).contains(&n) || r.chars().any(|c| c.is_control() && c != '\n') {
                return Err(Error::invalid("reason", format!("between 2 and {MAX_REASON_CHARS} characters")));
            }
            Ok(Some(r.to_string()))
        }
    }
}

/// A moderator may not hold back an administrator's video (only another administrator may).
async fn check_power(app: &App, who: &AuthUser, v: &videos::Video) -> Result<()> {
    who.require_moderator()?;
    if who.role() == flotilla_domain::Role::Admin {
        return Ok(());
    }
    if let Some(owner) = crate::video::owner_user(app, v).await?
        && let Some(u) = flotilla_db::users::get(&app.db, flotilla_domain::UserId(owner)).await?
        && u.role == flotilla_domain::Role::Admin as i64
    {
        return Err(Error::Forbidden("only an administrator may block an administrator's video".into()));
    }
    Ok(())
}

async fn video(app: &App, key: &str) -> Result<videos::Video> {
    videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))
}

/// `POST /api/v1/videos/:id/blacklist` (`{"reason", "unfederate"}`; a local video is withdrawn
/// from the fediverse unless `unfederate` is `false`).
pub async fn block(app: &App, who: &AuthUser, key: &str, body: BlockBody) -> Result<()> {
    let v = video(app, key).await?;
    check_power(app, who, &v).await?;
    let reason = check_reason(body.reason.as_deref())?;
    let unfederate = v.is_local() && body.unfederate.unwrap_or(true);
    let was_federated = crate::ap::federates(app, &v);
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    if !video_blocks::insert(&mut tx, v.id, reason.as_deref(), unfederate, MANUAL, now).await? {
        return Err(Error::Conflict("this video is already blocked".into()));
    }
    events::record(&mut tx, Event::VideoBlocked { video_id: v.id, was_federated, at: now }).await?;
    // A blocked video's files leave the public bucket.
    crate::storage::privacy_changed(&mut tx, &v, &flotilla_db::videos::Video { blocked: 1, ..v.clone() }).await?;
    tx.commit().await?;
    app.wake_jobs();
    crate::video::forget_files(app, &v.uuid).await;
    // A live streaming now ends (PeerTube's `BLACKLISTED` session error).
    let stop = crate::changes::Change::StopLive { video_id: v.id, error: crate::live::ERROR_BLOCKED };
    crate::changes::tell(app, stop).await;
    tracing::info!(video = %v.uuid, by = %who.user.username, unfederate, "video blocked");
    Ok(())
}

/// `PUT /api/v1/videos/:id/blacklist` (`{"reason"}`).
pub async fn update(app: &App, who: &AuthUser, key: &str, body: BlockBody) -> Result<()> {
    let v = video(app, key).await?;
    check_power(app, who, &v).await?;
    let reason = check_reason(body.reason.as_deref())?;
    if !video_blocks::set_reason(&app.db, v.id, reason.as_deref(), now_ms()).await? {
        return Err(Error::not_found("video block"));
    }
    Ok(())
}

/// `DELETE /api/v1/videos/:id/blacklist`: the video shows again (sent again to followers when it
/// was withdrawn or held).
pub async fn unblock(app: &App, who: &AuthUser, key: &str) -> Result<()> {
    let v = video(app, key).await?;
    check_power(app, who, &v).await?;
    let mut tx = app.db.begin().await?;
    let Some(row) = video_blocks::remove(&mut tx, v.id).await? else {
        return Err(Error::not_found("video block"));
    };
    events::record(
        &mut tx,
        Event::VideoUnblocked {
            video_id: v.id,
            was_unfederated: row.unfederated,
            auto: row.kind == AUTO,
            at: now_ms(),
        },
    )
    .await?;
    crate::storage::privacy_changed(&mut tx, &v, &flotilla_db::videos::Video { blocked: 0, ..v.clone() }).await?;
    tx.commit().await?;
    app.wake_jobs();
    crate::video::forget_files(app, &v.uuid).await;
    tracing::info!(video = %v.uuid, by = %who.user.username, "video unblocked");
    Ok(())
}

/// Holds a new upload of `who` for review when auto-block is on and `who` is no moderator: in the
/// upload's transaction, before anything is federated.
pub async fn hold_if_needed(app: &App, tx: &mut flotilla_db::Tx, who: &AuthUser, video_id: i64) -> Result<bool> {
    if !app.settings().auto_block_videos || who.require_moderator().is_ok() {
        return Ok(false);
    }
    Ok(video_blocks::insert(tx, video_id, None, true, AUTO, now_ms()).await?)
}

/// A block as PeerTube's API shows it (`VideoBlacklist`).
pub async fn view(app: &App, b: &VideoBlock) -> Result<Value> {
    let video = match videos::get(&app.db, b.video_id).await? {
        Some(v) => crate::video::views(app, std::slice::from_ref(&v)).await?.pop().unwrap_or(Value::Null),
        None => Value::Null,
    };
    Ok(json!({
        "id": b.video_id,
        "videoId": b.video_id,
        "createdAt": iso8601(b.created_at),
        "updatedAt": iso8601(b.updated_at),
        "reason": b.reason,
        "unfederated": b.unfederated,
        "type": b.kind,
        "video": video,
    }))
}

/// `GET /api/v1/videos/blacklist` (moderators): `type` (1 manual, 2 automatic), `search`,
/// `sort` (`-createdAt` default, `createdAt`), `start`, `count`.
pub async fn list(app: &App, who: &AuthUser, pairs: &[(String, String)]) -> Result<Value> {
    who.require_moderator()?;
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let kind = match get("type") {
        None | Some("") => None,
        Some("1") => Some(MANUAL),
        Some("2") => Some(AUTO),
        Some(_) => return Err(Error::invalid("type", "1 (by a moderator) or 2 (automatic)")),
    };
    let order = match get("sort").unwrap_or("-createdAt") {
        "-createdAt" => "b.created_at DESC",
        "createdAt" => "b.created_at ASC",
        _ => return Err(Error::invalid("sort", "createdAt, with - for descending")),
    };
    let num = |k: &str, d: i64| -> Result<i64> {
        get(k).map_or(Ok(d), |v| {
            v.trim().parse::<i64>().map_err(|_| Error::invalid(k, format!("{k} must be a whole number")))
        })
    };
    let (rows, total) =
        video_blocks::list(&app.db, kind, get("search"), order, num("start", 0)?, num("count", 15)?).await?;
    let mut data = Vec::new();
    for b in &rows {
        data.push(view(app, b).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}
