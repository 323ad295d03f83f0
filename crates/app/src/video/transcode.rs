//! The transcoding job: from the quarantined upload to published HLS.
//!
//! ```text
//!  thumbnail + preview ──> for each rendition, lowest first:
//!     ffmpeg into tmp/transcode/<uuid>/  ──rename──>  streaming-playlists/hls/<uuid>/
//!     row in video_files ──> its web video and torrents (video::files)
//!     ──> new master playlist + segments-sha256.json (new names, renamed in)
//!     ──> video points at them; published after the first (or the last, with waitTranscoding)
//!  ──> the quarantined upload is deleted
//! ```
//!
//! Viewers only ever see files that are complete: ffmpeg writes in a staging directory, finished
//! files are renamed into place, and playlists only list renditions that have a row. A job that
//! dies midway runs again: renditions already recorded are kept, the staging directory is wiped.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_db::videos;
use flotilla_domain::time::now_ms;
use flotilla_media::hls::{self, MasterEntry};

use crate::jobs::{self, Failure, Job, Progress};

/// How long a replaced master playlist (and its segment hashes) keeps answering: players in the
/// middle of the video and followers that missed the `Update` go on meanwhile.
pub const PLAYLIST_GRACE_MS: i64 = 24 * 3600 * 1000;
use crate::video::{STATE_TRANSCODING_FAILED, hls_dir};
use crate::{App, Error};

fn retry(e: impl std::fmt::Display) -> Failure {
    Failure::Retry(e.to_string())
}

fn media_failure(e: flotilla_media::Error) -> Failure {
    match e {
        flotilla_media::Error::Rejected(m) => Failure::Fail(m),
        other => Failure::Retry(other.to_string()),
    }
}

