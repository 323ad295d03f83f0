//! Views between servers, as PeerTube's: a view of another server's video counted here waits in
//! `pending_views`, and a `send-views` job (one per video, due `federation.views_batch_secs`
//! after the first) sends its server one `View` per view, from the instance actor (PeerTube's
//! `View` carries no count). A `View` of one of our videos counts one view here (its total and its
//! day's), and followers get the new total with the video's next batched `Update`. A `View` with
//! `expires` is PeerTube's count of live viewers, not a view: ignored.

use std::sync::Arc;

use flotilla_db::{accounts, actors, channels, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::federation::{delivery, remote};
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result, uris};

/// The most `View`s one batch sends for one video (the rest go with the next batch).
const MAX_PER_BATCH: i64 = 100;

/// The `send-views` job.
pub async fn send(app: &Arc<App>, video_id: i64) -> std::result::Result<(), Failure> {
    flotilla_db::jobs::release_key(&app.db, &format!("send-views:{video_id}")).await?;
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    let Some(video_url) = v.remote_url.clone() else { return Ok(()) };
    let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let owner = accounts::get(&app.db, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let Some(origin) = actors::get(&app.db, owner.actor_id).await? else { return Ok(()) };
    let inbox = origin.shared_inbox.clone().unwrap_or(origin.inbox.clone());
    let instance = crate::ap::ensure_instance_actor(app).await?;
    let actor = uris::instance_actor(app);
    let mut tx = app.db.begin().await?;
    let n = videos::take_pending_views(&mut tx, v.id, MAX_PER_BATCH).await?;
    for _ in 0..n {
        let view = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "to": [origin.url],
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
/// found; a view of anything else is ignored).
pub async fn received(app: &App, activity: &Value, object: &Value) -> Result<()> {
    if activity.get("expires").is_some() {
        return Ok(());
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
