//! Mirrors, PeerTube's redundancy: servers keep whole copies of each other's popular videos and
//! tell the origin with a `CacheFile`, and the origin lists them to players
//! (`streamingPlaylists[].redundancies[].baseUrl`), who spread their segment requests over them.
//!
//! Both sides, with PeerTube's shapes (`peertube-samples/ap-cachefile.json`,
//! `ap-sent-create-cachefile.json`, `ap-sent-update-cachefile.json`):
//! - **Ours** (`actor_id` our instance actor): chosen by the strategies of `[redundancy]` among
//!   public videos of followed servers an admin allowed (`PUT /api/v1/server/redundancy/{host}`),
//!   or by an admin (`POST /api/v1/server/redundancy/videos`, strategy `manual`, kept until
//!   removed). The copy is made by a `mirror-copy` job, piece by piece as the origin's playlists
//!   name them, every segment checked against the origin's hashes (a mismatch ends the mirror),
//!   into `<data>/redundancy/hls/<uuid>/`, served at `/static/redundancy/hls/<uuid>/…`; then
//!   `Create(CacheFile)` goes to the video's account at its origin. The periodic [`check`]
//!   renews a strategy's expired mirrors (`Update`) while its budget allows, ends the others
//!   (`Undo`, files removed), and starts one new mirror per strategy that fits its budget.
//! - **Theirs**, of our videos: a `Create`/`Update` of a `CacheFile` signed by its actor, naming
//!   one of our public videos and a copy on the signer's own server, is stored when
//!   `redundancy.accept_from` allows the signer; `Undo` by the same actor removes it; expired
//!   ones are no longer listed and are forgotten by the periodic check; a server's actor deleted
//!   takes its copies along.

use std::path::PathBuf;

use flotilla_db::actors::RemoteActor;
use flotilla_db::redundancies::{self, NewOwn, Redundancy};
use flotilla_db::{accounts, actors, channels, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::federation::{delivery, remote};
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result, ap, uris};

/// What a manual mirror's expiry is: never (a far date; its `CacheFile` says `expires: null`).
const NEVER: i64 = i64::MAX / 4;
/// How far ahead another server may announce a copy's expiry (a week past PeerTube's longest
/// usual lifetime); a later date is brought back to this.
const MAX_REMOTE_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;
/// Pieces and files of a mirror at most (a copy of a hostile origin's playlists stays bounded).
const MAX_PIECES: usize = 200_000;
const MAX_PIECE: u64 = 64 * 1024 * 1024;

/// The JSON-LD context of a `CacheFile` and its activities, as PeerTube writes it.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
        {
            "pt": "https://joinpeertube.org/ns#",
            "sc": "http://schema.org/",
            "expires": "sc:expires",
            "CacheFile": "pt:CacheFile",
            "size": { "@type": "sc:Number", "@id": "pt:size" },
            "fps": { "@type": "sc:Number", "@id": "pt:fps" }
        }
    ])
}

/// Our `CacheFile`'s id for a video.
pub fn cache_file_url(app: &App, uuid: &str) -> String {
    format!("{}/redundancy/streaming-playlists/hls/{uuid}", app.public.base())
}

/// Where we serve our copy of a video (PeerTube's path; no trailing slash, as PeerTube gives it).
pub fn mirror_base_url(app: &App, uuid: &str) -> String {
    format!("{}/static/redundancy/hls/{uuid}", app.public.base())
}

pub fn mirror_dir(app: &App, uuid: &str) -> PathBuf {
    app.data_path("redundancy/hls").join(uuid)
}

async fn instance(app: &App) -> Result<i64> {
    ap::ensure_instance_actor(app).await
}

// ---------------------------------------------------------------------------------------------
// Theirs: CacheFiles about our videos.

pub fn is_cache_file(object: &Value) -> bool {
    object["type"] == "CacheFile"
}

