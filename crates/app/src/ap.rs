//! What other servers read from us: WebFinger, NodeInfo, our actors (`Person` accounts, `Group`
//! channels, the `Application` instance actor) and `Video` objects, in PeerTube's shapes and
//! JSON-LD context (shared/reference/peertube-samples), so PeerTube and Mastodon understand them.

use flotilla_db::accounts::{self, Account};
use flotilla_db::channels::{self, Channel};
use flotilla_db::{images, users, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use crate::video::{PRIVACY_PUBLIC, PRIVACY_UNLISTED, STATE_PUBLISHED};
use crate::{App, Error, Result, uris};

/// The instance actor's name, as PeerTube names it (reserved: no user can take it).
pub const INSTANCE_ACTOR: &str = "peertube";

pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The `@context` of actors.
pub fn actor_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
        {
            "pt": "https://joinpeertube.org/ns#",
            "sc": "http://schema.org/",
            "playlists": { "@id": "pt:playlists", "@type": "@id" },
            "support": { "@type": "sc:Text", "@id": "pt:support" },
            "icons": "as:icon",
            "alsoKnownAs": { "@id": "as:alsoKnownAs", "@type": "@id" },
            "movedTo": { "@id": "as:movedTo", "@type": "@id" }
        }
    ])
}

/// The `@context` of videos: PeerTube's terms, so its receiver reads every field.
pub fn video_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
        {
            "pt": "https://joinpeertube.org/ns#",
            "sc": "http://schema.org/",
            "Hashtag": "as:Hashtag",
            "category": "sc:category",
            "licence": "sc:license",
            "subtitleLanguage": "sc:subtitleLanguage",
            "automaticallyGenerated": "pt:automaticallyGenerated",
            "sensitive": "as:sensitive",
            "language": "sc:inLanguage",
            "identifier": "sc:identifier",
            "isLiveBroadcast": "sc:isLiveBroadcast",
            "liveSaveReplay": { "@type": "sc:Boolean", "@id": "pt:liveSaveReplay" },
            "permanentLive": { "@type": "sc:Boolean", "@id": "pt:permanentLive" },
            "latencyMode": { "@type": "sc:Number", "@id": "pt:latencyMode" },
            "Infohash": "pt:Infohash",
            "tileWidth": { "@type": "sc:Number", "@id": "pt:tileWidth" },
            "tileHeight": { "@type": "sc:Number", "@id": "pt:tileHeight" },
            "tileDuration": { "@type": "sc:Number", "@id": "pt:tileDuration" },
            "aspectRatio": { "@type": "sc:Float", "@id": "pt:aspectRatio" },
            "uuid": { "@type": "sc:identifier", "@id": "pt:uuid" },
            "originallyPublishedAt": "sc:datePublished",
            "uploadDate": "sc:uploadDate",
            "hasParts": "sc:hasParts",
            "views": { "@type": "sc:Number", "@id": "pt:views" },
            "state": { "@type": "sc:Number", "@id": "pt:state" },
            "size": { "@type": "sc:Number", "@id": "pt:size" },
            "fps": { "@type": "sc:Number", "@id": "pt:fps" },
            "commentsEnabled": { "@type": "sc:Boolean", "@id": "pt:commentsEnabled" },
            "canReply": "pt:canReply",
            "commentsPolicy": { "@type": "sc:Number", "@id": "pt:commentsPolicy" },
            "downloadEnabled": { "@type": "sc:Boolean", "@id": "pt:downloadEnabled" },
            "waitTranscoding": { "@type": "sc:Boolean", "@id": "pt:waitTranscoding" },
            "support": { "@type": "sc:Text", "@id": "pt:support" },
            "likes": { "@id": "as:likes", "@type": "@id" },
            "dislikes": { "@id": "as:dislikes", "@type": "@id" },
            "shares": { "@id": "as:shares", "@type": "@id" },
            "comments": { "@id": "as:comments", "@type": "@id" },
            "PropertyValue": "sc:PropertyValue",
            "value": "sc:value"
        }
    ])
}

