//! Videos between instances. Sending: a video's first publication is a `Create` to the followers
//! of its account, its channel and the instance; edits are `Update`s; deletion (or turning private)
//! is a `Delete`. Receiving: `Create`, `Update` and `Announce` of a `Video` store or refresh it
//! (its channel and account as remote actors), `Delete` removes it — each only from the server
//! the video belongs to (FEP-fe34: the object's host must be the signer's host).

use std::sync::Arc;

use flotilla_db::actors::RemoteActor;
use flotilla_db::{accounts, channels, follows, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::federation::{delivery, remote};
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result, ap, uris};

/// A remote video received or fetched this recently is not fetched again for an Announce.
const FRESH_MS: i64 = 10 * 60 * 1000;

/// The actors whose followers hear about a local video, and the account that speaks for it.
pub(crate) async fn audience(app: &App, v: &videos::Video) -> Result<(i64, String, Vec<String>)> {
    let c = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let a = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let instance = ap::ensure_instance_actor(app).await?;
    let inboxes = follows::follower_inboxes(&app.db, &[a.actor_id, c.actor_id, instance]).await?;
    Ok((a.actor_id, uris::account(app, &a.name), inboxes))
}

/// Sends `kind` about `v` from its account to the followers of its account, channel and instance.
async fn send(app: &App, v: &videos::Video, kind: &str, id: String, object: Value) -> Result<()> {
    let (actor_id, actor_url, inboxes) = audience(app, v).await?;
    if inboxes.is_empty() {
        return Ok(());
    }
    let public = v.privacy == crate::video::PRIVACY_PUBLIC;
    let activity = json!({
        "@context": ap::video_context(),
        "type": kind,
        "id": id,
        "actor": actor_url,
        "to": if public { json!([ap::PUBLIC]) } else { json!([]) },
        "cc": [format!("{actor_url}/followers")],
        "object": object,
    });
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, actor_id, &activity, &inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(video = %v.uuid, kind, inboxes = inboxes.len(), "video federated");
    Ok(())
}

/// A local video was just published.
pub async fn published(app: &App, video_id: i64) -> Result<()> {
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    if !ap::federates(app, &v) {
        return Ok(());
    }
    let object = ap::without_context(ap::video_to_ap(app, &v).await?);
    create_and_announce(app, &v, object, false).await
}

