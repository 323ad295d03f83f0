//! A follow brings the past, as PeerTube's does: when another server accepts our follow of one of
//! its actors (an instance, a channel, an account), that actor's outbox is crawled in the
//! background, one `fetch-outbox` job per page (its `next` page queued by it), bounded in pages
//! and items. A `Create` of a `Video` on the actor's own server is stored as it is embedded; an
//! `Announce` (PeerTube's instance actor announces every local video) or a video that cannot be
//! stored from the page is fetched from its origin by a `fetch-video` job of its own. Videos we
//! already have are left alone (a re-follow fetches none of them again; the usual refresh keeps
//! them true).

use std::sync::Arc;

use flotilla_db::{actors, videos};
use serde_json::Value;

use crate::federation::remote;
use crate::jobs::{self, Failure, Job};
use crate::{App, Result};

/// The most pages of one outbox crawled after a follow.
pub const MAX_PAGES: i64 = 100;

/// The most items of one outbox looked at after a follow (PeerTube's crawl stops at 2,000 too).
pub const MAX_ITEMS: i64 = 2_000;

/// The most comments of one video read from its server when the video comes from the past.
pub const MAX_COMMENTS: i64 = 500;

/// Queues the crawl of `actor_id`'s outbox (its first page), in the caller's transaction.
pub async fn queue(tx: &mut flotilla_db::Tx, actor_id: i64) -> Result<()> {
    jobs::enqueue(&mut *tx, &Job::FetchOutbox { actor_id, page: None, pages_left: MAX_PAGES, items_left: MAX_ITEMS })
        .await?;
    Ok(())
}

fn fail(e: flotilla_federation::fetch::FetchError) -> Failure {
    if e.is_temporary() { Failure::Retry(e.to_string()) } else { Failure::Fail(e.to_string()) }
}

/// A URL of a document on `host`, from an `id`-or-object field.
fn on_host<'a>(v: &'a Value, host: &str) -> Option<&'a str> {
    remote::id_of(v).filter(|u| u.len() <= 2048 && remote::host(u).as_deref() == Some(host))
}

