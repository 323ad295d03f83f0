//! What was uploaded (PeerTube's video source): `GET /videos/:id/source` (its name, size and
//! picture, and a download link while the file exists), `DELETE /videos/:id/source/file` (the
//! kept original, by moderators), keeping the original after transcoding (`[transcoding]
//! keep_original`), and replacing a video's file (`…/source/replace-resumable`: the resumable
//! protocol's session of kind `replace`, finalised here). A replaced video keeps its page, id,
//! comments and views; its renditions are made again from the new file, as after an upload.

use std::path::{Path, PathBuf};

use flotilla_db::videos::{self, KIND_HLS};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::jobs::{self, Job};
use crate::video::{STATE_TO_IMPORT, upload};
use crate::{App, Error, Result};

/// The extension of a file to transcode that is a copy of the video's own rendition
/// (`renditions::transcode`), not an upload: never kept as the original.
pub const COPY_EXTENSION: &str = "copy";

/// Where kept originals live.
pub fn originals_dir(app: &App) -> PathBuf {
    app.data_path("original-video-files")
}

/// `GET /api/v1/videos/:id/source`, for those who manage the video.
pub async fn get(app: &App, who: &AuthUser, key: &str) -> Result<Value> {
    let v = crate::video::edit::editable(app, who, key).await?;
    if v.is_live {
        // Streamed, never uploaded.
        return Err(Error::NotFound("a live has no source file".into()));
    }
    let s = videos::source(&app.db, v.id).await?;
    let resolution = v.width.min(v.height);
    let has_file = v.input_path.is_some() || s.original_file.is_some();
    let url = has_file.then(|| format!("{}/download/original-video-files/{}", app.public.base(), v.uuid));
    Ok(json!({
        "filename": s.input_filename,
        "inputFilename": s.input_filename,
        "fileDownloadUrl": url,
        "resolution": { "id": resolution, "label": if resolution == 0 { "Audio".to_string() } else { format!("{resolution}p") } },
        "size": v.input_size,
        "fps": v.fps,
        "width": v.width,
        "height": v.height,
        "createdAt": iso8601(s.input_updated_at.unwrap_or(v.created_at)),
    }))
}