/// A video's first appearance, as PeerTube sends it: `Create` by its account to the followers of
/// the account and the channel, then `Announce` by the channel to its followers and by the
/// instance actor to the instances that follow this one (that is how their lists fill up).
/// `again`: the video may have been sent (and withdrawn) before, so the activities get ids of
/// their own: receivers apply an id once.
async fn create_and_announce(app: &App, v: &videos::Video, object: Value, again: bool) -> Result<()> {
    let c = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let a = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let instance = ap::ensure_instance_actor(app).await?;
    let video_url = uris::video(app, &v.uuid);
    let account_url = uris::account(app, &a.name);
    let public = v.privacy == crate::video::PRIVACY_PUBLIC;
    let suffix = if again { format!("/{}", now_ms()) } else { String::new() };
    let to = |actor: &str| {
        if public { json!([ap::PUBLIC, format!("{actor}/followers")]) } else { json!([format!("{actor}/followers")]) }
    };
    let create = json!({
        "@context": ap::video_context(),
        "type": "Create",
        "id": format!("{video_url}/activity{suffix}"),
        "actor": account_url,
        "to": if public { json!([ap::PUBLIC]) } else { json!([]) },
        "cc": [format!("{account_url}/followers")],
        "object": object,
    });
    let announce = |actor_url: &str, actor_id: i64| {
        json!({
            "@context": ap::video_context(),
            "type": "Announce",
            "id": format!("{video_url}/announces/{actor_id}{suffix}"),
            "actor": actor_url,
            "to": to(actor_url),
            "cc": [],
            "object": video_url,
        })
    };
    let channel_url = uris::channel(app, &c.name);
    let instance_url = uris::instance_actor(app);
    let sends = [
        (a.actor_id, create, follows::follower_inboxes(&app.db, &[a.actor_id, c.actor_id]).await?),
        (c.actor_id, announce(&channel_url, c.actor_id), follows::follower_inboxes(&app.db, &[c.actor_id]).await?),
        (instance, announce(&instance_url, instance), follows::follower_inboxes(&app.db, &[instance]).await?),
    ];
    if sends.iter().all(|(_, _, inboxes)| inboxes.is_empty()) {
        return Ok(());
    }
    let mut tx = app.db.begin().await?;
    for (actor_id, activity, inboxes) in &sends {
        delivery::enqueue(&mut tx, *actor_id, activity, inboxes).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(video = %v.uuid, inboxes = sends.iter().map(|s| s.2.len()).sum::<usize>(), "video federated");
    Ok(())
}

/// A local video changed; `was_federated` tells whether followers knew it before the change.
pub async fn changed(app: &App, video_id: i64, was_federated: bool) -> Result<()> {
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    let url = uris::video(app, &v.uuid);
    if ap::federates(app, &v) {
        let object = ap::without_context(ap::video_to_ap(app, &v).await?);
        if !was_federated {
            return create_and_announce(app, &v, object, true).await;
        }
        send(app, &v, "Update", format!("{url}/updates/{}", now_ms()), object).await
    } else if was_federated {
        send(app, &v, "Delete", format!("{url}/delete/{}", now_ms()), json!(url)).await
    } else {
        Ok(())
    }
}

/// A local video was deleted ([`crate::events::Event::VideoDeleted`]): its followers hear it from
/// the actor the event names.
pub async fn send_delete(app: &App, gone: &crate::events::VideoGone) -> Result<()> {
    if gone.inboxes.is_empty() {
        return Ok(());
    }
    let activity = json!({
        "@context": ap::video_context(),
        "type": "Delete",
        "id": format!("{}/delete", gone.url),
        "actor": gone.actor_url,
        "to": if gone.public { json!([ap::PUBLIC]) } else { json!([]) },
        "cc": [format!("{}/followers", gone.actor_url)],
        "object": gone.url,
    });
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, gone.actor_id, &activity, &gone.inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(video = %gone.url, inboxes = gone.inboxes.len(), "video deletion federated");
    Ok(())
}

/// The Tombstone a deleted local video's URL answers with (410 Gone), if it was ever federated.
pub async fn tombstone(app: &App, uuid: &str) -> Result<Option<Value>> {
    let url = uris::video(app, uuid);
    Ok(videos::get_tombstone(&app.db, &url).await?.map(|(former, at)| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": url,
            "type": "Tombstone",
            "formerType": former,
            "deleted": flotilla_domain::time::iso8601(at),
        })
    }))
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::bad_request("remote_invalid", msg)
}

/// `PT123S` → 123.
fn parse_duration(s: &str) -> Option<i64> {
    let n = s.strip_prefix("PT")?.strip_suffix('S')?;
    n.parse::<f64>().ok().filter(|d| d.is_finite() && *d >= 0.0).map(|d| d.round() as i64)
}

/// Makes sure a remote channel (`Group`) and its account (`Person`) exist here; returns the
/// channel row's id.
pub async fn remote_channel(app: &App, group_url: &str) -> Result<i64> {
    if let Some(a) = flotilla_db::actors::get_by_url(&app.db, group_url).await?
        && now_ms() - a.fetched_at < remote::REFRESH_MS
        && let Some(c) = channels::get_by_actor(&app.db, a.id).await?
    {
        return Ok(c.id);
    }
    let signer = super::instance_signer(app).await?;
    let doc = app.fetcher.get_ap(group_url, Some(&signer)).await.map_err(remote::fetch_error)?;
    if doc["type"] != "Group" {
        return Err(invalid(format!("{group_url} is not a channel (Group)")));
    }
    let group = remote::store_actor(app, &doc).await?;
    let owner_url = doc["attributedTo"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["type"] == "Person").and_then(remote::id_of).map(str::to_string))
        .or_else(|| doc["attributedTo"].as_str().map(str::to_string))
        .ok_or_else(|| invalid("the channel is attributed to no account"))?;
    if remote::host(&owner_url) != Some(group.host.clone()) {
        return Err(invalid("the channel's account is on another server"));
    }
    let person = remote::actor(app, &owner_url).await?;
    match make_channel_rows(app, &group, &person).await {
        // Another task (two videos of a new channel fetched at once) made them first: theirs.
        Err(Error::Db(flotilla_db::Error::Conflict(_))) => channels::get_by_actor(&app.db, group.id)
            .await?
            .map(|c| c.id)
            .ok_or_else(|| invalid("the channel could not be stored")),
        other => other,
    }
}

