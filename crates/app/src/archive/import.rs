//! The `user-import` job: reads a user archive (ours or PeerTube 6.1+'s, the same layout) and
//! brings its parts in, in PeerTube's order — account, settings, channels, blocklist, follows,
//! videos, likes, dislikes, playlists, history — each through the same use-cases as the API
//! (so their events federate them), each item counted as a success, a duplicate (already here:
//! an import run again after a crash brings nothing twice) or an error, in PeerTube's
//! `resultSummary`.
//!
//! The archive is hostile input: it is never unpacked; each file is read from it by its exact
//! name, with a bound; the names its JSON files give are resolved inside the archive or refused;
//! every value goes through the checks the API applies; a video's file is probed like an upload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use flotilla_db::archives::{self, COMPLETED, ERRORED, PROCESSING};
use flotilla_db::{channels, users, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use super::zipfile::{self, ReadError};
use crate::auth::AuthUser;
use crate::jobs::{self, Failure, Job};
use crate::video::upload::{self, UploadMeta};
use crate::{App, Error, Result};

/// The most bytes of one JSON file of an archive.
const MAX_JSON: u64 = 64 * 1024 * 1024;
/// The most bytes of an avatar, banner or thumbnail.
const MAX_IMAGE: u64 = 8 * 1024 * 1024;
/// The most items of one list taken from an archive.
const MAX_ITEMS: usize = 10_000;

fn read_error(e: ReadError) -> Error {
    match e {
        ReadError::Io(e) => Error::Internal(format!("cannot read the archive: {e}")),
        other => Error::bad_request("invalid_archive", other.to_string()),
    }
}

/// Turns a complete uploaded archive into an import and its job, in one transaction with the
/// upload session. A file that is not a zip we accept is refused (and removed) at once.
pub async fn accept(app: &App, who: &AuthUser, session: &str, path: &Path) -> Result<i64> {
    let checked = {
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || zipfile::check(&p))
            .await
            .map_err(|e| Error::Internal(format!("the archive reader failed: {e}")))?
    };
    if let Err(e) = checked {
        let e = read_error(e);
        if !upload::is_transient(&e) {
            let _ = tokio::fs::remove_file(path).await;
        }
        return Err(e);
    }
    let mut tx = app.db.begin().await?;
    users::lock(&mut tx, who.id()).await?;
    if archives::import_in_progress(&mut tx, who.user.id).await? {
        drop(tx);
        let _ = tokio::fs::remove_file(path).await;
        return Err(Error::Conflict("an import of this user is already in progress: wait for it to finish".into()));
    }
    let id = archives::insert_import(&mut tx, who.user.id, &path.display().to_string(), now_ms()).await?;
    jobs::enqueue(&mut tx, &Job::UserImport { import_id: id }).await?;
    flotilla_db::uploads::finish_import(&mut tx, session, id).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(import = id, user = who.user.id, "user archive received");
    Ok(id)
}

/// PeerTube's counters of one part.
#[derive(Default, Clone, Copy)]
struct Count {
    success: u64,
    duplicates: u64,
    errors: u64,
}

/// What one item came to.
enum Outcome {
    Added,
    Duplicate,
}

struct Importer<'a> {
    app: &'a App,
    who: AuthUser,
    zip: PathBuf,
    stats: Vec<(&'static str, Count)>,
}

