//! Resumable upload sessions.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub meta: String,
    pub total_size: i64,
    pub mime: String,
    pub path: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The video the upload became (its file is that video's input now).
    pub video_id: Option<i64>,
    /// `video`, or `user-import` for a user archive (see `archives`).
    pub kind: String,
    /// The user import the archive became (its file is that import's now).
    pub import_id: Option<i64>,
}

const COLUMNS: &str = "id, user_id, meta, total_size, mime, path, created_at, updated_at, video_id, kind, import_id";

pub async fn insert(e: impl Into<Exec<'_>>, s: &Session) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO upload_sessions (id, user_id, meta, total_size, mime, path, created_at, updated_at, kind) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    .bind(&s.id)
    .bind(s.user_id)
    .bind(&s.meta)
    .bind(s.total_size)
    .bind(&s.mime)
    .bind(&s.path)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(&s.kind)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get(e: impl Into<Exec<'_>>, id: &str) -> Result<Option<Session>> {
    let sql = format!("SELECT {COLUMNS} FROM upload_sessions WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Session>(&sql).bind(id).fetch_optional(x).await)?)
}

pub async fn touch(e: impl Into<Exec<'_>>, id: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE upload_sessions SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, id: &str) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM upload_sessions WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sessions untouched since `before`, to be swept with their files.
pub async fn list_stale(e: impl Into<Exec<'_>>, before: i64) -> Result<Vec<Session>> {
    let sql = format!("SELECT {COLUMNS} FROM upload_sessions WHERE updated_at < $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Session>(&sql).bind(before).fetch_all(x).await)?)
}

/// The upload became `video_id` (in the transaction that inserted the video).
pub async fn finish(e: impl Into<Exec<'_>>, id: &str, video_id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE upload_sessions SET video_id = $2 WHERE id = $1")
        .bind(id)
        .bind(video_id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The archive became the user import `import_id` (in the transaction that inserted it).
pub async fn finish_import(e: impl Into<Exec<'_>>, id: &str, import_id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE upload_sessions SET import_id = $2 WHERE id = $1")
        .bind(id)
        .bind(import_id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A user's uploads still in progress, but `except`: how many, and the bytes they announced.
pub async fn open_for_user(e: impl Into<Exec<'_>>, user_id: i64, except: Option<&str>) -> Result<(i64, i64)> {
    Ok(run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(total_size), 0) AS BIGINT) FROM upload_sessions \
         WHERE user_id = $1 AND video_id IS NULL AND import_id IS NULL AND ($2 IS NULL OR id <> $2)"
    )
    .bind(user_id)
    .bind(except)
    .fetch_one(x)
    .await)?)
}

/// The files of every session (finished or not).
pub async fn paths(e: impl Into<Exec<'_>>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = run!(e, |x| sqlx::query_as("SELECT path FROM upload_sessions").fetch_all(x).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
