//! Sending our activities: one persisted job per destination inbox (shared inboxes, deduplicated),
//! signed by the sending actor when it runs, retried with backoff for about a day.

use std::sync::Arc;

use serde_json::Value;

use crate::jobs::{self, Failure, Job};
use crate::{App, Result};

/// Queues `activity` from local actor `actor_id` to each inbox, in the caller's transaction.
pub async fn enqueue(tx: &mut flotilla_db::Tx, actor_id: i64, activity: &Value, inboxes: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for inbox in inboxes {
        if seen.insert(inbox.clone()) {
            jobs::enqueue(&mut *tx, &Job::Deliver { actor_id, inbox: inbox.clone(), activity: activity.clone() })
                .await?;
        }
    }
    Ok(())
}

/// Runs one delivery job.
pub async fn run(app: &Arc<App>, actor_id: i64, inbox: &str, activity: &Value) -> std::result::Result<(), Failure> {
    // An actor deleted since (a user removed with their videos) can no longer sign: the instance
    // actor, of the same origin, speaks for it.
    let (signer, body) = match super::signer(app, actor_id).await {
        Ok(signer) => (signer, serde_json::to_vec(activity)),
        Err(crate::Error::NotFound(_)) => {
            let signer = super::instance_signer(app).await.map_err(|e| Failure::Retry(e.to_string()))?;
            let mut activity = activity.clone();
            activity["actor"] = Value::String(crate::uris::instance_actor(app));
            (signer, serde_json::to_vec(&activity))
        }
        Err(e) => return Err(Failure::Retry(e.to_string())),
    };
    let body = body.map_err(|e| Failure::Fail(e.to_string()))?;
    match app.fetcher.post_signed(inbox, &body, &signer).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_temporary() => Err(Failure::Retry(e.to_string())),
        Err(e) => Err(Failure::Fail(e.to_string())),
    }
}

/// Tells the followers of a local actor that its profile changed (`Update(Person|Group)`).
pub async fn actor_updated(app: &App, actor_id: i64) -> Result<()> {
    let inboxes = flotilla_db::follows::follower_inboxes(&app.db, &[actor_id]).await?;
    if inboxes.is_empty() {
        return Ok(());
    }
    let url = super::local_actor_url(app, actor_id).await?;
    let object = match flotilla_db::accounts::local_actor(&app.db, actor_id).await?.map(|k| k.0).as_deref() {
        Some("Group") => {
            let c = crate::channel::get_by_handle(app, url.rsplit('/').next().unwrap_or_default()).await?;
            crate::ap::channel_to_ap(app, &c).await?
        }
        _ => {
            let a = crate::account::get_by_handle(app, url.rsplit('/').next().unwrap_or_default()).await?;
            crate::ap::account_to_ap(app, &a).await?
        }
    };
    let activity = serde_json::json!({
        "@context": crate::ap::actor_context(),
        "type": "Update",
        "id": format!("{url}/updates/{}", flotilla_domain::time::now_ms()),
        "actor": url,
        "to": [crate::ap::PUBLIC],
        "object": crate::ap::without_context(object),
    });
    let mut tx = app.db.begin().await?;
    enqueue(&mut tx, actor_id, &activity, &inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}
