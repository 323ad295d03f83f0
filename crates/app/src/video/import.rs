//! Imports by URL (PeerTube's "import with URL": `POST /videos/imports`, `GET
//! /users/me/videos/imports`, cancel, retry, delete). The request makes the video at once (state
//! 3, "to import", seen by its owner only) with its import and a `video-import` job, in one
//! transaction; the job downloads with yt-dlp, then the file takes the upload's road: probed and
//! bounded as an upload, quarantined, transcoded.
//!
//! yt-dlp is hostile-input territory (it reads pages and follows what they point at), so it runs
//! with a cleared environment and no configuration, plugins, JavaScript runtimes or ffmpeg of its
//! own (no post-processing: the file we get is exactly what was downloaded, and only our probe
//! reads it), and every connection it makes goes through the SSRF guard's proxy
//! (`flotilla_federation::proxy`: public addresses only, the bytes capped); a time limit, the size
//! cap (the upload limit and the user's quota left) and cancellation stop it. Torrents and magnet
//! links are refused with a clear 400: no torrent client is built in.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_db::{video_imports, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::auth::AuthUser;
use crate::jobs::{self, Failure, Job, Progress};
use crate::video::upload::{self, UploadMeta};
use crate::video::{STATE_TO_IMPORT, STATE_TO_TRANSCODE, short_uuid};
use crate::{App, Error, Result};

pub const PENDING: i64 = 1;
pub const SUCCESS: i64 = 2;
pub const FAILED: i64 = 3;
pub const CANCELLED: i64 = 5;
pub const PROCESSING: i64 = 6;

/// The longest URL taken.
pub const MAX_URL: usize = 2000;
/// The most bytes of yt-dlp's description of a video read back.
const MAX_INFO_JSON: u64 = 16 * 1024 * 1024;
/// Bytes a download may take beyond its file through the proxy (the page, its metadata).
const PAGE_SLACK: u64 = 16 * 1024 * 1024;

pub fn state_label(state: i64) -> &'static str {
    match state {
        PENDING => "Pending",
        SUCCESS => "Success",
        FAILED => "Failed",
        4 => "Rejected",
        CANCELLED => "Cancelled",
        PROCESSING => "Processing",
        _ => "Unknown",
    }
}

/// What `POST /videos/imports` carries: where from, and the video's metadata as an upload's.
#[derive(Debug, Default)]
pub struct ImportRequest {
    pub target_url: Option<String>,
    pub magnet_uri: Option<String>,
    /// A `torrentfile` was sent.
    pub torrent_file: bool,
    pub meta: UploadMeta,
}