/// The account and channel rows of a remote channel and its owner, made if missing.
async fn make_channel_rows(app: &App, group: &RemoteActor, person: &RemoteActor) -> Result<i64> {
    let now = now_ms();
    // The account and its channel together: a channel row never misses its account.
    let mut tx = app.db.begin().await?;
    let account_id = match accounts::get_by_actor(&mut tx, person.id).await? {
        Some(a) => a.id,
        None => {
            accounts::insert(&mut tx, person.id, None, person.display_name.as_deref().unwrap_or(&person.name), now)
                .await?
                .0
        }
    };
    let channel_id = match channels::get_by_actor(&mut tx, group.id).await? {
        Some(c) => c.id,
        None => {
            let display = group.display_name.clone().unwrap_or_else(|| group.name.clone());
            channels::insert(&mut tx, group.id, flotilla_domain::AccountId(account_id), &display, None, None, now)
                .await?
                .0
        }
    };
    tx.commit().await?;
    Ok(channel_id)
}

/// What a `Video` object says, read and checked without the database or the network: everything
/// [`store`] keeps but the row of its channel.
struct VideoObject<'a> {
    id: &'a str,
    uuid: uuid::Uuid,
    name: &'a str,
    duration: i64,
    /// The channel (`Group`) it is attributed to.
    group: &'a str,
    width: i64,
    height: i64,
    /// Playback data at the origin, kept as the video's `remote_data`.
    data: Value,
    thumbnail: Option<String>,
    tags: Vec<String>,
}

/// The one rule for every URL taken from a remote video (security-cases 6, 15, 21): it names the
/// object's own server (`origin`, the signer's host) over https — plain http only under
/// `federation.allow_private`, the local-testing switch — with no credentials; `websocket` asks
/// for `wss` (`ws`) instead, for trackers. Another host, `file:`, `ftp:`, `javascript:`, `data:`
/// fail it: such a URL would be handed to players and fetched by our jobs as if the origin had
/// vouched for it. Returns the URL as parsed (what is stored is exactly what was checked, not a
/// text that other parsers might read differently), `None` when it fails.
pub(crate) fn origin_url(url: &str, origin: &str, allow_private: bool, websocket: bool) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let scheme = match (u.scheme(), websocket) {
        ("https", false) | ("wss", true) => true,
        ("http", false) | ("ws", true) => allow_private,
        _ => false,
    };
    let ok = scheme
        && u.username().is_empty()
        && u.password().is_none()
        && remote::host(u.as_str()).as_deref() == Some(origin);
    ok.then(|| u.to_string())
}

