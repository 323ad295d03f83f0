//! Captions (PeerTube's `/videos/{id}/captions`): one WebVTT file per language, uploaded as WebVTT
//! or SubRip and always stored as a WebVTT we wrote (`media::subtitles`: only timings and plain
//! cue text pass). Files live in `captions/<video uuid>/<random>-<lang>.vtt` and are served at
//! PeerTube's flat `/lazy-static/video-captions/<file>`, to whoever may see the video.
//!
//! A change is a `VideoUpdated` event in the same transaction: followers get the `Video` again,
//! whose `subtitleLanguage` lists the captions. A remote video's captions are rows naming their
//! origin's URL; the first request for one fetches it (SSRF-guarded, bounded), cleans it the same
//! way and keeps it — PeerTube's lazy copy.

use std::path::PathBuf;

use flotilla_db::captions::{self, Caption};
use flotilla_db::videos;
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

/// PeerTube's `videoCaption.file.size.max`.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;
/// Captions a remote video may list (PeerTube has no limit; we keep what a real video needs).
pub const MAX_REMOTE: usize = 50;

pub fn dir(app: &App, uuid: &str) -> PathBuf {
    app.data_path("captions").join(uuid)
}

/// The path clients fetch a caption at (`captionPath`), for one that has a file name.
fn path(c: &Caption) -> Option<String> {
    c.filename.as_ref().map(|f| format!("/lazy-static/video-captions/{f}"))
}

/// A caption's file name, random (a new file, a new name: caches never serve an old one). A remote
/// caption gets its name when it is listed; the file behind it appears on its first request.
fn new_name(language: &str) -> String {
    format!("{}-{language}.vtt", uuid::Uuid::new_v4())
}

fn to_api(app: &App, c: &Caption) -> Value {
    let p = path(c);
    json!({
        "language": { "id": c.language, "label": crate::video::labels::language(&c.language).unwrap_or(&c.language) },
        "automaticallyGenerated": c.automatically_generated,
        "captionPath": p,
        "fileUrl": p.as_deref().map(|p| crate::uris::absolute(app, p)),
        "updatedAt": flotilla_domain::time::iso8601(c.updated_at),
    })
}

/// `GET /api/v1/videos/{id}/captions`
pub async fn list(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    attempt: &crate::video::passwords::Attempt,
) -> Result<Value> {
    let v = crate::video::open(app, who, key, attempt).await?;
    let list = captions::of_video(&app.db, v.id).await?;
    let data: Vec<Value> = list.iter().filter(|c| c.filename.is_some()).map(|c| to_api(app, c)).collect();
    Ok(json!({ "total": data.len(), "data": data }))
}

fn check_language(language: &str) -> Result<()> {
    if crate::video::labels::language(language).is_none() {
        return Err(Error::invalid("captionLanguage", format!("'{language}' is not a known language code")));
    }
    Ok(())
}

/// `PUT /api/v1/videos/{id}/captions/{lang}` with the file's bytes.
pub async fn put(app: &App, who: &AuthUser, key: &str, language: &str, bytes: &[u8]) -> Result<()> {
    let v = crate::video::edit::editable(app, who, key).await?;
    if !v.is_local() {
        return Err(Error::Forbidden("a remote video's captions are its server's".into()));
    }
    check_language(language)?;
    if bytes.len() > MAX_BYTES {
        return Err(Error::TooLarge {
            code: "payload_too_large",
            msg: format!("a caption file is at most {MAX_BYTES} bytes"),
        });
    }
    let bytes = bytes.to_vec();
    let vtt = tokio::task::spawn_blocking(move || flotilla_media::subtitles::to_vtt(&bytes))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::BadRequest { code: "invalid_caption", msg: e.to_string() })?;
    let dir = dir(app, &v.uuid);
    tokio::fs::create_dir_all(&dir).await.map_err(|e| Error::write("the caption", e))?;
    let name = new_name(language);
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, vtt.as_bytes()).await.map_err(|e| Error::write("the caption", e))?;
    tokio::fs::rename(&tmp, dir.join(&name)).await.map_err(|e| Error::write("the caption", e))?;
    // A video whose files are in the object store gets its caption there too, before the row
    // names it (a store that is down: 502, nothing changed).
    if let Err(e) = to_store(app, &v, &name).await {
        let _ = tokio::fs::remove_file(dir.join(&name)).await;
        return Err(e);
    }
    let old = captions::of_video(&app.db, v.id).await?.into_iter().find(|c| c.language == language);
    let was_federated = crate::ap::federates(app, &v);
    let mut tx = app.db.begin().await?;
    same_storage(&mut tx, &v).await?;
    captions::upsert(&mut tx, v.id, language, Some(&name), None, now_ms()).await?;
    if let Some(f) = old.as_ref().and_then(|o| o.filename.clone()) {
        gone_from_store(&mut tx, &v, f).await?;
    }
    crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated }).await?;
    tx.commit().await?;
    app.wake_jobs();
    if let Some(f) = old.and_then(|o| o.filename) {
        let _ = tokio::fs::remove_file(dir.join(f)).await;
    }
    Ok(())
}