impl Importer<'_> {
    fn count(&mut self, part: &'static str, r: Result<Outcome>) -> Result<()> {
        let c = match self.stats.iter_mut().find(|(p, _)| *p == part) {
            Some((_, c)) => c,
            None => {
                self.stats.push((part, Count::default()));
                &mut self.stats.last_mut().expect("just pushed").1
            }
        };
        match r {
            Ok(Outcome::Added) => c.success += 1,
            Ok(Outcome::Duplicate) => c.duplicates += 1,
            // The server's own trouble stops the job, to be run again (what was brought is
            // found as duplicates then); anything else is this item's fault.
            Err(e) if upload::is_transient(&e) => return Err(e),
            Err(e) => {
                tracing::info!(part, error = %e, "an item of a user archive not imported");
                c.errors += 1;
            }
        }
        Ok(())
    }

    /// `peertube/<name>`'s JSON (`None`: not in the archive).
    async fn json(&self, name: &str) -> Result<Option<Value>> {
        let zip = self.zip.clone();
        let entry = format!("peertube/{name}");
        let bytes = tokio::task::spawn_blocking(move || zipfile::read(&zip, &entry, MAX_JSON))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(read_error)?;
        match bytes {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::bad_request("invalid_archive", format!("peertube/{name} is not JSON: {e}"))),
        }
    }

    /// The bytes of the file an `archiveFiles` path names (relative to `peertube/`).
    async fn file(&self, relative: Option<&str>, max: u64) -> Result<Option<Vec<u8>>> {
        let Some(rel) = relative else { return Ok(None) };
        let entry = zipfile::resolve("peertube", rel).ok_or_else(|| {
            Error::bad_request("invalid_archive", format!("'{rel}' is not a path inside the archive"))
        })?;
        let zip = self.zip.clone();
        tokio::task::spawn_blocking(move || zipfile::read(&zip, &entry, max))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(read_error)
    }

    fn items<'v>(&self, doc: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
        doc.get(key).and_then(Value::as_array).into_iter().flatten().take(MAX_ITEMS)
    }
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn archive_file<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get("archiveFiles").and_then(|f| f.get(key)).and_then(Value::as_str)
}

/// The `user-import` job.
pub async fn run(app: &Arc<App>, import_id: i64) -> std::result::Result<(), Failure> {
    let Some(i) = archives::get_import(&app.db, import_id).await? else { return Ok(()) };
    if i.state == COMPLETED || i.state == ERRORED {
        return Ok(());
    }
    archives::set_import_state(&app.db, i.id, PROCESSING, None, None, now_ms()).await?;
    let user = users::get(&app.db, flotilla_domain::UserId(i.user_id))
        .await?
        .ok_or_else(|| Failure::Fail("the user is gone".into()))?;
    let mut im = Importer { app, who: AuthUser { user, token_id: 0 }, zip: PathBuf::from(&i.path), stats: Vec::new() };
    for part in [
        "account",
        "userSettings",
        "channels",
        "blocklist",
        "following",
        "videos",
        "likes",
        "dislikes",
        "videoPlaylists",
        "userVideoHistory",
        "watchedWordsLists",
        "commentAutoTagPolicies",
    ] {
        im.stats.push((part, Count::default()));
    }
    // Budget for the remote fetches an archive causes (followed channels, rated videos…).
    let work = flotilla_federation::fetch::with_budget(4 * MAX_ITEMS as u32, Box::pin(import_all(&mut im)));
    match work.await {
        Ok(()) => {}
        Err(e) if upload::is_transient(&e) => return Err(Failure::Retry(e.to_string())),
        Err(e) => return Err(Failure::Fail(e.to_string())),
    }
    let stats: serde_json::Map<String, Value> = im
        .stats
        .iter()
        .map(|(k, c)| {
            ((*k).to_string(), json!({ "success": c.success, "duplicates": c.duplicates, "errors": c.errors }))
        })
        .collect();
    let summary = json!({ "stats": stats }).to_string();
    let mut tx = app.db.begin().await?;
    archives::set_import_state(&mut tx, i.id, COMPLETED, None, Some(&summary), now_ms()).await?;
    crate::mail::queue(
        &mut tx,
        app,
        &im.who.user.email,
        "Your archive was imported",
        "The archive you sent was imported into your account. Videos are being transcoded and appear shortly.\n",
    )
    .await?;
    tx.commit().await?;
    app.wake_jobs();
    let _ = tokio::fs::remove_file(&i.path).await;
    tracing::info!(import = i.id, summary, "user archive imported");
    Ok(())
}

/// The job was given up: the import says why, and its archive goes.
pub async fn failed(app: &App, import_id: i64, why: &str) {
    if let Ok(Some(i)) = archives::get_import(&app.db, import_id).await {
        let _ = tokio::fs::remove_file(&i.path).await;
        if let Err(e) = archives::set_import_state(&app.db, i.id, ERRORED, Some(why), None, now_ms()).await {
            tracing::warn!(import = i.id, error = %e, "cannot mark a user import as failed");
        }
    }
}

