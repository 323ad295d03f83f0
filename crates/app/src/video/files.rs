//! A local video's files beyond its HLS stream: web videos (a plain faststart MP4 per rendition,
//! `[transcoding] web_videos`), a torrent per file (HLS and web alike, as PeerTube), and how every
//! file is named to clients — URLs, download URLs, magnets — in the API and in the `Video` object.
//!
//! Layout: `web-videos/<uuid>/<random>-<res>.mp4` and `torrents/<uuid>/<random>-<res>[-hls].torrent`,
//! one directory per video so that removing a video removes them whatever its rows said. Their
//! URLs are flat, PeerTube's (`/static/web-videos/<file>`, `/lazy-static/torrents/<file>`): the
//! file's row says whose it is.
//!
//! Both (and the storyboard, `video::storyboards`) are made from a finished HLS rendition (the web video is that rendition's streams copied
//! into a plain MP4, not a second encode), by [`complete`], which the transcoding job calls after
//! each rendition and once at its end: it makes whatever is missing, so a job that died between a
//! rendition and its extras makes them on its next run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flotilla_db::videos::{self, VideoFile};
pub use flotilla_db::videos::{KIND_HLS, KIND_WEB};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::jobs::Failure;
use crate::video::hls_dir;
use crate::{App, Error};

pub fn web_dir(app: &App, uuid: &str) -> PathBuf {
    app.data_path("web-videos").join(uuid)
}

pub fn torrent_dir(app: &App, uuid: &str) -> PathBuf {
    app.data_path("torrents").join(uuid)
}

/// Where a file of a video is on disk.
pub fn path_of(app: &App, uuid: &str, f: &VideoFile) -> PathBuf {
    if f.kind == KIND_WEB { web_dir(app, uuid).join(&f.filename) } else { hls_dir(app, uuid).join(&f.filename) }
}

/// Where a file is read from (the disk or the object store).
pub fn place_of(app: &App, v: &videos::Video, f: &VideoFile) -> crate::storage::Place {
    let kind = if f.kind == KIND_WEB { crate::storage::Kind::Web } else { crate::storage::Kind::Hls };
    crate::storage::place(app, v, kind, &f.filename)
}

/// The file's public URL: the object store's when it is in a public bucket
/// (`storage::file_url`), else ours.
pub fn file_url(app: &App, v: &videos::Video, f: &VideoFile) -> String {
    let kind = if f.kind == KIND_WEB { crate::storage::Kind::Web } else { crate::storage::Kind::Hls };
    crate::storage::file_url(app, v, kind, &f.filename)
}

/// Its download URL (PeerTube's: named by the video and the resolution, answered as an attachment).
pub fn download_url(app: &App, uuid: &str, f: &VideoFile) -> String {
    if f.kind == KIND_WEB {
        format!("{}/download/web-videos/{uuid}-{}.mp4", app.public.base(), f.resolution)
    } else {
        format!("{}/download/streaming-playlists/hls/videos/{uuid}-{}-fragmented.mp4", app.public.base(), f.resolution)
    }
}

fn metadata_url(app: &App, uuid: &str, f: &VideoFile) -> String {
    format!("{}/api/v1/videos/{uuid}/metadata/{}", app.public.base(), f.id)
}

/// The trackers a torrent and a magnet announce to: ours, when P2P is on.
fn trackers(app: &App) -> Vec<String> {
    if app.config.p2p.enabled { vec![crate::uris::tracker(app)] } else { vec![] }
}

/// The torrent's URL and magnet of a file that has one.
fn torrent_urls(app: &App, v: &videos::Video, f: &VideoFile) -> Option<(String, String, String)> {
    let (torrent, hash) = (f.torrent.as_ref()?, f.info_hash.as_ref()?);
    let base = app.public.base();
    let url = format!("{base}/lazy-static/torrents/{torrent}");
    let magnet = flotilla_media::torrent::magnet(hash, &v.name, &url, &trackers(app), &[file_url(app, v, f)]);
    Some((url, format!("{base}/download/torrents/{torrent}"), magnet))
}