/// Runs the transcoding job of `video_id`.
pub async fn run(app: &Arc<App>, video_id: i64, progress: &Progress) -> Result<(), Failure> {
    let Some(v) = videos::get(&app.db, video_id).await.map_err(retry)? else {
        return Ok(()); // deleted meanwhile: nothing to do
    };
    let Some(input) = v.input_path.clone() else {
        return Ok(()); // already transcoded
    };
    // A new transcoding of a video whose files are in the object store works on the disk: they
    // come back first, and go again at its end.
    crate::storage::ensure_local(app, &v).await.map_err(|e| match e {
        crate::Error::NotFound(m) => Failure::Fail(format!("a stored file is missing: {m}")),
        e => retry(e),
    })?;
    let input = Path::new(&input).to_path_buf();
    if !input.exists() {
        return Err(Failure::Fail(format!("the uploaded file {} is missing", input.display())));
    }
    // What the API's probe of this very file found (same path, same size), or a new probe.
    let kept = videos::probe_json(&app.db, v.id).await.map_err(retry)?;
    let reused = kept.as_deref().and_then(|json| flotilla_media::probe::reuse(json, &input));
    // Absolute: ffmpeg runs in the staging directory.
    let input = std::fs::canonicalize(&input).map_err(retry)?;
    let probe = match reused {
        Some(probe) => probe,
        None => flotilla_media::probe::probe(&input).await.map_err(media_failure)?.0,
    };
    probe.check(&app.config.upload.limits()).map_err(media_failure)?;
    let staging = app.data_path("tmp/transcode").join(&v.uuid);
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(&staging).await.map_err(retry)?;
    // However this run ends — done, failed, or dropped when its lease is lost — its half-written
    // files go (a full disk must not stay full of them).
    let _cleanup = RemoveOnDrop(staging.clone());
    let out_dir = hls_dir(app, &v.uuid);
    tokio::fs::create_dir_all(&out_dir).await.map_err(retry)?;

    if v.thumbnail.is_none() || v.preview.is_none() {
        images(app, &v, &input, &probe, &staging).await?;
    }

    let plan = hls::plan(&probe, &app.settings().resolutions);
    let done: Vec<i64> = videos::files(&app.db, v.id).await.map_err(retry)?.iter().map(|f| f.resolution).collect();
    let todo: Vec<_> = plan.iter().filter(|r| !done.contains(&i64::from(r.resolution))).cloned().collect();
    let duration = probe.duration.max(0.1);
    // Remote runners make the renditions: one runner job each; their results are stored and the
    // video finished by `runners::results` (this job ends here).
    if app.config.transcoding.remote_runners && !todo.is_empty() {
        return crate::runners::hand_over(app, &v, &probe, &todo).await;
    }
    // Generous: slow machines transcode 1080p at a fraction of real time. The duration is the
    // probe's, checked against `upload.max_duration_secs`, and ffmpeg stops there (`-t`): a file
    // lying about its length cannot make a rendition run longer than this.
    let limit = Duration::from_secs((duration * 30.0) as u64 * todo.len().max(1) as u64 + 600);
    let threads = transcoding_threads(app);
    let passes = passes(&todo);
    // The lowest rendition and the shared pass run at once, the shared one at a lower priority:
    // the lowest is ready as soon as it would be alone, and the other cores are never idle.
    let together = passes.len() >= 2 && passes[1].len() > 1;
    let stages = if together { passes.len() - 1 } else { passes.len() };
    let total = duration * stages.max(1) as f64;
    let last_update = std::sync::Mutex::new(Instant::now());
    let report = |stage: usize, secs: f64| {
        let pct = (((stage as f64 * duration + secs.min(duration)) / total) * 100.0).floor() as i64;
        progress.set(pct.min(99));
        let mut last = last_update.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() > Duration::from_secs(1) {
            *last = Instant::now();
            let app3 = app.clone();
            tokio::spawn(async move {
                let _ = videos::set_progress(&app3.db, video_id, pct.min(99)).await;
            });
        }
    };
    let mut hashes = HashCache::new();
    let mut made = 0;
    let encode = |pass: &[&hls::Rendition], niceness: u8, stage: Option<usize>, one_thread: bool| {
        let outputs = outputs_of(pass);
        // A picture over 1080p's runs alone on one thread (its encoder's memory); the rest share
        // the machine's cores.
        let big = pass.iter().any(|r| u64::from(r.width) * u64::from(r.height) > hls::SHARED_PASS_MAX_PIXELS);
        let refs: Vec<hls::Output<'_>> =
            outputs.iter().map(|(r, f, m)| hls::Output { rendition: r, fragment: f, playlist: m }).collect();
        let args = hls::ladder_args(&input, &probe, &refs, if big || one_thread { 1 } else { threads });
        let staging = staging.clone();
        let report = &report;
        async move {
            hls::run_ffmpeg_niced(&staging, &args, limit, niceness, |secs| {
                if let Some(stage) = stage {
                    report(stage, secs);
                }
            })
            .await
            .map_err(media_failure)?;
            Ok::<_, Failure>(outputs)
        }
    };

    let mut rest = passes.iter().enumerate().peekable();
    if together {
        let (_, first) = rest.next().expect("two passes");
        let (_, shared) = rest.next().expect("two passes");
        let first_done = async {
            // On one thread, as it always ran: as soon ready as before, the other cores left to
            // the shared pass (measured on 2 cores: the first rendition as soon, the ladder in 0.65×).
            let outputs = encode(first, 0, None, true).await?;
            store(app, &v, &staging, &out_dir, &outputs, duration).await?;
            made += outputs.len();
            crate::video::files::complete(app, v.id, &staging, false).await?;
            write_playlists(app, v.id, &v.uuid, !v.wait_transcoding, &mut hashes).await?;
            app.failpoints.hit("transcode.rendition");
            Ok::<_, Failure>(())
        };
        // Either failing stops the other (its ffmpeg killed as its future is dropped).
        let ((), outputs) = tokio::try_join!(first_done, encode(shared, 10, Some(0), false))?;
        store(app, &v, &staging, &out_dir, &outputs, duration).await?;
        made += outputs.len();
        let last = made == todo.len();
        crate::video::files::complete(app, v.id, &staging, last).await?;
        write_playlists(app, v.id, &v.uuid, !v.wait_transcoding || last, &mut hashes).await?;
        app.failpoints.hit("transcode.rendition");
    }
    for (index, pass) in rest {
        let stage = if together { index - 1 } else { index };
        let outputs = encode(pass, 0, Some(stage), false).await?;
        store(app, &v, &staging, &out_dir, &outputs, duration).await?;
        made += outputs.len();
        // Its web videos and torrents before its publication, so that the `Create` or `Update`
        // names them.
        let last = made == todo.len();
        crate::video::files::complete(app, v.id, &staging, last).await?;
        write_playlists(app, v.id, &v.uuid, !v.wait_transcoding || last, &mut hashes).await?;
        app.failpoints.hit("transcode.rendition");
    }
    if todo.is_empty() {
        // A run after a crash: what the last rendition's run did not finish.
        crate::video::files::complete(app, v.id, &staging, true).await?;
        write_playlists(app, v.id, &v.uuid, true, &mut hashes).await?;
    }

    // Done, and (with object storage) its files' move queued, in one transaction.
    let mut tx = app.db.begin().await.map_err(retry)?;
    videos::clear_input(&mut tx, v.id).await.map_err(retry)?;
    crate::storage::queue_move(&mut tx, app, &v).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    app.wake_jobs();
    crate::video::source::after_transcoding(app, &v, &input).await;
    progress.set(100);
    tracing::info!(video = %v.uuid, "video published");
    Ok(())
}