async fn import_all(im: &mut Importer<'_>) -> Result<()> {
    if let Some(doc) = part_doc(im, "account.json", "account").await? {
        let r = account(im, &doc).await;
        im.count("account", r)?;
    }
    if let Some(doc) = part_doc(im, "user-settings.json", "userSettings").await? {
        let r = settings(im, &doc).await;
        im.count("userSettings", r)?;
    }
    // Settings may have changed what the rest does (history paused).
    if let Some(u) = users::get(&im.app.db, im.who.id()).await? {
        im.who.user = u;
    }
    if let Some(doc) = part_doc(im, "channels.json", "channels").await? {
        for c in im.items(&doc, "channels").cloned().collect::<Vec<_>>() {
            let r = channel(im, &c).await;
            im.count("channels", r)?;
        }
    }
    if let Some(doc) = part_doc(im, "blocklist.json", "blocklist").await? {
        for b in im.items(&doc, "instances").cloned().collect::<Vec<_>>() {
            let r = block_server(im, &b).await;
            im.count("blocklist", r)?;
        }
        for b in im.items(&doc, "actors").cloned().collect::<Vec<_>>() {
            let r = block_account(im, &b).await;
            im.count("blocklist", r)?;
        }
    }
    if let Some(doc) = part_doc(im, "following.json", "following").await? {
        for f in im.items(&doc, "following").cloned().collect::<Vec<_>>() {
            let r = follow(im, &f).await;
            im.count("following", r)?;
        }
    }
    if let Some(doc) = part_doc(im, "videos.json", "videos").await? {
        for v in im.items(&doc, "videos").cloned().collect::<Vec<_>>() {
            let r = Box::pin(video(im, &v)).await;
            im.count("videos", r)?;
        }
    }
    // (Tests stop the job here: run again, it finds what it already brought.)
    im.app.failpoints.hit("archive.import.after_videos");
    for (file, key, part, rating) in
        [("likes.json", "likes", "likes", "like"), ("dislikes.json", "dislikes", "dislikes", "dislike")]
    {
        if let Some(doc) = part_doc(im, file, part).await? {
            for r in im.items(&doc, key).cloned().collect::<Vec<_>>() {
                let res = rate(im, &r, rating).await;
                im.count(part, res)?;
            }
        }
    }
    if let Some(doc) = part_doc(im, "video-playlists.json", "videoPlaylists").await? {
        for p in im.items(&doc, "videoPlaylists").cloned().collect::<Vec<_>>() {
            let r = Box::pin(playlist(im, &p)).await;
            im.count("videoPlaylists", r)?;
        }
    }
    if let Some(doc) = part_doc(im, "video-history.json", "userVideoHistory").await? {
        for h in im.items(&doc, "watchedVideos").cloned().collect::<Vec<_>>() {
            let r = history(im, &h).await;
            im.count("userVideoHistory", r)?;
        }
    }
    Ok(())
}