/// A file in PeerTube's API shape (`files[]` and `streamingPlaylists[].files[]`).
pub fn api_json(app: &App, v: &videos::Video, f: &VideoFile) -> Value {
    let torrent = torrent_urls(app, v, f);
    let mut out = json!({
        "id": f.id,
        "resolution": { "id": f.resolution, "label": if f.resolution == 0 { "Audio".to_string() } else { format!("{}p", f.resolution) } },
        "width": f.width,
        "height": f.height,
        "magnetUri": torrent.as_ref().map(|t| &t.2),
        "size": f.size,
        "fps": f.fps.round() as i64,
        "torrentUrl": torrent.as_ref().map(|t| &t.0),
        "torrentDownloadUrl": torrent.as_ref().map(|t| &t.1),
        "fileUrl": file_url(app, v, f),
        "fileDownloadUrl": download_url(app, &v.uuid, f),
        "metadataUrl": metadata_url(app, &v.uuid, f),
        "hasAudio": v.has_audio,
        "hasVideo": f.resolution != 0,
        // PeerTube's: 0 the file system, 1 object storage.
        "storage": i64::from(v.storage != videos::STORAGE_FILE_SYSTEM),
    });
    if f.kind == KIND_HLS {
        out["playlistUrl"] = json!(crate::storage::file_url(app, v, crate::storage::Kind::Hls, &f.playlist));
    }
    out
}

/// A file's links in the `Video` object, PeerTube's quadruple: the file, its metadata, its
/// torrent, its magnet.
pub fn ap_links(app: &App, v: &videos::Video, f: &VideoFile) -> Vec<Value> {
    let mut attachment = Vec::new();
    if v.has_audio {
        attachment.push(json!({ "type": "PropertyValue", "name": "ffprobe_codec_type", "value": "audio" }));
    }
    if f.resolution > 0 {
        attachment.push(json!({ "type": "PropertyValue", "name": "ffprobe_codec_type", "value": "video" }));
    }
    let flag = if f.kind == KIND_WEB { "web-video" } else { "fragmented" };
    attachment.push(json!({ "type": "PropertyValue", "name": "peertube_format_flag", "value": flag }));
    let fps = f.fps.round() as i64;
    let mut out = vec![
        json!({
            "type": "Link",
            "mediaType": "video/mp4",
            "href": file_url(app, v, f),
            "height": f.height,
            "width": f.width,
            "size": f.size,
            "fps": fps,
            "attachment": attachment,
        }),
        json!({
            "type": "Link",
            "rel": ["metadata", "video/mp4"],
            "mediaType": "application/json",
            "href": metadata_url(app, &v.uuid, f),
            "height": f.height,
            "width": f.width,
            "fps": fps,
        }),
    ];
    if let Some((url, _, magnet)) = torrent_urls(app, v, f) {
        out.push(json!({ "type": "Link", "mediaType": "application/x-bittorrent", "href": url,
                         "height": f.height, "width": f.width, "fps": fps }));
        out.push(json!({ "type": "Link", "mediaType": "application/x-bittorrent;x-scheme-handler/magnet",
                         "href": magnet, "height": f.height, "width": f.width, "fps": fps }));
    }
    out
}

/// The name a torrent client saves a file under: the video's name and the resolution, with
/// nothing a file system would read as a path.
fn torrent_name(v: &videos::Video, f: &VideoFile) -> String {
    let clean: String =
        v.name.chars().map(|c| if c.is_control() || matches!(c, '/' | '\\') { ' ' } else { c }).collect();
    let clean = clean.trim().trim_start_matches('.');
    let clean = if clean.is_empty() { "video" } else { clean };
    if f.resolution == 0 { format!("{clean}.mp4") } else { format!("{clean} {}p.mp4", f.resolution) }
}