/// A pass's renditions with the names of their files (new, random: caches never mix them up).
fn outputs_of(pass: &[&hls::Rendition]) -> Vec<(hls::Rendition, String, String)> {
    pass.iter()
        .map(|r| {
            let (fragment, playlist) = hls::names(&uuid::Uuid::new_v4().to_string(), r.resolution);
            ((*r).clone(), fragment, playlist)
        })
        .collect()
}

/// Moves a pass's finished renditions into place and records them, before any playlist names
/// them (a remote runner's too: `runners::results`).
pub(crate) async fn store(
    app: &Arc<App>,
    v: &videos::Video,
    staging: &Path,
    out_dir: &Path,
    outputs: &[(hls::Rendition, String, String)],
    duration: f64,
) -> Result<(), Failure> {
    for (r, fragment, playlist) in outputs {
        let size = tokio::fs::metadata(staging.join(fragment)).await.map_err(retry)?.len();
        let codecs = flotilla_media::mp4::codecs(&staging.join(fragment)).await.map_err(media_failure)?;
        for name in [fragment, playlist] {
            tokio::fs::rename(staging.join(name), out_dir.join(name)).await.map_err(retry)?;
        }
        let bandwidth = ((size as f64 * 8.0) / duration).ceil() as i64;
        videos::insert_file(
            &app.db,
            v.id,
            &videos::NewFile {
                kind: videos::KIND_HLS,
                resolution: i64::from(r.resolution),
                width: i64::from(r.width),
                height: i64::from(r.height),
                fps: r.fps,
                size: size as i64,
                bandwidth,
                codecs: &codecs,
                filename: fragment,
                playlist,
            },
            now_ms(),
        )
        .await
        .map_err(retry)?;
        tracing::info!(video = %v.uuid, resolution = r.resolution, size, "rendition ready");
    }
    Ok(())
}

/// The threads transcoding may use: `[transcoding] threads`, or every core the machine has.
fn transcoding_threads(app: &App) -> u32 {
    match app.config.transcoding.threads {
        0 => std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
        n => n,
    }
}

/// How the renditions still to make are run: the lowest alone (it publishes the video soonest)
/// beside the others up to 1080p together in one ffmpeg (the source decoded once, every core
/// busy; at a lower priority), then each larger one alone.
fn passes(todo: &[hls::Rendition]) -> Vec<Vec<&hls::Rendition>> {
    let mut passes: Vec<Vec<&hls::Rendition>> = Vec::new();
    let Some((first, rest)) = todo.split_first() else { return passes };
    passes.push(vec![first]);
    let (shared, alone): (Vec<&hls::Rendition>, Vec<&hls::Rendition>) =
        rest.iter().partition(|r| u64::from(r.width) * u64::from(r.height) <= hls::SHARED_PASS_MAX_PIXELS);
    if !shared.is_empty() {
        passes.push(shared);
    }
    passes.extend(alone.into_iter().map(|r| vec![r]));
    passes
}

