//! The `user-export` job: a user's data in PeerTube 6.1's archive layout, so PeerTube imports
//! ours and we import PeerTube's:
//!
//! ```text
//! peertube/{account,user-settings,channels,videos,video-playlists,likes,dislikes,following,
//!           follower,blocklist,comments,video-history}.json
//! activity-pub/{actor,outbox,likes,dislikes,following}.json
//! files/account/avatars/…  files/channels/{avatars,banners}/…
//! files/videos/{video-files,thumbnails}/<uuid>.…  files/video-playlists/thumbnails/<uuid>.jpg
//! ```
//!
//! The JSON files' `archiveFiles` name the files relative to `peertube/`. A video's file is its
//! best HLS rendition, which is a whole fragmented MP4 (ours are single-file renditions). The
//! zip is written to `<name>.part` and renamed when complete: a crash leaves no half archive
//! behind a download link, and the job run again starts over.

use std::path::PathBuf;
use std::sync::Arc;

use flotilla_db::archives::{self, COMPLETED, ERRORED, PROCESSING};
use flotilla_db::{accounts, channels, images, playlists, users, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use super::zipfile::{self, Source};
use super::{EXPORT_DIR, download_url};
use crate::jobs::Failure;
use crate::{App, Error, Result, uris};

/// The most items of each list an export holds (videos, comments, ratings…).
const MAX_ITEMS: i64 = 10_000;

/// What one export gathers before the zip is written.
#[derive(Default)]
struct Builder {
    entries: Vec<(String, Source)>,
    outbox: Vec<Value>,
    /// Where videos whose files are in the object store are downloaded for the zip (removed after).
    staging: Option<PathBuf>,
}

impl Builder {
    fn json(&mut self, name: &str, v: &Value) {
        let bytes = serde_json::to_vec_pretty(v).unwrap_or_default();
        self.entries.push((name.to_string(), Source::Bytes(bytes)));
    }

    /// Adds a file under `files/<dir>/` and returns its path as the JSON files name it.
    fn file(&mut self, dir: &str, name: &str, path: PathBuf) -> String {
        self.entries.push((format!("files/{dir}/{name}"), Source::File(path)));
        format!("../files/{dir}/{name}")
    }

    /// The directory files downloaded from the object store are put in (removed after the zip).
    fn staging(&mut self, app: &App) -> PathBuf {
        self.staging
            .get_or_insert_with(|| app.data_path("tmp/transcode").join(format!("export-{}", uuid::Uuid::new_v4())))
            .clone()
    }

    /// Adds an image (`data_dir`'s file `name`) under `files/<dir>/<zip_name>`: the disk's copy,
    /// or the images bucket's downloaded (`image_storage::local_copy`); `None` when it is in
    /// neither.
    async fn image(
        &mut self,
        app: &App,
        dir: &str,
        zip_name: &str,
        data_dir: &str,
        name: &str,
    ) -> Result<Option<String>> {
        let staging = self.staging(app);
        let copy = crate::image_storage::local_copy(app, data_dir, name, &staging).await?;
        Ok(copy.map(|path| self.file(dir, zip_name, path)))
    }
}

fn ext(name: &str) -> &str {
    name.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 5).unwrap_or("jpg")
}

fn handle(app: &App, name: &str, host: &str) -> String {
    if host.is_empty() { format!("{name}@{}", app.public.host) } else { format!("{name}@{host}") }
}

