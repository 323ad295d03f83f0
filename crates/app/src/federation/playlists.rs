//! Playlists between instances, as PeerTube: a public or unlisted playlist of one of our channels
//! is sent as `Create` of a `Playlist` by its account to the followers of the account, the
//! channel and the instance, each change as `Update`, deletion (or turning private) as `Delete`. Receiving: a
//! `Create`/`Update` of a `Playlist` from its own server queues a `fetch-playlist` job, which
//! reads the playlist from its origin (the activity's copy is not trusted beyond its id) with its
//! elements, page by page, and the videos they name; `Delete` forgets it.

use std::sync::Arc;

use flotilla_db::actors::RemoteActor;
use flotilla_db::playlists::{self, NewPlaylist, PlaylistPatch};
use flotilla_db::{accounts, channels, follows, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::federation::{delivery, remote};
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result, ap, playlist, uris};

/// Elements of another server's playlist copied here at most (each may cost a video fetch).
pub const MAX_REMOTE_ELEMENTS: usize = 100;
/// Pages of its collection read at most.
const MAX_PAGES: usize = 20;
/// Remote fetches one unknown video of a playlist may cost (it, its channel, its account…).
const FETCHES_PER_VIDEO: u32 = 8;

pub fn is_playlist(object: &Value) -> bool {
    object.get("type").and_then(Value::as_str) == Some("Playlist")
}

/// A local playlist changed ([`crate::events::Event::PlaylistChanged`]).
pub async fn changed(app: &App, playlist_id: i64, was_federated: bool) -> Result<()> {
    let Some(p) = playlists::get(&app.db, playlist_id).await? else { return Ok(()) };
    let id = playlist::url(app, &p);
    if playlist::federates(&p) {
        let object = ap::without_context(playlist::to_ap(app, &p, None).await?);
        let (kind, activity_id) = if was_federated {
            ("Update", format!("{id}/updates/{}", now_ms()))
        } else {
            // PeerTube's id is `{playlist}/activity`; a playlist made private and public again
            // needs a new one (receivers apply an id once).
            ("Create", format!("{id}/activity/{}", now_ms()))
        };
        send(app, &p, kind, activity_id, object).await
    } else if was_federated {
        send(app, &p, "Delete", format!("{id}/delete/{}", now_ms()), json!(id)).await
    } else {
        Ok(())
    }
}

async fn send(app: &App, p: &playlists::Playlist, kind: &str, id: String, object: Value) -> Result<()> {
    let a = accounts::get(&app.db, flotilla_domain::AccountId(p.account_id))
        .await?
        .ok_or_else(|| Error::not_found("account"))?;
    // The instances following this one hear of it too (their lists fill up, as with videos).
    let mut actors = vec![a.actor_id, ap::ensure_instance_actor(app).await?];
    if let Some(c) = p.channel_id
        && let Some(c) = channels::get(&app.db, flotilla_domain::ChannelId(c)).await?
    {
        actors.push(c.actor_id);
    }
    let inboxes = follows::follower_inboxes(&app.db, &actors).await?;
    if inboxes.is_empty() {
        return Ok(());
    }
    let actor_url = uris::account(app, &a.name);
    let activity = json!({
        "@context": playlist::context(),
        "type": kind,
        "id": id,
        "actor": actor_url,
        "to": if p.privacy == playlists::PUBLIC { json!([ap::PUBLIC]) } else { json!([]) },
        "cc": [format!("{actor_url}/followers")],
        "object": object,
    });
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, a.actor_id, &activity, &inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(playlist = %p.uuid, kind, inboxes = inboxes.len(), "playlist federated");
    Ok(())
}