/// Removes a directory when dropped.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a new master playlist and `segments-sha256.json` for the renditions recorded so far,
/// points the video at them, then removes the previous pair.
/// Segment hashes already computed in this run, by media playlist: each rendition is hashed once,
/// not again each time a later one is added.
pub(crate) type HashCache = std::collections::HashMap<String, serde_json::Value>;

pub(crate) async fn write_playlists(
    app: &Arc<App>,
    video_id: i64,
    uuid: &str,
    publish: bool,
    cache: &mut HashCache,
) -> Result<(), Failure> {
    let dir = hls_dir(app, uuid);
    let mut files = videos::files(&app.db, video_id).await.map_err(retry)?;
    files.sort_by_key(|f| f.resolution);
    let entries: Vec<MasterEntry> = files
        .iter()
        .map(|f| MasterEntry {
            bandwidth: f.bandwidth as u64,
            width: f.width as u32,
            height: f.height as u32,
            fps: f.fps,
            codecs: f.codecs.clone(),
            playlist: f.playlist.clone(),
        })
        .collect();
    let master = hls::master_playlist(&entries);
    let mut sha = serde_json::Map::new();
    for f in &files {
        if !cache.contains_key(&f.playlist) {
            let (dir2, playlist) = (dir.clone(), vec![f.playlist.clone()]);
            let hashes = tokio::task::spawn_blocking(move || hls::segments_sha256(&dir2, &playlist))
                .await
                .map_err(retry)?
                .map_err(media_failure)?;
            cache.insert(f.playlist.clone(), hashes);
        }
        if let Some(serde_json::Value::Object(m)) = cache.get(&f.playlist) {
            sha.extend(m.clone());
        }
    }
    let sha = serde_json::Value::Object(sha);
    let prefix = uuid::Uuid::new_v4();
    let master_name = format!("{prefix}-master.m3u8");
    let sha_name = format!("{prefix}-segments-sha256.json");
    write_atomic(&dir, &master_name, master.as_bytes()).await?;
    write_atomic(&dir, &sha_name, sha.to_string().as_bytes()).await?;
    let old = videos::get(&app.db, video_id).await.map_err(retry)?;
    // The swarms players will announce: one per rendition, named after the master's URL.
    let swarm_id = crate::uris::absolute(app, &crate::uris::hls_file_path(uuid, &master_name));
    let hashes = flotilla_media::p2p::info_hashes(&swarm_id, &master);
    let was_published = old.as_ref().is_some_and(|o| o.state == crate::video::STATE_PUBLISHED);
    let mut tx = app.db.begin().await.map_err(retry)?;
    videos::set_playlists(&mut tx, video_id, &master_name, &sha_name, publish, now_ms()).await.map_err(retry)?;
    videos::set_infohashes(&mut tx, video_id, &hashes).await.map_err(retry)?;
    // Its followers hear of it in the same transaction: the first publication is a `Create`; a new
    // rendition (a new master playlist) an `Update`, so that they play the whole ladder.
    let event = match &old {
        // A live that became its replay was federated as a live before: its followers get it
        // again, with activities of their own (an id is applied once).
        Some(o) if publish && !was_published && o.published_at.is_some() => {
            Some(crate::events::Event::VideoUpdated { video_id, was_federated: false })
        }
        _ if publish && !was_published => Some(crate::events::Event::VideoPublished { video_id }),
        Some(o) if was_published => {
            Some(crate::events::Event::VideoUpdated { video_id, was_federated: crate::ap::federates(app, o) })
        }
        _ => None,
    };
    if let Some(e) = event.clone() {
        crate::events::record(&mut tx, e).await.map_err(retry)?;
    }
    // The previous master playlist and hashes stay a while, for players in the middle of the video
    // and followers that have not heard of the new ones yet.
    let previous: Vec<String> =
        old.iter().flat_map(|o| [o.master_playlist.clone(), o.segments_sha256.clone()]).flatten().collect();
    if !previous.is_empty() {
        let job = Job::PrunePlaylists { video_id, files: previous };
        jobs::enqueue_at(&mut tx, &job, now_ms() + PLAYLIST_GRACE_MS).await.map_err(retry)?;
    }
    tx.commit().await.map_err(retry)?;
    app.wake_jobs();
    if matches!(event, Some(crate::events::Event::VideoPublished { .. })) {
        app.failpoints.hit("video.published");
    }
    Ok(())
}

async fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Failure> {
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await.map_err(retry)?;
    tokio::fs::rename(&tmp, dir.join(name)).await.map_err(retry)?;
    Ok(())
}

/// Thumbnail (280×157) and preview (850×480) JPEGs: from a representative frame, or for audio a
/// still image of our own.
async fn images(
    app: &Arc<App>,
    v: &videos::Video,
    input: &Path,
    probe: &flotilla_media::probe::Probe,
    staging: &Path,
) -> Result<(), Failure> {
    let png = if probe.has_video {
        let frame = staging.join("frame.png");
        flotilla_media::hls::still_frame(input, probe, &frame).await.map_err(media_failure)?;
        tokio::fs::read(&frame).await.map_err(retry)?
    } else {
        flotilla_media::image::audio_still()
    };
    let encoded =
        tokio::task::spawn_blocking(move || flotilla_media::image::resize_all(&png, &[(850, 480), (280, 157)]))
            .await
            .map_err(retry)?
            .map_err(media_failure)?;
    let stem = uuid::Uuid::new_v4();
    let preview = format!("{stem}.jpg");
    let thumbnail = format!("{stem}.jpg");
    tokio::fs::write(app.data_path("previews").join(&preview), &encoded[0].jpeg).await.map_err(retry)?;
    tokio::fs::write(app.data_path("thumbnails").join(&thumbnail), &encoded[1].jpeg).await.map_err(retry)?;
    videos::set_images(&app.db, v.id, &thumbnail, &preview).await.map_err(retry)?;
    // The owner's own image, set meanwhile, wins: drop the generated one it replaced.
    if let Some(now) = videos::get(&app.db, v.id).await.map_err(retry)? {
        if now.thumbnail.as_deref() != Some(thumbnail.as_str()) {
            let _ = tokio::fs::remove_file(app.data_path("thumbnails").join(&thumbnail)).await;
        }
        if now.preview.as_deref() != Some(preview.as_str()) {
            let _ = tokio::fs::remove_file(app.data_path("previews").join(&preview)).await;
        }
    }
    Ok(())
}

/// The job was given up: the video shows why to its owner. The upload stays, so an admin can
/// retry the job.
pub async fn failed(app: &Arc<App>, video_id: i64, why: &str) {
    if let Ok(Some(v)) = videos::get(&app.db, video_id).await {
        crate::video::forget_files(app, &v.uuid).await;
    }
    if let Err(e) = videos::set_state(&app.db, video_id, STATE_TRANSCODING_FAILED, Some(why), now_ms()).await {
        tracing::error!(video_id, error = %e, "cannot mark the video as failed");
    }
}

/// The job that removes replaced playlists after [`PLAYLIST_GRACE_MS`]: only names the video no
/// longer points at (a re-run may have made one current again), only plain names in its directory.
pub async fn prune_playlists(app: &Arc<App>, video_id: i64, files: &[String]) -> Result<(), Failure> {
    let Some(v) = videos::get(&app.db, video_id).await.map_err(retry)? else { return Ok(()) };
    let dir = hls_dir(app, &v.uuid);
    for name in files {
        let current = v.master_playlist.as_deref() == Some(name) || v.segments_sha256.as_deref() == Some(name);
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
        if !current && plain {
            let _ = tokio::fs::remove_file(dir.join(name)).await;
        }
    }
    app.media_cache.invalidate_dir(&dir);
    Ok(())
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Retry(m) | Failure::Fail(m) => Error::Internal(m),
            Failure::Defer(d) => Error::Internal(format!("deferred for {d:?}")),
        }
    }
}