/// `DELETE /api/v1/videos/:id/source/file`: moderators remove a kept original.
pub async fn delete_file(app: &App, who: &AuthUser, key: &str) -> Result<()> {
    who.require_moderator()?;
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    let before = videos::source(&app.db, v.id).await?;
    let mut tx = app.db.begin().await?;
    let old = videos::set_original(&mut tx, v.id, None).await?.ok_or_else(|| Error::not_found("video source"))?;
    if before.original_stored && before.original_file.as_deref() == Some(old.as_str()) {
        crate::storage::original_gone(&mut tx, &v.uuid, &old).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    let _ = tokio::fs::remove_file(originals_dir(app).join(old)).await;
    Ok(())
}

/// At the end of a transcoding: the input is kept as the original when configured (and when it
/// is an upload, not a copy of a rendition), replacing the one kept before; else removed. With
/// object storage (and a private bucket), a `store-original` job queued with it moves it there.
pub async fn after_transcoding(app: &App, v: &videos::Video, input: &Path) {
    let is_copy = input.extension().is_some_and(|e| e == COPY_EXTENSION);
    if !app.config.transcoding.keep_original || is_copy {
        let _ = tokio::fs::remove_file(input).await;
        return;
    }
    let name = format!("{}-{}", v.uuid, uuid::Uuid::new_v4());
    let kept = async {
        let before = videos::source(&app.db, v.id).await.map_err(|e| e.to_string())?;
        tokio::fs::rename(input, originals_dir(app).join(&name)).await.map_err(|e| e.to_string())?;
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        let old = videos::set_original(&mut tx, v.id, Some(&name)).await.map_err(|e| e.to_string())?;
        if let Some(old) = &old
            && before.original_stored
            && before.original_file.as_deref() == Some(old.as_str())
        {
            crate::storage::original_gone(&mut tx, &v.uuid, old).await.map_err(|e| e.to_string())?;
        }
        if crate::storage::wants_originals(app) {
            crate::jobs::enqueue(&mut tx, &crate::jobs::Job::StoreOriginal { video_id: v.id })
                .await
                .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        app.wake_jobs();
        Ok::<_, String>(old)
    }
    .await;
    match kept {
        Ok(Some(old)) => {
            let _ = tokio::fs::remove_file(originals_dir(app).join(old)).await;
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(video = %v.uuid, error = %e, "the original could not be kept");
            let _ = tokio::fs::remove_file(input).await;
            let _ = tokio::fs::remove_file(originals_dir(app).join(&name)).await;
        }
    }
}

/// The file behind `/download/original-video-files/<uuid>`: the upload while it is transcoded,
/// else the kept original.
pub async fn file_of(app: &App, v: &videos::Video) -> Result<PathBuf> {
    if let Some(p) = &v.input_path {
        return Ok(PathBuf::from(p));
    }
    let s = videos::source(&app.db, v.id).await?;
    s.original_file.map(|f| originals_dir(app).join(f)).ok_or_else(|| Error::not_found("file"))
}

/// Where the file behind `/download/original-video-files/<uuid>` is: the upload or a kept
/// original on the disk, or a kept original in the object store's private bucket.
pub async fn place_of(app: &App, v: &videos::Video) -> Result<crate::storage::Place> {
    let s = videos::source(&app.db, v.id).await?;
    if v.input_path.is_none()
        && s.original_stored
        && let Some(name) = s.original_file
    {
        return Ok(crate::storage::Place::Object {
            storage: videos::STORAGE_OBJECT_PRIVATE,
            kind: crate::storage::Kind::Original,
            uuid: v.uuid.clone(),
            file: name,
            public_url: None,
        });
    }
    Ok(crate::storage::Place::Disk(file_of(app, v).await?))
}

/// The video `who` may replace the file of: one they manage, local, not being transcoded or
/// imported, on an instance that allows it.
pub async fn replaceable(app: &App, who: &AuthUser, key: &str) -> Result<videos::Video> {
    if !app.config.upload.replace_enabled {
        return Err(Error::Forbidden("replacing a video's file is turned off on this instance".into()));
    }
    let v = crate::video::edit::editable(app, who, key).await?;
    if !v.is_local() {
        return Err(Error::bad_request("remote_video", "a remote video's files are its server's"));
    }
    if v.input_path.is_some() || v.state == STATE_TO_IMPORT {
        return Err(Error::Conflict("this video is being transcoded or imported: wait until it is done".into()));
    }
    Ok(v)
}

/// Finalises a replacement whose bytes are all in `path` (session `session`, metadata `meta`:
/// `{"videoId", "filename"}`): probed as an upload, then one transaction gives the video its new
/// input, removes its renditions' rows and queues its transcoding; the old files go after.
pub async fn replace(app: &App, who: &AuthUser, session: &str, meta: &str, path: &Path) -> Result<i64> {
    let meta: Value = serde_json::from_str(meta).map_err(|e| Error::Internal(e.to_string()))?;
    let video_id = meta["videoId"].as_i64().ok_or_else(|| Error::Internal("a replacement without its video".into()))?;
    let filename =
        meta["filename"].as_str().map(|f| f.chars().filter(|c| !c.is_control()).take(255).collect::<String>());
    let v = replaceable(app, who, &video_id.to_string()).await?;
    let size = tokio::fs::metadata(path).await.map_err(|e| Error::Internal(format!("upload vanished: {e}")))?.len();
    let (probe, probe_json) = upload::probe_upload(app, path).await?;
    let old = videos::all_files(&app.db, v.id).await?;
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    flotilla_db::users::lock(&mut tx, who.id()).await?;
    // The new file takes the old one's place in the quota.
    if let Some(left) = upload::quota_left_of(&mut tx, who.id(), Some(session)).await?
        && size as i64 > left + v.input_size
    {
        return Err(Error::TooLarge {
            code: "quota_reached",
            msg: format!("this file would exceed your video quota: {} bytes left", (left + v.input_size).max(0)),
        });
    }
    for kind in [KIND_HLS, videos::KIND_WEB] {
        videos::delete_files_of_kind(&mut tx, v.id, kind).await?;
    }
    videos::clear_hls(&mut tx, v.id, now).await?;
    videos::set_imported(
        &mut tx,
        v.id,
        &videos::ImportedInput {
            name: None,
            description: None,
            duration: probe.duration.round() as i64,
            width: i64::from(probe.width),
            height: i64::from(probe.height),
            fps: probe.fps,
            has_audio: probe.has_audio,
            has_video: probe.has_video,
            input_size: size as i64,
            input_path: &path.display().to_string(),
            probe: &probe_json,
            state: v.state,
            now,
        },
    )
    .await?;
    videos::set_input_filename(&mut tx, v.id, filename.as_deref(), now).await?;
    flotilla_db::uploads::finish(&mut tx, session, v.id).await?;
    jobs::enqueue(&mut tx, &Job::Transcode { video_id: v.id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    crate::video::renditions::remove_from_disk(app, &v, &old, &crate::video::renditions::playlists_of(app, &v)).await;
    tracing::info!(video = %v.uuid, size, by = %who.user.username, "video file replaced");
    Ok(v.id)
}