/// Creates the instance actor on first start.
pub async fn ensure_instance_actor(app: &App) -> Result<i64> {
    if let Some(id) = accounts::local_actor_id(&app.db, "Application", INSTANCE_ACTOR).await? {
        return Ok(id);
    }
    match accounts::insert_actor(&app.db, "Application", INSTANCE_ACTOR, now_ms()).await {
        Ok(id) => Ok(id),
        // A user took the name before the instance actor existed (an old database): say so.
        Err(flotilla_db::Error::Conflict(_)) => Err(Error::Internal(format!(
            "the name '{INSTANCE_ACTOR}' is taken by a local account, but it is the instance actor's name in the fediverse"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The actor's key pair, made on first need (2048-bit RSA) and stored for good.
pub async fn actor_keys(app: &App, actor_id: i64) -> Result<(String, String)> {
    if let Some(k) = accounts::keys(&app.db, actor_id).await? {
        return Ok(k);
    }
    let (private, public) = tokio::task::spawn_blocking(flotilla_federation::keys::generate)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))?;
    accounts::set_keys_once(&app.db, actor_id, &private, &public).await?;
    // Another request may have won the race: what is stored is the key.
    accounts::keys(&app.db, actor_id).await?.ok_or_else(|| Error::Internal("actor keys vanished".into()))
}

fn icons(app: &App, imgs: &[images::Image], actor_id: i64, kind: &str) -> Vec<Value> {
    imgs.iter()
        .filter(|i| i.actor_id == actor_id && i.kind == kind)
        .map(|i| {
            json!({
                "type": "Image",
                "mediaType": "image/jpeg",
                "height": i.height,
                "width": i.width,
                "url": uris::absolute(app, &uris::image_path(kind, &i.filename)),
            })
        })
        .collect()
}

fn actor_base(app: &App, kind: &str, url: &str, name: &str, display: &str, public_pem: &str, published: i64) -> Value {
    let _ = app;
    json!({
        "@context": actor_context(),
        "type": kind,
        "id": url,
        "following": format!("{url}/following"),
        "followers": format!("{url}/followers"),
        "playlists": format!("{url}/playlists"),
        "inbox": format!("{url}/inbox"),
        "outbox": format!("{url}/outbox"),
        "preferredUsername": name,
        "url": url,
        "name": display,
        "endpoints": { "sharedInbox": uris::shared_inbox(app) },
        "publicKey": { "id": uris::key_id(url), "owner": url, "publicKeyPem": public_pem },
        "published": iso8601(published),
    })
}

/// An account as a `Person`.
pub async fn account_to_ap(app: &App, a: &Account) -> Result<Value> {
    let (_, public) = actor_keys(app, a.actor_id).await?;
    let imgs = images::list_for(&app.db, &[a.actor_id]).await?;
    let url = uris::account(app, &a.name);
    let mut out = actor_base(app, "Person", &url, &a.name, &a.display_name, &public, a.created_at);
    out["summary"] = json!(a.description);
    let icon = icons(app, &imgs, a.actor_id, "avatar");
    if !icon.is_empty() {
        out["icon"] = json!(icon);
    }
    crate::federation::moves::annotate(app, a.actor_id, &mut out).await?;
    Ok(out)
}

/// A channel as a `Group`, attributed to its account (PeerTube's receiver requires it).
pub async fn channel_to_ap(app: &App, c: &Channel) -> Result<Value> {
    let (_, public) = actor_keys(app, c.actor_id).await?;
    let owner = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let imgs = images::list_for(&app.db, &[c.actor_id]).await?;
    let url = uris::channel(app, &c.name);
    let mut out = actor_base(app, "Group", &url, &c.name, &c.display_name, &public, c.created_at);
    out["summary"] = json!(c.description);
    out["support"] = json!(c.support);
    out["attributedTo"] = json!([{ "type": "Person", "id": uris::account(app, &owner.name) }]);
    let icon = icons(app, &imgs, c.actor_id, "avatar");
    if !icon.is_empty() {
        out["icon"] = json!(icon);
    }
    let banner = icons(app, &imgs, c.actor_id, "banner");
    if !banner.is_empty() {
        out["image"] = banner[banner.len() - 1].clone();
    }
    crate::federation::moves::annotate(app, c.actor_id, &mut out).await?;
    Ok(out)
}

/// The instance actor as an `Application`.
pub async fn instance_to_ap(app: &App) -> Result<Value> {
    let id = ensure_instance_actor(app).await?;
    let (_, public) = actor_keys(app, id).await?;
    let url = uris::instance_actor(app);
    // Its creation, not the time of asking: receivers compare documents fetched at different times.
    let published = accounts::actor_created_at(&app.db, id).await?.unwrap_or_else(now_ms);
    Ok(actor_base(app, "Application", &url, INSTANCE_ACTOR, INSTANCE_ACTOR, &public, published))
}

/// Whether a video is given out over ActivityPub: published and public, or unlisted when the
/// instance is configured to send those (`federation.federate_unlisted`); private and internal never.
pub fn federates(app: &App, v: &videos::Video) -> bool {
    let unlisted_ok = app.config.federation.federate_unlisted;
    // A live is federated while it waits and after it ended too (PeerTube's states 4 and 5).
    let state_ok = v.state == STATE_PUBLISHED
        || (v.is_live && matches!(v.state, crate::live::STATE_WAITING_FOR_LIVE | crate::live::STATE_LIVE_ENDED));
    v.is_local()
        && state_ok
        && v.blocked != flotilla_db::video_blocks::UNFEDERATED
        && (v.privacy == PRIVACY_PUBLIC || (unlisted_ok && v.privacy == PRIVACY_UNLISTED))
}

/// `PT123S`
fn duration(secs: i64) -> String {
    format!("PT{secs}S")
}

/// A local video as PeerTube's `Video` object.
pub async fn video_to_ap(app: &App, v: &videos::Video) -> Result<Value> {
    let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let account = accounts::get(&app.db, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let mut files = videos::all_files(&app.db, v.id).await?;
    files.sort_by_key(|f| std::cmp::Reverse(f.resolution));
    let tags = videos::tags(&app.db, v.id).await?;
    let id = uris::video(app, &v.uuid);
    let base = app.public.base();
    let account_url = uris::account(app, &account.name);

    let mut url = vec![json!({ "type": "Link", "mediaType": "text/html", "href": id })];
    // Web videos first, each with its metadata, torrent and magnet (PeerTube's order).
    for f in files.iter().filter(|f| f.kind == videos::KIND_WEB) {
        url.extend(crate::video::files::ap_links(app, v, f));
    }
    if let (Some(master), Some(sha)) = (&v.master_playlist, &v.segments_sha256) {
        let playlist_url = crate::storage::file_url(app, v, crate::storage::Kind::Hls, master);
        let mut tag: Vec<Value> = videos::infohashes(&app.db, v.id)
            .await?
            .into_iter()
            .map(|h| json!({ "type": "Infohash", "name": h }))
            .collect();
        tag.push(json!({
            "type": "Link",
            "name": "sha256",
            "mediaType": "application/json",
            "href": crate::storage::file_url(app, v, crate::storage::Kind::Hls, sha),
        }));
        for f in files.iter().filter(|f| f.kind == videos::KIND_HLS) {
            tag.extend(crate::video::files::ap_links(app, v, f));
        }
        url.push(json!({ "type": "Link", "mediaType": "application/x-mpegURL", "href": playlist_url, "tag": tag }));
        if app.config.p2p.enabled {
            url.push(json!({ "type": "Link", "name": "tracker-websocket", "rel": ["tracker", "websocket"], "href": uris::tracker(app) }));
        }
    }

    let mut icon = Vec::new();
    if let Some(t) = &v.thumbnail {
        icon.push(json!({ "type": "Image", "url": format!("{base}/lazy-static/thumbnails/{t}"), "mediaType": "image/jpeg", "width": 280, "height": 157 }));
    }
    if let Some(p) = &v.preview {
        icon.push(json!({ "type": "Image", "url": format!("{base}/lazy-static/previews/{p}"), "mediaType": "image/jpeg", "width": 850, "height": 480 }));
    }
    let (to, cc) = if v.privacy == PRIVACY_PUBLIC {
        (json!([PUBLIC]), json!([format!("{account_url}/followers")]))
    } else {
        (json!([]), json!([]))
    };
    let label = |id: Option<i64>, l: Option<&str>| match (id, l) {
        (Some(i), Some(name)) => json!({ "identifier": i.to_string(), "name": name }),
        _ => Value::Null,
    };
    let published = v.published_at.unwrap_or(v.created_at);
    let mut out = json!({
        "@context": video_context(),
        "to": to,
        "cc": cc,
        "type": "Video",
        "id": id,
        "name": v.name,
        "duration": duration(v.duration),
        "uuid": v.uuid,
        "category": label(v.category, v.category.and_then(crate::video::labels::category)),
        "licence": label(v.licence, v.licence.and_then(crate::video::labels::licence)),
        "language": match &v.language {
            Some(l) => json!({ "identifier": l, "name": crate::video::labels::language(l).unwrap_or(l) }),
            None => Value::Null,
        },
        "views": v.views,
        "sensitive": v.nsfw,
        "waitTranscoding": v.wait_transcoding,
        "state": v.state,
        "commentsEnabled": v.comments_enabled,
        "canReply": null,
        "commentsPolicy": crate::video::comments_policy_of(v),
        "downloadEnabled": v.download_enabled,
        "published": iso8601(published),
        "originallyPublishedAt": v.originally_published_at.map(iso8601),
        "updated": iso8601(v.updated_at),
        "uploadDate": iso8601(v.created_at),
        "tag": tags.iter().map(|t| json!({ "type": "Hashtag", "name": t })).collect::<Vec<_>>(),
        "mediaType": "text/markdown",
        "content": v.description,
        "support": v.support,
        "subtitleLanguage": crate::video::captions::ap_languages(app, v.id).await?,
        "hasParts": format!("{id}/chapters"),
        "preview": crate::video::storyboards::ap_preview(app, v.id).await?,
        "icon": icon,
        "aspectRatio": (v.width > 0 && v.height > 0).then(|| ((v.width as f64 / v.height as f64) * 10000.0).round() / 10000.0),
        "url": url,
        "likes": format!("{id}/likes"),
        "dislikes": format!("{id}/dislikes"),
        "shares": format!("{id}/announces"),
        "comments": format!("{id}/comments"),
        "attributedTo": [
            { "type": "Person", "id": account_url },
            { "type": "Group", "id": uris::channel(app, &channel.name) },
        ],
        "isLiveBroadcast": false,
        "liveSaveReplay": null,
        "permanentLive": null,
        "latencyMode": null,
    });
    if v.is_live
        && let Some(l) = flotilla_db::lives::get(&app.db, v.id).await?
    {
        out["isLiveBroadcast"] = json!(true);
        out["liveSaveReplay"] = json!(l.save_replay);
        out["permanentLive"] = json!(l.permanent);
        out["latencyMode"] = json!(l.latency_mode);
    }
    // A sensitive video's few words, as PeerTube 7 sends them (Mastodon shows `summary` as a
    // content warning); absent otherwise, as in PeerTube 6.3's objects.
    if let Some(s) = v.nsfw_summary.as_deref().filter(|_| v.nsfw) {
        out["summary"] = json!(s);
    }
    Ok(out)
}

/// A paged `OrderedCollection`: the collection itself without `page`, one page with it.
pub fn collection(id: &str, total: i64, page: Option<i64>, items: Vec<Value>, page_size: i64) -> Value {
    match page {
        None => json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id,
            "type": "OrderedCollection",
            "totalItems": total,
            "first": format!("{id}?page=1"),
        }),
        Some(p) => {
            let mut out = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{id}?page={p}"),
                "type": "OrderedCollectionPage",
                "totalItems": total,
                "partOf": id,
                "orderedItems": items,
            });
            if p * page_size < total {
                out["next"] = json!(format!("{id}?page={}", p + 1));
            }
            if p > 1 {
                out["prev"] = json!(format!("{id}?page={}", p - 1));
            }
            out
        }
    }
}