/// Reads a video object from `signer_host`: refused unless the object, its channel, its playlist
/// and its segment hashes are on that host and its fields are within our own videos' limits. Its
/// other URLs (files, thumbnail, trackers) that break [`origin_url`]'s rule are dropped, the rest
/// of the video kept.
fn read_video<'a>(object: &'a Value, signer_host: &str, allow_private: bool) -> Result<VideoObject<'a>> {
    let on_signer = |url: &str| origin_url(url, signer_host, allow_private, false);
    let id = object["id"].as_str().ok_or_else(|| invalid("the video has no id"))?;
    if on_signer(id).is_none() {
        return Err(Error::Forbidden("a server may only send its own videos, at https URLs".into()));
    }
    if object["type"] != "Video" {
        return Err(invalid("not a Video"));
    }
    let uuid =
        object["uuid"].as_str().and_then(|u| uuid::Uuid::parse_str(u).ok()).ok_or_else(|| invalid("invalid uuid"))?;
    let name =
        object["name"].as_str().filter(|n| !n.trim().is_empty()).ok_or_else(|| invalid("the video has no name"))?;
    // The limits of our own videos (PeerTube's), for what other servers send too.
    if name.chars().count() > 120 {
        return Err(invalid("the video's name is longer than 120 characters"));
    }
    if object["content"].as_str().is_some_and(|c| c.chars().count() > 10_000) {
        return Err(invalid("the video's description is longer than 10000 characters"));
    }
    if object["support"].as_str().is_some_and(|c| c.chars().count() > 1000) {
        return Err(invalid("the video's support text is longer than 1000 characters"));
    }
    let duration = object["duration"].as_str().and_then(parse_duration).ok_or_else(|| invalid("invalid duration"))?;
    let group = object["attributedTo"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["type"] == "Group"))
        .and_then(remote::id_of)
        .ok_or_else(|| invalid("the video is attributed to no channel (Group)"))?;
    if on_signer(group).is_none() {
        return Err(Error::Forbidden("the video's channel is on another server".into()));
    }

    // Playback data, all on the origin server.
    let urls = object["url"].as_array().cloned().unwrap_or_default();
    let hls = urls.iter().find(|u| u["mediaType"] == "application/x-mpegURL");
    let (mut files, mut sha, mut playlist) = (Vec::new(), Value::Null, Value::Null);
    let (mut width, mut height) = (0, 0);
    let mut dropped = 0;
    if let Some(h) = hls {
        playlist = h["href"].clone();
        for t in h["tag"].as_array().into_iter().flatten() {
            if t["name"] == "sha256" {
                sha = t["href"].clone();
            } else if t["mediaType"] == "video/mp4" && t["height"].is_i64() {
                // A rendition elsewhere (or not http) is left out; the others still play.
                let Some(href) = t["href"].as_str().and_then(on_signer) else {
                    dropped += 1;
                    continue;
                };
                let res = t["height"].as_i64().unwrap_or(0).min(t["width"].as_i64().unwrap_or(i64::MAX));
                if t["height"].as_i64().unwrap_or(0) > height {
                    height = t["height"].as_i64().unwrap_or(0);
                    width = t["width"].as_i64().unwrap_or(0);
                }
                files.push(json!({
                    "resolution": { "id": res, "label": format!("{res}p") },
                    "width": t["width"], "height": t["height"], "size": t["size"], "fps": t["fps"],
                    "fileUrl": href,
                }));
            }
        }
    }
    // Web videos (PeerTube's top-level `video/mp4` links), each with the torrent and magnet of its
    // height: what downloads offer. At most 20; files elsewhere are left out.
    let mut web_files = Vec::new();
    for u in urls.iter().filter(|u| u["mediaType"] == "video/mp4" && u["height"].is_i64()).take(20) {
        let Some(href) = u["href"].as_str().and_then(on_signer) else {
            dropped += 1;
            continue;
        };
        let same = |media: &str| urls.iter().find(|x| x["mediaType"] == media && x["height"] == u["height"]);
        let torrent = same("application/x-bittorrent").and_then(|x| x["href"].as_str()).and_then(on_signer);
        let magnet = same("application/x-bittorrent;x-scheme-handler/magnet")
            .and_then(|x| x["href"].as_str())
            .filter(|m| m.starts_with("magnet:?") && m.len() <= 4096);
        let res = u["height"].as_i64().unwrap_or(0).min(u["width"].as_i64().unwrap_or(i64::MAX));
        web_files.push(json!({
            "resolution": { "id": res, "label": format!("{res}p") },
            "width": u["width"], "height": u["height"], "size": u["size"], "fps": u["fps"],
            "fileUrl": href, "fileDownloadUrl": href, "torrentUrl": torrent, "magnetUri": magnet,
        }));
    }
    // The playlist and the segment hashes are what every viewer loads and checks peers' data
    // against: a video whose origin hands those out from elsewhere is refused whole.
    for u in [&mut playlist, &mut sha] {
        if u.is_null() {
            continue;
        }
        match u.as_str().and_then(on_signer) {
            Some(checked) => *u = Value::String(checked),
            None => {
                return Err(Error::Forbidden(
                    "the video's playlist and segment hashes must be on its own server, at https URLs".into(),
                ));
            }
        }
    }
    // The smallest JPEG among the icons that pass the rule (one that fails is never fetched).
    let icons = object["icon"].as_array().map(Vec::as_slice).unwrap_or_default();
    let jpegs: Vec<(&Value, Option<String>)> = icons
        .iter()
        .filter(|i| i["mediaType"] == "image/jpeg")
        .map(|i| (i, i["url"].as_str().and_then(on_signer)))
        .collect();
    dropped += jpegs.iter().filter(|(_, url)| url.is_none()).count();
    let thumbnail = jpegs
        .into_iter()
        .filter_map(|(i, url)| Some((i["width"].as_i64().unwrap_or(i64::MAX), url?)))
        .min_by_key(|(width, _)| *width)
        .map(|(_, url)| url);
    // P2P: viewers of a remote video share through its origin's tracker, in the origin's swarms.
    let infohashes: Vec<&str> = hls
        .and_then(|h| h["tag"].as_array())
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "Infohash")
        .filter_map(|t| t["name"].as_str())
        .filter(|n| n.len() <= 64)
        .take(20)
        .collect();
    let trackers: Vec<String> = urls
        .iter()
        .filter(|u| u["rel"].as_array().is_some_and(|r| r.iter().any(|x| x == "websocket")))
        .filter_map(|u| u["href"].as_str())
        .filter_map(|h| origin_url(h, signer_host, allow_private, true))
        .take(2)
        .collect();
    if dropped > 0 {
        tracing::info!(video = id, dropped, "URLs off the video's origin or not https dropped");
    }
    // Captions: fetched from the origin when first asked for (`video::captions`).
    let captions = crate::video::captions::remote_languages(object, on_signer);
    // Chapters: PeerTube names a document on its server (read by a job); a list is read here.
    let chapters_url = object["hasParts"].as_str().and_then(on_signer);
    // The storyboard: fetched from the origin when first asked for (`video::storyboards`).
    let storyboard = crate::video::storyboards::remote_preview(object, on_signer);
    let chapters_inline =
        object["hasParts"].is_array().then(|| crate::video::chapters::from_ap(&object["hasParts"], duration));
    let data = json!({ "playlistUrl": playlist, "segmentsSha256Url": sha, "files": files, "webFiles": web_files,
                       "captions": captions, "chaptersUrl": chapters_url, "chapters": chapters_inline,
                       "storyboard": storyboard,
                       "thumbnailUrl": thumbnail,
                       "infohashes": infohashes, "trackerUrls": trackers });
    let tags: Vec<String> = object["tag"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "Hashtag")
        .filter_map(|t| t["name"].as_str())
        .map(|t| t.trim_start_matches('#').to_string())
        .filter(|t| (2..=30).contains(&t.chars().count()))
        .take(5)
        .collect();
    Ok(VideoObject { id, uuid, name, duration, group, width, height, data, thumbnail, tags })
}