/// Whether `redundancy.accept_from` lets `signer`'s server list copies of our videos.
async fn accepted_from(app: &App, signer: &RemoteActor) -> Result<bool> {
    Ok(match app.config.redundancy.accept_from.as_str() {
        "anybody" => true,
        "followings" => redundancies::follows_host(&app.db, instance(app).await?, &signer.host).await?,
        _ => false,
    })
}

/// `Create`/`Update` of a `CacheFile` from the server that holds the copy.
pub async fn receive(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    let bad = |m: &str| Error::invalid("object", m.to_string());
    let allow = app.config.federation.allow_private;
    let on_signer = |u: &str| crate::federation::videos::origin_url(u, &signer.host, allow, false);
    let id = object["id"].as_str().filter(|u| u.len() <= 2048).and_then(on_signer).ok_or_else(|| {
        Error::Forbidden("a CacheFile's id must be on the server that sends it, at an https URL".into())
    })?;
    let href = object["url"]["href"].as_str().filter(|u| u.len() <= 2048).and_then(on_signer).ok_or_else(|| {
        Error::Forbidden("a CacheFile's copy must be on the server that sends it, at an https URL".into())
    })?;
    if object["url"]["mediaType"] != "application/x-mpegURL" {
        // A web-video file copy (PeerTube before 6.x): we have no such files to mirror.
        tracing::debug!(id, "CacheFile of something other than an HLS playlist; ignored");
        return Ok(());
    }
    let video_url = remote::id_of(&object["object"]).ok_or_else(|| bad("a CacheFile names its video"))?;
    let prefix = uris::video(app, "");
    let Some(uuid) = video_url.strip_prefix(&prefix).filter(|u| !u.is_empty() && !u.contains('/')) else {
        // A copy of a video of another server, passed on by its origin: not listed here (yet).
        tracing::debug!(id, video = video_url, "CacheFile of a video that is not ours; ignored");
        return Ok(());
    };
    let v = crate::video::get_federated(app, uuid).await?;
    let now = now_ms();
    let expires = match &object["expires"] {
        Value::Null => now + MAX_REMOTE_LIFETIME_MS,
        e => e
            .as_str()
            .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .ok_or_else(|| bad("a CacheFile's expires is a date"))?,
    }
    .min(now + MAX_REMOTE_LIFETIME_MS);
    if expires <= now {
        tracing::debug!(id, "CacheFile already expired; ignored");
        return Ok(());
    }
    if !accepted_from(app, signer).await? {
        tracing::info!(host = %signer.host, video = %v.uuid, policy = %app.config.redundancy.accept_from,
            "mirror not accepted by redundancy.accept_from");
        return Ok(());
    }
    let mut tx = app.db.begin().await?;
    let stored =
        redundancies::upsert_remote(&mut tx, v.id, signer.id, &id, href.trim_end_matches('/'), expires, now).await?;
    if stored.is_none() {
        return Err(Error::Forbidden("this CacheFile belongs to another actor".into()));
    }
    tx.commit().await?;
    tracing::info!(host = %signer.host, video = %v.uuid, "mirror of our video listed");
    Ok(())
}

/// `Undo` of a `CacheFile` (PeerTube undoes the `Create` that carried it): the signer's own only.
pub async fn undo(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    let inner = if object["type"] == "Create" { &object["object"] } else { object };
    let Some(url) = remote::id_of(inner) else { return Ok(()) };
    if redundancies::delete_by_url(&app.db, url, signer.id).await? {
        tracing::info!(host = %signer.host, url, "mirror withdrawn");
    }
    Ok(())
}

/// Whether an `Undo`'s object is about a `CacheFile`.
pub fn is_cache_file_undo(object: &Value) -> bool {
    is_cache_file(object) || (object["type"] == "Create" && is_cache_file(&object["object"]))
}

/// Forgets other servers' copies that expired (the periodic check).
pub async fn prune_expired(app: &App, now: i64) -> Result<u64> {
    Ok(redundancies::prune_expired(&app.db, instance(app).await?, now).await?)
}

