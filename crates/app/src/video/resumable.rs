//! PeerTube's resumable upload (the uploadx protocol): `init` checks the metadata, the size and the
//! quota before a byte is sent and opens a session; `PUT`s append chunks at the offset they say;
//! the last one turns the file into a video (or, for a session of kind `user-import`, into a user
//! import: `archive::import::accept`). Sessions are rows, the bytes a file in quarantine, so
//! an upload survives a restart of the server: the client asks where to resume and carries on.
//!
//! Nothing is lost or doubled at the end either: the session records its video (or import) in the
//! transaction that inserts it, so a client whose answer was lost gets the same answer again; a session whose
//! bytes are all stored but which was not finalised (the server died, the database was busy) is
//! finalised by the client's next request, whatever it is. Open sessions per user are capped, and
//! the sizes they announced count against the quota until they end.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use flotilla_db::uploads::{self, Session};
use flotilla_domain::time::now_ms;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::auth::{AuthUser, random_token};
use crate::video::upload::{self, Created, UploadMeta, check_channel, check_size};
use crate::{App, Error, Result};

/// Sessions that have a chunk being written right now: a second writer must wait its turn.
#[derive(Default)]
pub struct Busy(Mutex<HashSet<String>>);

/// Releases the session's slot when the chunk is done, whatever happened.
pub struct Slot<'a> {
    busy: &'a Busy,
    id: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.busy.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

impl Busy {
    fn take(&self, id: &str) -> Result<Slot<'_>> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(id.to_string()) {
            // Another chunk of this upload is being written: the client retries shortly.
            return Err(Error::TooManyRequests { retry_after_secs: 1 });
        }
        Ok(Slot { busy: self, id: id.to_string() })
    }
}

/// An exclusive lock (`flock`) on an upload's file while a chunk is handled, seen by every process
/// on this machine (and by those sharing its file system where it supports locks): another one
/// writing the same upload answers 429, as [`Busy`] does in one process. A missing file, or a
/// file system without locks, leaves it to [`Busy`] and the offset check.
fn lock_across_processes(path: &Path) -> Result<Option<std::fs::File>> {
    let Ok(file) = std::fs::File::open(path) else { return Ok(None) };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::TooManyRequests { retry_after_secs: 1 }),
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

fn mime_ok(mime: &str) -> bool {
    let m = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    m.starts_with("video/")
        || m.starts_with("audio/")
        || m == "application/octet-stream"
        || m == "application/x-matroska"
}

/// What a session's bytes become: a video (`videos/upload-resumable`) or a user archive to import
/// (`users/:id/imports/import-resumable`). A session is only ever continued by its own kind's
/// route.
pub const VIDEO: &str = "video";
pub const USER_IMPORT: &str = "user-import";
/// A new file for an existing video (`videos/:id/source/replace-resumable`, `video::source`).
pub const REPLACE: &str = "replace";

/// `POST /api/v1/videos/:id/source/replace-resumable` (`{"filename"}`): the video must be
/// replaceable now; the size and the quota are checked as an upload's.
pub async fn init_replace(app: &App, who: &AuthUser, key: &str, meta: Value, total: u64, mime: &str) -> Result<String> {
    let v = crate::video::source::replaceable(app, who, key).await?;
    // Checked here: the old file's share of the quota is given back to the new one.
    crate::video::upload::check_replacement_size(app, who, total, v.input_size).await?;
    let filename = meta.get("filename").and_then(Value::as_str).map(str::to_string);
    let meta = serde_json::json!({ "videoId": v.id, "filename": filename });
    open_session(app, who, REPLACE, meta, total, mime).await
}

/// `POST /api/v1/videos/upload-resumable`: everything that can be refused is refused here, before
/// the client sends the file. Returns the session id.
pub async fn init(app: &App, who: &AuthUser, meta: Value, total: u64, mime: &str) -> Result<String> {
    let parsed: UploadMeta = serde_json::from_value(meta.clone())
        .map_err(|e| Error::bad_request("malformed_request", format!("invalid upload metadata: {e}")))?;
    parsed.validate()?;
    check_channel(app, who, parsed.channel_id.unwrap_or_default()).await?;
    open_session(app, who, VIDEO, meta, total, mime).await
}