/// Stores or refreshes a remote video from its object, which comes from `signer`'s server.
/// `news`: it came in its server's activity (not a crawl, a search or a refresh), so a video new
/// here is news for those who follow its channel (`RemoteVideoPublished`).
pub async fn store(app: &App, signer: &RemoteActor, object: &Value, news: bool) -> Result<i64> {
    let VideoObject { id, uuid, name, duration, group, width, height, data, thumbnail, tags } =
        read_video(object, &signer.host, app.config.federation.allow_private)?;
    let captions: Vec<(String, String)> = serde_json::from_value(data["captions"].clone()).unwrap_or_default();
    let channel_id = remote_channel(app, group).await?;
    let ident = |v: &Value| v["identifier"].as_str().and_then(|s| s.parse::<i64>().ok());
    let public = object["to"].as_array().is_some_and(|to| to.iter().any(|t| t == ap::PUBLIC || t == "as:Public"));
    let ts = |k: &str| {
        object[k]
            .as_str()
            .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
    };
    let now = now_ms();
    let short = crate::video::short_uuid(&uuid);
    let is_live = object["isLiveBroadcast"].as_bool().unwrap_or(false);
    let row = videos::RemoteVideo {
        remote_url: id,
        uuid: &uuid.to_string(),
        short_uuid: &short,
        channel_id,
        name: name.trim(),
        description: object["content"].as_str(),
        support: object["support"].as_str(),
        privacy: if public { crate::video::PRIVACY_PUBLIC } else { crate::video::PRIVACY_UNLISTED },
        category: ident(&object["category"]),
        licence: ident(&object["licence"]),
        language: object["language"]["identifier"].as_str(),
        nsfw: object["sensitive"].as_bool().unwrap_or(false),
        // PeerTube 6.3 says `commentsPolicy` (2: disabled), older servers `commentsEnabled`.
        comments_enabled: match object["commentsPolicy"].as_i64() {
            Some(p) => p != 2,
            None => object["commentsEnabled"].as_bool().unwrap_or(true),
        },
        download_enabled: object["downloadEnabled"].as_bool().unwrap_or(true),
        duration,
        width,
        height,
        views: object["views"].as_i64().unwrap_or(0),
        remote_data: &data.to_string(),
        published_at: ts("published").unwrap_or(now),
        updated_at: ts("updated").unwrap_or(now),
        // A live says whether it waits (4), streams (1) or ended (5); anything else is published.
        state: match object["state"].as_i64() {
            Some(s @ (crate::live::STATE_WAITING_FOR_LIVE | crate::live::STATE_LIVE_ENDED)) if is_live => s,
            _ => crate::video::STATE_PUBLISHED,
        },
        is_live,
    };
    // A local video with the same UUID is ours: nobody may overwrite it from outside.
    if let Some(existing) = videos::get_by_uuid(&app.db, row.uuid).await?
        && existing.remote_url.as_deref() != Some(id)
    {
        return Err(Error::Forbidden("this UUID belongs to another video".into()));
    }
    let mut tx = app.db.begin().await?;
    // Two `Update`s of one video may arrive in either order (deliveries run side by side): one
    // older than the copy we hold changes nothing. The row is locked first, or both could read
    // the copy as it was before either and the older one be written last (PostgreSQL).
    videos::lock_remote(&mut tx, id).await?;
    let before = videos::get_by_remote_url(&mut tx, id).await?;
    if let Some(b) = &before
        && row.updated_at < b.updated_at
    {
        tracing::debug!(video = id, "an older version of a video we hold; ignored");
        return Ok(b.id);
    }
    let known = before.is_some();
    // Its files changed at the origin (new names, a rendition added or gone): what the edge cache
    // holds of them goes, after the commit.
    let files_changed = before.is_some_and(|b| b.remote_data.as_deref() != Some(row.remote_data));
    let video_id = videos::upsert_remote(&mut tx, &row, now).await?;
    if news && !known {
        crate::events::record(&mut tx, crate::events::Event::RemoteVideoPublished { video_id }).await?;
    }
    // A video from the past (a crawl, a search, a fetch) comes with its comments, read in the
    // background; a new one has none yet.
    if !news
        && !known
        && let Some(url) =
            object["comments"].as_str().filter(|u| u.len() <= 2048 && remote::host(u) == remote::host(id))
    {
        let job = Job::FetchComments { video_id, url: url.to_string(), items_left: super::backfill::MAX_COMMENTS };
        jobs::enqueue(&mut tx, &job).await?;
    }
    videos::set_tags(&mut tx, video_id, &tags).await?;
    videos::index_search(&mut tx, video_id).await?;
    // A sensitive video's content warning (PeerTube 7's `summary`), as text, bounded.
    let summary = object["summary"].as_str().map(|s| {
        crate::text::html_to_text(s).trim().chars().take(crate::video::upload::MAX_NSFW_SUMMARY).collect::<String>()
    });
    videos::set_nsfw_details(&mut tx, video_id, 0, summary.as_deref().filter(|s| !s.is_empty())).await?;
    if let Some(url) = &thumbnail {
        jobs::enqueue(&mut tx, &Job::FetchThumbnail { video_id, url: url.clone() }).await?;
    }
    // Its chapters may have changed with it: read again.
    if let Some(url) = data["chaptersUrl"].as_str() {
        jobs::enqueue(&mut tx, &Job::FetchChapters { video_id, url: url.to_string() }).await?;
    } else if let Ok(list) = serde_json::from_value::<Vec<(i64, String)>>(data["chapters"].clone()) {
        flotilla_db::chapters::replace(&mut tx, video_id, &list).await?;
    }
    // Its likes and dislikes as its origin counts them (PeerTube's objects carry only the
    // collections' URLs).
    if let Some((likes, dislikes)) = super::rates::collections(object) {
        jobs::enqueue(&mut tx, &Job::FetchVideoRates { video_id, likes, dislikes }).await?;
    }
    // Its captions and storyboard as it lists them now, with the rest of it.
    crate::video::captions::store_remote(&mut tx, app, video_id, row.uuid, &captions).await?;
    let storyboard: Option<[Value; 6]> = serde_json::from_value(data["storyboard"].clone()).ok().flatten();
    crate::video::storyboards::store_remote(&mut tx, app, video_id, row.uuid, storyboard.as_ref()).await?;
    tx.commit().await?;
    app.wake_jobs();
    if files_changed {
        app.edge.forget(app, row.uuid).await;
    }
    tracing::info!(video = id, "remote video stored");
    Ok(video_id)
}