/// A part's JSON file; one that cannot be read (too large, not JSON) is that part's error, and
/// the import goes on with the others (as PeerTube's).
async fn part_doc(im: &mut Importer<'_>, file: &str, part: &'static str) -> Result<Option<Value>> {
    match im.json(file).await {
        Ok(doc) => Ok(doc),
        Err(e) => {
            im.count(part, Err(e))?;
            Ok(None)
        }
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::bad_request("invalid_archive", msg.into())
}

async fn account(im: &Importer<'_>, doc: &Value) -> Result<Outcome> {
    let mut update = crate::user::UpdateMe::default();
    if let Some(d) = text(doc, "displayName").filter(|d| flotilla_domain::rules::display_name(d).is_ok()) {
        update.display_name = Some(d.to_string());
    }
    if let Some(d) = text(doc, "description").filter(|d| flotilla_domain::rules::description(d).is_ok()) {
        update.description = Some(Some(d.to_string()));
    }
    crate::user::update_me(im.app, &im.who, update).await?;
    if let Some(bytes) = im.file(archive_file(doc, "avatar"), MAX_IMAGE).await? {
        let account = flotilla_db::accounts::get_by_user(&im.app.db, im.who.id())
            .await?
            .ok_or_else(|| Error::not_found("account"))?;
        crate::image::set(im.app, account.actor_id, crate::image::Kind::Avatar, bytes).await?;
    }
    Ok(Outcome::Added)
}

async fn settings(im: &Importer<'_>, doc: &Value) -> Result<Outcome> {
    let mut update = crate::user::UpdateMe::default();
    if let Some(p) = text(doc, "nsfwPolicy").filter(|p| matches!(*p, "do_not_list" | "blur" | "display")) {
        update.nsfw_policy = Some(p.to_string());
    }
    update.p2p_enabled = doc.get("p2pEnabled").and_then(Value::as_bool);
    update.auto_play_video = doc.get("autoPlayVideo").and_then(Value::as_bool);
    update.videos_history_enabled = doc.get("videosHistoryEnabled").and_then(Value::as_bool);
    crate::user::update_me(im.app, &im.who, update).await?;
    if let Some(n) = doc.get("notificationSettings").filter(|n| n.is_object()) {
        // Only the keys we know, each a valid bitmask, as the API checks them.
        let known = crate::notification::settings(im.app, im.who.user.id).await?;
        let mut body = serde_json::Map::new();
        for (k, v) in n.as_object().into_iter().flatten() {
            if known.get(k).is_some() && v.as_i64().is_some_and(|b| (0..=3).contains(&b)) {
                body.insert(k.clone(), v.clone());
            }
        }
        if !body.is_empty() {
            crate::notification::update_settings(im.app, &im.who, &Value::Object(body)).await?;
        }
    }
    Ok(Outcome::Added)
}

async fn channel(im: &Importer<'_>, c: &Value) -> Result<Outcome> {
    let name = text(c, "name").ok_or_else(|| invalid("a channel without a name"))?;
    if let Some(existing) = channels::get_local_by_name(&im.app.db, name).await? {
        let account = flotilla_db::accounts::get_by_user(&im.app.db, im.who.id()).await?;
        if account.is_some_and(|a| a.id == existing.account_id) {
            return Ok(Outcome::Duplicate);
        }
        return Err(Error::Conflict(format!("the channel name '{name}' is taken on this instance")));
    }
    let display = text(c, "displayName").filter(|d| flotilla_domain::rules::display_name(d).is_ok()).unwrap_or(name);
    let req = crate::channel::CreateChannel {
        name: name.to_string(),
        display_name: display.to_string(),
        description: text(c, "description").filter(|d| flotilla_domain::rules::description(d).is_ok()).map(Into::into),
        support: text(c, "support").filter(|s| s.chars().count() <= 1000).map(Into::into),
    };
    let id = crate::channel::create(im.app, &im.who, req).await?;
    let created = channels::get(&im.app.db, id).await?.ok_or_else(|| Error::not_found("channel"))?;
    for (key, kind) in [("avatar", crate::image::Kind::Avatar), ("banner", crate::image::Kind::Banner)] {
        // A broken picture costs the picture, not the channel.
        match im.file(archive_file(c, key), MAX_IMAGE).await {
            Ok(Some(bytes)) => {
                if let Err(e) = crate::image::set(im.app, created.actor_id, kind, bytes).await {
                    tracing::info!(channel = name, error = %e, "an imported channel image refused");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::info!(channel = name, error = %e, "an imported channel image refused"),
        }
    }
    Ok(Outcome::Added)
}

async fn block_server(im: &Importer<'_>, b: &Value) -> Result<Outcome> {
    let host = text(b, "host").ok_or_else(|| invalid("a blocked server without a host"))?;
    crate::blocklist::block_server(im.app, crate::blocklist::Scope::Mine(&im.who), host).await?;
    Ok(Outcome::Added)
}

async fn block_account(im: &Importer<'_>, b: &Value) -> Result<Outcome> {
    let handle = text(b, "handle").ok_or_else(|| invalid("a blocked account without a handle"))?;
    crate::blocklist::block_account(im.app, crate::blocklist::Scope::Mine(&im.who), handle).await?;
    Ok(Outcome::Added)
}

async fn follow(im: &Importer<'_>, f: &Value) -> Result<Outcome> {
    let target = text(f, "targetHandle").ok_or_else(|| invalid("a follow without a targetHandle"))?;
    let uri = target.trim_start_matches('@');
    let before = crate::federation::subscriptions::exist(im.app, &im.who, &[uri.to_string()]).await?;
    if before.get(uri).and_then(Value::as_bool) == Some(true) {
        return Ok(Outcome::Duplicate);
    }
    crate::federation::subscriptions::subscribe(im.app, &im.who, uri).await?;
    Ok(Outcome::Added)
}

/// The local copy of the video at `url`: one of ours, one we know, or fetched from its origin
/// (through the SSRF guard, like a search by URL).
async fn resolve_video(app: &App, url: &str) -> Result<videos::Video> {
    let id = crate::federation::search::video_id_by_url(app, url, true).await?;
    let id = id.ok_or_else(|| Error::not_found("video"))?;
    videos::get(&app.db, id).await?.ok_or_else(|| Error::not_found("video"))
}

fn clean(s: Option<&str>, max: usize) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty() && s.chars().count() <= max).map(Into::into)
}

async fn video(im: &Importer<'_>, v: &Value) -> Result<Outcome> {
    let name = text(v, "name").ok_or_else(|| invalid("a video without a name"))?;
    if v.get("isLive").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(format!("'{name}' is a live: lives cannot be imported here yet")));
    }
    let channel_name =
        v.get("channel").and_then(|c| text(c, "name")).ok_or_else(|| invalid("a video without a channel"))?;
    let channel = channels::get_local_by_name(&im.app.db, channel_name)
        .await?
        .ok_or_else(|| invalid(format!("the channel '{channel_name}' of '{name}' is not here")))?;
    let duration = v.get("duration").and_then(Value::as_i64).unwrap_or(-10);
    if archives::same_video_in_channel(&im.app.db, channel.id, name.trim(), duration).await? {
        return Ok(Outcome::Duplicate);
    }
    let rel =
        archive_file(v, "videoFile").ok_or_else(|| invalid(format!("'{name}' has no video file in the archive")))?;
    let entry = zipfile::resolve("peertube", rel)
        .ok_or_else(|| invalid(format!("'{rel}' is not a path inside the archive")))?;
    // Upload-shaped metadata, each value kept only if the API would take it (PeerTube drops
    // invalid optional values the same way).
    let passwords: Vec<String> = v
        .get("passwords")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(crate::video::passwords::MAX_PASSWORDS + 1)
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    let privacy = match v.get("privacy").and_then(Value::as_i64) {
        Some(p @ 1..=4) => p,
        // Password-protected with its passwords; without usable ones it stays private rather
        // than open to all (validate() below refuses a bad list, as PeerTube refuses the video).
        Some(5) if !passwords.is_empty() => crate::video::PRIVACY_PASSWORD,
        _ => crate::video::PRIVACY_PRIVATE,
    };
    let meta = UploadMeta {
        channel_id: Some(channel.id),
        name: Some(name.trim().to_string()),
        privacy: Some(privacy),
        description: clean(text(v, "description"), 10_000),
        support: clean(text(v, "support"), 1000),
        category: v.get("category").and_then(Value::as_i64).filter(|c| crate::video::labels::category(*c).is_some()),
        licence: v.get("licence").and_then(Value::as_i64).filter(|c| crate::video::labels::licence(*c).is_some()),
        language: text(v, "language").filter(|l| crate::video::labels::language(l).is_some()).map(Into::into),
        nsfw: v.get("nsfw").and_then(Value::as_bool),
        comments_policy: v.get("commentsPolicy").and_then(Value::as_i64).filter(|p| (1..=3).contains(p)),
        comments_enabled: v.get("commentsEnabled").and_then(Value::as_bool),
        download_enabled: v.get("downloadEnabled").and_then(Value::as_bool),
        wait_transcoding: v.get("waitTranscoding").and_then(Value::as_bool),
        tags: v
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|t| (2..=30).contains(&t.chars().count()))
            .take(5)
            .map(Into::into)
            .collect(),
        video_passwords: if privacy == crate::video::PRIVACY_PASSWORD { passwords } else { Vec::new() },
        ..Default::default()
    };
    meta.validate()?;
    // The file, bounded by what an upload may be and by the user's quota.
    let mut max = im.app.config.upload.max_file_size;
    if let Some(left) = upload::quota_left(im.app, &im.who).await? {
        max = max.min(left.max(0) as u64);
    }
    let dest = upload::quarantine_path(im.app);
    let extracted = {
        let (zip, dest, entry) = (im.zip.clone(), dest.clone(), entry.clone());
        tokio::task::spawn_blocking(move || zipfile::extract(&zip, &entry, max, &dest))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    };
    match extracted {
        Ok(Some(_)) => {}
        Ok(None) => return Err(invalid(format!("{entry} is not in the archive"))),
        Err(ReadError::TooLarge(m)) => {
            return Err(Error::TooLarge { code: "quota_reached", msg: format!("'{name}' cannot be imported: {m}") });
        }
        Err(e) => return Err(read_error(e)),
    }
    let created = upload::create(im.app, &im.who, meta, &dest).await?;
    // The creator's own thumbnail, when the archive has a picture we can read.
    if let Ok(Some(bytes)) = im.file(archive_file(v, "thumbnail"), MAX_IMAGE).await
        && let Ok(images) = crate::video::edit::encode_images(Some(bytes.clone()), Some(bytes)).await
        && let Some(video) = videos::get(&im.app.db, created.id).await?
    {
        crate::video::edit::set_images(im.app, &video, images).await?;
    }
    // Its captions and chapters: each one that does not pass our checks is left out (the video
    // is imported already; a bad caption is not worth losing it).
    let key = created.id.to_string();
    let captions = v.get("archiveFiles").and_then(|f| f.get("captions")).and_then(Value::as_object);
    for (lang, rel) in captions.into_iter().flatten().take(50) {
        let bytes = im.file(rel.as_str(), crate::video::captions::MAX_BYTES as u64).await;
        if let Ok(Some(bytes)) = bytes
            && let Err(e) = crate::video::captions::put(im.app, &im.who, &key, lang, &bytes).await
        {
            tracing::info!(video = %key, lang, error = %e, "an archive's caption left out");
        }
    }
    let chapters: Vec<crate::video::chapters::ChapterIn> = v
        .get("chapters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(crate::video::chapters::MAX_CHAPTERS)
        .filter_map(|c| {
            Some(crate::video::chapters::ChapterIn {
                timecode: c.get("timecode")?.as_i64()?,
                title: text(c, "title")?.to_string(),
            })
        })
        .collect();
    if !chapters.is_empty() {
        let body = crate::video::chapters::ChaptersIn { chapters };
        if let Err(e) = crate::video::chapters::put(im.app, &im.who, &key, body).await {
            tracing::info!(video = %key, error = %e, "an archive's chapters left out");
        }
    }
    Ok(Outcome::Added)
}