fn retry(e: impl std::fmt::Display) -> Failure {
    Failure::Retry(e.to_string())
}

/// Makes what the video's finished renditions lack: a web video per HLS rendition (when enabled)
/// and a torrent per file; with `storyboard`, the storyboard too (drawn once the ladder is done:
/// it must not delay the first rendition's publication). `staging` is the job's scratch
/// directory. Whether it made anything.
pub async fn complete(app: &Arc<App>, video_id: i64, staging: &Path, storyboard: bool) -> Result<bool, Failure> {
    let Some(v) = videos::get(&app.db, video_id).await.map_err(retry)? else { return Ok(false) };
    let mut made = false;
    let files = videos::all_files(&app.db, v.id).await.map_err(retry)?;
    if app.config.transcoding.web_videos && !videos::web_videos_off(&app.db, v.id).await.map_err(retry)? {
        let dir = web_dir(app, &v.uuid);
        for h in files.iter().filter(|f| f.kind == KIND_HLS) {
            if files.iter().any(|w| w.kind == KIND_WEB && w.resolution == h.resolution) {
                continue;
            }
            tokio::fs::create_dir_all(&dir).await.map_err(retry)?;
            let name = flotilla_media::hls::web_name(&uuid::Uuid::new_v4().to_string(), h.resolution as u32);
            let source = std::fs::canonicalize(path_of(app, &v.uuid, h)).map_err(retry)?;
            let args = flotilla_media::hls::web_video_args(&source.to_string_lossy(), &name);
            let limit = Duration::from_secs(v.duration.max(1) as u64 * 2 + 300);
            flotilla_media::hls::run_ffmpeg(staging, &args, limit, |_| {}).await.map_err(|e| retry(e.to_string()))?;
            let size = tokio::fs::metadata(staging.join(&name)).await.map_err(retry)?.len();
            tokio::fs::rename(staging.join(&name), dir.join(&name)).await.map_err(retry)?;
            let row = videos::NewFile {
                kind: KIND_WEB,
                resolution: h.resolution,
                width: h.width,
                height: h.height,
                fps: h.fps,
                size: size as i64,
                bandwidth: h.bandwidth,
                codecs: &h.codecs,
                filename: &name,
                playlist: "",
            };
            videos::insert_file(&app.db, v.id, &row, now_ms()).await.map_err(retry)?;
            made = true;
        }
    }
    let files = videos::all_files(&app.db, v.id).await.map_err(retry)?;
    for f in files.iter().filter(|f| f.torrent.is_none()) {
        make_torrent(app, &v, f).await?;
        made = true;
    }
    // A storyboard that cannot be drawn is not worth failing the video for: it is tried again by
    // the next completion (the hourly backfill).
    if storyboard {
        match crate::video::storyboards::make(app, &v, staging).await {
            Ok(drawn) => made |= drawn,
            Err(e) => tracing::warn!(video = %v.uuid, error = ?e, "storyboard not drawn"),
        }
    }
    Ok(made)
}

/// The `video-files` job: [`complete`] for a video transcoded before, then its followers get an
/// `Update` naming the new files (in the transaction of nothing else: the files are in place).
pub async fn run(app: &Arc<App>, video_id: i64) -> Result<(), Failure> {
    let Some(v) = videos::get(&app.db, video_id).await.map_err(retry)? else { return Ok(()) };
    if v.input_path.is_some() {
        return Ok(()); // its transcoding job makes them
    }
    // Made from the HLS renditions on the disk; with object storage they go back at the end.
    crate::storage::ensure_local(app, &v).await.map_err(retry)?;
    let staging = app.data_path("tmp/transcode").join(format!("{}-files", v.uuid));
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(&staging).await.map_err(retry)?;
    let made = complete(app, video_id, &staging, true).await;
    let _ = tokio::fs::remove_dir_all(&staging).await;
    let made = made?;
    let mut tx = app.db.begin().await.map_err(retry)?;
    if made && v.state == crate::video::STATE_PUBLISHED {
        let event = crate::events::Event::VideoUpdated { video_id, was_federated: crate::ap::federates(app, &v) };
        crate::events::record(&mut tx, event).await.map_err(retry)?;
    }
    crate::storage::queue_move(&mut tx, app, &v).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    app.wake_jobs();
    Ok(())
}