// ---------------------------------------------------------------------------------------------
// Ours: copies of other servers' videos.

/// The `CacheFile` of our copy `r` of the remote video at `video_url`, addressed as `to`.
fn cache_file(app: &App, r: &Redundancy, uuid: &str, video_url: &str, to: &[String], cc: &[String]) -> Value {
    json!({
        "to": to,
        "cc": cc,
        "id": cache_file_url(app, uuid),
        "type": "CacheFile",
        "object": video_url,
        "expires": (r.expires_at < NEVER).then(|| iso8601(r.expires_at)),
        "url": { "type": "Link", "mediaType": "application/x-mpegURL", "href": r.base_url },
    })
}

/// `GET /redundancy/streaming-playlists/hls/{uuid}`: our `CacheFile` of that video, as PeerTube
/// answers it (public, to our followers).
pub async fn document(app: &App, uuid: &str) -> Result<Value> {
    let v = videos::get_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("CacheFile"))?;
    let r = redundancies::get_for(&app.db, v.id, instance(app).await?)
        .await?
        .filter(|r| r.ready)
        .ok_or_else(|| Error::not_found("CacheFile"))?;
    let followers = format!("{}/followers", uris::instance_actor(app));
    let mut doc =
        cache_file(app, &r, uuid, v.remote_url.as_deref().unwrap_or_default(), &[ap::PUBLIC.to_string()], &[followers]);
    doc["@context"] = context();
    Ok(doc)
}

/// The video's account at its origin: who hears of our copies.
async fn origin_account(app: &App, v: &videos::Video) -> Result<Option<RemoteActor>> {
    let Some(channel) = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id)).await? else {
        return Ok(None);
    };
    let Some(owner) = accounts::get(&app.db, channel.owner()).await? else { return Ok(None) };
    Ok(actors::get(&app.db, owner.actor_id).await?)
}

/// Queues `kind` (`Create`, `Update` or `Undo`) of our CacheFile `r` to the video's origin, in `tx`.
async fn announce(app: &App, tx: &mut flotilla_db::Tx, kind: &str, r: &Redundancy, v: &videos::Video) -> Result<()> {
    let Some(origin) = origin_account(app, v).await? else { return Ok(()) };
    let actor = uris::instance_actor(app);
    let to = vec![origin.url.clone()];
    let cache = cache_file(app, r, &v.uuid, v.remote_url.as_deref().unwrap_or_default(), &to, &[]);
    let create =
        |id: String| json!({ "to": to, "cc": [], "type": "Create", "id": id, "actor": actor, "object": cache });
    let base = cache_file_url(app, &v.uuid);
    // PeerTube's id, made unique per mirror with the time it started: receivers apply an
    // activity id once, and a video mirrored again after an `Undo` must be announced again.
    let create_id = format!("{base}/activity#{}", r.created_at);
    let mut activity = match kind {
        "Create" => create(create_id),
        "Update" => json!({
            "to": to, "cc": [], "type": "Update", "actor": actor, "object": cache,
            "id": format!("{base}/updates/{}", iso8601(now_ms())),
        }),
        _ => json!({
            "to": to, "cc": [], "type": "Undo", "actor": actor,
            "id": format!("{base}/undo/{}", iso8601(now_ms())),
            "object": create(create_id),
        }),
    };
    activity["@context"] = context();
    let inbox = origin.shared_inbox.clone().unwrap_or(origin.inbox.clone());
    delivery::enqueue(tx, instance(app).await?, &activity, std::slice::from_ref(&inbox)).await
}

/// Bytes of a remote video's renditions, as its origin told (what a mirror will take).
fn announced_size(remote_data: &Value) -> i64 {
    remote_data["files"].as_array().into_iter().flatten().filter_map(|f| f["size"].as_i64()).sum()
}