/// `Create`/`Update`/`Announce` of a video: the object embedded when it comes from its own
/// server, fetched from its origin otherwise (an Announce of someone else's video).
pub async fn receive(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    let embedded = object.is_object() && object["type"] == "Video";
    let url = remote::id_of(object).ok_or_else(|| invalid("no video"))?;
    if remote::host(url).as_deref() == Some(app.public.host.as_str()) {
        return Err(Error::Forbidden("our own videos are ours to change".into()));
    }
    if embedded && remote::host(url) == Some(signer.host.clone()) {
        store(app, signer, object, true).await?;
        return Ok(());
    }
    // The Announce that follows a Create we just stored (PeerTube sends both): nothing to fetch.
    if !embedded
        && let Some(known) = videos::get_by_remote_url(&app.db, url).await?
        && videos::fetched_at(&app.db, known.id).await?.is_some_and(|t| now_ms() - t < FRESH_MS)
    {
        return Ok(());
    }
    // Not from its origin: believe only what the origin serves (the fetcher checks that the
    // document's id is the URL it came from; `store` that its channel is on that host).
    let doc = app.fetcher.get_ap(url, Some(&super::instance_signer(app).await?)).await.map_err(remote::fetch_error)?;
    if doc["type"] != "Video" {
        return Ok(());
    }
    receive_fetched(app, &doc, true).await?;
    Ok(())
}