/// Copies a new caption of a video whose files are in the object store there, and removes the
/// disk's copy.
async fn to_store(app: &App, v: &videos::Video, name: &str) -> Result<()> {
    let Some(store) = app.object_storage.as_ref().filter(|_| v.storage != videos::STORAGE_FILE_SYSTEM) else {
        return Ok(());
    };
    let local = dir(app, &v.uuid).join(name);
    store.upload(v.storage, crate::storage::Kind::Caption, &v.uuid, name, &local).await.map_err(|e| {
        Error::Upstream { code: "object_storage_unavailable", msg: format!("the caption could not be stored: {e}") }
    })?;
    let _ = tokio::fs::remove_file(&local).await;
    Ok(())
}

/// Refuses the change if the video's files moved since `v` was read (the move did not take the
/// new caption along): the caller tries again.
async fn same_storage(tx: &mut flotilla_db::Tx, v: &videos::Video) -> Result<()> {
    let now = videos::get(&mut *tx, v.id).await?.ok_or_else(|| Error::not_found("video"))?;
    if now.storage != v.storage {
        return Err(Error::Conflict("the video's files moved meanwhile: try again".into()));
    }
    Ok(())
}

/// In the transaction dropping a caption: its object's removal, when it is in the store.
async fn gone_from_store(tx: &mut flotilla_db::Tx, v: &videos::Video, name: String) -> Result<()> {
    if v.storage == videos::STORAGE_FILE_SYSTEM {
        return Ok(());
    }
    let job = crate::jobs::Job::RemoveObjects {
        uuid: v.uuid.clone(),
        storage: v.storage,
        files: vec![("caption".to_string(), name)],
    };
    crate::jobs::enqueue(&mut *tx, &job).await?;
    Ok(())
}

/// `DELETE /api/v1/videos/{id}/captions/{lang}`
pub async fn delete(app: &App, who: &AuthUser, key: &str, language: &str) -> Result<()> {
    let v = crate::video::edit::editable(app, who, key).await?;
    let old = captions::of_video(&app.db, v.id).await?.into_iter().find(|c| c.language == language);
    let Some(old) = old else { return Err(Error::not_found("caption")) };
    let was_federated = crate::ap::federates(app, &v);
    let mut tx = app.db.begin().await?;
    same_storage(&mut tx, &v).await?;
    captions::delete(&mut tx, v.id, language).await?;
    if let Some(f) = old.filename.clone() {
        gone_from_store(&mut tx, &v, f).await?;
    }
    crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated }).await?;
    tx.commit().await?;
    app.wake_jobs();
    if let Some(f) = old.filename {
        let _ = tokio::fs::remove_file(dir(app, &v.uuid).join(f)).await;
    }
    Ok(())
}

/// The `subtitleLanguage` of a local video's `Video` object (PeerTube's shape).
pub async fn ap_languages(app: &App, video_id: i64) -> Result<Value> {
    let list = captions::of_video(&app.db, video_id).await?;
    Ok(json!(
        list.iter()
            .filter_map(|c| Some((c, path(c)?)))
            .map(|(c, p)| json!({
                "identifier": c.language,
                "name": crate::video::labels::language(&c.language).unwrap_or(&c.language),
                "automaticallyGenerated": c.automatically_generated,
                "url": crate::uris::absolute(app, &p),
            }))
            .collect::<Vec<_>>()
    ))
}

