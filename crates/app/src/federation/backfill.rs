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
    let mut queued = 0usize;
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
        let mut tx = app.db.begin().await?;
        jobs::enqueue(&mut tx, &Job::FetchVideo { url: url.to_string() }).await?;
        tx.commit().await?;
        queued += 1;
    }
    let next = on_host(&doc["next"], &actor.host).map(str::to_string);
    let (pages_left, items_left) = (pages_left - 1, items_left - seen);
    if let Some(next) = next.filter(|n| Some(n.as_str()) != page && pages_left > 0 && items_left > 0) {
        let mut tx = app.db.begin().await?;
        jobs::enqueue(&mut tx, &Job::FetchOutbox { actor_id, page: Some(next), pages_left, items_left }).await?;
        tx.commit().await?;
    }
    app.wake_jobs();
    tracing::info!(actor = %actor.url, stored, queued, "outbox page crawled");
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
