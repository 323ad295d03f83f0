//! An administrator's hand on a local video's files (PeerTube's): `DELETE /videos/:id/hls` and
//! `DELETE /videos/:id/web-videos` remove one kind of file (never the last kind a video has),
//! `POST /videos/:id/transcoding` makes one kind again — the HLS ladder at the instance's current
//! resolutions, from the best file the video has, or its web videos from its HLS renditions.
//! Each change records `VideoUpdated` in its transaction, so followers learn the new files.

use flotilla_db::videos::{self, VideoFile};
pub use flotilla_db::videos::{KIND_HLS, KIND_WEB};
use flotilla_domain::time::now_ms;

use crate::auth::AuthUser;
use crate::jobs::{self, Job};
use crate::video::files::{path_of, torrent_dir};
use crate::video::{forget_files, hls_dir};
use crate::{App, Error, Result};

/// The local video behind `key`, for an administrator, when no transcoding runs for it.
async fn local(app: &App, who: &AuthUser, key: &str, force: bool) -> Result<videos::Video> {
    who.require_admin()?;
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !v.is_local() {
        return Err(Error::bad_request("remote_video", "a remote video's files are its server's"));
    }
    if v.input_path.is_some() && !force {
        return Err(Error::Conflict("this video is being transcoded already".into()));
    }
    Ok(v)
}

/// Removes what is on disk of `files` (and their torrents) once their rows are gone.
pub(crate) async fn remove_from_disk(app: &App, v: &videos::Video, files: &[VideoFile], extra: &[std::path::PathBuf]) {
    let mut paths: Vec<std::path::PathBuf> = extra.to_vec();
    for f in files {
        paths.push(path_of(app, &v.uuid, f));
        if f.kind == KIND_HLS && !f.playlist.is_empty() {
            paths.push(hls_dir(app, &v.uuid).join(&f.playlist));
        }
        if let Some(t) = &f.torrent {
            paths.push(torrent_dir(app, &v.uuid).join(t));
        }
    }
    for p in paths {
        if let Err(e) = tokio::fs::remove_file(&p).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), error = %e, "cannot remove a video file");
        }
    }
    forget_files(app, &v.uuid).await;
}

/// The master playlist and segment hashes a video points at now.
pub(crate) fn playlists_of(app: &App, v: &videos::Video) -> Vec<std::path::PathBuf> {
    [&v.master_playlist, &v.segments_sha256].into_iter().flatten().map(|n| hls_dir(app, &v.uuid).join(n)).collect()
}

/// `DELETE /api/v1/videos/:id/hls` (`kind` HLS) and `…/web-videos` (`kind` web).
pub async fn delete(app: &App, who: &AuthUser, key: &str, kind: &str) -> Result<()> {
    let v = local(app, who, key, false).await?;
    // Files in the object store come back to the disk first; what is left goes again after.
    crate::storage::ensure_local(app, &v).await?;
    let all = videos::all_files(&app.db, v.id).await?;
    let (these, others): (Vec<VideoFile>, Vec<VideoFile>) = all.into_iter().partition(|f| f.kind == kind);
    let what = if kind == KIND_HLS { "HLS files" } else { "web videos" };
    if these.is_empty() {
        return Err(Error::bad_request("no_such_files", format!("this video has no {what}")));
    }
    if others.is_empty() {
        return Err(Error::bad_request(
            "last_files",
            format!("the {what} are this video's only files: it would have none left"),
        ));
    }
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    videos::delete_files_of_kind(&mut tx, v.id, kind).await?;
    if kind == KIND_HLS {
        videos::clear_hls(&mut tx, v.id, now).await?;
    } else {
        videos::set_web_videos_off(&mut tx, v.id, true).await?;
    }
    let was_federated = crate::ap::federates(app, &v);
    crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated }).await?;
    crate::storage::queue_move(&mut tx, app, &v).await?;
    tx.commit().await?;
    app.wake_jobs();
    let extra = if kind == KIND_HLS { playlists_of(app, &v) } else { Vec::new() };
    remove_from_disk(app, &v, &these, &extra).await;
    tracing::info!(video = %v.uuid, kind, by = %who.user.username, "video files removed");
    Ok(())
}

/// `POST /api/v1/videos/:id/transcoding` (`{"transcodingType": "hls" | "web-video",
/// "forceTranscoding"}`).
pub async fn transcode(app: &App, who: &AuthUser, key: &str, kind: Option<&str>, force: bool) -> Result<()> {
    let kind = match kind {
        Some("hls") => KIND_HLS,
        Some("web-video") => KIND_WEB,
        _ => return Err(Error::invalid("transcodingType", "transcodingType must be hls or web-video")),
    };
    let v = local(app, who, key, force).await?;
    // Made from files on the disk: those in the object store come back first (the jobs send them
    // again when done).
    crate::storage::ensure_local(app, &v).await?;
    let all = videos::all_files(&app.db, v.id).await?;
    if kind == KIND_WEB {
        if !app.config.transcoding.web_videos {
            return Err(Error::bad_request(
                "web_videos_disabled",
                "this instance makes no web videos ([transcoding] web_videos is off)",
            ));
        }
        // Made from the HLS renditions by the video-files job (a remux, not an encode).
        let mut tx = app.db.begin().await?;
        videos::set_web_videos_off(&mut tx, v.id, false).await?;
        jobs::enqueue(&mut tx, &Job::VideoFiles { video_id: v.id }).await?;
        tx.commit().await?;
        app.wake_jobs();
        return Ok(());
    }
    // The HLS ladder again, from the best file the video has (a web video first: a plain MP4),
    // copied into quarantine as if uploaded; the transcoding job removes the copy when done.
    let best = all
        .iter()
        .max_by_key(|f| (f.resolution, i64::from(f.kind == KIND_WEB)))
        .ok_or_else(|| Error::bad_request("no_such_files", "this video has no file to transcode from"))?;
    let source = path_of(app, &v.uuid, best);
    let copy = crate::video::upload::quarantine_path(app).with_extension(crate::video::source::COPY_EXTENSION);
    // A second name for the same bytes (the data directory is one file system), so the request
    // does not copy gigabytes; a copy where links are not possible.
    if tokio::fs::hard_link(&source, &copy).await.is_err() {
        tokio::fs::copy(&source, &copy).await.map_err(|e| Error::write("a copy of the video to transcode", e))?;
    }
    let old_hls: Vec<VideoFile> = all.iter().filter(|f| f.kind == KIND_HLS).cloned().collect();
    let result = async {
        let mut tx = app.db.begin().await?;
        videos::delete_files_of_kind(&mut tx, v.id, KIND_HLS).await?;
        videos::clear_hls(&mut tx, v.id, now_ms()).await?;
        videos::set_input(&mut tx, v.id, &copy.display().to_string()).await?;
        jobs::enqueue(&mut tx, &Job::Transcode { video_id: v.id }).await?;
        tx.commit().await?;
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&copy).await;
        return Err(e);
    }
    app.wake_jobs();
    // The old renditions' names are their own (the new run writes new ones), so they can go now.
    remove_from_disk(app, &v, &old_hls, &playlists_of(app, &v)).await;
    tracing::info!(video = %v.uuid, by = %who.user.username, "video transcoded again");
    Ok(())
}