/// The `fetch-outbox` job: one page of the outbox (`page` `None`: the actor's first).
pub async fn fetch_page(
    app: &Arc<App>,
    actor_id: i64,
    page: Option<&str>,
    pages_left: i64,
    items_left: i64,
) -> std::result::Result<(), Failure> {
    let Some(actor) = actors::get(&app.db, actor_id).await? else { return Ok(()) };
    let signer = super::instance_signer(app).await?;
    let doc = match page {
        Some(url) => app.fetcher.get_ap(url, Some(&signer)).await.map_err(fail)?,
        None => {
            let me = app.fetcher.get_ap(&actor.url, Some(&signer)).await.map_err(fail)?;
            let Some(outbox) = on_host(&me["outbox"], &actor.host) else {
                tracing::info!(actor = %actor.url, "no outbox on its server; nothing to crawl");
                return Ok(());
            };
            // Its public playlists come with its past (a channel's, as PeerTube lists them).
            if let Some(list) = on_host(&me["playlists"], &actor.host) {
                let mut tx = app.db.begin().await?;
                jobs::enqueue(&mut tx, &Job::FetchPlaylist { url: list.to_string() }).await?;
                tx.commit().await?;
                app.wake_jobs();
            }
            let collection = app.fetcher.get_ap(outbox, Some(&signer)).await.map_err(fail)?;
            match &collection["first"] {
                // The first page embedded (Mastodon), or named (PeerTube).
                Value::Object(_) => collection["first"].clone(),
                Value::String(first) if remote::host(first).as_deref() == Some(actor.host.as_str()) => {
                    app.fetcher.get_ap(first, Some(&signer)).await.map_err(fail)?
                }
                // Items on the collection itself (a small outbox without pages).
                _ => collection,
            }
        }
    };
    let items = doc["orderedItems"].as_array().or_else(|| doc["items"].as_array()).cloned().unwrap_or_default();
    let mut seen = 0i64;
    let mut stored = 0usize;
    let mut to_fetch = Vec::new();
    for item in items.iter().take(items_left.max(0) as usize) {
        seen += 1;
        let (kind, object) = (item["type"].as_str().unwrap_or_default(), &item["object"]);
        let Some(url) = remote::id_of(object).filter(|u| u.len() <= 2048) else { continue };
        let video = match kind {
            "Create" | "Update" => object["type"] == "Video",
            // An Announce names a video by URL (PeerTube) or embeds it.
            "Announce" => object.is_string() || object["type"] == "Video",
            _ => false,
        };
        if !video || remote::host(url).is_none() || remote::host(url).as_deref() == Some(app.public.host.as_str()) {
            continue;
        }
        if videos::get_by_remote_url(&app.db, url).await?.is_some() {
            continue;
        }
        let embedded_here = object.is_object() && remote::host(url).as_deref() == Some(actor.host.as_str());
        if embedded_here && super::videos::store(app, &actor, object, false).await.is_ok() {
            stored += 1;
            continue;
        }
        // Fetched from its origin by a job of its own (its own budget of fetches).
        to_fetch.push(url.to_string());
    }
    let next = on_host(&doc["next"], &actor.host).map(str::to_string);
    let (pages_left, items_left) = (pages_left - 1, items_left - seen);
    // The page's fetches and the next page, queued together.
    let mut tx = app.db.begin().await?;
    for url in &to_fetch {
        jobs::enqueue(&mut tx, &Job::FetchVideo { url: url.clone() }).await?;
    }
    if let Some(next) = next.filter(|n| Some(n.as_str()) != page && pages_left > 0 && items_left > 0) {
        jobs::enqueue(&mut tx, &Job::FetchOutbox { actor_id, page: Some(next), pages_left, items_left }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(actor = %actor.url, stored, queued = to_fetch.len(), "outbox page crawled");
    Ok(())
}

/// The `fetch-comments` job: one page of a remote video's `comments` collection (the collection
/// itself first: its first page is followed). Each comment we do not have becomes a
/// `fetch-comment` job, in the collection's order (oldest first: parents before their replies).
pub async fn fetch_comments(
    app: &Arc<App>,
    video_id: i64,
    url: &str,
    items_left: i64,
) -> std::result::Result<(), Failure> {
    if videos::get(&app.db, video_id).await?.is_none() {
        return Ok(());
    }
    let host = remote::host(url).unwrap_or_default();
    let signer = super::instance_signer(app).await?;
    let mut doc = app.fetcher.get_ap(url, Some(&signer)).await.map_err(fail)?;
    if doc["type"] == "OrderedCollection" || doc["type"] == "Collection" {
        doc = match &doc["first"] {
            Value::Object(_) => doc["first"].clone(),
            Value::String(first) if remote::host(first).as_deref() == Some(host.as_str()) => {
                app.fetcher.get_ap(first, Some(&signer)).await.map_err(fail)?
            }
            _ => doc,
        };
    }
    let items = doc["orderedItems"].as_array().or_else(|| doc["items"].as_array()).cloned().unwrap_or_default();
    let mut seen = 0;
    let mut tx = app.db.begin().await?;
    for item in items.iter().take(items_left.max(0) as usize) {
        seen += 1;
        let Some(c) = remote::id_of(item).filter(|u| u.len() <= 2048 && remote::host(u).is_some()) else { continue };
        if flotilla_db::comments::get_by_url(&mut tx, c).await?.is_none() {
            jobs::enqueue(&mut tx, &Job::FetchComment { url: c.to_string() }).await?;
        }
    }
    let left = items_left - seen;
    if let Some(next) = on_host(&doc["next"], &host).filter(|n| *n != url && left > 0) {
        jobs::enqueue(&mut tx, &Job::FetchComments { video_id, url: next.to_string(), items_left: left }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// The `fetch-comment` job: a comment from its own server, stored as if its author had sent it
/// (every check of a received one applies: its id and author on one server, what it answers known).
/// A reply whose parent we do not have yet (jobs run side by side) fetches its parent first, a few
/// levels up at most.
pub async fn fetch_comment(app: &Arc<App>, url: &str) -> std::result::Result<(), Failure> {
    fetch_comment_within(app, url, 0).await
}

/// How far up a thread a fetched reply looks for its missing parents.
const MAX_PARENTS: u32 = 4;

async fn fetch_comment_within(app: &Arc<App>, url: &str, depth: u32) -> std::result::Result<(), Failure> {
    if flotilla_db::comments::get_by_url(&app.db, url).await?.is_some() {
        return Ok(());
    }
    let signer = super::instance_signer(app).await?;
    let doc = app.fetcher.get_ap(url, Some(&signer)).await.map_err(fail)?;
    if !super::comments::is_note(&doc) {
        return Ok(());
    }
    let Some(by) = doc.get("attributedTo").and_then(remote::id_of).filter(|b| remote::host(b) == remote::host(url))
    else {
        return Err(Failure::Fail(format!("{url}: its author is not on its server")));
    };
    if let Some(parent) = doc.get("inReplyTo").and_then(remote::id_of).filter(|p| p.len() <= 2048)
        && depth < MAX_PARENTS
        && remote::host(parent).is_some_and(|h| h != app.public.host)
        && videos::get_by_remote_url(&app.db, parent).await?.is_none()
        && flotilla_db::comments::get_by_url(&app.db, parent).await?.is_none()
    {
        let parent = parent.to_string();
        // Its parent first; if that fails, the reply is stored only if its parent is there by now.
        let _ = Box::pin(fetch_comment_within(app, &parent, depth + 1)).await;
    }
    let author = remote::actor(app, by).await?;
    super::comments::receive(app, &author, "Create", &doc, None).await?;
    Ok(())
}

/// The `fetch-video` job: a video of another server, by its URL, fetched from its origin and
/// stored (unless we have it by now).
pub async fn fetch_video(app: &Arc<App>, url: &str) -> std::result::Result<(), Failure> {
    if videos::get_by_remote_url(&app.db, url).await?.is_some() {
        return Ok(());
    }
    let signer = super::instance_signer(app).await?;
    let doc = app.fetcher.get_ap(url, Some(&signer)).await.map_err(fail)?;
    if doc["type"] != "Video" {
        return Err(Failure::Fail(format!("{url} is not a video")));
    }
    super::videos::receive_fetched(app, &doc, false).await?;
    Ok(())
}