/// Queues a `video-files` job for local videos that lack web videos or torrents (the hourly
/// housekeeping, and at start: videos transcoded before these existed). How many.
pub async fn backfill(app: &App) -> crate::Result<usize> {
    let ids = videos::missing_extras(&app.db, app.config.transcoding.web_videos, 200).await?;
    for id in &ids {
        crate::jobs::enqueue(&app.db, &crate::jobs::Job::VideoFiles { video_id: *id }).await?;
    }
    if !ids.is_empty() {
        app.wake_jobs();
    }
    Ok(ids.len())
}

/// Writes the torrent of one file and records it.
async fn make_torrent(app: &Arc<App>, v: &videos::Video, f: &VideoFile) -> Result<(), Failure> {
    let dir = torrent_dir(app, &v.uuid);
    tokio::fs::create_dir_all(&dir).await.map_err(retry)?;
    let suffix = if f.kind == KIND_HLS { "-hls" } else { "" };
    let name = format!("{}-{}{suffix}.torrent", uuid::Uuid::new_v4(), f.resolution);
    let path = path_of(app, &v.uuid, f);
    let (tname, trackers, seeds) = (torrent_name(v, f), trackers(app), vec![file_url(app, v, f)]);
    let made = tokio::task::spawn_blocking(move || {
        let spec = flotilla_media::torrent::Spec {
            name: &tname,
            trackers: &trackers,
            web_seeds: &seeds,
            created: now_ms() / 1000,
        };
        flotilla_media::torrent::make(&path, &spec)
    })
    .await
    .map_err(retry)?
    .map_err(retry)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, &made.bytes).await.map_err(retry)?;
    tokio::fs::rename(&tmp, dir.join(&name)).await.map_err(retry)?;
    videos::set_torrent(&app.db, f.id, &name, &made.info_hash).await.map_err(retry)?;
    Ok(())
}

/// While a video is being transcoded, its owner's `files` lists the upload itself (as PeerTube
/// lists it, its first web video, until transcoding replaces it): clients such as PeerTube's CLI
/// read `files[0]` right after uploading. Downloadable by those who manage the video only, never
/// served inline; no torrent.
pub fn source_json(app: &App, v: &videos::Video) -> Value {
    let url = format!("{}/download/original-video-files/{}", app.public.base(), v.uuid);
    let resolution = v.width.min(v.height);
    let size = v.input_path.as_deref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
    json!({
        "id": 0,
        "resolution": { "id": resolution, "label": if resolution == 0 { "Audio".to_string() } else { format!("{resolution}p") } },
        "width": v.width,
        "height": v.height,
        "magnetUri": null,
        "size": size,
        "fps": 0,
        "torrentUrl": null,
        "torrentDownloadUrl": null,
        "fileUrl": url,
        "fileDownloadUrl": url,
        "metadataUrl": null,
        "hasAudio": v.has_audio,
        "hasVideo": resolution != 0,
        // PeerTube's: 0 the file system, 1 object storage.
        "storage": i64::from(v.storage != videos::STORAGE_FILE_SYSTEM),
    })
}