/// What a remote `Video` lists in `subtitleLanguage`: `(language, url)` pairs whose file is on
/// the video's server (`on_origin` checks and normalises a URL), known languages only, at most
/// [`MAX_REMOTE`]. Accepts `url` as a string, a `Link` or a list of them (PeerTube 7).
pub fn remote_languages(object: &Value, on_origin: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in object["subtitleLanguage"].as_array().into_iter().flatten() {
        let Some(lang) = s["identifier"].as_str().filter(|l| crate::video::labels::language(l).is_some()) else {
            continue;
        };
        let url = match &s["url"] {
            Value::String(u) => Some(u.as_str()),
            Value::Array(links) => links
                .iter()
                .find(|l| l["mediaType"] == "text/vtt" || l.is_string())
                .and_then(|l| l.as_str().or_else(|| l["href"].as_str())),
            Value::Object(_) => s["url"]["href"].as_str(),
            _ => None,
        };
        let Some(url) = url.and_then(&on_origin) else { continue };
        if !out.iter().any(|(l, _)| l == lang) {
            out.push((lang.to_string(), url));
        }
        if out.len() >= MAX_REMOTE {
            break;
        }
    }
    out
}

/// Stores a remote video's captions as listed (those no longer listed go, a changed URL is
/// fetched again).
pub async fn store_remote(
    tx: &mut flotilla_db::Tx,
    app: &App,
    video_id: i64,
    uuid: &str,
    listed: &[(String, String)],
) -> Result<()> {
    let have = captions::of_video(&mut *tx, video_id).await?;
    for c in &have {
        let kept = listed.iter().any(|(l, u)| *l == c.language && Some(u) == c.remote_url.as_ref());
        if !kept {
            captions::delete(&mut *tx, video_id, &c.language).await?;
            if let Some(f) = &c.filename {
                let _ = tokio::fs::remove_file(dir(app, uuid).join(f)).await;
            }
        }
    }
    for (lang, url) in listed {
        if have.iter().any(|c| c.language == *lang && c.remote_url.as_ref() == Some(url)) {
            continue;
        }
        captions::upsert(&mut *tx, video_id, lang, Some(&new_name(lang)), Some(url), now_ms()).await?;
    }
    Ok(())
}

/// Where the file behind `/lazy-static/video-captions/<name>` is, for whoever may see its video
/// (the disk, or the object store with the video's other files), and whether anybody may read it
/// (shared caches may keep it); a remote caption's copy is fetched first if it is not here yet.
pub async fn file(
    app: &App,
    who: Option<&AuthUser>,
    name: &str,
    file_token: Option<&str>,
) -> Result<(crate::storage::Place, bool)> {
    let c = captions::by_filename(&app.db, name).await?.ok_or_else(|| Error::not_found("file"))?;
    let v = videos::get(&app.db, c.video_id).await?.ok_or_else(|| Error::not_found("file"))?;
    crate::video::get_for_files(app, who, &v.uuid, file_token).await?;
    let public = crate::storage::readable_by_anyone(&v) && v.state == crate::video::STATE_PUBLISHED;
    if v.is_local() {
        return Ok((crate::storage::place(app, &v, crate::storage::Kind::Caption, name), public));
    }
    let dir = dir(app, &v.uuid);
    let path = dir.join(name);
    if let Some(url) = c.remote_url.as_deref().filter(|_| !path.exists()) {
        let (bytes, _) = app.fetcher.get_media(url, None, MAX_BYTES).await.map_err(|e| Error::Upstream {
            code: "caption_origin_unavailable",
            msg: format!("the caption could not be fetched from the video's server: {e}"),
        })?;
        let vtt = tokio::task::spawn_blocking(move || flotilla_media::subtitles::to_vtt(&bytes))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Upstream {
                code: "caption_origin_invalid",
                msg: format!("the video's server sent {e}"),
            })?;
        tokio::fs::create_dir_all(&dir).await.map_err(|e| Error::write("the caption", e))?;
        let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, vtt.as_bytes()).await.map_err(|e| Error::write("the caption", e))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| Error::write("the caption", e))?;
    }
    Ok((crate::storage::Place::Disk(path), public))
}