/// Opens a session of `kind` once its own checks passed: the cap on open sessions, the type,
/// the size and the quota.
pub async fn open_session(
    app: &App,
    who: &AuthUser,
    kind: &str,
    meta: Value,
    total: u64,
    mime: &str,
) -> Result<String> {
    let (open, _) = uploads::open_for_user(&app.db, who.user.id, None).await?;
    let cap = app.config.upload.max_open_sessions;
    if open >= i64::from(cap) {
        return Err(Error::Conflict(format!(
            "you have {open} uploads in progress (at most {cap}): finish or cancel one first"
        )));
    }
    if kind != USER_IMPORT && !mime_ok(mime) {
        return Err(Error::UnsupportedMedia(format!("'{mime}' is not a video or audio type")));
    }
    if total == 0 {
        return Err(Error::invalid("X-Upload-Content-Length", "the announced size must be above 0"));
    }
    if kind == VIDEO {
        check_size(app, who, total, None).await?;
    } else if kind == USER_IMPORT {
        crate::archive::check_import_size(app, who, total).await?;
    }
    let id = random_token(16);
    let now = now_ms();
    let path = upload::quarantine_path(app);
    tokio::fs::File::create(&path).await.map_err(|e| Error::Internal(format!("cannot create the upload file: {e}")))?;
    uploads::insert(
        &app.db,
        &Session {
            id: id.clone(),
            user_id: who.user.id,
            meta: meta.to_string(),
            total_size: total as i64,
            mime: mime.to_string(),
            path: path.display().to_string(),
            created_at: now,
            updated_at: now,
            video_id: None,
            kind: kind.to_string(),
            import_id: None,
        },
    )
    .await?;
    tracing::info!(session = %id, total, "resumable upload started");
    Ok(id)
}

/// Where an upload stands after a request.
pub enum Status {
    /// Bytes `0..stored` are kept; send the rest (308 with `Range`).
    Incomplete { stored: u64 },
    /// The file is complete and became this video.
    Done(Created),
    /// The archive is complete and became this user import (its job reads it).
    Imported(i64),
    /// The file is complete and replaced this video's (its transcoding is queued).
    Replaced(i64),
}

async fn session(app: &App, who: &AuthUser, kind: &str, id: &str) -> Result<Session> {
    match uploads::get(&app.db, id).await? {
        Some(s) if s.user_id == who.user.id && s.kind == kind => Ok(s),
        _ => Err(Error::not_found("upload session")),
    }
}

async fn stored(path: &Path) -> u64 {
    tokio::fs::metadata(path).await.map(|m| m.len()).unwrap_or(0)
}

/// What the client's `Content-Range` says: `bytes a-b/total`, or `bytes */total` to ask where to
/// resume.
pub enum Range {
    Chunk { start: u64, end: u64, total: u64 },
    Query { total: u64 },
}

pub fn parse_content_range(v: &str) -> Option<Range> {
    let spec = v.trim().strip_prefix("bytes")?.trim();
    let (range, total) = spec.split_once('/')?;
    let total: u64 = total.trim().parse().ok()?;
    if range.trim() == "*" {
        return Some(Range::Query { total });
    }
    let (a, b) = range.split_once('-')?;
    let (start, end): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (start <= end && end < total).then_some(Range::Chunk { start, end, total })
}