/// The `user-export` job.
pub async fn run(app: &Arc<App>, export_id: i64) -> std::result::Result<(), Failure> {
    let Some(e) = archives::get_export(&app.db, export_id).await? else {
        return Ok(()); // deleted meanwhile
    };
    if e.state == COMPLETED || e.state == ERRORED {
        return Ok(());
    }
    archives::set_export_state(&app.db, e.id, PROCESSING, None, None, None).await?;
    let user = users::get(&app.db, flotilla_domain::UserId(e.user_id))
        .await?
        .ok_or_else(|| Failure::Fail("the user is gone".into()))?;
    let b = gather(app, &user, e.with_video_files).await.map_err(Failure::from)?;
    let dir = app.data_path(EXPORT_DIR);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|err| Failure::Retry(format!("cannot create {}: {err}", dir.display())))?;
    let part = dir.join(format!("{}.part", e.filename));
    let entries = b.entries;
    let written = {
        let part = part.clone();
        tokio::task::spawn_blocking(move || zipfile::write(&part, entries))
            .await
            .map_err(|err| Failure::Retry(format!("the zip writer failed: {err}")))
    };
    if let Some(staging) = &b.staging {
        let _ = tokio::fs::remove_dir_all(staging).await;
    }
    let written = written?;
    let size = match written {
        Ok(n) => n,
        Err(err) => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(Failure::Retry(format!("cannot write the archive: {err}")));
        }
    };
    // (Tests stop the job here: the half-built archive is never linked, the next run rewrites it.)
    app.failpoints.hit("archive.export.written");
    // Deleted while it was being built: drop the file rather than publish it.
    if archives::get_export(&app.db, e.id).await?.is_none() {
        let _ = tokio::fs::remove_file(&part).await;
        return Ok(());
    }
    // With object storage (a private bucket), the archive goes there before it is said finished;
    // its download streams from it. A store that is down fails the job, which retries.
    let stored = match app.object_storage.as_ref().filter(|_| crate::storage::wants_originals(app)) {
        Some(store) => {
            store
                .upload(
                    flotilla_db::videos::STORAGE_OBJECT_PRIVATE,
                    crate::storage::Kind::UserExport,
                    "",
                    &e.filename,
                    &part,
                )
                .await
                .map_err(|err| Failure::Retry(format!("cannot store the archive: {err}")))?;
            let _ = tokio::fs::remove_file(&part).await;
            true
        }
        None => {
            tokio::fs::rename(&part, dir.join(&e.filename))
                .await
                .map_err(|err| Failure::Retry(format!("cannot finish the archive: {err}")))?;
            false
        }
    };
    let expires = now_ms() + (app.config.archives.export_expiration_secs as i64) * 1000;
    let mut tx = app.db.begin().await?;
    archives::set_export_state(&mut tx, e.id, COMPLETED, Some(size as i64), None, Some(expires)).await?;
    if stored {
        archives::set_export_stored(&mut tx, e.id).await?;
    }
    let done = archives::Export { state: COMPLETED, ..e.clone() };
    let text = format!(
        "Your archive is ready. Download it within {} hours at:\n\n{}\n",
        app.config.archives.export_expiration_secs / 3600,
        download_url(app, &done)
    );
    crate::mail::queue(&mut tx, app, &user.email, "Your data archive is ready", &text).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(export = e.id, user = user.id, size, "user export built");
    Ok(())
}

/// The job was given up: the export says why.
pub async fn failed(app: &App, export_id: i64, why: &str) {
    if let Ok(Some(e)) = archives::get_export(&app.db, export_id).await {
        let _ = tokio::fs::remove_file(app.data_path(EXPORT_DIR).join(format!("{}.part", e.filename))).await;
        if let Err(err) = archives::set_export_state(&app.db, e.id, ERRORED, None, Some(why), Some(now_ms())).await {
            tracing::warn!(export = e.id, error = %err, "cannot mark a user export as failed");
        }
    }
}

