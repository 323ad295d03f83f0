//! Video playlists (PeerTube's `/video-playlists`): a user's lists of videos, in order, with an
//! optional start and stop per element; every account's built-in "Watch later"; copies of other
//! servers' public playlists. Public and unlisted playlists of a channel federate: every change
//! records [`Event::PlaylistChanged`] in its transaction, deletion [`Event::PlaylistDeleted`]
//! (`federation::playlists` sends them).
//!
//! Who may do what: anyone reads public and unlisted playlists (unlisted ones are not listed);
//! private ones and Watch later are their owner's only. Only the owner changes a playlist.

use flotilla_db::playlists::{self, Element, NewPlaylist, Playlist, PlaylistFilter, PlaylistPatch};
use flotilla_db::{accounts, channels, follows, videos};
use flotilla_domain::time::{iso8601, now_ms};
use flotilla_domain::{Validation, rules};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::events::{self, Event};
use crate::{App, Error, Result, ap, convert, uris};

/// Elements a playlist may hold (PeerTube sets no limit; a list has to end somewhere).
pub const MAX_ELEMENTS: i64 = 5000;
/// Playlists one account may have.
pub const MAX_PLAYLISTS: i64 = 1000;

pub fn privacy_label(p: i64) -> &'static str {
    match p {
        playlists::PUBLIC => "Public",
        playlists::UNLISTED => "Unlisted",
        _ => "Private",
    }
}

/// The privacies a playlist can have (`GET /video-playlists/privacies`).
pub fn privacies() -> Value {
    json!({ "1": "Public", "2": "Unlisted", "3": "Private" })
}

/// The playlist's ActivityPub id (and the page of ours).
pub fn url(app: &App, p: &Playlist) -> String {
    p.url.clone().unwrap_or_else(|| local_url(app, &p.uuid))
}

pub fn local_url(app: &App, uuid: &str) -> String {
    format!("{}/video-playlists/{uuid}", app.public.base())
}

/// Whether followers hear of it: ours, regular, of a channel, public or unlisted (PeerTube sends
/// every playlist but private ones).
pub fn federates(p: &Playlist) -> bool {
    p.is_local() && p.kind == playlists::REGULAR && p.channel_id.is_some() && p.privacy != playlists::PRIVATE
}

/// The thumbnail's path: its own, else its first video's.
pub fn thumbnail_path(p: &Playlist) -> Option<String> {
    p.thumbnail.as_ref().or(p.first_thumbnail.as_ref()).map(|t| format!("/lazy-static/thumbnails/{t}"))
}

/// API objects of playlists, with their owners and channels loaded in batches.
pub async fn views(app: &App, list: &[Playlist]) -> Result<Vec<Value>> {
    let mut account_ids: Vec<i64> = list.iter().map(|p| p.account_id).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let mut channel_ids: Vec<i64> = list.iter().filter_map(|p| p.channel_id).collect();
    channel_ids.sort_unstable();
    channel_ids.dedup();
    let accs = accounts::get_many(&app.db, &account_ids).await?;
    let chans = channels::get_many(&app.db, &channel_ids).await?;
    let actor_ids: Vec<i64> = chans.iter().map(|c| c.actor_id).chain(accs.iter().map(|a| a.actor_id)).collect();
    let imgs = flotilla_db::images::list_for(&app.db, &actor_ids).await?;
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let a = accs.iter().find(|a| a.id == p.account_id).ok_or_else(|| Error::not_found("account"))?;
        let owner = convert::account_to_api(app, a, &imgs);
        let channel = match p.channel_id.and_then(|id| chans.iter().find(|c| c.id == id)) {
            Some(c) => convert::channel_to_api(app, c, &imgs, owner.clone()),
            None => Value::Null,
        };
        out.push(json!({
            "id": p.id,
            "uuid": p.uuid,
            "shortUUID": p.short_uuid,
            "isLocal": p.is_local(),
            "url": url(app, p),
            "displayName": p.name,
            "description": p.description,
            "privacy": { "id": p.privacy, "label": privacy_label(p.privacy) },
            "thumbnailPath": thumbnail_path(p),
            "embedPath": format!("/video-playlists/embed/{}", p.uuid),
            "type": { "id": p.kind, "label": if p.kind == playlists::WATCH_LATER { "Watch later" } else { "Regular" } },
            "videosLength": p.videos_length,
            "createdAt": iso8601(p.created_at),
            "updatedAt": iso8601(p.updated_at),
            "ownerAccount": owner,
            "videoChannel": channel,
        }));
    }
    Ok(out)
}