/// Starts mirroring a remote video for `strategy`, kept `lifetime_ms` (manual: until removed).
async fn start(app: &App, v: &videos::Video, strategy: &str, lifetime_ms: Option<i64>) -> Result<i64> {
    let data: Value = v.remote_data.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
    if v.is_local() || crate::edge::origin_of(&data).is_none() {
        return Err(Error::bad_request(
            "not_mirrorable",
            "only other servers' videos with an HLS playlist can be mirrored",
        ));
    }
    if v.state != crate::video::STATE_PUBLISHED || v.privacy != crate::video::PRIVACY_PUBLIC {
        return Err(Error::bad_request("not_mirrorable", "only public videos are mirrored"));
    }
    let now = now_ms();
    let url = cache_file_url(app, &v.uuid);
    let base = mirror_base_url(app, &v.uuid);
    let row = NewOwn {
        video_id: v.id,
        actor_id: instance(app).await?,
        url: &url,
        base_url: &base,
        strategy,
        size: announced_size(&data),
        expires_at: lifetime_ms.map_or(NEVER, |l| now + l),
        now,
    };
    let mut tx = app.db.begin().await?;
    let id = match redundancies::insert_own(&mut tx, &row).await {
        Ok(id) => id,
        Err(flotilla_db::Error::Conflict(_)) => {
            return Err(Error::Conflict("this video is mirrored here already".into()));
        }
        Err(e) => return Err(e.into()),
    };
    jobs::enqueue(&mut tx, &Job::MirrorCopy { redundancy_id: id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(video = %v.uuid, strategy, "mirroring started");
    Ok(id)
}

/// `POST /api/v1/server/redundancy/videos` `{videoId}` (admins).
pub async fn mirror_manually(app: &App, who: &crate::auth::AuthUser, video: &str) -> Result<()> {
    who.require_admin()?;
    let v = videos::get_by_any_id(&app.db, video).await?.ok_or_else(|| Error::not_found("video"))?;
    start(app, &v, "manual", None).await.map(|_| ())
}

/// `DELETE /api/v1/server/redundancy/videos/{id}` (admins): ends one of our mirrors.
pub async fn remove_manually(app: &App, who: &crate::auth::AuthUser, id: i64) -> Result<()> {
    who.require_admin()?;
    let r = redundancies::get(&app.db, id)
        .await?
        .filter(|r| r.strategy.is_some())
        .ok_or_else(|| Error::not_found("redundancy"))?;
    end(app, &r).await
}

/// Ends our mirror `r`: the origin is told (`Undo`), the row goes in the same transaction, then
/// the files.
async fn end(app: &App, r: &Redundancy) -> Result<()> {
    let v = videos::get(&app.db, r.video_id).await?;
    let mut tx = app.db.begin().await?;
    if let Some(v) = &v
        && r.ready
    {
        announce(app, &mut tx, "Undo", r, v).await?;
    }
    redundancies::delete(&mut tx, r.id).await?;
    tx.commit().await?;
    app.wake_jobs();
    if let Some(v) = v {
        remove_files(app, &v.uuid).await;
        tracing::info!(video = %v.uuid, "mirror ended");
    }
    Ok(())
}

/// Removes our copy's files of a video (also when the video itself goes).
pub async fn remove_files(app: &App, uuid: &str) {
    let dir = mirror_dir(app, uuid);
    app.media_cache.invalidate_dir(&dir);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a mirror's files");
    }
}

/// `PUT /api/v1/server/redundancy/{host}` `{redundancyAllowed}` (admins): whether we may mirror
/// the videos of a server we follow.
pub async fn allow_host(app: &App, who: &crate::auth::AuthUser, host: &str, allowed: bool) -> Result<()> {
    who.require_admin()?;
    let host = host.trim().to_ascii_lowercase();
    if !redundancies::follows_host_any(&app.db, instance(app).await?, &host).await? {
        return Err(Error::not_found("followed server"));
    }
    redundancies::set_host_allowed(&app.db, &host, allowed, now_ms()).await?;
    Ok(())
}

/// The `mirror-copy` job: copies the origin's files of the mirrored video piece by piece, each
/// segment checked against the origin's hashes, into a staging directory renamed into place when
/// complete; then the mirror is ready and the origin hears of it, in one transaction.
pub async fn copy(app: &App, redundancy_id: i64) -> std::result::Result<(), Failure> {
    let Some(r) = redundancies::get(&app.db, redundancy_id).await.map_err(retry)? else { return Ok(()) };
    if r.ready {
        return Ok(());
    }
    let Some(v) = videos::get(&app.db, r.video_id).await.map_err(retry)? else { return Ok(()) };
    let data: Value = v.remote_data.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
    let Some(origin) = crate::edge::origin_of(&data) else {
        redundancies::delete(&app.db, r.id).await.map_err(retry)?;
        return Ok(());
    };
    let staging = app.data_path("tmp/redundancy").join(&v.uuid);
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(&staging).await.map_err(|e| retry(Error::write("a mirror", e)))?;
    // A copy fetches every piece of the video: far more than the budget of an ordinary job.
    let budget = MAX_PIECES as u32 + 64;
    let copied = flotilla_federation::fetch::with_budget(budget, copy_into(app, &origin, &staging)).await;
    let size = match copied {
        Ok(size) => size,
        Err(CopyError::Mismatch(what)) => {
            // The origin's files do not match its own hashes: not a mirror anyone should use.
            tracing::warn!(video = %v.uuid, what, "the origin's segment does not match its hash; mirror abandoned");
            let _ = tokio::fs::remove_dir_all(&staging).await;
            redundancies::delete(&app.db, r.id).await.map_err(retry)?;
            return Ok(());
        }
        Err(CopyError::Other(e)) => {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(retry(e));
        }
    };
    let dir = mirror_dir(app, &v.uuid);
    let _ = tokio::fs::remove_dir_all(&dir).await;
    if let Some(parent) = dir.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| retry(Error::write("a mirror", e)))?;
    }
    tokio::fs::rename(&staging, &dir).await.map_err(|e| retry(Error::write("a mirror", e)))?;
    let mut tx = app.db.begin().await.map_err(retry)?;
    if !redundancies::set_ready(&mut tx, r.id, size as i64, now_ms()).await.map_err(retry)? {
        // Ended while it was being copied (an admin removed it): nothing to announce or keep.
        drop(tx);
        remove_files(app, &v.uuid).await;
        return Ok(());
    }
    let r = Redundancy { ready: true, size: size as i64, ..r };
    announce(app, &mut tx, "Create", &r, &v).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    app.wake_jobs();
    tracing::info!(video = %v.uuid, bytes = size, "mirror ready");
    Ok(())
}