async fn gather(app: &App, user: &users::User, with_files: bool) -> Result<Builder> {
    let mut b = Builder::default();
    let account = accounts::get_by_user(&app.db, user.user_id()).await?.ok_or_else(|| Error::not_found("account"))?;
    let chans = channels::list_by_account(&app.db, account.account_id()).await?;
    account_files(app, &mut b, &account).await?;
    b.json("peertube/user-settings.json", &settings(app, user).await?);
    channel_files(app, &mut b, &chans).await?;
    video_files(app, &mut b, &account, &chans, with_files).await?;
    playlist_files(app, &mut b, &account).await?;
    rate_files(app, &mut b, user).await?;
    follow_files(app, &mut b, &account, &chans).await?;
    blocklist_file(app, &mut b, user).await?;
    comments_file(app, &mut b, &account).await?;
    history_file(app, &mut b, user).await?;
    let outbox = std::mem::take(&mut b.outbox);
    b.json("activity-pub/outbox.json", &ap_collection("outbox.json", outbox));
    Ok(b)
}

fn ap_collection(id: &str, items: Vec<Value>) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id,
        "type": "OrderedCollection",
        "totalItems": items.len(),
        "orderedItems": items,
    })
}

/// PeerTube's `avatars`/`banners` of an actor and its largest image of `kind` (the archive's copy).
async fn actor_images(app: &App, actor_id: i64, kind: &str) -> Result<(Value, Option<images::Image>)> {
    let imgs: Vec<images::Image> =
        images::list_for(&app.db, &[actor_id]).await?.into_iter().filter(|i| i.kind == kind).collect();
    let list: Vec<Value> = imgs
        .iter()
        .map(|i| {
            json!({
                "width": i.width,
                "height": i.height,
                "url": uris::absolute(app, &uris::image_path(kind, &i.filename)),
                "createdAt": iso8601(i.created_at),
                "updatedAt": iso8601(i.created_at),
            })
        })
        .collect();
    Ok((json!(list), imgs.into_iter().max_by_key(|i| i.width)))
}

async fn account_files(app: &App, b: &mut Builder, a: &accounts::Account) -> Result<()> {
    let (avatars, best) = actor_images(app, a.actor_id, "avatar").await?;
    let avatar = match best {
        Some(i) => {
            b.image(app, "account/avatars", &format!("{}.{}", a.name, ext(&i.filename)), "images", &i.filename).await?
        }
        None => None,
    };
    b.json(
        "peertube/account.json",
        &json!({
            "url": uris::account(app, &a.name),
            "name": a.name,
            "displayName": a.display_name,
            "description": a.description,
            "updatedAt": iso8601(a.updated_at),
            "createdAt": iso8601(a.created_at),
            "avatars": avatars,
            "archiveFiles": { "avatar": avatar },
        }),
    );
    let mut actor = crate::ap::account_to_ap(app, a).await?;
    actor["likes"] = json!("likes.json");
    actor["dislikes"] = json!("dislikes.json");
    actor["outbox"] = json!("outbox.json");
    actor["following"] = json!("following.json");
    b.json("activity-pub/actor.json", &actor);
    Ok(())
}

async fn settings(app: &App, u: &users::User) -> Result<Value> {
    Ok(json!({
        "email": u.email,
        "emailPublic": false,
        "nsfwPolicy": u.nsfw_policy,
        "autoPlayVideo": u.auto_play_video,
        "autoPlayNextVideo": false,
        "autoPlayNextVideoPlaylist": true,
        "p2pEnabled": u.p2p_enabled,
        "videosHistoryEnabled": u.videos_history_enabled,
        "videoLanguages": Value::Null,
        "theme": "instance-default",
        "createdAt": iso8601(u.created_at),
        "notificationSettings": crate::notification::settings(app, u.id).await?,
    }))
}

