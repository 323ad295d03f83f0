//! User archives, as PeerTube 6.1: a user asks for an export of their data (a zip of JSON files
//! in PeerTube's layout, their ActivityPub documents and, if asked, their videos' files), a job
//! builds it, a link with a random name downloads it until it expires; and a user uploads such an
//! archive (from Flotilla or PeerTube) with the resumable protocol, and a job brings its account
//! details, settings, channels, follows, videos, ratings, playlists and history in.
//!
//! The request and its job are written in one transaction; each job is safe to run again (an
//! export rewrites its file, an import skips what it already brought: PeerTube's "duplicates").

pub mod export;
pub mod import;
mod zipfile;

use flotilla_db::archives::{self, COMPLETED, ERRORED, PENDING, PROCESSING};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use flotilla_domain::Role;

use crate::auth::{AuthUser, random_token};
use crate::jobs::{self, Job};
use crate::{App, Error, Result};

/// The directory of built archives (under the data dir).
pub const EXPORT_DIR: &str = "user-exports";

pub fn state_label(state: i64) -> &'static str {
    match state {
        PENDING => "Pending",
        PROCESSING => "Processing",
        COMPLETED => "Completed",
        ERRORED => "Errored",
        _ => "Unknown",
    }
}

/// `who` acts on `user_id`'s archives: their own, or any user's for an administrator.
fn check_user(who: &AuthUser, user_id: i64) -> Result<()> {
    if who.user.id == user_id || who.role() == Role::Admin {
        return Ok(());
    }
    Err(Error::Forbidden("you can only manage your own archives".into()))
}

async fn target_user(app: &App, who: &AuthUser, user_id: i64) -> Result<flotilla_db::users::User> {
    check_user(who, user_id)?;
    flotilla_db::users::get(&app.db, flotilla_domain::UserId(user_id)).await?.ok_or_else(|| Error::not_found("user"))
}