fn retry(e: impl std::fmt::Display) -> Failure {
    Failure::Retry(e.to_string())
}

/// A copy that failed all its attempts: the mirror is forgotten (its half-made files too).
pub async fn copy_given_up(app: &App, redundancy_id: i64, why: &str) {
    tracing::warn!(redundancy = redundancy_id, error = why, "a mirror could not be copied");
    if let Ok(Some(r)) = redundancies::get(&app.db, redundancy_id).await
        && !r.ready
    {
        let _ = redundancies::delete(&app.db, r.id).await;
    }
}

enum CopyError {
    Mismatch(String),
    Other(Error),
}

impl From<Error> for CopyError {
    fn from(e: Error) -> Self {
        CopyError::Other(e)
    }
}

async fn fetch(app: &App, url: &str, range: Option<(u64, u64)>, limit: usize) -> Result<Vec<u8>> {
    app.fetcher
        .get_media(url, range, limit)
        .await
        .map(|(b, _)| b)
        .map_err(|e| Error::Upstream { code: "mirror_origin_unavailable", msg: e.to_string() })
}

/// Copies the master playlist, the playlists it names, the hashes and every piece those name
/// into `dir`; the bytes copied.
async fn copy_into(
    app: &App,
    origin: &crate::edge::Origin,
    dir: &std::path::Path,
) -> std::result::Result<u64, CopyError> {
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let write = |name: String, bytes: Vec<u8>| async move {
        tokio::fs::write(dir.join(&name), bytes).await.map_err(|e| Error::write("a mirror", e))
    };
    let mut total = 0u64;
    let master = fetch(app, &format!("{}{}", origin.base, origin.master), None, 1024 * 1024).await?;
    let names: Vec<String> = crate::edge::playlist_uris(std::str::from_utf8(&master).unwrap_or_default())
        .into_iter()
        .filter(|n| crate::edge::plain_name(n) && n.ends_with(".m3u8"))
        .take(32)
        .map(str::to_string)
        .collect();
    total += master.len() as u64;
    write(origin.master.clone(), master).await?;
    let mut pieces: Vec<(String, u64, u64, Option<[u8; 32]>)> = Vec::new();
    for name in &names {
        let text = fetch(app, &format!("{}{name}", origin.base), None, 1024 * 1024).await?;
        for (file, s, e) in crate::edge::init_sections(std::str::from_utf8(&text).unwrap_or_default()) {
            pieces.push((file, s, e, None));
        }
        total += text.len() as u64;
        write(name.clone(), text).await?;
    }
    let hashes = fetch(app, &format!("{}{}", origin.base, origin.hashes), None, 16 * 1024 * 1024).await?;
    let table: std::collections::HashMap<String, std::collections::HashMap<String, String>> =
        serde_json::from_slice(&hashes).map_err(|_| CopyError::Mismatch("the segment hashes cannot be read".into()))?;
    for (file, ranges) in &table {
        for (range, hex_hash) in ranges {
            let parsed =
                range.split_once('-').and_then(|(s, e)| Some((s.parse::<u64>().ok()?, e.parse::<u64>().ok()?)));
            let mut hash = [0u8; 32];
            match parsed {
                Some((s, e)) if s <= e && e - s < MAX_PIECE && hex::decode_to_slice(hex_hash, &mut hash).is_ok() => {
                    pieces.push((file.clone(), s, e, Some(hash)))
                }
                _ => return Err(CopyError::Mismatch(format!("a bad range in the hashes: {file} {range}"))),
            }
        }
    }
    total += hashes.len() as u64;
    write(origin.hashes.clone(), hashes).await?;
    if pieces.len() > MAX_PIECES {
        return Err(CopyError::Mismatch(format!("{} pieces", pieces.len())));
    }
    pieces.sort();
    pieces.dedup_by(|a, b| (&a.0, a.1, a.2) == (&b.0, b.1, b.2));
    let mut open: Option<(String, tokio::fs::File)> = None;
    for (file, s, e, hash) in pieces {
        if !crate::edge::plain_name(&file) || !file.ends_with(".mp4") {
            return Err(CopyError::Mismatch(format!("a file named {file:?}")));
        }
        let bytes = fetch(app, &format!("{}{file}", origin.base), Some((s, e)), MAX_PIECE as usize).await?;
        if hash.is_some_and(|h| <[u8; 32]>::from(Sha256::digest(&bytes)) != h) {
            return Err(CopyError::Mismatch(format!("{file} {s}-{e}")));
        }
        if open.as_ref().is_none_or(|(n, _)| *n != file) {
            let f = tokio::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(dir.join(&file))
                .await
                .map_err(|e| Error::write("a mirror", e))?;
            open = Some((file.clone(), f));
        }
        let (_, f) = open.as_mut().expect("opened above");
        f.seek(std::io::SeekFrom::Start(s)).await.map_err(|e| Error::write("a mirror", e))?;
        f.write_all(&bytes).await.map_err(|e| Error::write("a mirror", e))?;
        total += bytes.len() as u64;
    }
    if let Some((_, mut f)) = open {
        f.flush().await.map_err(|e| Error::write("a mirror", e))?;
    }
    Ok(total)
}