async fn channel_files(app: &App, b: &mut Builder, chans: &[channels::Channel]) -> Result<()> {
    let mut list = Vec::new();
    for c in chans {
        let (avatars, best_avatar) = actor_images(app, c.actor_id, "avatar").await?;
        let (banners, best_banner) = actor_images(app, c.actor_id, "banner").await?;
        let mut archived = Vec::new();
        for (dir, img) in [("channels/avatars", best_avatar), ("channels/banners", best_banner)] {
            archived.push(match img {
                Some(i) => {
                    b.image(app, dir, &format!("{}.{}", c.name, ext(&i.filename)), "images", &i.filename).await?
                }
                None => None,
            });
        }
        let [avatar, banner]: [Option<String>; 2] = archived.try_into().unwrap_or_default();
        list.push(json!({
            "url": uris::channel(app, &c.name),
            "name": c.name,
            "displayName": c.display_name,
            "description": c.description,
            "support": c.support,
            "updatedAt": iso8601(c.updated_at),
            "createdAt": iso8601(c.created_at),
            "avatars": avatars,
            "banners": banners,
            "archiveFiles": { "avatar": avatar, "banner": banner },
        }));
    }
    b.json("peertube/channels.json", &json!({ "channels": list }));
    Ok(())
}

fn video_url(app: &App, v: &videos::Video) -> String {
    v.remote_url.clone().unwrap_or_else(|| uris::video(app, &v.uuid))
}