async fn rate(im: &Importer<'_>, r: &Value, rating: &str) -> Result<Outcome> {
    let url = text(r, "videoUrl").ok_or_else(|| invalid("a rating without a videoUrl"))?;
    let v = resolve_video(im.app, url).await?;
    if flotilla_db::rates::get(&im.app.db, im.who.user.id, v.id).await?.as_deref() == Some(rating) {
        return Ok(Outcome::Duplicate);
    }
    crate::video::views::rate(
        im.app,
        &im.who,
        &v.id.to_string(),
        Some(rating),
        &crate::video::passwords::Attempt::none(),
    )
    .await?;
    Ok(Outcome::Added)
}

async fn playlist(im: &Importer<'_>, p: &Value) -> Result<Outcome> {
    use crate::playlist::{AddElement, PlaylistForm};
    let watch_later = p.get("type").and_then(Value::as_i64) == Some(flotilla_db::playlists::WATCH_LATER);
    let account = flotilla_db::accounts::get_by_user(&im.app.db, im.who.id())
        .await?
        .ok_or_else(|| Error::not_found("account"))?;
    let key = if watch_later {
        crate::playlist::ensure_watch_later(im.app, account.id).await?;
        flotilla_db::playlists::watch_later_of(&im.app.db, account.id)
            .await?
            .ok_or_else(|| Error::not_found("playlist"))?
            .uuid
    } else {
        let name = text(p, "displayName").ok_or_else(|| invalid("a playlist without a displayName"))?;
        let filter = flotilla_db::playlists::PlaylistFilter {
            account_id: Some(account.id),
            kind: Some(flotilla_db::playlists::REGULAR),
            search: Some(name.to_string()),
            ..Default::default()
        };
        let (same, _) = flotilla_db::playlists::list(&im.app.db, &filter, "p.id", 0, 100).await?;
        if same.iter().any(|s| s.name == name) {
            return Ok(Outcome::Duplicate);
        }
        let channel = match p.get("channel").and_then(|c| text(c, "name")) {
            Some(n) => channels::get_local_by_name(&im.app.db, n).await?.filter(|c| c.account_id == account.id),
            None => None,
        };
        let mut privacy = p.get("privacy").and_then(Value::as_i64).filter(|x| (1..=3).contains(x)).unwrap_or(3);
        if privacy == flotilla_db::playlists::PUBLIC && channel.is_none() {
            privacy = flotilla_db::playlists::PRIVATE;
        }
        let thumbnail = im.file(archive_file(p, "thumbnail"), MAX_IMAGE).await.ok().flatten();
        let form = PlaylistForm {
            display_name: Some(name.to_string()),
            description: Some(clean(text(p, "description"), 1000)),
            privacy: Some(privacy),
            channel_id: Some(channel.map(|c| c.id)),
            thumbnail,
        };
        let created = match crate::playlist::create(im.app, &im.who, form).await {
            // A picture we cannot read costs the picture, not the playlist.
            Err(Error::BadRequest { code: "invalid_image", .. }) => {
                let form = PlaylistForm {
                    display_name: Some(name.to_string()),
                    description: Some(clean(text(p, "description"), 1000)),
                    privacy: Some(privacy),
                    channel_id: None,
                    thumbnail: None,
                };
                crate::playlist::create(im.app, &im.who, form).await?
            }
            other => other?,
        };
        created["videoPlaylist"]["uuid"].as_str().unwrap_or_default().to_string()
    };
    for e in p.get("elements").and_then(Value::as_array).into_iter().flatten().take(MAX_ITEMS) {
        let Some(url) = text(e, "videoUrl") else { continue };
        // A video that cannot be found costs its element, not the playlist.
        let v = match resolve_video(im.app, url).await {
            Ok(v) => v,
            Err(err) if upload::is_transient(&err) => return Err(err),
            Err(err) => {
                tracing::info!(url, error = %err, "a playlist element of an archive not found");
                continue;
            }
        };
        let req = AddElement {
            video_id: Some(json!(v.id)),
            start_timestamp: e.get("startTimestamp").and_then(Value::as_i64),
            stop_timestamp: e.get("stopTimestamp").and_then(Value::as_i64),
        };
        match crate::playlist::add(im.app, &im.who, &key, req).await {
            Ok(_) => {}
            Err(err) if upload::is_transient(&err) => return Err(err),
            Err(err) => tracing::info!(url, error = %err, "a playlist element of an archive refused"),
        }
    }
    Ok(Outcome::Added)
}

async fn history(im: &Importer<'_>, h: &Value) -> Result<Outcome> {
    let url = text(h, "videoUrl").ok_or_else(|| invalid("a history entry without a videoUrl"))?;
    let at = h.get("lastTimecode").and_then(Value::as_f64).unwrap_or(0.0);
    let v = resolve_video(im.app, url).await?;
    crate::history::record(im.app, &im.who, &v, at).await?;
    Ok(Outcome::Added)
}