/// The periodic check of our mirrors and strategies (every `redundancy.check_interval_secs`):
/// expired mirrors of a strategy that still has room are renewed (`Update`), other expired ones
/// end (`Undo`); then each strategy starts mirroring the best candidate that fits its budget;
/// other servers' expired copies are forgotten.
pub async fn check(app: &App) -> Result<()> {
    let now = now_ms();
    let ours = instance(app).await?;
    let strategies = &app.config.redundancy.strategies;
    for r in redundancies::of_actor(&app.db, ours).await? {
        if r.expires_at > now || !r.ready {
            continue;
        }
        let config = strategies.iter().find(|s| Some(s.strategy.as_str()) == r.strategy.as_deref());
        let used = match &r.strategy {
            Some(s) => redundancies::used_by(&app.db, ours, s).await?,
            None => 0,
        };
        match config {
            Some(c) if used as u64 <= c.size_bytes => {
                let Some(v) = videos::get(&app.db, r.video_id).await? else { continue };
                let expires = now + (c.min_lifetime_secs as i64) * 1000;
                let mut tx = app.db.begin().await?;
                redundancies::extend(&mut tx, r.id, expires, now).await?;
                announce(app, &mut tx, "Update", &Redundancy { expires_at: expires, ..r.clone() }, &v).await?;
                tx.commit().await?;
                app.wake_jobs();
            }
            _ => end(app, &r).await?,
        }
    }
    for s in strategies {
        let used = redundancies::used_by(&app.db, ours, &s.strategy).await? as u64;
        let since_day = now.div_euclid(86_400_000) - 7;
        for id in redundancies::candidates(&app.db, ours, &s.strategy, s.min_views, since_day, 5).await? {
            let Some(v) = videos::get(&app.db, id).await? else { continue };
            let data: Value = v.remote_data.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
            if used + announced_size(&data).max(0) as u64 > s.size_bytes {
                continue;
            }
            match start(app, &v, &s.strategy, Some((s.min_lifetime_secs as i64) * 1000)).await {
                Ok(_) => break,
                Err(e) => tracing::debug!(video = %v.uuid, error = %e, "not mirrored"),
            }
        }
    }
    let pruned = prune_expired(app, now).await?;
    if pruned > 0 {
        tracing::info!(count = pruned, "expired mirrors of other servers forgotten");
    }
    Ok(())
}