/// A federated local playlist was deleted ([`crate::events::Event::PlaylistDeleted`]).
pub async fn send_delete(app: &App, url: &str, actor_id: i64, actor_url: &str, inboxes: &[String]) -> Result<()> {
    if inboxes.is_empty() {
        return Ok(());
    }
    let activity = json!({
        "@context": playlist::context(),
        "type": "Delete",
        "id": format!("{url}/delete"),
        "actor": actor_url,
        "to": [ap::PUBLIC],
        "cc": [format!("{actor_url}/followers")],
        "object": url,
    });
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, actor_id, &activity, inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `Create`/`Update` of a `Playlist`: only from its own server; read from there in a job.
pub async fn receive(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    let url = remote::id_of(object).ok_or_else(|| Error::invalid("object", "a Playlist needs an id"))?;
    if remote::host(url).as_deref() != Some(signer.host.as_str()) {
        return Err(Error::Forbidden("a playlist comes from its own server only".into()));
    }
    let mut tx = app.db.begin().await?;
    jobs::enqueue(&mut tx, &Job::FetchPlaylist { url: url.to_string() }).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `Delete` of a remote playlist by its server. `false`: the URL names no playlist we copied.
pub async fn delete(app: &App, signer: &RemoteActor, url: &str) -> Result<bool> {
    let Some(p) = playlists::get_by_url(&app.db, url).await? else { return Ok(false) };
    if remote::host(url).as_deref() != Some(signer.host.as_str()) {
        return Err(Error::Forbidden("a playlist is deleted by its own server only".into()));
    }
    playlists::delete(&app.db, p.id).await?;
    Ok(true)
}

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::Fail(e.to_string())
}

fn text(v: &Value, max: usize) -> Option<String> {
    v.as_str().map(|s| s.trim().chars().take(max).collect::<String>()).filter(|s| !s.is_empty())
}

/// The `fetch-playlist` job: another server's playlist read from its origin and stored (or
/// forgotten, when its origin no longer shows it).
pub async fn fetch(app: &Arc<App>, url: &str) -> std::result::Result<(), Failure> {
    let host = remote::host(url).ok_or_else(|| fail("not a URL"))?;
    if host == app.public.host {
        return Ok(());
    }
    let signer = super::instance_signer(app).await?;
    let doc = match app.fetcher.get_ap(url, Some(&signer)).await {
        Ok(d) => d,
        Err(flotilla_federation::fetch::FetchError::Status(_, 404 | 410)) => {
            if let Some(p) = playlists::get_by_url(&app.db, url).await? {
                playlists::delete(&app.db, p.id).await?;
            }
            return Ok(());
        }
        Err(e) => return Err(Failure::Retry(e.to_string())),
    };
    if matches!(doc["type"].as_str(), Some("OrderedCollection" | "OrderedCollectionPage")) {
        return queue_collection(app, &doc, &host).await;
    }
    if !is_playlist(&doc) || doc["id"].as_str() != Some(url) {
        return Err(fail(format!("{url} is not a Playlist")));
    }
    let name = text(&doc["name"], 120).ok_or_else(|| fail("the playlist has no name"))?;
    let description = text(&doc["content"], 1000);
    let group = match &doc["attributedTo"] {
        Value::Array(a) => a.iter().find_map(remote::id_of),
        other => remote::id_of(other),
    }
    .ok_or_else(|| fail("the playlist is attributed to no channel"))?;
    if remote::host(group).as_deref() != Some(host.as_str()) {
        return Err(fail("the playlist's channel is on another server"));
    }
    let channel_id = super::videos::remote_channel(app, group).await?;
    let channel =
        channels::get(&app.db, flotilla_domain::ChannelId(channel_id)).await?.ok_or_else(|| fail("no channel"))?;
    let public = doc["to"].as_array().is_some_and(|t| t.iter().any(|x| x.as_str() == Some(ap::PUBLIC)));
    let privacy = if public { playlists::PUBLIC } else { playlists::UNLISTED };
    let items = Box::pin(read_elements(app, &doc, &host)).await?;
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    let id = match playlists::get_by_url(&mut tx, url).await? {
        Some(p) => {
            let patch = PlaylistPatch {
                name: Some(&name),
                description: Some(description.as_deref()),
                privacy: Some(privacy),
                channel_id: Some(Some(channel_id)),
                thumbnail: None,
            };
            playlists::update(&mut tx, p.id, &patch, now).await?;
            p.id
        }
        None => {
            // Their uuid when it is one and free here (links keep working), else ours.
            let theirs = doc["uuid"].as_str().and_then(|u| uuid::Uuid::parse_str(u).ok());
            let free = match theirs {
                Some(u) => playlists::get_by_any_id(&mut tx, &u.to_string()).await?.is_none(),
                None => false,
            };
            let uid = theirs.filter(|_| free).unwrap_or_else(uuid::Uuid::new_v4);
            let (uuid, short) = (uid.to_string(), crate::video::short_uuid(&uid));
            playlists::insert(
                &mut tx,
                &NewPlaylist {
                    uuid: &uuid,
                    short_uuid: &short,
                    name: &name,
                    description: description.as_deref(),
                    privacy,
                    kind: playlists::REGULAR,
                    account_id: channel.account_id,
                    channel_id: Some(channel_id),
                    url: Some(url),
                    thumbnail: None,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?
        }
    };
    playlists::replace_all(&mut tx, id, &items, now).await?;
    playlists::set_fetched(&mut tx, id, now).await?;
    tx.commit().await?;
    tracing::info!(playlist = url, videos = items.len(), "remote playlist stored");
    Ok(())
}

/// The elements of a remote playlist, in order, with their videos (fetched when unknown):
/// `(video, start, stop, element url)`. Elements on another server than the playlist's, or
/// whose video cannot be had, are left out.
async fn read_elements(
    app: &Arc<App>,
    doc: &Value,
    host: &str,
) -> std::result::Result<Vec<(i64, Option<i64>, Option<i64>, String)>, Failure> {
    let signer = super::instance_signer(app).await?;
    let mut out = Vec::new();
    let mut next = doc.get("first").cloned();
    let mut pages = 0;
    while let Some(page_ref) = next.take() {
        pages += 1;
        if pages > MAX_PAGES || out.len() >= MAX_REMOTE_ELEMENTS {
            break;
        }
        let page = match &page_ref {
            Value::String(u) if remote::host(u).as_deref() == Some(host) => {
                app.fetcher.get_ap(u, Some(&signer)).await.map_err(|e| Failure::Retry(e.to_string()))?
            }
            Value::Object(_) => page_ref.clone(),
            _ => break,
        };
        let items = page["orderedItems"].as_array().cloned().unwrap_or_default();
        for item in items {
            if out.len() >= MAX_REMOTE_ELEMENTS {
                break;
            }
            let element = match &item {
                Value::String(u) if remote::host(u).as_deref() == Some(host) => {
                    match app.fetcher.get_ap(u, Some(&signer)).await {
                        Ok(e) => e,
                        Err(e) => {
                            tracing::debug!(element = u, error = %e, "playlist element not read");
                            continue;
                        }
                    }
                }
                Value::Object(_) if remote::id_of(&item).and_then(remote::host).as_deref() == Some(host) => item,
                _ => continue,
            };
            if element["type"] != "PlaylistElement" {
                continue;
            }
            let (Some(eid), Some(video_url)) = (remote::id_of(&element), element["url"].as_str()) else { continue };
            let time = |k: &str| element[k].as_i64().filter(|t| *t >= 0);
            if let Some(v) = video_of(app, video_url).await {
                out.push((v, time("startTimestamp"), time("stopTimestamp"), eid.to_string()));
            }
        }
        next = page.get("next").cloned().filter(|n| !n.is_null());
    }
    Ok(out)
}

/// The local id of the video at `url`: one of ours, a copy we have, or fetched from its server.
async fn video_of(app: &Arc<App>, url: &str) -> Option<i64> {
    if remote::host(url).as_deref() == Some(app.public.host.as_str()) {
        let uuid = url.rsplit('/').next()?;
        let v = videos::get_by_any_id(&app.db, uuid).await.ok()??;
        return (v.is_local() && uris::video(app, &v.uuid) == url).then_some(v.id);
    }
    if let Ok(Some(v)) = videos::get_by_remote_url(&app.db, url).await {
        return Some(v.id);
    }
    // Boxed: a video's fetch is a deep future, kept off the job's stack.
    let fetched = flotilla_federation::fetch::with_budget(
        FETCHES_PER_VIDEO,
        Box::pin(async {
            let signer = super::instance_signer(app).await?;
            let doc = app.fetcher.get_ap(url, Some(&signer)).await.map_err(remote::fetch_error)?;
            if doc["type"] != "Video" {
                return Err(Error::invalid("url", "not a video"));
            }
            super::videos::receive_fetched(app, &doc, false).await
        }),
    )
    .await;
    match fetched {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::debug!(video = url, error = %e, "a playlist's video not fetched");
            None
        }
    }
}

/// Playlists of a followed actor read at most (its `playlists` collection).
const MAX_LISTED: usize = 50;

/// An actor's `playlists` collection (after a follow): a `fetch-playlist` job per playlist on its
/// server, a few pages at most.
async fn queue_collection(app: &Arc<App>, doc: &Value, host: &str) -> std::result::Result<(), Failure> {
    let signer = super::instance_signer(app).await?;
    let mut urls = Vec::new();
    let mut page = match &doc["first"] {
        Value::Object(_) => Some(doc["first"].clone()),
        Value::String(u) if remote::host(u).as_deref() == Some(host) => {
            Some(app.fetcher.get_ap(u, Some(&signer)).await.map_err(|e| Failure::Retry(e.to_string()))?)
        }
        _ => Some(doc.clone()),
    };
    let mut pages = 0;
    while let Some(p) = page.take() {
        pages += 1;
        let items = p["orderedItems"].as_array().or_else(|| p["items"].as_array()).cloned().unwrap_or_default();
        for item in &items {
            if let Some(u) = remote::id_of(item).filter(|u| remote::host(u).as_deref() == Some(host))
                && urls.len() < MAX_LISTED
            {
                urls.push(u.to_string());
            }
        }
        if pages >= 5 || urls.len() >= MAX_LISTED {
            break;
        }
        if let Some(next) = p["next"].as_str().filter(|u| remote::host(u).as_deref() == Some(host)) {
            page = app.fetcher.get_ap(next, Some(&signer)).await.ok();
        }
    }
    let mut tx = app.db.begin().await?;
    for url in urls {
        jobs::enqueue(&mut tx, &Job::FetchPlaylist { url }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}