async fn my_account(app: &App, who: &AuthUser) -> Result<accounts::Account> {
    accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))
}

/// Makes the account's Watch later playlist if it has none.
pub async fn ensure_watch_later(app: &App, account_id: i64) -> Result<()> {
    let id = uuid::Uuid::new_v4();
    let (uuid, short) = (id.to_string(), crate::video::short_uuid(&id));
    let now = now_ms();
    playlists::ensure_watch_later(
        &app.db,
        &NewPlaylist {
            uuid: &uuid,
            short_uuid: &short,
            name: "Watch later",
            description: None,
            privacy: playlists::PRIVATE,
            kind: playlists::WATCH_LATER,
            account_id,
            channel_id: None,
            url: None,
            thumbnail: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    Ok(())
}

/// A playlist `who` may read (404 otherwise, as if it did not exist).
pub async fn readable(app: &App, who: Option<&AuthUser>, key: &str) -> Result<Playlist> {
    let p = playlists::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("playlist"))?;
    if p.privacy != playlists::PRIVATE {
        return Ok(p);
    }
    if let Some(w) = who
        && my_account(app, w).await?.id == p.account_id
    {
        return Ok(p);
    }
    Err(Error::not_found("playlist"))
}

/// A playlist `who` may change: their own (moderators read others' but do not edit them, as
/// PeerTube; they may delete them).
async fn owned(app: &App, who: &AuthUser, key: &str, moderators_too: bool) -> Result<(Playlist, accounts::Account)> {
    let p = readable(app, Some(who), key).await?;
    let me = my_account(app, who).await?;
    if p.account_id == me.id {
        return Ok((p, me));
    }
    // The editors of a shared channel manage its playlists.
    if let Some(c) = p.channel_id
        && p.is_local()
        && flotilla_db::collaborators::edits(&app.db, who.user.id, c).await?
    {
        return Ok((p, me));
    }
    if moderators_too && p.is_local() && who.require_moderator().is_ok() {
        return Ok((p, me));
    }
    Err(Error::Forbidden("this playlist is not yours".into()))
}

/// `GET /video-playlists/{id}`.
pub async fn get(app: &App, who: Option<&AuthUser>, key: &str) -> Result<Value> {
    let p = readable(app, who, key).await?;
    views(app, std::slice::from_ref(&p)).await?.pop().ok_or_else(|| Error::not_found("playlist"))
}

/// Whose playlists a list shows.
pub enum Scope<'a> {
    /// `GET /video-playlists`: public ones of every account.
    All,
    Account(&'a str),
    Channel(&'a str),
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub start: Option<i64>,
    pub count: Option<i64>,
    pub sort: Option<String>,
    pub playlist_type: Option<i64>,
    pub search: Option<String>,
}

const SORTS: &[(&str, &str)] =
    &[("createdAt", "p.created_at"), ("updatedAt", "p.updated_at"), ("displayName", "p.name")];

pub async fn list(app: &App, who: Option<&AuthUser>, q: ListQuery, scope: Scope<'_>) -> Result<Value> {
    let page = crate::page(q.start, q.count);
    let mut f =
        PlaylistFilter { public_only: true, kind: q.playlist_type, search: q.search.clone(), ..Default::default() };
    if let Some(k) = q.playlist_type
        && !matches!(k, playlists::REGULAR | playlists::WATCH_LATER)
    {
        return Err(Error::invalid("playlistType", "playlistType must be 1 (regular) or 2 (watch later)"));
    }
    match scope {
        Scope::All => {}
        Scope::Account(name) => {
            let a = crate::account::get_by_handle(app, name).await?;
            if let Some(w) = who
                && a.user_id == Some(w.user.id)
            {
                // The owner sees all of theirs, their Watch later too (made when first asked for).
                ensure_watch_later(app, a.id).await?;
                f.public_only = false;
            }
            f.account_id = Some(a.id);
        }
        Scope::Channel(handle) => f.channel_id = Some(crate::channel::get_by_handle(app, handle).await?.id),
    }
    if f.public_only {
        f.hide_accounts = crate::blocklist::hidden_for(app, who.map(|w| w.user.id)).await?.to_vec();
    }
    let order = flotilla_db::order_by(q.sort.as_deref(), SORTS, "p.created_at DESC");
    let (rows, total) = playlists::list(&app.db, &f, &order, page.start, page.count).await?;
    Ok(json!({ "total": total, "data": views(app, &rows).await? }))
}

/// What `POST`/`PUT /video-playlists` carry (multipart text fields).
#[derive(Debug, Default)]
pub struct PlaylistForm {
    pub display_name: Option<String>,
    /// `Some(None)`: cleared.
    pub description: Option<Option<String>>,
    pub privacy: Option<i64>,
    /// `Some(None)`: no channel.
    pub channel_id: Option<Option<i64>>,
    pub thumbnail: Option<Vec<u8>>,
}

fn validate(f: &PlaylistForm, creating: bool) -> Result<()> {
    let mut v = Validation::new();
    match &f.display_name {
        Some(n) => {
            v.check("displayName", rules::display_name(n));
        }
        None if creating => {
            v.fail("displayName", "a playlist needs a name (displayName)");
        }
        None => {}
    }
    if let Some(Some(d)) = &f.description {
        v.check("description", rules::description(d));
    }
    if let Some(p) = f.privacy
        && !(1..=3).contains(&p)
    {
        v.fail("privacy", "privacy must be 1 (public), 2 (unlisted) or 3 (private)");
    }
    v.finish().map_err(Error::Validation)
}

/// The channel a playlist goes in: one the user may publish to.
async fn channel_for(app: &App, who: &AuthUser, id: i64) -> Result<channels::Channel> {
    let c = channels::get(&app.db, flotilla_domain::ChannelId(id))
        .await?
        .ok_or_else(|| Error::invalid("videoChannelId", "no such channel"))?;
    let owner = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    if owner.user_id != Some(who.user.id) && !flotilla_db::collaborators::edits(&app.db, who.user.id, c.id).await? {
        return Err(Error::Forbidden("the channel is neither yours nor one you edit".into()));
    }
    Ok(c)
}

async fn store_thumbnail(app: &App, bytes: Vec<u8>) -> Result<String> {
    let images = crate::video::edit::encode_images(Some(bytes), None).await?;
    let jpeg = images.thumbnail.ok_or_else(|| Error::invalid("thumbnailfile", "the image is empty"))?;
    let name = format!("playlist-{}.jpg", uuid::Uuid::new_v4());
    tokio::fs::write(app.data_path("thumbnails").join(&name), &jpeg)
        .await
        .map_err(|e| Error::write("the thumbnail", e))?;
    Ok(name)
}

async fn remove_thumbnail(app: &App, name: Option<&str>) {
    let Some(n) = name else { return };
    if let Err(e) = tokio::fs::remove_file(app.data_path("thumbnails").join(n)).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = n, error = %e, "cannot remove a playlist thumbnail");
    }
    crate::image_storage::forget(app, "thumbnails", &[n.to_string()]).await;
}