/// `POST /api/v1/users/:id/exports/request` `{ withVideoFiles }`: `{ export: { id } }`. One export
/// at a time; a new one replaces the finished ones (PeerTube keeps one).
pub async fn request_export(app: &App, who: &AuthUser, user_id: i64, with_video_files: bool) -> Result<Value> {
    if !app.config.archives.export_enabled {
        return Err(Error::bad_request("export_disabled", "user exports are disabled on this instance"));
    }
    let user = target_user(app, who, user_id).await?;
    let existing = archives::exports_of(&app.db, user.id).await?;
    if existing.iter().any(|e| matches!(e.state, PENDING | PROCESSING)) {
        return Err(Error::Conflict("an export of this user is already being built: wait for it to finish".into()));
    }
    if with_video_files {
        let (used, _) = flotilla_db::videos::quota_used(&app.db, user.id, 0).await?;
        let max = app.config.archives.export_max_video_bytes;
        if used as u64 > max {
            return Err(Error::bad_request(
                "export_too_large",
                format!(
                    "your videos take {used} bytes, more than the {max} an export with video files may hold: \
                     export without video files"
                ),
            ));
        }
    }
    let filename = format!("{}-{}.zip", user.id, random_token(24));
    let mut tx = app.db.begin().await?;
    let id = archives::insert_export(&mut tx, user.id, with_video_files, &filename, now_ms()).await?;
    jobs::enqueue(&mut tx, &Job::UserExport { export_id: id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    for old in existing {
        remove_export(app, &old).await?;
    }
    Ok(json!({ "export": { "id": id } }))
}

/// The link that downloads a finished export: its random name is the secret.
pub fn download_url(app: &App, e: &archives::Export) -> String {
    format!("{}/download/user-exports/{}", app.public.base(), e.filename)
}

fn export_view(app: &App, e: &archives::Export) -> Value {
    json!({
        "id": e.id,
        "state": { "id": e.state, "label": state_label(e.state) },
        "size": e.size,
        "withVideoFiles": e.with_video_files,
        "privateDownloadUrl": (e.state == COMPLETED).then(|| download_url(app, e)),
        "fileUrl": (e.state == COMPLETED).then(|| download_url(app, e)),
        "error": e.error,
        "createdAt": iso8601(e.created_at),
        "expiresOn": e.expires_at.map(iso8601),
    })
}

/// `GET /api/v1/users/:id/exports`.
pub async fn list_exports(app: &App, who: &AuthUser, user_id: i64) -> Result<Value> {
    let user = target_user(app, who, user_id).await?;
    let list = archives::exports_of(&app.db, user.id).await?;
    let data: Vec<Value> = list.iter().map(|e| export_view(app, e)).collect();
    Ok(json!({ "total": data.len(), "data": data }))
}

async fn remove_export(app: &App, e: &archives::Export) -> Result<()> {
    let mut tx = app.db.begin().await?;
    archives::delete_export(&mut tx, e.id).await?;
    // In the store: its object goes by a job queued with the row's deletion.
    if e.stored {
        let job = crate::jobs::Job::RemoveObjects {
            uuid: String::new(),
            storage: flotilla_db::videos::STORAGE_OBJECT_PRIVATE,
            files: vec![("user-export".to_string(), e.filename.clone())],
        };
        crate::jobs::enqueue(&mut tx, &job).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    let dir = app.data_path(EXPORT_DIR);
    for name in [e.filename.clone(), format!("{}.part", e.filename)] {
        if let Err(err) = tokio::fs::remove_file(dir.join(&name)).await
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = name, error = %err, "cannot remove a user export");
        }
    }
    Ok(())
}

/// `DELETE /api/v1/users/:id/exports/:exportId` (a running export's job finds its row gone and
/// stops).
pub async fn delete_export(app: &App, who: &AuthUser, user_id: i64, export_id: i64) -> Result<()> {
    let user = target_user(app, who, user_id).await?;
    match archives::get_export(&app.db, export_id).await? {
        Some(e) if e.user_id == user.id => remove_export(app, &e).await,
        _ => Err(Error::not_found("export")),
    }
}

/// `GET /download/user-exports/:filename`: the archive's path and the name to save it as, while it
/// is finished and not expired.
pub async fn download(app: &App, filename: &str) -> Result<(crate::storage::Place, String)> {
    let ok_name = filename.len() < 100 && filename.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !ok_name {
        return Err(Error::not_found("export"));
    }
    let e = archives::export_by_filename(&app.db, filename).await?.ok_or_else(|| Error::not_found("export"))?;
    if e.state != COMPLETED || e.expires_at.is_some_and(|t| t < now_ms()) {
        return Err(Error::not_found("export"));
    }
    let user = flotilla_db::users::get(&app.db, flotilla_domain::UserId(e.user_id)).await?;
    let stamp = iso8601(e.created_at).replace(':', "_");
    let name = format!("user-export-{}-{stamp}.zip", user.map(|u| u.username).unwrap_or_default());
    let place = if e.stored {
        crate::storage::Place::Object {
            storage: flotilla_db::videos::STORAGE_OBJECT_PRIVATE,
            kind: crate::storage::Kind::UserExport,
            uuid: String::new(),
            file: e.filename.clone(),
            public_url: None,
        }
    } else {
        crate::storage::Place::Disk(app.data_path(EXPORT_DIR).join(&e.filename))
    };
    Ok((place, name))
}

/// Removes expired exports and their files (hourly housekeeping). Returns how many went.
pub async fn expire(app: &App) -> Result<usize> {
    let gone = archives::expired_exports(&app.db, now_ms()).await?;
    for e in &gone {
        remove_export(app, e).await?;
    }
    Ok(gone.len())
}

/// `POST /api/v1/users/:id/imports/import-resumable`: opens the upload of an archive. Only the
/// user themself imports (the archive becomes their data), one import at a time.
pub async fn init_import(
    app: &App,
    who: &AuthUser,
    user_id: i64,
    meta: Value,
    total: u64,
    mime: &str,
) -> Result<String> {
    if !app.config.archives.import_enabled {
        return Err(Error::bad_request("import_disabled", "user imports are disabled on this instance"));
    }
    if who.user.id != user_id {
        return Err(Error::Forbidden("you can only import an archive into your own account".into()));
    }
    if archives::import_in_progress(&app.db, user_id).await? {
        return Err(Error::Conflict("an import of this user is already in progress: wait for it to finish".into()));
    }
    let filename = meta.get("filename").and_then(Value::as_str).unwrap_or_default();
    if filename.is_empty() || filename.chars().count() > 255 {
        return Err(Error::invalid("filename", "the archive's file name (1 to 255 characters) is required"));
    }
    crate::video::resumable::open_session(app, who, crate::video::resumable::USER_IMPORT, meta, total, mime).await
}

/// Refuses an archive larger than the biggest export this instance makes (plus room for the
/// rest of the data) or than the user's quota left: its videos will count against it (as
/// PeerTube checks).
pub async fn check_import_size(app: &App, who: &AuthUser, size: u64) -> Result<()> {
    let max = app.config.archives.export_max_video_bytes.saturating_add(1024 * 1024 * 1024);
    if size > max {
        return Err(Error::TooLarge {
            code: "max_file_size_reached",
            msg: format!("an archive imported here is at most {max} bytes"),
        });
    }
    if let Some(left) = crate::video::upload::quota_left(app, who).await?
        && size as i64 > left
    {
        return Err(Error::TooLarge {
            code: "quota_reached",
            msg: format!("this archive would exceed your video quota: {} bytes left, it has {size}", left.max(0)),
        });
    }
    Ok(())
}

/// `GET /api/v1/users/:id/imports/latest`.
pub async fn latest_import(app: &App, who: &AuthUser, user_id: i64) -> Result<Value> {
    let user = target_user(app, who, user_id).await?;
    let i = archives::latest_import(&app.db, user.id).await?.ok_or_else(|| Error::not_found("import"))?;
    let summary = i.summary.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok());
    Ok(json!({
        "id": i.id,
        "state": { "id": i.state, "label": state_label(i.state) },
        "error": i.error,
        "resultSummary": summary,
        "createdAt": iso8601(i.created_at),
    }))
}