/// `PUT …?upload_id=`: appends one chunk (or answers where to resume), and finishes the upload on
/// the last byte. `body` yields the chunk's bytes as they arrive.
pub async fn put<S, E>(
    app: &App,
    who: &AuthUser,
    kind: &str,
    id: &str,
    range: Option<Range>,
    mut body: S,
) -> Result<Status>
where
    S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let s = session(app, who, kind, id).await?;
    let _slot = app.uploads_busy.take(id)?;
    // Already a video (the client did not get our answer): the same answer again.
    if let Some(video_id) = s.video_id {
        if s.kind == REPLACE {
            return Ok(Status::Replaced(video_id));
        }
        return finished(app, video_id).await;
    }
    if let Some(import_id) = s.import_id {
        return Ok(Status::Imported(import_id));
    }
    let path = Path::new(&s.path).to_path_buf();
    // Several web processes (`roles`) may get this upload's chunks: the file itself is locked for
    // the chunk, so two of them never append at once.
    let _file_lock = lock_across_processes(&path)?;
    let total = s.total_size as u64;
    let have = stored(&path).await;
    let total_claimed = match &range {
        Some(Range::Query { total }) | Some(Range::Chunk { total, .. }) => Some(*total),
        None => None,
    };
    if let Some(t) = total_claimed
        && t != total
    {
        return Err(range_mismatch(have, format!("this upload is {total} bytes, not {t}")));
    }
    // Every byte is here but the upload was never turned into a video (the server stopped, or the
    // finalisation failed for a passing reason): this request, whatever it is, finishes it.
    if have == total {
        return finalise(app, who, id, &s).await;
    }
    let (start, end) = match range {
        None => return Err(Error::invalid("Content-Range", "Content-Range is required: bytes <first>-<last>/<total>")),
        Some(Range::Query { .. }) => return Ok(Status::Incomplete { stored: have }),
        Some(Range::Chunk { start, end, .. }) => (start, end),
    };
    if start != have {
        return Err(range_mismatch(
            have,
            format!("this chunk starts at byte {start} but {have} bytes are stored: resume from {have}"),
        ));
    }
    let expected = end - start + 1;
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .await
        .map_err(|e| Error::Internal(format!("cannot open the upload file: {e}")))?;
    let mut written = 0u64;
    let mut failed = None;
    let mut failed_write: Option<std::io::Error> = None;
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                failed = Some(format!("the connection broke during the chunk: {e}"));
                break;
            }
        };
        if written + chunk.len() as u64 > expected {
            failed = Some(format!("the chunk has more bytes than its Content-Range ({expected})"));
            // Read what is left (bounded), so the client gets our answer rather than a reset.
            let mut extra = 0usize;
            while let Some(Ok(c)) = futures_util::StreamExt::next(&mut body).await {
                extra += c.len();
                if extra > 16 * 1024 * 1024 {
                    break;
                }
            }
            break;
        }
        if let Err(e) = file.write_all(&chunk).await {
            failed_write = Some(e);
            break;
        }
        written += chunk.len() as u64;
    }
    if failed_write.is_none()
        && let Err(e) = async {
            file.flush().await?;
            file.sync_data().await
        }
        .await
    {
        failed_write = Some(e);
    }
    drop(file);
    if let Some(e) = failed_write {
        // A full disk (or another write error): keep only the whole chunks stored before this
        // one, so that the client's next attempt resumes where the stored bytes really end.
        if let Ok(f) = tokio::fs::OpenOptions::new().write(true).open(&path).await {
            let _ = f.set_len(start).await;
        }
        return Err(Error::write("the upload", e));
    }
    if failed.is_some() || written != expected {
        // Keep only whole chunks: cut back to where this one started, so the client resends it.
        let f =
            tokio::fs::OpenOptions::new().write(true).open(&path).await.map_err(|e| Error::Internal(e.to_string()))?;
        f.set_len(start).await.map_err(|e| Error::Internal(e.to_string()))?;
        let why = failed.unwrap_or_else(|| format!("the chunk has {written} bytes, its Content-Range says {expected}"));
        return Err(range_mismatch(start, why));
    }
    uploads::touch(&app.db, id, now_ms()).await?;
    let have = start + written;
    if have < total {
        return Ok(Status::Incomplete { stored: have });
    }
    finalise(app, who, id, &s).await
}

