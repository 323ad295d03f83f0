//! Views between servers, as PeerTube's: a view of another server's video counted here waits in
//! `pending_views`, and a `send-views` job (one per video, due `federation.views_batch_secs`
//! after the first) sends its server one `View` per view, from the instance actor (PeerTube's
//! `View` carries no count). A `View` of one of our videos counts one view here (its total and its
//! day's), and followers get the new total with the video's next batched `Update`.
//!
//! A `View` with `expires` is a *viewer*, PeerTube's way of counting who watches now (`viewers`, a
//! live's audience), kept in memory (`video::views::RemoteViewers`), never a view:
//! - someone here watching another server's video: its origin gets one such `View` per viewer
//!   (PeerTube's shape: a stable id per viewer, `to` the video's account), again before it expires
//!   there (`Event::RemoteViewer`, [`send_viewer`]);
//! - received for one of our videos: one viewer of the sender's, until `expires` (capped);
//! - our videos' totals go to their followers every `federation.viewers_interval_secs` while
//!   anyone watches ([`send_totals`]; PeerTube's viewers federation v2 shape, `result` with the
//!   count, which PeerTube's followers read as the whole audience);
//! - received from another server's video's origin: a viewer, or (with `result`) the total that
//!   replaces what it said before. From anyone but the origin: ignored.

use std::sync::Arc;

use flotilla_db::{accounts, actors, channels, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::federation::{delivery, remote};
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result, uris};

/// The most `View`s one batch sends for one video (the rest go with the next batch).
const MAX_PER_BATCH: i64 = 100;

/// Where another server's video `v` is told of what happens to it here: its URL, its account's
/// actor URL (the `to` of PeerTube's `View`) and that server's inbox (shared when it has one).
/// `None` for one of ours, or an account we no longer know.
async fn origin_of(app: &App, v: &videos::Video) -> Result<Option<(String, String, String)>> {
    let Some(video_url) = v.remote_url.clone() else { return Ok(None) };
    let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let owner = accounts::get(&app.db, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let Some(origin) = actors::get(&app.db, owner.actor_id).await? else { return Ok(None) };
    let inbox = origin.shared_inbox.clone().unwrap_or(origin.inbox.clone());
    Ok(Some((video_url, origin.url, inbox)))
}

/// The `send-views` job.
pub async fn send(app: &Arc<App>, video_id: i64) -> std::result::Result<(), Failure> {
    flotilla_db::jobs::release_key(&app.db, &format!("send-views:{video_id}")).await?;
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    let Some((video_url, origin, inbox)) = origin_of(app, &v).await? else { return Ok(()) };
    let instance = crate::ap::ensure_instance_actor(app).await?;
    let actor = uris::instance_actor(app);
    let mut tx = app.db.begin().await?;
    let n = videos::take_pending_views(&mut tx, v.id, MAX_PER_BATCH).await?;
    for _ in 0..n {
        let view = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "to": [origin],
            "cc": [],
            "id": format!("{actor}/views/videos/{}/{}", v.id, uuid::Uuid::new_v4()),
            "type": "View",
            "actor": actor,
            "object": video_url,
        });
        delivery::enqueue(&mut tx, instance, &view, std::slice::from_ref(&inbox)).await?;
    }
    if n == MAX_PER_BATCH {
        // More were waiting: the next batch right after this one.
        jobs::enqueue(&mut tx, &Job::SendViews { video_id }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// A `View` from another server: one view of one of our videos (a private or unknown one is not
/// found; a view of anything else is ignored), or a viewer (with `expires`: [`viewer_received`]).
pub async fn received(app: &App, signer_host: &str, activity: &Value, object: &Value) -> Result<()> {
    if let Some(expires) = activity.get("expires") {
        return viewer_received(app, signer_host, activity, object, expires).await;
    }
    let Some(url) = remote::id_of(object) else { return Err(Error::invalid("object", "a View needs a video")) };
    let prefix = uris::video(app, "");
    let Some(uuid) = url.strip_prefix(&prefix).filter(|u| !u.is_empty() && !u.contains('/')) else {
        return Ok(());
    };
    let v = crate::video::get_federated(app, uuid).await?;
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    videos::add_views(&mut tx, v.id, 1, now, false).await?;
    let due = now + app.config.federation.views_batch_secs as i64 * 1000;
    jobs::enqueue_at(&mut tx, &Job::VideoCounts { video_id: v.id }, due).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// How long a viewer we tell of counts on the other side (PeerTube's `expires`).
fn viewer_expires(now: i64) -> String {
    flotilla_domain::time::iso8601(now + crate::video::views::VIEWER_LIFETIME.as_millis() as i64)
}

/// The `event` job's part for [`crate::events::Event::RemoteViewer`]: the video's origin hears of
/// one viewer of ours, by a stable id (it keeps one entry per id, extended by each `View`).
pub async fn send_viewer(app: &App, video_id: i64, viewer: &str) -> Result<()> {
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    let Some((video_url, origin, inbox)) = origin_of(app, &v).await? else { return Ok(()) };
    let instance = crate::ap::ensure_instance_actor(app).await?;
    let actor = uris::instance_actor(app);
    let uuid = v.uuid.clone();
    let view = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "to": [origin],
        "cc": [],
        "id": format!("{actor}/views/videos/{}/{viewer}-{uuid}", v.id),
        "type": "View",
        "actor": actor,
        "object": video_url,
        "expires": viewer_expires(now_ms()),
    });
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, instance, &view, std::slice::from_ref(&inbox)).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// Our videos' audiences, to their followers (every `federation.viewers_interval_secs`, while
/// anyone watches; when nobody does, the last count expires there by itself, as PeerTube lets
/// it): one `View` per video, from the instance actor, with the total in `result`. Returns how
/// many videos were told of.
pub async fn send_totals(app: &App) -> Result<usize> {
    let mut ids = app.watching.videos();
    ids.extend(app.remote_viewers.videos());
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(0);
    }
    let actor = uris::instance_actor(app);
    let instance = crate::ap::ensure_instance_actor(app).await?;
    let mut sent = 0;
    for id in ids {
        let Some(v) = videos::get(&app.db, id).await? else { continue };
        if !v.is_local() || !crate::ap::federates(app, &v) {
            continue;
        }
        let count = crate::video::views::viewers(app, &v);
        if count == 0 {
            continue;
        }
        let (_, account_url, inboxes) = super::videos::audience(app, &v).await?;
        if inboxes.is_empty() {
            continue;
        }
        let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
            .await?
            .ok_or_else(|| Error::not_found("channel"))?;
        let channel_url = uris::channel(app, &channel.name);
        let view = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "to": [crate::ap::PUBLIC, format!("{channel_url}/followers"), format!("{account_url}/followers")],
            "cc": [],
            "id": format!("{actor}/views/videos/{}/{}", v.id, v.uuid),
            "type": "View",
            "actor": actor,
            "object": uris::video(app, &v.uuid),
            "expires": viewer_expires(now_ms()),
            "result": { "interactionType": "WatchAction", "type": "InteractionCounter", "userInteractionCount": count },
        });
        let mut tx = app.db.begin().await?;
        delivery::enqueue(&mut tx, instance, &view, &inboxes).await?;
        tx.commit().await?;
        sent += 1;
    }
    if sent > 0 {
        app.wake_jobs();
    }
    Ok(sent)
}

