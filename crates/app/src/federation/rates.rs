//! Likes and dislikes between servers. A rating of another server's video goes to that server
//! as PeerTube sends it (`Like`/`Dislike`, and `Undo` of the one it replaces); each has an id of
//! its own (the rating's URL with the time it was given as fragment), since receivers apply an
//! activity id once and a like given again after an undo must count again. A change of the counts
//! of one of our videos (a local rating, or one received) queues one `video-counts` job a few
//! seconds later that sends followers an `Update(Video)`, so a burst of ratings is one `Update`.
//! A remote video's counts are its origin's: read from its `likes` and `dislikes` collections
//! when the video is stored or updated, as PeerTube does.

use std::sync::Arc;

use flotilla_db::{accounts, actors, channels, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::federation::{delivery, remote};
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result, ap, uris};

/// [`crate::events::Event::VideoRated`].
pub async fn rated(
    app: &App,
    user_id: i64,
    video_id: i64,
    old: Option<&(String, i64)>,
    new: Option<&(String, i64)>,
) -> Result<()> {
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    if v.is_local() {
        let mut tx = app.db.begin().await?;
        counts_changed(app, &mut tx, v.id).await?;
        tx.commit().await?;
        app.wake_jobs();
        return Ok(());
    }
    let Some(account) = accounts::get_by_user(&app.db, flotilla_domain::UserId(user_id)).await? else {
        return Ok(());
    };
    // The server of the video hears it, at the inbox of the video's account.
    let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let owner = accounts::get(&app.db, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let Some(origin) = actors::get(&app.db, owner.actor_id).await? else { return Ok(()) };
    let video_url = v.remote_url.clone().unwrap_or_default();
    let actor = uris::account(app, &account.name);
    let rating = |(kind, at): &(String, i64)| {
        json!({
            "to": [ap::PUBLIC],
            "cc": [format!("{actor}/followers")],
            "id": format!("{}#{at}", ap::rate_url(app, &account.name, kind, &v.uuid)),
            "type": if kind == "like" { "Like" } else { "Dislike" },
            "actor": actor,
            "object": video_url,
        })
    };
    let mut sends = Vec::new();
    if let Some(o) = old {
        let when = new.map(|(_, at)| *at).unwrap_or_else(now_ms);
        sends.push(json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "to": [origin.url],
            "cc": [],
            "type": "Undo",
            "id": format!("{}/undo#{when}", ap::rate_url(app, &account.name, &o.0, &v.uuid)),
            "actor": actor,
            "object": rating(o),
        }));
    }
    if let Some(n) = new {
        let mut like = rating(n);
        like["@context"] = json!("https://www.w3.org/ns/activitystreams");
        like["to"] = json!([origin.url]);
        like["cc"] = json!([]);
        sends.push(like);
    }
    let inbox = origin.shared_inbox.clone().unwrap_or(origin.inbox.clone());
    let mut tx = app.db.begin().await?;
    for activity in &sends {
        delivery::enqueue(&mut tx, account.actor_id, activity, std::slice::from_ref(&inbox)).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// The counts of our video `video_id` changed: its followers get them once the batch window
/// (`federation.counts_batch_secs`) is over, in the caller's transaction.
pub async fn counts_changed(app: &App, tx: &mut flotilla_db::Tx, video_id: i64) -> Result<()> {
    let at = now_ms() + app.config.federation.counts_batch_secs as i64 * 1000;
    jobs::enqueue_at(&mut *tx, &Job::VideoCounts { video_id }, at).await?;
    Ok(())
}

/// The `video-counts` job: followers get the video as it is now (its counts in its collections).
pub async fn send_counts(app: &Arc<App>, video_id: i64) -> std::result::Result<(), Failure> {
    // Ratings from here on queue another job: this one reads the counts after this line.
    flotilla_db::jobs::release_key(&app.db, &format!("video-counts:{video_id}")).await?;
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    if !ap::federates(app, &v) {
        return Ok(());
    }
    super::videos::changed(app, video_id, true).await?;
    Ok(())
}

/// The `likes` and `dislikes` collections of a remote video `object`, when they are on its origin.
pub fn collections(object: &Value) -> Option<(String, String)> {
    let origin = remote::host(object.get("id")?.as_str()?)?;
    let on_origin = |k: &str| {
        object.get(k).and_then(remote::id_of).filter(|u| u.len() <= 2048 && remote::host(u).as_deref() == Some(&origin))
    };
    Some((on_origin("likes")?.to_string(), on_origin("dislikes")?.to_string()))
}

/// The `fetch-video-rates` job: the totals of a remote video's collections become its counts.
pub async fn fetch_counts(
    app: &Arc<App>,
    video_id: i64,
    likes: &str,
    dislikes: &str,
) -> std::result::Result<(), Failure> {
    let signer = super::instance_signer(app).await?;
    let mut totals = [0i64; 2];
    for (i, url) in [likes, dislikes].into_iter().enumerate() {
        let doc = match app.fetcher.get_ap(url, Some(&signer)).await {
            Ok(d) => d,
            Err(e) if e.is_temporary() => return Err(Failure::Retry(e.to_string())),
            Err(e) => return Err(Failure::Fail(e.to_string())),
        };
        totals[i] = doc
            .get("totalItems")
            .and_then(Value::as_i64)
            .filter(|n| (0..=i64::from(u32::MAX)).contains(n))
            .ok_or_else(|| Failure::Fail(format!("{url} has no totalItems we can read")))?;
    }
    videos::set_rates(&app.db, video_id, totals[0], totals[1]).await?;
    Ok(())
}