/// Checks a URL to import from: http(s), no credentials, not too long, and a host that is a
/// public address (a literal one, or every address its name resolves to); without local testing,
/// the scheme's own port. The download itself is guarded again connection by connection.
pub async fn check_target(app: &App, raw: &str) -> Result<url::Url> {
    let refused = |why: String| Error::invalid("targetUrl", why);
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL {
        return Err(refused(format!("targetUrl must be an http(s) URL of at most {MAX_URL} characters")));
    }
    let u = url::Url::parse(raw).map_err(|e| refused(format!("targetUrl is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(refused("only http and https URLs can be imported".into()));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(refused("credentials in the URL are not allowed".into()));
    }
    let allow_private = app.config.federation.allow_private;
    if !allow_private && u.port().is_some() {
        return Err(refused("the URL must use its scheme's own port".into()));
    }
    let host = u.host_str().ok_or_else(|| refused("the URL has no host".into()))?;
    let port = u.port_or_known_default().unwrap_or(443);
    // The proxy's own check, so that the answer here is the one the download would get.
    flotilla_federation::proxy::resolve_checked(host, port, allow_private)
        .await
        .map_err(|why| refused(format!("{why}: it cannot be imported from")))?;
    if crate::blocklist::refuses_host(app, host) {
        return Err(refused(format!("{host} is blocked by this instance")));
    }
    Ok(u)
}

/// A name for a video whose importer gave none, until the page's title replaces it: the URL's
/// host and last path segment, within the 3–120 characters a name takes.
fn provisional_name(u: &url::Url) -> String {
    let last = u.path_segments().and_then(|mut s| s.rfind(|p| !p.is_empty())).unwrap_or_default();
    let mut name = format!("{} {last}", u.host_str().unwrap_or("import")).trim().to_string();
    if name.chars().count() < 3 {
        name = format!("Import {name}");
    }
    name.chars().take(120).collect()
}

/// `POST /api/v1/videos/imports`: the video (state "to import") and its import, then the job.
pub async fn create(app: &App, who: &AuthUser, mut req: ImportRequest) -> Result<Value> {
    if req.torrent_file || req.magnet_uri.is_some() {
        return Err(Error::bad_request(
            "torrent_import_unsupported",
            "this instance does not import from torrents or magnet links: give the URL of the video or of its page \
             (targetUrl)",
        ));
    }
    if !app.config.import.http_enabled {
        return Err(Error::Conflict("imports by URL are turned off on this instance".into()));
    }
    let raw = req.target_url.take().ok_or_else(|| Error::invalid("targetUrl", "targetUrl is required"))?;
    let target = check_target(app, &raw).await?;
    let name_given = req.meta.name.as_deref().is_some_and(|n| !n.trim().is_empty());
    if !name_given {
        req.meta.name = Some(provisional_name(&target));
    }
    let meta = req.meta;
    meta.validate()?;
    let (comments_enabled, comments_held) = crate::video::comments_policy(meta.comments_policy, meta.comments_enabled)?;
    let channel = upload::check_channel(app, who, meta.channel_id.unwrap_or_default()).await?;
    if upload::quota_left(app, who).await?.is_some_and(|left| left <= 0) {
        return Err(Error::TooLarge { code: "quota_reached", msg: "your video quota is used up".into() });
    }
    let uuid = uuid::Uuid::new_v4();
    let short = short_uuid(&uuid);
    let now = now_ms();
    let tags: Vec<String> = meta.tags.iter().map(|t| t.trim().to_string()).collect();
    let mut tx = app.db.begin().await?;
    let id = videos::insert(
        &mut tx,
        &videos::NewVideo {
            uuid: &uuid.to_string(),
            short_uuid: &short,
            channel: channel.channel_id(),
            name: meta.name.as_deref().unwrap_or_default().trim(),
            description: meta.description.as_deref(),
            support: meta.support.as_deref(),
            privacy: meta.privacy.unwrap_or(crate::video::PRIVACY_PUBLIC),
            state: STATE_TO_IMPORT,
            category: meta.category,
            licence: meta.licence,
            language: meta.language.as_deref(),
            nsfw: meta.nsfw.unwrap_or(false),
            comments_enabled: comments_enabled.unwrap_or(true),
            comments_held: comments_held.unwrap_or(false),
            download_enabled: meta.download_enabled.unwrap_or(true),
            wait_transcoding: meta.wait_transcoding.unwrap_or(false),
            duration: 0,
            width: 0,
            height: 0,
            fps: 0.0,
            has_audio: false,
            has_video: false,
            input_size: 0,
            input_path: None,
            probe: "{}",
            now,
        },
    )
    .await?;
    videos::set_tags(&mut tx, id, &tags).await?;
    videos::index_search(&mut tx, id).await?;
    crate::video::block::hold_if_needed(app, &mut tx, who, id).await?;
    let summary = meta.nsfw_summary.as_deref().map(str::trim).filter(|s| !s.is_empty());
    videos::set_nsfw_details(&mut tx, id, meta.nsfw_flags.unwrap_or(0), summary).await?;
    crate::video::chapters::follow_description(&mut tx, id, None, meta.description.as_deref()).await?;
    if meta.privacy == Some(crate::video::PRIVACY_PASSWORD) {
        flotilla_db::video_passwords::replace(&mut tx, id, &meta.video_passwords, now).await?;
    }
    let import_id = video_imports::insert(&mut tx, who.user.id, id, target.as_str(), PENDING, name_given, now).await?;
    jobs::enqueue(&mut tx, &Job::VideoImport { import_id }).await?;
    // Read as made: a worker may take it up the moment it is committed.
    let i = video_imports::get(&mut tx, import_id).await?.ok_or_else(|| Error::not_found("video import"))?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(video = %uuid, import = import_id, url = %target, "video import queued");
    to_api(app, &i).await
}

/// PeerTube's `VideoImport` (ours adds `downloadedBytes` and `totalBytes` while it downloads).
async fn to_api(app: &App, i: &video_imports::VideoImport) -> Result<Value> {
    let video = match i.video_id {
        Some(v) => match videos::get(&app.db, v).await? {
            Some(v) => Some(crate::video::view(app, &v, false, true).await?),
            None => None,
        },
        None => None,
    };
    Ok(json!({
        "id": i.id,
        "targetUrl": i.target_url,
        "magnetUri": null,
        "torrentName": null,
        "state": { "id": i.state, "label": state_label(i.state) },
        "error": i.error,
        "createdAt": iso8601(i.created_at),
        "updatedAt": iso8601(i.updated_at),
        "downloadedBytes": i.downloaded_bytes,
        "totalBytes": i.total_bytes,
        "video": video,
    }))
}

/// `GET /api/v1/users/me/videos/imports` (`start`, `count`, `sort` `createdAt`/`-createdAt`,
/// `targetUrl`).
pub async fn list_mine(
    app: &App,
    who: &AuthUser,
    page: flotilla_db::Page,
    sort: Option<&str>,
    target_url: Option<&str>,
) -> Result<Value> {
    let newest_first = match sort {
        None | Some("-createdAt") => true,
        Some("createdAt") => false,
        Some(_) => return Err(Error::invalid("sort", "sort must be createdAt or -createdAt")),
    };
    let (list, total) = video_imports::of_user(&app.db, who.user.id, target_url, newest_first, page).await?;
    let mut data = Vec::with_capacity(list.len());
    for i in &list {
        data.push(to_api(app, i).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}

/// The import `id` if it is `who`'s (moderators may act on any).
async fn owned(app: &App, who: &AuthUser, id: i64) -> Result<video_imports::VideoImport> {
    let i = video_imports::get(&app.db, id).await?.ok_or_else(|| Error::not_found("video import"))?;
    if i.user_id != who.user.id && who.require_moderator().is_err() {
        return Err(Error::not_found("video import"));
    }
    Ok(i)
}

/// `POST /api/v1/videos/imports/:id/cancel`: a pending or running import stops (a running
/// download is killed within a second); its video stays, waiting, until retried or deleted.
pub async fn cancel(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    let i = owned(app, who, id).await?;
    if !video_imports::transition(&app.db, i.id, &[PENDING, PROCESSING], CANCELLED, None, now_ms()).await? {
        return Err(Error::Conflict("only a pending or running import can be cancelled".into()));
    }
    Ok(())
}

/// `POST /api/v1/videos/imports/:id/retry` (ours; PeerTube's client offers it): a failed or
/// cancelled import whose video is still there runs again.
pub async fn retry(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    let i = owned(app, who, id).await?;
    if i.video_id.is_none() {
        return Err(Error::Conflict("this import's video was deleted: import the URL again".into()));
    }
    let mut tx = app.db.begin().await?;
    if !video_imports::transition(&mut tx, i.id, &[FAILED, CANCELLED], PENDING, None, now_ms()).await? {
        return Err(Error::Conflict("only a failed or cancelled import can be retried".into()));
    }
    jobs::enqueue(&mut tx, &Job::VideoImport { import_id: i.id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `DELETE /api/v1/videos/imports/:id`: an import that has ended. One that did not bring its
/// video takes the waiting video with it (it never had a file); a successful one leaves it.
pub async fn delete(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    let i = owned(app, who, id).await?;
    if matches!(i.state, PENDING | PROCESSING) {
        return Err(Error::Conflict("cancel the import before deleting it".into()));
    }
    if i.state != SUCCESS
        && let Some(v) = i.video_id
        && let Some(v) = videos::get(&app.db, v).await?
        && v.state == STATE_TO_IMPORT
    {
        crate::video::remove(app, &v).await?;
    }
    video_imports::delete(&app.db, i.id).await?;
    Ok(())
}

/// Where an import downloads.
fn work_dir(app: &App, id: i64) -> PathBuf {
    app.data_path("tmp/imports").join(id.to_string())
}

/// How an attempt ended when it did not bring a file.
enum Stop {
    /// For good (said to the user as the import's error).
    Failed(String),
    /// The user cancelled, or the video was deleted.
    Cancelled,
    /// The server's trouble (the database): the job tries again.
    Retry(String),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        match Failure::from(e) {
            Failure::Retry(m) => Stop::Retry(m),
            Failure::Fail(m) => Stop::Failed(m),
            Failure::Defer(_) => Stop::Retry("deferred".into()),
        }
    }
}

impl From<flotilla_db::Error> for Stop {
    fn from(e: flotilla_db::Error) -> Self {
        Stop::from(Error::from(e))
    }
}

/// The `video-import` job.
pub async fn run(app: &Arc<App>, import_id: i64, progress: &Progress) -> std::result::Result<(), Failure> {
    let dir = work_dir(app, import_id);
    // A run killed midway left its partial download: start over (or just clean up, below).
    let _ = tokio::fs::remove_dir_all(&dir).await;
    let Some(i) = video_imports::get(&app.db, import_id).await? else { return Ok(()) };
    if !matches!(i.state, PENDING | PROCESSING) {
        return Ok(()); // cancelled, or done by an earlier run
    }
    let outcome = attempt(app, &i, &dir, progress).await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    match outcome {
        Ok(()) => Ok(()),
        Err(Stop::Cancelled) => Ok(()),
        Err(Stop::Retry(m)) => Err(Failure::Retry(m)),
        Err(Stop::Failed(why)) => {
            tracing::warn!(import = i.id, url = %i.target_url, error = %why, "video import failed");
            video_imports::transition(&app.db, i.id, &[PENDING, PROCESSING], FAILED, Some(&why), now_ms()).await?;
            Ok(())
        }
    }
}

/// When the job is given up (the database kept failing): the import says so.
pub async fn failed(app: &App, import_id: i64, why: &str) {
    let _ = video_imports::transition(&app.db, import_id, &[PENDING, PROCESSING], FAILED, Some(why), now_ms()).await;
    let _ = tokio::fs::remove_dir_all(work_dir(app, import_id)).await;
}

async fn attempt(
    app: &Arc<App>,
    i: &video_imports::VideoImport,
    dir: &Path,
    progress: &Progress,
) -> std::result::Result<(), Stop> {
    let Some(video_id) = i.video_id else { return Err(Stop::Failed("the video was deleted".into())) };
    let Some(v) = videos::get(&app.db, video_id).await? else { return Err(Stop::Cancelled) };
    let user = flotilla_db::users::get(&app.db, flotilla_domain::UserId(i.user_id))
        .await?
        .ok_or_else(|| Stop::Failed("the user is gone".into()))?;
    let who = AuthUser { user, token_id: 0 };
    video_imports::transition(&app.db, i.id, &[PENDING, PROCESSING], PROCESSING, None, now_ms()).await?;
    // The most the file may be: the upload limit, the configured import limit, the quota left.
    let mut cap = app.config.upload.max_file_size;
    if app.config.import.max_size > 0 {
        cap = cap.min(app.config.import.max_size);
    }
    if let Some(left) = upload::quota_left(app, &who).await? {
        if left <= 0 {
            return Err(Stop::Failed("your video quota is used up".into()));
        }
        cap = cap.min(left as u64);
    }
    tokio::fs::create_dir_all(dir).await.map_err(|e| Stop::Retry(format!("cannot create {}: {e}", dir.display())))?;
    let file = download(app, i, dir, cap, progress).await?;

    // The file takes the upload's road from here: probed and bounded as an upload.
    let size = tokio::fs::metadata(&file).await.map_err(|e| Stop::Retry(e.to_string()))?.len();
    if size == 0 {
        return Err(Stop::Failed("the download is empty".into()));
    }
    if size > cap {
        return Err(Stop::Failed(format!("the video is larger than this import may be ({cap} bytes)")));
    }
    let (probe, probe_json) = match upload::probe_upload(app, &file).await {
        Ok(p) => p,
        Err(Error::BadRequest { msg, .. }) => return Err(Stop::Failed(format!("not a video we accept: {msg}"))),
        Err(e) => return Err(Stop::Retry(e.to_string())),
    };
    let info = read_info(dir).await;
    let quarantine = upload::quarantine_path(app);
    tokio::fs::rename(&file, &quarantine).await.map_err(|e| Stop::Retry(format!("cannot keep the download: {e}")))?;
    let title = info.as_ref().and_then(|j| text_of(j, "title", 120)).filter(|t| t.chars().count() >= 3);
    let description = info.as_ref().and_then(|j| text_of(j, "description", 10_000));
    let provisional = url::Url::parse(&i.target_url).ok().map(|u| provisional_name(&u));
    let result = async {
        let mut tx = app.db.begin().await?;
        flotilla_db::users::lock(&mut tx, who.id()).await?;
        // Still ours to finish: not cancelled, the video not deleted meanwhile.
        let current = video_imports::get(&mut tx, i.id).await?;
        let Some(now_v) = videos::get(&mut tx, v.id).await? else { return Ok::<bool, Error>(false) };
        if current.is_none_or(|c| c.state != PROCESSING) {
            return Ok(false);
        }
        // The page's title and description, unless the owner gave or changed them meanwhile.
        let name = title.as_deref().filter(|_| !i.name_given && Some(&now_v.name) == provisional.as_ref());
        let description = description.as_deref().filter(|_| now_v.description.is_none());
        if let Some(left) = upload::quota_left_of(&mut tx, who.id(), None).await?
            && size as i64 > left
        {
            return Err(Error::TooLarge {
                code: "quota_reached",
                msg: format!("this video would exceed your video quota: {} bytes left, it has {size}", left.max(0)),
            });
        }
        let path = quarantine.display().to_string();
        videos::set_imported(
            &mut tx,
            v.id,
            &videos::ImportedInput {
                name,
                description,
                duration: probe.duration.round() as i64,
                width: i64::from(probe.width),
                height: i64::from(probe.height),
                fps: probe.fps,
                has_audio: probe.has_audio,
                has_video: probe.has_video,
                input_size: size as i64,
                input_path: &path,
                probe: &probe_json,
                state: STATE_TO_TRANSCODE,
                now: now_ms(),
            },
        )
        .await?;
        if description.is_some() {
            crate::video::chapters::follow_description(&mut tx, v.id, None, description).await?;
        }
        videos::index_search(&mut tx, v.id).await?;
        video_imports::transition(&mut tx, i.id, &[PROCESSING], SUCCESS, None, now_ms()).await?;
        jobs::enqueue(&mut tx, &Job::Transcode { video_id: v.id }).await?;
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => {
            app.wake_jobs();
            tracing::info!(import = i.id, video = %v.uuid, size, "video imported");
            Ok(())
        }
        Ok(false) => {
            let _ = tokio::fs::remove_file(&quarantine).await;
            Err(Stop::Cancelled)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&quarantine).await;
            Err(Stop::from(e))
        }
    }
}

/// A text field of yt-dlp's description of the video, bounded and without control characters.
fn text_of(info: &Value, key: &str, max: usize) -> Option<String> {
    let s = info.get(key)?.as_str()?;
    let s: String = s.chars().filter(|c| !c.is_control() || *c == '\n').take(max).collect();
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// yt-dlp's `media.info.json`, if it wrote one (bounded).
async fn read_info(dir: &Path) -> Option<Value> {
    let path = dir.join("media.info.json");
    let meta = tokio::fs::metadata(&path).await.ok()?;
    if meta.len() > MAX_INFO_JSON {
        return None;
    }
    serde_json::from_slice(&tokio::fs::read(&path).await.ok()?).ok()
}

/// Runs yt-dlp through the guard proxy until it brings one file, or why it did not.
async fn download(
    app: &Arc<App>,
    i: &video_imports::VideoImport,
    dir: &Path,
    cap: u64,
    progress: &Progress,
) -> std::result::Result<PathBuf, Stop> {
    let proxy = flotilla_federation::proxy::start(flotilla_federation::proxy::Rules {
        allow_private: app.config.federation.allow_private,
        max_bytes: cap.saturating_add(PAGE_SLACK),
        blocked: app.fetcher.blocked_domains().clone(),
    })
    .await
    .map_err(|e| Stop::Retry(format!("cannot start the download proxy: {e}")))?;
    let program = app.config.import.yt_dlp_program();
    // An empty directory for ffmpeg: yt-dlp finds none, so it never runs one (no merging, no
    // fix-ups: what we probe is exactly what was downloaded).
    let no_tools = dir.join(".no-tools");
    tokio::fs::create_dir_all(&no_tools).await.map_err(|e| Stop::Retry(e.to_string()))?;
    let mut cmd = tokio::process::Command::new(&program);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", dir)
        .env("LANG", "C.UTF-8")
        .current_dir(dir)
        .args(["--ignore-config", "--no-plugin-dirs", "--no-js-runtimes", "--no-remote-components"])
        .args(["--no-playlist", "--max-downloads", "1", "--no-cache-dir", "--no-mtime", "--no-color"])
        .args(["--newline", "--progress-template"])
        .arg("download:flotilla-progress %(progress.downloaded_bytes)s %(progress.total_bytes)s %(progress.total_bytes_estimate)s")
        .args(["--downloader", "native", "--fixup", "never", "--ffmpeg-location"])
        .arg(&no_tools)
        .args(["-f", "b[height<=?1080]/b", "--max-filesize"])
        .arg(cap.to_string())
        .args(["--socket-timeout", "30", "--retries", "3", "--proxy"])
        .arg(&proxy.url)
        .args(["--write-info-json", "--restrict-filenames", "-o", "media.%(ext)s", "--"])
        .arg(&i.target_url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        Stop::Failed(format!(
            "yt-dlp cannot be run ({}: {e}): run scripts/ensure-deps or set [import] yt_dlp",
            program.display()
        ))
    })?;
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().expect("piped")).lines();
    let deadline = Instant::now() + Duration::from_secs(app.config.import.timeout_secs);
    let mut last_error: Option<String> = None;
    let mut last_saved = Instant::now() - Duration::from_secs(10);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut out_open, mut err_open) = (true, true);
    let status = loop {
        tokio::select! {
            line = stdout.next_line(), if out_open => match line {
                Ok(Some(l)) => {
                    if let Some((done, total)) = parse_progress(&l) {
                        if let Some(t) = total.filter(|t| *t > 0) {
                            progress.set(done * 100 / t);
                        }
                        if last_saved.elapsed() >= Duration::from_secs(2) {
                            last_saved = Instant::now();
                            video_imports::set_progress(&app.db, i.id, Some(done), total).await?;
                        }
                    } else if l.starts_with("ERROR:") {
                        last_error = Some(l);
                    }
                }
                _ => out_open = false,
            },
            line = stderr.next_line(), if err_open => match line {
                Ok(Some(l)) if l.starts_with("ERROR:") => last_error = Some(l),
                Ok(Some(_)) => {}
                _ => err_open = false,
            },
            status = child.wait(), if !out_open && !err_open => break status,
            _ = tick.tick() => {
                if Instant::now() > deadline {
                    let _ = child.kill().await;
                    return Err(Stop::Failed(format!(
                        "the download took longer than {} s and was stopped",
                        app.config.import.timeout_secs
                    )));
                }
                if proxy.stats.over_cap() || dir_size(dir).await > cap.saturating_add(PAGE_SLACK) {
                    let _ = child.kill().await;
                    return Err(Stop::Failed(format!("the video is larger than this import may be ({cap} bytes)")));
                }
                let still = video_imports::get(&app.db, i.id).await?;
                let video_there = videos::get(&app.db, i.video_id.unwrap_or_default()).await?.is_some();
                if still.is_none_or(|s| s.state != PROCESSING) || !video_there {
                    let _ = child.kill().await;
                    return Err(Stop::Cancelled);
                }
            }
        }
    };
    let status = status.map_err(|e| Stop::Retry(format!("yt-dlp: {e}")))?;
    if proxy.stats.over_cap() {
        return Err(Stop::Failed(format!("the video is larger than this import may be ({cap} bytes)")));
    }
    let file = media_file(dir).await;
    match file {
        Some(f) if status.success() || status.code() == Some(101) => Ok(f),
        _ => {
            let refused = proxy.stats.refusals();
            let why = if let Some(r) = refused.first() {
                format!("refused to fetch {r}")
            } else if let Some(e) = last_error {
                if e.contains("max-filesize") {
                    format!("the video is larger than this import may be ({cap} bytes)")
                } else {
                    clean_error(&e)
                }
            } else {
                format!("yt-dlp found no video to download ({status})")
            };
            Err(Stop::Failed(why))
        }
    }
}

/// `flotilla-progress <done> <total> <estimate>` → (done, total or estimate).
fn parse_progress(line: &str) -> Option<(i64, Option<i64>)> {
    let mut parts = line.strip_prefix("flotilla-progress ")?.split_whitespace();
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<f64>().ok()).map(|f| f as i64);
    let done = num(parts.next())?;
    let total = num(parts.next());
    let estimate = num(parts.next());
    Some((done, total.or(estimate)))
}

/// yt-dlp's error line, bounded, without its prefix.
fn clean_error(line: &str) -> String {
    let s = line.trim_start_matches("ERROR:").trim();
    let s: String = s.chars().filter(|c| !c.is_control()).take(500).collect();
    format!("the download failed: {s}")
}

/// The one file yt-dlp downloaded (`media.<ext>`, not its metadata nor a partial file).
async fn media_file(dir: &Path) -> Option<PathBuf> {
    let mut rd = tokio::fs::read_dir(dir).await.ok()?;
    while let Ok(Some(e)) = rd.next_entry().await {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("media.")
            && !name.ends_with(".json")
            && !name.ends_with(".part")
            && !name.ends_with(".ytdl")
            && e.file_type().await.is_ok_and(|t| t.is_file())
        {
            return Some(e.path());
        }
    }
    None
}

/// Bytes of the files in `dir` (not recursive: yt-dlp writes there only).
async fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            total += e.metadata().await.map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_and_names_are_read() {
        assert_eq!(parse_progress("flotilla-progress 1024 2048 NA"), Some((1024, Some(2048))));
        assert_eq!(parse_progress("flotilla-progress 10 NA 400.5"), Some((10, Some(400))));
        assert_eq!(parse_progress("[download] 3%"), None);
        let u = url::Url::parse("https://video.example/watch/clip.mp4").unwrap();
        assert_eq!(provisional_name(&u), "video.example clip.mp4");
        let long = url::Url::parse(&format!("https://a.example/{}", "x".repeat(300))).unwrap();
        assert_eq!(provisional_name(&long).chars().count(), 120);
        assert_eq!(
            clean_error("ERROR: [generic] Unable to\u{1b} download"),
            "the download failed: [generic] Unable to download"
        );
    }
}