/// The admins' list (`GET /api/v1/server/redundancy/videos?target=`): `remote-videos`, the copies
/// we made of other servers' videos; `my-videos`, the copies other servers made of ours. In
/// PeerTube's shape: one entry per copy, with its video.
pub async fn list(app: &App, who: &crate::auth::AuthUser, target: &str, page: flotilla_db::Page) -> Result<Value> {
    who.require_admin()?;
    let mine = match target {
        "remote-videos" => true,
        "my-videos" => false,
        _ => return Err(Error::invalid("target", "must be my-videos or remote-videos")),
    };
    let (rows, total) = redundancies::list(&app.db, instance(app).await?, mine, page.start, page.count).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.video_id,
                "name": r.video_name,
                "url": r.video_url.clone().unwrap_or_else(|| uris::video(app, &r.video_uuid)),
                "uuid": r.video_uuid,
                "redundancies": {
                    "files": [],
                    "streamingPlaylists": [{
                        "id": r.id,
                        "fileUrl": r.base_url,
                        "strategy": r.strategy,
                        "createdAt": iso8601(r.created_at),
                        "updatedAt": iso8601(r.updated_at),
                        "expiresOn": (r.expires_at < NEVER).then(|| iso8601(r.expires_at)),
                        "size": r.size,
                    }],
                },
            })
        })
        .collect();
    Ok(json!({ "total": total, "data": data }))
}

/// Whether `uuid`'s files are ours to serve from the mirror directory (a complete copy).
pub async fn serves(app: &App, uuid: &str) -> Result<bool> {
    let Some(v) = videos::get_by_uuid(&app.db, uuid).await? else { return Ok(false) };
    Ok(redundancies::get_for(&app.db, v.id, instance(app).await?).await?.is_some_and(|r| r.ready))
}