/// The collections a `Video` names (`likes`, `dislikes`, `shares`, `comments`), as PeerTube
/// answers them: totals, and pages of activity ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VideoCollection {
    Likes,
    Dislikes,
    Announces,
    Comments,
}

impl VideoCollection {
    pub fn parse(s: &str) -> Option<VideoCollection> {
        Some(match s {
            "likes" => VideoCollection::Likes,
            "dislikes" => VideoCollection::Dislikes,
            "announces" => VideoCollection::Announces,
            "comments" => VideoCollection::Comments,
            _ => return None,
        })
    }
}

/// The URL of the `Like` (or `Dislike`) a local account gave a video.
pub fn rate_url(app: &App, account: &str, rating: &str, uuid: &str) -> String {
    let kind = if rating == "like" { "likes" } else { "dislikes" };
    format!("{}/{kind}/{uuid}", uris::account(app, account))
}

/// One of the collections of a federated local video `v` (see [`VideoCollection`]).
pub async fn video_collection(
    app: &App,
    v: &videos::Video,
    which: VideoCollection,
    page: Option<i64>,
) -> Result<Value> {
    let video_url = uris::video(app, &v.uuid);
    let p = page.unwrap_or(1).max(1);
    let (id, total, items) = match which {
        VideoCollection::Likes | VideoCollection::Dislikes => {
            let (rating, name) =
                if which == VideoCollection::Likes { ("like", "likes") } else { ("dislike", "dislikes") };
            let (raters, total) =
                flotilla_db::rates::raters(&app.db, v.id, rating, (p - 1) * PAGE_SIZE, PAGE_SIZE).await?;
            let items = raters
                .iter()
                .map(|r| match r {
                    flotilla_db::rates::Rater::Local(name) => json!(rate_url(app, name, rating, &v.uuid)),
                    flotilla_db::rates::Rater::Remote(url) => json!(url),
                })
                .collect();
            (format!("{video_url}/{name}"), total, items)
        }
        VideoCollection::Announces => {
            // The channel's and the instance's `Announce`s, sent when the video was published.
            let c = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
                .await?
                .ok_or_else(|| Error::not_found("channel"))?;
            let instance = ensure_instance_actor(app).await?;
            let all = [c.actor_id, instance].map(|a| json!(format!("{video_url}/announces/{a}")));
            let items = if p == 1 { all.to_vec() } else { Vec::new() };
            (format!("{video_url}/announces"), all.len() as i64, items)
        }
        // Every comment that is not held, replies and tombstones included (PeerTube's shape).
        VideoCollection::Comments => {
            let (list, total) = flotilla_db::comments::of_video(&app.db, v.id, (p - 1) * PAGE_SIZE, PAGE_SIZE).await?;
            let items = list.iter().map(|c| json!(crate::comment::url(app, v, c))).collect();
            (format!("{video_url}/comments"), total, items)
        }
    };
    Ok(collection(&id, total, page.map(|_| p), if page.is_some() { items } else { Vec::new() }, PAGE_SIZE))
}