/// Turns a complete upload into its video. A refusal (bad metadata, not a video, over quota) ends
/// the session; a passing failure keeps it and its bytes for the next request.
async fn finalise(app: &App, who: &AuthUser, id: &str, s: &Session) -> Result<Status> {
    let result = if s.kind == USER_IMPORT {
        crate::archive::import::accept(app, who, id, Path::new(&s.path)).await.map(Status::Imported)
    } else if s.kind == REPLACE {
        crate::video::source::replace(app, who, id, &s.meta, Path::new(&s.path)).await.map(Status::Replaced)
    } else {
        let meta: UploadMeta = serde_json::from_str(&s.meta).map_err(|e| Error::Internal(e.to_string()))?;
        upload::create_for_session(app, who, meta, Path::new(&s.path), id).await.map(Status::Done)
    };
    match result {
        Ok(done) => Ok(done),
        Err(e) if upload::is_transient(&e) => {
            tracing::warn!(session = %id, error = %e, "upload complete but not finalised; kept for the next request");
            Err(e)
        }
        Err(e) => {
            uploads::delete(&app.db, id).await?;
            Err(e)
        }
    }
}

/// The answer of a session that already became `video_id`.
async fn finished(app: &App, video_id: i64) -> Result<Status> {
    let v = flotilla_db::videos::get(&app.db, video_id)
        .await?
        .ok_or_else(|| Error::NotFound("this upload's video was deleted since".into()))?;
    Ok(Status::Done(Created { id: v.id, uuid: v.uuid, short_uuid: v.short_uuid }))
}

fn range_mismatch(stored: u64, msg: String) -> Error {
    Error::RangeMismatch { stored, msg }
}

/// `DELETE …?upload_id=`: abandons the upload and frees its space (a finished one's file is its
/// video's now, and stays).
pub async fn cancel(app: &App, who: &AuthUser, kind: &str, id: &str) -> Result<()> {
    let s = session(app, who, kind, id).await?;
    uploads::delete(&app.db, id).await?;
    if s.video_id.is_none() && s.import_id.is_none() {
        let _ = tokio::fs::remove_file(&s.path).await;
    }
    Ok(())
}

/// Files in quarantine older than this that nothing refers to are leftovers (a multipart upload
/// cut by a crash, a deleted user's session): an upload in progress writes to its file all along.
const LEFTOVER_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes sessions untouched for a day, with the bytes of unfinished ones, then every file in
/// quarantine that no session or video refers to and that nobody wrote for an hour. Returns how
/// many sessions and files went.
pub async fn sweep(app: &App) -> Result<usize> {
    let stale = uploads::list_stale(&app.db, now_ms() - 24 * 3600 * 1000).await?;
    for s in &stale {
        uploads::delete(&app.db, &s.id).await?;
        if s.video_id.is_none() && s.import_id.is_none() {
            let _ = tokio::fs::remove_file(&s.path).await;
        }
    }
    let mut known: HashSet<std::path::PathBuf> = uploads::paths(&app.db).await?.into_iter().map(Into::into).collect();
    known.extend(flotilla_db::videos::input_paths(&app.db).await?.into_iter().map(Into::into));
    known.extend(flotilla_db::archives::import_paths(&app.db).await?.into_iter().map(Into::into));
    let dir = app.data_path("tmp/uploads");
    let mut leftovers = 0;
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(e) => e,
        Err(_) => return Ok(stale.len()),
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        let old = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > LEFTOVER_AFTER);
        if old && !known.contains(&path) && tokio::fs::remove_file(&path).await.is_ok() {
            tracing::info!(file = %path.display(), "leftover upload removed");
            leftovers += 1;
        }
    }
    Ok(stale.len() + leftovers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_parsed_strictly() {
        assert!(matches!(
            parse_content_range("bytes 0-99/1000"),
            Some(Range::Chunk { start: 0, end: 99, total: 1000 })
        ));
        assert!(matches!(parse_content_range("bytes */1000"), Some(Range::Query { total: 1000 })));
        assert!(parse_content_range("bytes 99-0/1000").is_none());
        assert!(parse_content_range("bytes 0-1000/1000").is_none());
        assert!(parse_content_range("0-99/1000").is_none());
        assert!(parse_content_range("bytes a-b/c").is_none());
    }
}

#[cfg(test)]
mod props;