/// A video document fetched from its own URL (search by address): stored as if its server had
/// sent it. Returns its local id.
pub async fn receive_fetched(app: &App, doc: &Value, news: bool) -> Result<i64> {
    let url = doc["id"].as_str().ok_or_else(|| invalid("no id"))?;
    if remote::host(url).as_deref() == Some(app.public.host.as_str()) {
        return Err(Error::Forbidden("our own videos are ours".into()));
    }
    let channel = doc["attributedTo"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["type"] == "Group"))
        .and_then(remote::id_of)
        .unwrap_or_default();
    let origin = remote::actor(app, channel).await?;
    store(app, &origin, doc, news).await
}

/// `Delete` of a video: only its own server may.
pub async fn delete(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    let Some(url) = remote::id_of(object) else { return Ok(()) };
    let Some(v) = videos::get_by_remote_url(&app.db, url).await? else { return Ok(()) };
    if remote::host(url) != Some(signer.host.clone()) {
        return Err(Error::Forbidden("a server may only delete its own videos".into()));
    }
    crate::video::remove(app, &v).await?;
    tracing::info!(video = url, "remote video deleted");
    Ok(())
}

/// A remote video older than [`remote::REFRESH_MS`] was looked at: queue a refresh from its origin.
pub async fn refresh_if_stale(app: &App, v: &videos::Video) {
    if v.remote_url.is_none() {
        return;
    }
    let stale = match videos::fetched_at(&app.db, v.id).await {
        Ok(t) => t.is_none_or(|t| now_ms() - t > remote::REFRESH_MS),
        Err(_) => false,
    };
    if stale {
        match jobs::enqueue(&app.db, &Job::RefreshVideo { video_id: v.id }).await {
            Ok(_) => app.wake_jobs(),
            Err(e) => tracing::warn!(video = v.id, error = %e, "cannot queue a refresh"),
        }
    }
}