async fn video_files(
    app: &App,
    b: &mut Builder,
    account: &accounts::Account,
    chans: &[channels::Channel],
    with_files: bool,
) -> Result<()> {
    let ids =
        archives::video_ids_of_channels(&app.db, &chans.iter().map(|c| c.id).collect::<Vec<_>>(), MAX_ITEMS).await?;
    let mut list = Vec::new();
    for id in ids {
        let Some(v) = videos::get(&app.db, id).await? else { continue };
        let Some(channel) = chans.iter().find(|c| c.id == v.channel_id) else { continue };
        let files = videos::files(&app.db, v.id).await?;
        let tags = videos::tags(&app.db, v.id).await?;
        let dir = crate::video::hls_dir(app, &v.uuid);
        let file_json = |f: &videos::VideoFile| {
            json!({
                "resolution": f.resolution,
                "size": f.size,
                "fps": f.fps,
                "torrentUrl": Value::Null,
                "fileUrl": uris::absolute(app, &uris::hls_file_path(&v.uuid, &f.filename)),
            })
        };
        let streaming: Vec<Value> = match &v.master_playlist {
            Some(master) => vec![json!({
                "type": 1,
                "playlistUrl": uris::absolute(app, &uris::hls_file_path(&v.uuid, master)),
                "segmentsSha256Url": v.segments_sha256.as_ref().map(|s| uris::absolute(app, &uris::hls_file_path(&v.uuid, s))),
                "files": files.iter().map(file_json).collect::<Vec<_>>(),
            })],
            None => Vec::new(),
        };
        // The best rendition (files come highest resolution first), or the upload itself while
        // it is not transcoded yet.
        let video_file = if with_files {
            match (files.first(), &v.input_path) {
                (Some(f), _) if v.storage != videos::STORAGE_FILE_SYSTEM => {
                    // In the object store: downloaded for the zip.
                    let staging = b.staging(app);
                    tokio::fs::create_dir_all(&staging).await.map_err(|e| Error::Internal(e.to_string()))?;
                    let path = staging.join(&f.filename);
                    if let Some(store) = &app.object_storage {
                        store.download(v.storage, crate::storage::Kind::Hls, &v.uuid, &f.filename, &path).await?;
                    }
                    Some(b.file("videos/video-files", &format!("{}.mp4", v.uuid), path))
                }
                (Some(f), _) => Some(b.file("videos/video-files", &format!("{}.mp4", v.uuid), dir.join(&f.filename))),
                (None, Some(input)) => Some(b.file("videos/video-files", &format!("{}.mp4", v.uuid), input.into())),
                (None, None) => None,
            }
        } else {
            None
        };
        // Captions (their files always: they are small) and chapters, in PeerTube 6.1's shapes.
        let caption_rows = flotilla_db::captions::of_video(&app.db, v.id).await?;
        let mut captions = Vec::new();
        let mut caption_files = serde_json::Map::new();
        for c in caption_rows.iter().filter(|c| c.remote_url.is_none()) {
            let Some(name) = &c.filename else { continue };
            let mut path = crate::video::captions::dir(app, &v.uuid).join(name);
            // In the object store with the video's files: downloaded for the zip.
            if let Some(store) = app.object_storage.as_ref().filter(|_| v.storage != videos::STORAGE_FILE_SYSTEM) {
                let staging = b.staging(app);
                tokio::fs::create_dir_all(&staging).await.map_err(|e| Error::Internal(e.to_string()))?;
                path = staging.join(name);
                store.download(v.storage, crate::storage::Kind::Caption, &v.uuid, name, &path).await?;
            }
            let rel = b.file("videos/captions", &format!("{}-{}.vtt", v.uuid, c.language), path);
            caption_files.insert(c.language.clone(), json!(rel));
            captions.push(json!({
                "createdAt": iso8601(c.created_at),
                "updatedAt": iso8601(c.updated_at),
                "language": c.language,
                "filename": name,
                "fileUrl": uris::absolute(app, &format!("/lazy-static/video-captions/{name}")),
            }));
        }
        let chapters: Vec<Value> = flotilla_db::chapters::of_video(&app.db, v.id)
            .await?
            .into_iter()
            .map(|(timecode, title)| json!({ "timecode": timecode, "title": title }))
            .collect();
        let web_files: Vec<Value> = videos::web_files(&app.db, v.id)
            .await?
            .iter()
            .map(|f| {
                json!({
                    "resolution": f.resolution,
                    "size": f.size,
                    "fps": f.fps,
                    "torrentUrl": f.torrent.as_ref().map(|t| uris::absolute(app, &format!("/lazy-static/torrents/{t}"))),
                    "fileUrl": crate::video::files::file_url(app, &v, f),
                })
            })
            .collect();
        let image = v.preview.as_ref().map(|p| ("previews", p)).or(v.thumbnail.as_ref().map(|t| ("thumbnails", t)));
        let thumbnail = match image {
            Some((d, name)) => b.image(app, "videos/thumbnails", &format!("{}.{}", v.uuid, ext(name)), d, name).await?,
            None => None,
        };
        let passwords: Vec<String> = if v.privacy == crate::video::PRIVACY_PASSWORD {
            flotilla_db::video_passwords::all(&app.db, v.id).await?.into_iter().map(|p| p.password).collect()
        } else {
            Vec::new()
        };
        list.push(json!({
            "uuid": v.uuid,
            "createdAt": iso8601(v.created_at),
            "updatedAt": iso8601(v.updated_at),
            "publishedAt": iso8601(v.published_at.unwrap_or(v.created_at)),
            "originallyPublishedAt": v.originally_published_at.map(iso8601),
            "name": v.name,
            "category": v.category,
            "licence": v.licence,
            "language": v.language,
            "tags": tags,
            "privacy": v.privacy,
            "passwords": passwords,
            "duration": v.duration,
            "description": v.description,
            "support": v.support,
            "isLive": false,
            "url": video_url(app, &v),
            "thumbnailUrl": v.thumbnail.as_ref().map(|t| uris::absolute(app, &format!("/lazy-static/thumbnails/{t}"))),
            "previewUrl": v.preview.as_ref().map(|p| uris::absolute(app, &format!("/lazy-static/previews/{p}"))),
            "views": v.views,
            "likes": v.likes,
            "dislikes": v.dislikes,
            "nsfw": v.nsfw,
            "commentsEnabled": v.comments_enabled,
            "commentsPolicy": crate::video::comments_policy_of(&v),
            "downloadEnabled": v.download_enabled,
            "channel": { "name": channel.name },
            "waitTranscoding": v.wait_transcoding,
            "state": v.state,
            "captions": captions,
            "chapters": chapters,
            "files": web_files,
            "streamingPlaylists": streaming,
            "source": Value::Null,
            "archiveFiles": { "videoFile": video_file, "thumbnail": thumbnail, "captions": caption_files },
        }));
        if crate::ap::federates(app, &v) {
            let object = crate::ap::video_to_ap(app, &v).await?;
            let url = video_url(app, &v);
            b.outbox.push(json!({
                "type": "Create",
                "id": format!("{url}/activity"),
                "actor": uris::account(app, &account.name),
                "object": crate::ap::without_context(object),
            }));
        }
    }
    b.json("peertube/videos.json", &json!({ "videos": list }));
    Ok(())
}