/// The file behind a flat static name (`/static/web-videos/<file>`, or with `by_torrent`
/// `/lazy-static/torrents/<file>`) and the path to serve, for whoever may see its video; 404
/// otherwise, as for the HLS files.
pub async fn for_static(
    app: &App,
    who: Option<&AuthUser>,
    name: &str,
    by_torrent: bool,
    file_token: Option<&str>,
) -> crate::Result<(videos::Video, VideoFile, crate::storage::Place)> {
    let f = videos::file_named(&app.db, name, by_torrent).await?.ok_or_else(|| Error::not_found("file"))?;
    if !by_torrent && f.kind != KIND_WEB {
        return Err(Error::not_found("file"));
    }
    let v = videos::get(&app.db, f.video_id).await?.ok_or_else(|| Error::not_found("file"))?;
    crate::video::get_for_files(app, who, &v.uuid, file_token).await?;
    let place = if by_torrent {
        crate::storage::Place::Disk(torrent_dir(app, &v.uuid).join(name))
    } else {
        place_of(app, &v, &f)
    };
    Ok((v, f, place))
}

/// The checks of every download: whoever may see the video, and downloads allowed by its owner
/// (`downloadEnabled`) unless the caller manages it or moderates.
async fn downloadable(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    file_token: Option<&str>,
) -> crate::Result<videos::Video> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !v.is_local() {
        return Err(Error::not_found("video"));
    }
    crate::video::get_for_files(app, who, &v.uuid, file_token).await?;
    if !v.download_enabled && !manages_or_moderates(app, who, &v).await? {
        return Err(Error::Forbidden("downloads of this video are disabled by its owner".into()));
    }
    Ok(v)
}

async fn manages_or_moderates(app: &App, who: Option<&AuthUser>, v: &videos::Video) -> crate::Result<bool> {
    let Some(w) = who else { return Ok(false) };
    if matches!(w.role(), flotilla_domain::Role::Admin | flotilla_domain::Role::Moderator) {
        return Ok(true);
    }
    crate::video::manages(app, w.user.id, v).await
}

/// A file to answer as an attachment: where it is and the name to save it under.
pub struct Download {
    pub place: crate::storage::Place,
    pub filename: String,
}

/// The name a download is saved under: PeerTube's `<video name>-<res>p.mp4`.
fn download_name(v: &videos::Video, resolution: i64) -> String {
    let name = torrent_name(
        v,
        &VideoFile {
            id: 0,
            video_id: v.id,
            kind: KIND_WEB.into(),
            resolution: 0,
            width: 0,
            height: 0,
            fps: 0.0,
            size: 0,
            bandwidth: 0,
            codecs: String::new(),
            filename: String::new(),
            playlist: String::new(),
            torrent: None,
            info_hash: None,
            created_at: 0,
        },
    );
    let stem = name.trim_end_matches(".mp4");
    if resolution == 0 { format!("{stem}.mp4") } else { format!("{stem}-{resolution}p.mp4") }
}

/// `/download/web-videos/<uuid>-<res>.mp4` and `/download/streaming-playlists/hls/videos/
/// <uuid>-<res>-fragmented.mp4`: `name` is the last segment, `kind` which of the two.
pub async fn download(
    app: &App,
    who: Option<&AuthUser>,
    name: &str,
    kind: &str,
    file_token: Option<&str>,
) -> crate::Result<Download> {
    let stem = if kind == KIND_WEB { name.strip_suffix(".mp4") } else { name.strip_suffix("-fragmented.mp4") };
    let parsed = stem.filter(|s| s.len() > 37 && s.as_bytes()[36] == b'-').and_then(|s| {
        let (uuid, res) = s.split_at(36);
        Some((uuid, res[1..].parse::<i64>().ok()?))
    });
    let Some((uuid, resolution)) = parsed else { return Err(Error::not_found("file")) };
    let v = downloadable(app, who, uuid, file_token).await?;
    let files = videos::all_files(&app.db, v.id).await?;
    let f =
        files.iter().find(|f| f.kind == kind && f.resolution == resolution).ok_or_else(|| Error::not_found("file"))?;
    Ok(Download { place: place_of(app, &v, f), filename: download_name(&v, f.resolution) })
}