/// The refresh job: the origin's current document replaces our copy; a video its origin no longer
/// has (404, 410, a `Tombstone`) is removed.
pub async fn refresh(app: &Arc<App>, video_id: i64) -> std::result::Result<(), Failure> {
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    let Some(url) = v.remote_url.clone() else { return Ok(()) };
    let signer = super::instance_signer(app).await?;
    let gone = match app.fetcher.get_ap(&url, Some(&signer)).await {
        Ok(doc) if doc["type"] == "Video" => {
            receive_fetched(app, &doc, false).await?;
            tracing::info!(video = url, "remote video refreshed");
            return Ok(());
        }
        Ok(_) => true,
        Err(flotilla_federation::fetch::FetchError::Status(_, 404 | 410)) => true,
        Err(e) if e.is_temporary() => return Err(Failure::Retry(e.to_string())),
        Err(e) => {
            // Not worth asking again for another two days.
            videos::set_fetched_at(&app.db, video_id, now_ms()).await?;
            return Err(Failure::Fail(e.to_string()));
        }
    };
    if gone {
        crate::video::remove(app, &v).await?;
        tracing::info!(video = url, "remote video gone from its origin; removed");
    }
    Ok(())
}

/// Removes the videos of `host` that no local actor still follows (after unfollowing it).
pub async fn forget_host(app: &App, host: &str) -> Result<usize> {
    let mut n = 0;
    for v in videos::list_unfollowed_remote_by_host(&app.db, host).await? {
        crate::video::remove(app, &v).await?;
        n += 1;
    }
    Ok(n)
}

/// The job that copies a remote video's thumbnail here (re-encoded, as every image we serve).
pub async fn fetch_thumbnail(app: &Arc<App>, video_id: i64, url: &str) -> std::result::Result<(), Failure> {
    let bytes = match app.fetcher.get_image(url, 4 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) if e.is_temporary() => return Err(Failure::Retry(e.to_string())),
        Err(e) => return Err(Failure::Fail(e.to_string())),
    };
    let encoded = tokio::task::spawn_blocking(move || flotilla_media::image::resize_all(&bytes, &[(280, 157)]))
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?
        .map_err(|e| Failure::Fail(e.to_string()))?;
    let name = format!("{}.jpg", uuid::Uuid::new_v4());
    tokio::fs::write(app.data_path("thumbnails").join(&name), &encoded[0].jpeg)
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    if !videos::set_thumbnail_if_none(&app.db, video_id, &name).await.map_err(|e| Failure::Retry(e.to_string()))? {
        let _ = tokio::fs::remove_file(app.data_path("thumbnails").join(&name)).await;
    }
    Ok(())
}

#[cfg(test)]
mod props;