/// `POST /video-playlists`: `{ id, uuid, shortUUID }` of the new playlist.
pub async fn create(app: &App, who: &AuthUser, f: PlaylistForm) -> Result<Value> {
    validate(&f, true)?;
    let me = my_account(app, who).await?;
    let privacy = f.privacy.unwrap_or(playlists::PRIVATE);
    let channel = match f.channel_id.flatten() {
        Some(id) => Some(channel_for(app, who, id).await?.id),
        None => None,
    };
    if privacy == playlists::PUBLIC && channel.is_none() {
        return Err(Error::invalid("videoChannelId", "a public playlist belongs to a channel (videoChannelId)"));
    }
    let (_, total) =
        playlists::list(&app.db, &PlaylistFilter { account_id: Some(me.id), ..Default::default() }, "p.id", 0, 1)
            .await?;
    if total >= MAX_PLAYLISTS {
        return Err(Error::bad_request(
            "too_many_playlists",
            format!("an account has at most {MAX_PLAYLISTS} playlists"),
        ));
    }
    let thumbnail = match f.thumbnail {
        Some(b) => Some(store_thumbnail(app, b).await?),
        None => None,
    };
    let id = uuid::Uuid::new_v4();
    let (uuid, short) = (id.to_string(), crate::video::short_uuid(&id));
    let now = now_ms();
    let name = f.display_name.unwrap_or_default();
    let description = f.description.flatten();
    let written: Result<i64> = async {
        let mut tx = app.db.begin().await?;
        let pid = playlists::insert(
            &mut tx,
            &NewPlaylist {
                uuid: &uuid,
                short_uuid: &short,
                name: name.trim(),
                description: description.as_deref(),
                privacy,
                kind: playlists::REGULAR,
                account_id: me.id,
                channel_id: channel,
                url: None,
                thumbnail: thumbnail.as_deref(),
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        events::record(&mut tx, Event::PlaylistChanged { playlist_id: pid, was_federated: false }).await?;
        tx.commit().await?;
        Ok(pid)
    }
    .await;
    let pid = match written {
        Ok(id) => id,
        Err(e) => {
            remove_thumbnail(app, thumbnail.as_deref()).await;
            return Err(e);
        }
    };
    app.wake_jobs();
    Ok(json!({ "videoPlaylist": { "id": pid, "uuid": uuid, "shortUUID": short } }))
}

/// `PUT /video-playlists/{id}`.
pub async fn update(app: &App, who: &AuthUser, key: &str, f: PlaylistForm) -> Result<()> {
    validate(&f, false)?;
    let (p, _) = owned(app, who, key, false).await?;
    if p.kind == playlists::WATCH_LATER
        && (f.display_name.is_some() || f.privacy.is_some_and(|x| x != p.privacy) || f.channel_id.is_some())
    {
        return Err(Error::bad_request("watch_later_fixed", "the Watch later playlist keeps its name and privacy"));
    }
    let channel = match f.channel_id {
        Some(Some(id)) => Some(Some(channel_for(app, who, id).await?.id)),
        Some(None) => Some(None),
        None => None,
    };
    let privacy = f.privacy.unwrap_or(p.privacy);
    let channel_after = channel.unwrap_or(p.channel_id);
    if privacy == playlists::PUBLIC && channel_after.is_none() {
        return Err(Error::invalid("videoChannelId", "a public playlist belongs to a channel (videoChannelId)"));
    }
    let thumbnail = match f.thumbnail {
        Some(b) => Some(store_thumbnail(app, b).await?),
        None => None,
    };
    let patch = PlaylistPatch {
        name: f.display_name.as_deref().map(str::trim),
        description: f.description.as_ref().map(|d| d.as_deref()),
        privacy: f.privacy,
        channel_id: channel,
        thumbnail: thumbnail.as_ref().map(|t| Some(t.as_str())),
    };
    let was_federated = federates(&p);
    let written: Result<()> = async {
        let mut tx = app.db.begin().await?;
        playlists::update(&mut tx, p.id, &patch, now_ms()).await?;
        changed(&mut tx, &p, was_federated).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = written {
        remove_thumbnail(app, thumbnail.as_deref()).await;
        return Err(e);
    }
    app.wake_jobs();
    if thumbnail.is_some() {
        remove_thumbnail(app, p.thumbnail.as_deref()).await;
    }
    Ok(())
}

/// Records that `p` changed (in the changing transaction).
async fn changed(tx: &mut flotilla_db::Tx, p: &Playlist, was_federated: bool) -> Result<()> {
    if p.is_local() && p.kind == playlists::REGULAR {
        events::record(tx, Event::PlaylistChanged { playlist_id: p.id, was_federated }).await?;
    }
    Ok(())
}

/// What the followers of a federated playlist must hear when it goes (read before it goes).
async fn gone(e: impl Into<flotilla_db::Exec<'_>>, app: &App, p: &Playlist) -> Result<Option<Event>> {
    if !federates(p) {
        return Ok(None);
    }
    let mut e = e.into();
    let a = accounts::get(&mut e, flotilla_domain::AccountId(p.account_id))
        .await?
        .ok_or_else(|| Error::not_found("account"))?;
    let instance = accounts::local_actor_id(&mut e, "Application", ap::INSTANCE_ACTOR).await?;
    let mut actors: Vec<i64> = std::iter::once(a.actor_id).chain(instance).collect();
    if let Some(c) = p.channel_id
        && let Some(c) = channels::get(&mut e, flotilla_domain::ChannelId(c)).await?
    {
        actors.push(c.actor_id);
    }
    let inboxes = follows::follower_inboxes(&mut e, &actors).await?;
    if inboxes.is_empty() {
        return Ok(None);
    }
    Ok(Some(Event::PlaylistDeleted {
        url: url(app, p),
        actor_id: a.actor_id,
        actor_url: uris::account(app, &a.name),
        inboxes,
    }))
}

/// `DELETE /video-playlists/{id}`: the owner, or a moderator (a local playlist).
pub async fn delete(app: &App, who: &AuthUser, key: &str) -> Result<()> {
    let (p, _) = owned(app, who, key, true).await?;
    if p.kind == playlists::WATCH_LATER {
        return Err(Error::bad_request("watch_later_fixed", "the Watch later playlist cannot be deleted"));
    }
    let mut tx = app.db.begin().await?;
    if let Some(ev) = gone(&mut tx, app, &p).await? {
        events::record(&mut tx, ev).await?;
    }
    let thumb = playlists::delete(&mut tx, p.id).await?;
    tx.commit().await?;
    app.wake_jobs();
    remove_thumbnail(app, thumb.flatten().as_deref()).await;
    Ok(())
}

/// The playlists of a channel being deleted (they go with it): what their followers must hear,
/// recorded in its transaction; their thumbnails, to remove once it is committed.
pub async fn channel_deleting(tx: &mut flotilla_db::Tx, app: &App, channel_id: i64) -> Result<Vec<String>> {
    let mut thumbnails = Vec::new();
    for p in playlists::of_channel(&mut *tx, channel_id).await? {
        if let Some(ev) = gone(&mut *tx, app, &p).await? {
            events::record(tx, ev).await?;
        }
        thumbnails.extend(p.thumbnail);
    }
    Ok(thumbnails)
}

pub async fn remove_thumbnails(app: &App, names: &[String]) {
    for n in names {
        remove_thumbnail(app, Some(n)).await;
    }
}

/// PeerTube's element types: what a viewer gets in place of a video they may not see.
const ELEMENT_REGULAR: i64 = 0;
const ELEMENT_PRIVATE: i64 = 1;
const ELEMENT_UNAVAILABLE: i64 = 2;
const ELEMENT_DELETED: i64 = 3;

/// `GET /video-playlists/{id}/videos`.
pub async fn elements(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    start: Option<i64>,
    count: Option<i64>,
) -> Result<Value> {
    let p = readable(app, who, key).await?;
    let page = crate::page(start, count);
    let (rows, total) = playlists::elements(&app.db, p.id, page.start, page.count).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|e| e.video_id).collect();
    let vids = videos::get_many(&app.db, &ids).await?;
    let mut visible = Vec::new();
    let mut kinds = Vec::with_capacity(rows.len());
    for e in &rows {
        let kind = match e.video_id.and_then(|id| vids.iter().find(|v| v.id == id)) {
            None => ELEMENT_DELETED,
            Some(v) if crate::video::can_see(app, who, v).await? => {
                visible.push(v.clone());
                ELEMENT_REGULAR
            }
            Some(v) if v.privacy == crate::video::PRIVACY_PRIVATE => ELEMENT_PRIVATE,
            Some(_) => ELEMENT_UNAVAILABLE,
        };
        kinds.push(kind);
    }
    let mut shown = crate::video::views(app, &visible).await?.into_iter();
    let mut positions = crate::history::positions_of(app, who, &visible).await?.into_iter();
    let data: Vec<Value> = rows
        .iter()
        .zip(kinds)
        .map(|(e, kind)| {
            let mut video = Value::Null;
            if kind == ELEMENT_REGULAR {
                video = shown.next().unwrap_or(Value::Null);
                if let Some(Some(t)) = positions.next() {
                    video["userHistory"] = json!({ "currentTime": t });
                }
            }
            json!({
                "id": e.id,
                "position": e.position,
                "startTimestamp": e.start_timestamp,
                "stopTimestamp": e.stop_timestamp,
                "type": kind,
                "video": video,
            })
        })
        .collect();
    Ok(json!({ "total": total, "data": data }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddElement {
    pub video_id: Option<Value>,
    pub start_timestamp: Option<i64>,
    pub stop_timestamp: Option<i64>,
}

fn check_times(start: Option<i64>, stop: Option<i64>) -> Result<()> {
    let mut v = Validation::new();
    if start.is_some_and(|s| s < 0) {
        v.fail("startTimestamp", "startTimestamp must be 0 or more seconds");
    }
    if stop.is_some_and(|s| s < 0) {
        v.fail("stopTimestamp", "stopTimestamp must be 0 or more seconds");
    }
    if let (Some(a), Some(b)) = (start, stop)
        && b <= a
    {
        v.fail("stopTimestamp", "stopTimestamp must come after startTimestamp");
    }
    v.finish().map_err(Error::Validation)
}

/// `POST /video-playlists/{id}/videos`: `{ videoPlaylistElement: { id } }`.
pub async fn add(app: &App, who: &AuthUser, key: &str, req: AddElement) -> Result<Value> {
    let (p, _) = owned(app, who, key, false).await?;
    let video_key = match &req.video_id {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return Err(Error::invalid("videoId", "videoId (the video's id, UUID or short UUID) is required")),
    };
    check_times(req.start_timestamp, req.stop_timestamp)?;
    let v = videos::get_by_any_id(&app.db, &video_key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !crate::video::can_see(app, Some(who), &v).await? {
        return Err(Error::not_found("video"));
    }
    let was_federated = federates(&p);
    let mut tx = app.db.begin().await?;
    if !playlists::touch(&mut tx, p.id, now_ms()).await? {
        return Err(Error::not_found("playlist"));
    }
    if playlists::count(&mut tx, p.id).await? >= MAX_ELEMENTS {
        return Err(Error::bad_request("playlist_full", format!("a playlist holds at most {MAX_ELEMENTS} videos")));
    }
    let id = playlists::append(&mut tx, p.id, v.id, req.start_timestamp, req.stop_timestamp, now_ms()).await?;
    changed(&mut tx, &p, was_federated).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(json!({ "videoPlaylistElement": { "id": id } }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateElement {
    #[serde(default, deserialize_with = "crate::nullable")]
    pub start_timestamp: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub stop_timestamp: Option<Option<i64>>,
}

async fn element_of(app: &App, p: &Playlist, element: &str) -> Result<Element> {
    let id = element.parse::<i64>().map_err(|_| Error::not_found("playlist element"))?;
    playlists::element(&app.db, p.id, id).await?.ok_or_else(|| Error::not_found("playlist element"))
}

/// `PUT /video-playlists/{id}/videos/{element}`: its start and stop.
pub async fn update_element(app: &App, who: &AuthUser, key: &str, element: &str, req: UpdateElement) -> Result<()> {
    let (p, _) = owned(app, who, key, false).await?;
    let e = element_of(app, &p, element).await?;
    let start = req.start_timestamp.unwrap_or(e.start_timestamp);
    let stop = req.stop_timestamp.unwrap_or(e.stop_timestamp);
    check_times(start, stop)?;
    let mut tx = app.db.begin().await?;
    playlists::touch(&mut tx, p.id, now_ms()).await?;
    if !playlists::set_timestamps(&mut tx, p.id, e.id, start, stop, now_ms()).await? {
        return Err(Error::not_found("playlist element"));
    }
    changed(&mut tx, &p, federates(&p)).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `DELETE /video-playlists/{id}/videos/{element}`: the others close the gap.
pub async fn remove(app: &App, who: &AuthUser, key: &str, element: &str) -> Result<()> {
    let (p, _) = owned(app, who, key, false).await?;
    let id = element.parse::<i64>().map_err(|_| Error::not_found("playlist element"))?;
    let mut tx = app.db.begin().await?;
    playlists::touch(&mut tx, p.id, now_ms()).await?;
    if !playlists::remove(&mut tx, p.id, id).await? {
        return Err(Error::not_found("playlist element"));
    }
    changed(&mut tx, &p, federates(&p)).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reorder {
    pub start_position: Option<i64>,
    pub insert_after_position: Option<i64>,
    pub reorder_length: Option<i64>,
}

/// PeerTube's reorder: the `len` elements from `start` (1-based) move after position `after`
/// (0: to the top), positions counted before the move. `None` when out of range.
pub fn reordered(ids: &[i64], start: i64, after: i64, len: i64) -> Option<Vec<i64>> {
    let n = ids.len() as i64;
    if start < 1 || len < 1 || start + len - 1 > n || after < 0 || after > n {
        return None;
    }
    let (s, l) = ((start - 1) as usize, len as usize);
    let moved: Vec<i64> = ids[s..s + l].to_vec();
    let mut rest: Vec<i64> = ids[..s].iter().chain(&ids[s + l..]).copied().collect();
    // Where "after position `after`" falls once the moved block is out.
    let at = if after as usize >= s + l {
        after as usize - l
    } else if after as usize > s {
        s
    } else {
        after as usize
    };
    let tail = rest.split_off(at);
    rest.extend(moved);
    rest.extend(tail);
    Some(rest)
}

/// `POST /video-playlists/{id}/videos/reorder`.
pub async fn reorder(app: &App, who: &AuthUser, key: &str, req: Reorder) -> Result<()> {
    let (p, _) = owned(app, who, key, false).await?;
    let start = req.start_position.ok_or_else(|| Error::invalid("startPosition", "startPosition is required"))?;
    let after = req
        .insert_after_position
        .ok_or_else(|| Error::invalid("insertAfterPosition", "insertAfterPosition is required"))?;
    let len = req.reorder_length.unwrap_or(1);
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    // Taken first: a concurrent edit of this playlist waits for this one, then reads its result.
    playlists::touch(&mut tx, p.id, now).await?;
    let old = playlists::order(&mut tx, p.id).await?;
    let new = reordered(&old, start, after, len).ok_or_else(|| {
        Error::invalid("startPosition", format!("positions must fall within the playlist's {} videos", old.len()))
    })?;
    playlists::renumber(&mut tx, p.id, &old, &new, now).await?;
    changed(&mut tx, &p, federates(&p)).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `GET /users/me/video-playlists/videos-exist?videoIds=`: where each video is in my playlists.
pub async fn videos_exist(app: &App, who: &AuthUser, video_ids: &[i64]) -> Result<Value> {
    if video_ids.len() > 100 {
        return Err(Error::invalid("videoIds", "ask about 100 videos at most"));
    }
    let me = my_account(app, who).await?;
    let rows = playlists::videos_exist(&app.db, me.id, video_ids).await?;
    let mut out = serde_json::Map::new();
    for id in video_ids {
        out.insert(id.to_string(), json!([]));
    }
    for (video, element, playlist, name, short, start, stop) in rows {
        if let Some(Value::Array(list)) = out.get_mut(&video.to_string()) {
            list.push(json!({
                "playlistElementId": element,
                "playlistId": playlist,
                "playlistDisplayName": name,
                "playlistShortUUID": short,
                "startTimestamp": start,
                "stopTimestamp": stop,
            }));
        }
    }
    Ok(Value::Object(out))
}

/// The ActivityPub `Playlist` of ours: the collection (`page` `None`) or one page of its element
/// ids, as PeerTube (ap-playlist.json, ap-playlist-page1.json).
pub async fn to_ap(app: &App, p: &Playlist, page: Option<i64>) -> Result<Value> {
    let id = url(app, p);
    let a = accounts::get(&app.db, flotilla_domain::AccountId(p.account_id))
        .await?
        .ok_or_else(|| Error::not_found("account"))?;
    let account_url = uris::account(app, &a.name);
    let channel = match p.channel_id {
        Some(c) => channels::get(&app.db, flotilla_domain::ChannelId(c)).await?,
        None => None,
    };
    let items = federated_elements(app, p).await?;
    let total = items.len() as i64;
    let mut out = json!({
        "@context": context(),
        "to": if p.privacy == playlists::PUBLIC { json!([ap::PUBLIC]) } else { json!([]) },
        "cc": [format!("{account_url}/followers")],
        "id": id,
        "type": "Playlist",
        "totalItems": total,
    });
    match page {
        None => out["first"] = json!(format!("{id}?page=1")),
        Some(n) => {
            let n = n.max(1);
            out["id"] = json!(format!("{id}?page={n}"));
            out["partOf"] = json!(id);
            let from = ((n - 1) * AP_PAGE) as usize;
            let ids: Vec<String> =
                items.iter().skip(from).take(AP_PAGE as usize).map(|(e, _)| element_url(app, p, e.id)).collect();
            out["orderedItems"] = json!(ids);
            if n * AP_PAGE < total {
                out["next"] = json!(format!("{id}?page={}", n + 1));
            }
        }
    }
    out["name"] = json!(p.name);
    if let Some(d) = &p.description {
        out["content"] = json!(d);
        out["mediaType"] = json!("text/markdown");
    }
    out["uuid"] = json!(p.uuid);
    out["published"] = json!(iso8601(p.created_at));
    out["updated"] = json!(iso8601(p.updated_at));
    out["attributedTo"] = json!(channel.map(|c| vec![uris::channel(app, &c.name)]).unwrap_or_default());
    if let Some(path) = thumbnail_path(p) {
        out["icon"] = json!({
            "type": "Image",
            "url": uris::absolute(app, &path),
            "mediaType": "image/jpeg",
            "width": 280,
            "height": 157,
        });
    }
    Ok(out)
}

/// Element ids per page of the ActivityPub collection.
const AP_PAGE: i64 = 100;

pub fn element_url(app: &App, p: &Playlist, element: i64) -> String {
    format!("{}/videos/{element}", local_url(app, &p.uuid))
}

/// The elements other servers may see (their videos federate), with their videos' URLs.
async fn federated_elements(app: &App, p: &Playlist) -> Result<Vec<(Element, String)>> {
    let (rows, _) = playlists::elements(&app.db, p.id, 0, MAX_ELEMENTS).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|e| e.video_id).collect();
    let vids = videos::get_many(&app.db, &ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|e| {
            let v = vids.iter().find(|v| Some(v.id) == e.video_id)?;
            let shown = v.state == crate::video::STATE_PUBLISHED
                && v.blocked == 0
                && matches!(v.privacy, crate::video::PRIVACY_PUBLIC | crate::video::PRIVACY_UNLISTED);
            let url = v.remote_url.clone().unwrap_or_else(|| uris::video(app, &v.uuid));
            shown.then_some((e, url))
        })
        .collect())
}

/// One element's `PlaylistElement` (ap-playlist-element.json).
pub async fn element_to_ap(app: &App, p: &Playlist, element: i64) -> Result<Value> {
    let items = federated_elements(app, p).await?;
    let (e, video_url) =
        items.into_iter().find(|(e, _)| e.id == element).ok_or_else(|| Error::not_found("playlist element"))?;
    let mut out = json!({
        "@context": context(),
        "id": element_url(app, p, e.id),
        "type": "PlaylistElement",
        "url": video_url,
        "position": e.position,
    });
    if let Some(s) = e.start_timestamp {
        out["startTimestamp"] = json!(s);
    }
    if let Some(s) = e.stop_timestamp {
        out["stopTimestamp"] = json!(s);
    }
    Ok(out)
}

/// A federated playlist of ours by UUID (404 for private ones and Watch later).
pub async fn get_federated(app: &App, uuid: &str) -> Result<Playlist> {
    let p = playlists::get_by_any_id(&app.db, uuid).await?.ok_or_else(|| Error::not_found("playlist"))?;
    if p.uuid != uuid || !federates(&p) {
        return Err(Error::not_found("playlist"));
    }
    Ok(p)
}

/// PeerTube's `@context` for playlists.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
        {
            "pt": "https://joinpeertube.org/ns#",
            "sc": "http://schema.org/",
            "Playlist": "pt:Playlist",
            "PlaylistElement": "pt:PlaylistElement",
            "position": { "@type": "sc:Number", "@id": "pt:position" },
            "startTimestamp": { "@type": "sc:Number", "@id": "pt:startTimestamp" },
            "stopTimestamp": { "@type": "sc:Number", "@id": "pt:stopTimestamp" },
            "uuid": { "@type": "sc:identifier", "@id": "pt:uuid" }
        }
    ])
}

/// An actor's `playlists` collection: the URLs of its public playlists.
pub async fn collection(
    app: &App,
    account: Option<i64>,
    channel: Option<i64>,
    id: &str,
    page: Option<i64>,
) -> Result<Value> {
    let n = page.unwrap_or(1).max(1);
    let (uuids, total) = playlists::public_of(&app.db, account, channel, (n - 1) * 10, 10).await?;
    let items = uuids.iter().map(|u| json!(local_url(app, u))).collect();
    Ok(ap::collection(id, total, page.map(|_| n), items, 10))
}

#[cfg(test)]
mod tests {
    use super::reordered;

    #[test]
    fn reorder_moves_blocks_like_peertube() {
        let ids = [1, 2, 3, 4, 5];
        // The first to the end, the last to the top.
        assert_eq!(reordered(&ids, 1, 5, 1).unwrap(), vec![2, 3, 4, 5, 1]);
        assert_eq!(reordered(&ids, 5, 0, 1).unwrap(), vec![5, 1, 2, 3, 4]);
        // Two from position 2 after position 4.
        assert_eq!(reordered(&ids, 2, 4, 2).unwrap(), vec![1, 4, 2, 3, 5]);
        // After a position inside the block moved: stays put.
        assert_eq!(reordered(&ids, 2, 2, 2).unwrap(), ids.to_vec());
        // Out of range.
        assert!(reordered(&ids, 0, 1, 1).is_none());
        assert!(reordered(&ids, 5, 1, 2).is_none());
        assert!(reordered(&ids, 1, 6, 1).is_none());
    }
}