/// A viewer `View` (see the module's notes). `expires` must be a date; one already past, or a
/// video we do not have, changes nothing.
async fn viewer_received(
    app: &App,
    signer_host: &str,
    activity: &Value,
    object: &Value,
    expires: &Value,
) -> Result<()> {
    let expires = expires
        .as_str()
        .and_then(flotilla_domain::time::parse_iso8601)
        .ok_or_else(|| Error::invalid("expires", "a viewer View's expires must be a date (ISO 8601)"))?;
    let Some(id) = activity.get("id").and_then(Value::as_str) else {
        return Err(Error::invalid("id", "an activity needs an id"));
    };
    let Some(url) = remote::id_of(object) else { return Err(Error::invalid("object", "a View needs a video")) };
    let now = now_ms();
    if expires <= now {
        return Ok(());
    }
    let until = std::time::Instant::now() + std::time::Duration::from_millis((expires - now) as u64);
    let prefix = uris::video(app, "");
    if let Some(uuid) = url.strip_prefix(&prefix).filter(|u| !u.is_empty() && !u.contains('/')) {
        // One of ours: one viewer on the sender's side (PeerTube counts such a View as one,
        // whatever `result` says).
        let v = crate::video::get_federated(app, uuid).await?;
        app.remote_viewers.report(v.id, signer_host, id, 1, until, false);
        return Ok(());
    }
    let Some(v) = videos::get_by_remote_url(&app.db, url).await? else { return Ok(()) };
    if remote::host(url).as_deref() != Some(signer_host) {
        // Only a video's origin knows its audience.
        return Ok(());
    }
    let total = activity
        .get("result")
        .filter(|r| r.get("interactionType").and_then(Value::as_str) == Some("WatchAction"))
        .and_then(|r| r.get("userInteractionCount"))
        .map(|n| n.as_u64().ok_or_else(|| Error::invalid("result", "userInteractionCount must be a count")))
        .transpose()?;
    app.remote_viewers.report(v.id, signer_host, id, total.unwrap_or(1), until, total.is_some());
    Ok(())
}