/// The `Like` or `Dislike` of a local account for a federated local video, as PeerTube sends it;
/// `None` when the account did not give that rating.
pub async fn rate_activity(app: &App, account: &Account, v: &videos::Video, rating: &str) -> Result<Option<Value>> {
    let user = account.user_id.ok_or_else(|| Error::not_found("rating"))?;
    if flotilla_db::rates::get(&app.db, user, v.id).await?.as_deref() != Some(rating) {
        return Ok(None);
    }
    let actor = uris::account(app, &account.name);
    Ok(Some(json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "to": [PUBLIC],
        "cc": [format!("{actor}/followers")],
        "id": rate_url(app, &account.name, rating, &v.uuid),
        "type": if rating == "like" { "Like" } else { "Dislike" },
        "actor": actor,
        "object": uris::video(app, &v.uuid),
    })))
}

/// Items per page of our collections.
pub const PAGE_SIZE: i64 = 10;

/// The outbox of an account or a channel: a `Create` per public video, newest first.
/// The instance actor's outbox, as PeerTube's: the `Announce` it sent of each local public video
/// (what an instance that follows this one crawls to get its past), newest first.
pub async fn instance_outbox(app: &App, id: &str, page: Option<i64>) -> Result<Value> {
    let filter = videos::VideoFilter { public_only: true, is_local: Some(true), ..Default::default() };
    let p = page.unwrap_or(1).max(1);
    let (rows, total) = videos::list(&app.db, &filter, "v.published_at DESC", (p - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    let instance = ensure_instance_actor(app).await?;
    let actor = uris::instance_actor(app);
    let items = if page.is_some() {
        rows.iter()
            .map(|v| {
                let video_url = uris::video(app, &v.uuid);
                json!({
                    "to": [PUBLIC, format!("{actor}/followers")],
                    "cc": [],
                    "type": "Announce",
                    "id": format!("{video_url}/announces/{instance}"),
                    "actor": actor,
                    "object": video_url,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(collection(id, total, page.map(|_| p), items, PAGE_SIZE))
}

pub async fn outbox(
    app: &App,
    account_id: Option<i64>,
    channel_id: Option<i64>,
    id: &str,
    page: Option<i64>,
) -> Result<Value> {
    let filter = videos::VideoFilter { account_id, channel_id, public_only: true, ..Default::default() };
    let p = page.unwrap_or(1).max(1);
    let (rows, total) = videos::list(&app.db, &filter, "v.published_at DESC", (p - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    let mut items = Vec::new();
    if page.is_some() {
        for v in &rows {
            let object = video_to_ap(app, v).await?;
            items.push(json!({
                "to": object["to"],
                "cc": object["cc"],
                "type": "Create",
                "id": format!("{}/activity", object["id"].as_str().unwrap_or_default()),
                "actor": object["attributedTo"][0]["id"],
                "object": without_context(object),
            }));
        }
    }
    Ok(collection(id, total, page.map(|_| p), items, PAGE_SIZE))
}

/// `followers` or `following` of a local actor: the actors' URLs, newest first.
pub async fn follow_collection(app: &App, actor: i64, followers: bool, id: &str, page: Option<i64>) -> Result<Value> {
    let p = page.unwrap_or(1).max(1);
    let (rows, total) =
        flotilla_db::follows::list_for(&app.db, actor, !followers, Some("accepted"), (p - 1) * PAGE_SIZE, PAGE_SIZE)
            .await?;
    let mut items = Vec::new();
    if page.is_some() {
        for f in rows {
            let (url, host, name) = if followers {
                (f.follower_url, f.follower_host, f.follower_name)
            } else {
                (f.target_url, f.target_host, f.target_name)
            };
            items.push(Value::String(match url {
                Some(u) => u,
                None if host.is_empty() => uris::account(app, &name),
                None => continue,
            }));
        }
    }
    Ok(collection(id, total, page.map(|_| p), items, PAGE_SIZE))
}

/// An object embedded in an activity carries no `@context` of its own.
pub fn without_context(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("@context");
    }
    v
}

/// A local actor named in a WebFinger `resource` (`acct:name@host`, or its URL).
pub async fn webfinger(app: &App, resource: &str) -> Result<Value> {
    let base = app.public.base();
    let name = if let Some(acct) = resource.strip_prefix("acct:") {
        let (name, host) =
            acct.rsplit_once('@').ok_or_else(|| Error::invalid("resource", "expected acct:name@host"))?;
        if !host.eq_ignore_ascii_case(&app.public.host) {
            return Err(Error::not_found("actor"));
        }
        name.trim_start_matches('@').to_string()
    } else if let Some(path) = resource.strip_prefix(&base) {
        path.strip_prefix("/accounts/")
            .or_else(|| path.strip_prefix("/video-channels/"))
            .or_else(|| path.strip_prefix("/a/"))
            .or_else(|| path.strip_prefix("/c/"))
            .ok_or_else(|| Error::not_found("actor"))?
            .to_string()
    } else {
        return Err(Error::not_found("actor"));
    };
    let url = if name == INSTANCE_ACTOR {
        uris::instance_actor(app)
    } else if accounts::get_local_by_name(&app.db, &name).await?.is_some() {
        uris::account(app, &name)
    } else if channels::get_local_by_name(&app.db, &name).await?.is_some() {
        uris::channel(app, &name)
    } else {
        return Err(Error::not_found("actor"));
    };
    Ok(json!({
        "subject": format!("acct:{name}@{}", app.public.host),
        "aliases": [url],
        "links": [
            { "rel": "self", "type": "application/activity+json", "href": url },
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": url },
            { "rel": "http://ostatus.org/schema/1.0/subscribe", "template": format!("{base}/remote-interaction?uri={{uri}}") },
        ],
    }))
}

/// `/.well-known/nodeinfo`
pub fn nodeinfo_links(app: &App) -> Value {
    let base = app.public.base();
    json!({
        "links": [
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0.json") },
            { "rel": "https://www.w3.org/ns/activitystreams#Application", "href": uris::instance_actor(app) },
        ]
    })
}

/// `/nodeinfo/2.0.json`, with real counts.
pub async fn nodeinfo(app: &App) -> Result<Value> {
    let now = now_ms();
    let (total, month, half) = users::activity_counts(&app.db, now - 30 * 86_400_000, now - 182 * 86_400_000).await?;
    let local_posts = videos::count_published_local(&app.db).await?;
    let s = app.settings();
    Ok(json!({
        "version": "2.0",
        "software": { "name": "flotilla", "version": env!("CARGO_PKG_VERSION") },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": s.signup != flotilla_domain::SignupMode::Closed,
        "usage": {
            "users": { "total": total, "activeMonth": month, "activeHalfyear": half },
            "localPosts": local_posts,
            "localComments": 0
        },
        "metadata": {
            "taxonomy": { "postsName": "Videos" },
            "nodeName": s.name,
            "nodeDescription": s.short_description,
        }
    }))
}