/// `/download/torrents/<file>`: a torrent as an attachment.
pub async fn download_torrent(
    app: &App,
    who: Option<&AuthUser>,
    name: &str,
    file_token: Option<&str>,
) -> crate::Result<Download> {
    let (v, f, place) = for_static(app, who, name, true, file_token).await?;
    if !v.download_enabled && !manages_or_moderates(app, who, &v).await? {
        return Err(Error::Forbidden("downloads of this video are disabled by its owner".into()));
    }
    let stem = download_name(&v, f.resolution);
    Ok(Download { place, filename: format!("{}.torrent", stem.trim_end_matches(".mp4")) })
}

/// `/download/videos/generate/<id>?videoFileIds=…` (PeerTube 6.1+, which muxes a chosen video
/// stream with a chosen audio stream): our renditions carry their audio already, so the file
/// asked for with the most pixels is the download; a web video rather than its HLS twin.
pub async fn generate(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    file_ids: &[i64],
    file_token: Option<&str>,
) -> crate::Result<Download> {
    if file_ids.is_empty() || file_ids.len() > 10 {
        return Err(Error::invalid("videoFileIds", "give one to ten file ids of this video"));
    }
    let v = downloadable(app, who, key, file_token).await?;
    let files = videos::all_files(&app.db, v.id).await?;
    let chosen: Vec<&VideoFile> = files.iter().filter(|f| file_ids.contains(&f.id)).collect();
    if chosen.len() != file_ids.len() {
        return Err(Error::invalid("videoFileIds", "a file id is not one of this video's files"));
    }
    let best = chosen
        .into_iter()
        .max_by_key(|f| (f.resolution, f.kind == KIND_WEB))
        .ok_or_else(|| Error::not_found("file"))?;
    Ok(Download { place: place_of(app, &v, best), filename: download_name(&v, best.resolution) })
}

/// `/download/original-video-files/<uuid>`: the upload itself, while it is transcoded or kept
/// (`[transcoding] keep_original`), for those who manage the video.
pub async fn download_source(
    app: &App,
    who: Option<&AuthUser>,
    uuid: &str,
    file_token: Option<&str>,
) -> crate::Result<Download> {
    let v = videos::get_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("file"))?;
    let by_token = file_token.is_some_and(|t| crate::video::token::verify(&app.file_token_key, &v.uuid, t, now_ms()));
    if !by_token && !manages_or_moderates(app, who, &v).await? {
        return Err(Error::not_found("file"));
    }
    let place = crate::video::source::place_of(app, &v).await?;
    Ok(Download { place, filename: download_name(&v, 0) })
}

/// `GET /api/v1/videos/{id}/metadata/{fileId}`: what ffprobe reads in one of the video's files
/// (format and streams), as PeerTube answers.
pub async fn metadata(app: &App, who: Option<&AuthUser>, key: &str, file_id: i64) -> crate::Result<Value> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !v.is_local() || !crate::video::can_see(app, who, &v).await? {
        return Err(Error::not_found("video"));
    }
    let files = videos::all_files(&app.db, v.id).await?;
    let f = files.iter().find(|f| f.id == file_id).ok_or_else(|| Error::not_found("file"))?;
    // Kept when the file left the disk for the object store; read from the file otherwise.
    let text = match videos::file_metadata(&app.db, f.id).await? {
        Some(text) => text,
        None => {
            flotilla_media::probe::probe(&path_of(app, &v.uuid, f))
                .await
                .map_err(|e| Error::Internal(format!("cannot read the file's metadata: {e}")))?
                .1
        }
    };
    let mut out: Value = serde_json::from_str(&text).map_err(|e| Error::Internal(e.to_string()))?;
    // ffprobe names the file by its path on this server: not the client's business.
    if let Some(format) = out["format"].as_object_mut() {
        format.remove("filename");
    }
    Ok(out)
}