async fn playlist_files(app: &App, b: &mut Builder, account: &accounts::Account) -> Result<()> {
    let filter = playlists::PlaylistFilter { account_id: Some(account.id), ..Default::default() };
    let (rows, _) = playlists::list(&app.db, &filter, "p.id", 0, MAX_ITEMS).await?;
    let mut list = Vec::new();
    for p in rows {
        let (elements, _) = playlists::elements(&app.db, p.id, 0, 5000).await?;
        let ids: Vec<i64> = elements.iter().filter_map(|e| e.video_id).collect();
        let vids = videos::get_many(&app.db, &ids).await?;
        let mut els = Vec::new();
        for e in &elements {
            let url = match e.video_id.and_then(|id| vids.iter().find(|v| v.id == id)) {
                Some(v) => video_url(app, v),
                None => continue, // the video is gone
            };
            let mut el = json!({ "videoUrl": url });
            if let Some(s) = e.start_timestamp {
                el["startTimestamp"] = json!(s);
            }
            if let Some(s) = e.stop_timestamp {
                el["stopTimestamp"] = json!(s);
            }
            els.push(el);
        }
        let channel = match p.channel_id {
            Some(id) => {
                channels::get(&app.db, flotilla_domain::ChannelId(id)).await?.map(|c| json!({ "name": c.name }))
            }
            None => None,
        };
        let thumbnail = match &p.thumbnail {
            Some(t) => {
                let zip_name = format!("{}.{}", p.uuid, ext(t));
                b.image(app, "video-playlists/thumbnails", &zip_name, "thumbnails", t).await?
            }
            None => None,
        };
        list.push(json!({
            "displayName": p.name,
            "description": p.description,
            "privacy": p.privacy,
            "url": crate::playlist::url(app, &p),
            "uuid": p.uuid,
            "type": p.kind,
            "channel": channel,
            "createdAt": iso8601(p.created_at),
            "updatedAt": iso8601(p.updated_at),
            "thumbnailUrl": crate::playlist::thumbnail_path(&p).map(|t| uris::absolute(app, &t)),
            "elements": els,
            "archiveFiles": { "thumbnail": thumbnail },
        }));
    }
    b.json("peertube/video-playlists.json", &json!({ "videoPlaylists": list }));
    Ok(())
}

async fn rate_files(app: &App, b: &mut Builder, user: &users::User) -> Result<()> {
    let rates = archives::rates_of(&app.db, user.id, MAX_ITEMS).await?;
    let vids = videos::get_many(&app.db, &rates.iter().map(|r| r.0).collect::<Vec<_>>()).await?;
    for kind in ["like", "dislike"] {
        let mut json_list = Vec::new();
        let mut urls = Vec::new();
        for (video_id, rating, at) in &rates {
            let Some(v) = vids.iter().find(|v| v.id == *video_id) else { continue };
            if rating != kind {
                continue;
            }
            let url = video_url(app, v);
            json_list.push(json!({ "videoUrl": url, "createdAt": iso8601(*at) }));
            urls.push(json!(url));
        }
        let key = format!("{kind}s");
        b.json(&format!("peertube/{key}.json"), &json!({ key.clone(): json_list }));
        b.json(&format!("activity-pub/{key}.json"), &ap_collection(&format!("{key}.json"), urls));
    }
    Ok(())
}

async fn follow_files(
    app: &App,
    b: &mut Builder,
    account: &accounts::Account,
    chans: &[channels::Channel],
) -> Result<()> {
    let me = handle(app, &account.name, "");
    let following = archives::following_of(&app.db, account.actor_id, MAX_ITEMS).await?;
    let list: Vec<Value> = following
        .iter()
        .map(|(name, host, at)| json!({ "handle": me, "targetHandle": handle(app, name, host), "createdAt": iso8601(*at) }))
        .collect();
    let urls: Vec<Value> = following.iter().map(|(name, host, _)| json!(handle(app, name, host))).collect();
    b.json("peertube/following.json", &json!({ "following": list }));
    b.json("activity-pub/following.json", &ap_collection("following.json", urls));
    let mut actors = vec![account.actor_id];
    actors.extend(chans.iter().map(|c| c.actor_id));
    let followers = archives::followers_of(&app.db, &actors, MAX_ITEMS).await?;
    let list: Vec<Value> = followers
        .iter()
        .map(|(name, host, target, at)| {
            json!({ "handle": handle(app, name, host), "targetHandle": handle(app, target, ""), "createdAt": iso8601(*at) })
        })
        .collect();
    b.json("peertube/follower.json", &json!({ "followers": list }));
    Ok(())
}

async fn blocklist_file(app: &App, b: &mut Builder, user: &users::User) -> Result<()> {
    let (accounts_blocked, _) = flotilla_db::blocklist::list_accounts(&app.db, Some(user.id), 0, MAX_ITEMS).await?;
    let (servers, _) = flotilla_db::blocklist::list_servers(&app.db, Some(user.id), 0, MAX_ITEMS).await?;
    let names =
        archives::actor_names(&app.db, &accounts_blocked.iter().map(|a| a.target_actor_id).collect::<Vec<_>>()).await?;
    let actors: Vec<Value> = names.iter().map(|(_, name, host)| json!({ "handle": handle(app, name, host) })).collect();
    let instances: Vec<Value> = servers.iter().map(|s| json!({ "host": s.host })).collect();
    b.json("peertube/blocklist.json", &json!({ "instances": instances, "actors": actors }));
    Ok(())
}

async fn comments_file(app: &App, b: &mut Builder, account: &accounts::Account) -> Result<()> {
    let rows = archives::comments_of(&app.db, account.id, MAX_ITEMS).await?;
    let vids = videos::get_many(&app.db, &rows.iter().map(|r| r.1).collect::<Vec<_>>()).await?;
    let mut list = Vec::new();
    for (id, video_id, in_reply_to, text, at) in &rows {
        let Some(v) = vids.iter().find(|v| v.id == *video_id) else { continue };
        let url = format!("{}/comments/{id}", uris::video(app, &v.uuid));
        let parent = match in_reply_to {
            Some(p) => flotilla_db::comments::get(&app.db, *p).await?.map(|c| crate::comment::url(app, v, &c)),
            None => None,
        };
        list.push(json!({
            "url": url,
            "text": text,
            "createdAt": iso8601(*at),
            "videoUrl": video_url(app, v),
            "inReplyToCommentUrl": parent,
        }));
    }
    b.json("peertube/comments.json", &json!({ "comments": list }));
    Ok(())
}

async fn history_file(app: &App, b: &mut Builder, user: &users::User) -> Result<()> {
    let rows = archives::history_of(&app.db, user.id, MAX_ITEMS).await?;
    let vids = videos::get_many(&app.db, &rows.iter().map(|r| r.0).collect::<Vec<_>>()).await?;
    let list: Vec<Value> = rows
        .iter()
        .filter_map(|(video_id, position, at)| {
            let v = vids.iter().find(|v| v.id == *video_id)?;
            Some(json!({
                "videoUrl": video_url(app, v),
                "lastTimecode": position,
                "createdAt": iso8601(*at),
                "updatedAt": iso8601(*at),
            }))
        })
        .collect();
    b.json("peertube/video-history.json", &json!({ "watchedVideos": list }));
    Ok(())
}
