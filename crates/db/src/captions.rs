//! Captions of videos, one per language (migration 0040).

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Caption {
    pub id: i64,
    pub video_id: i64,
    pub language: String,
    /// Our file under `captions/<video uuid>/`; `None` for a remote caption not fetched yet.
    pub filename: Option<String>,
    /// A remote video's caption on its origin.
    pub remote_url: Option<String>,
    pub automatically_generated: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, video_id, language, filename, remote_url, automatically_generated, created_at, updated_at";

/// A video's captions, by language.
pub async fn of_video(e: impl Into<Exec<'_>>, video: i64) -> Result<Vec<Caption>> {
    let sql = format!("SELECT {COLUMNS} FROM video_captions WHERE video_id = $1 ORDER BY language");
    Ok(run!(e, |x| sqlx::query_as::<_, Caption>(&sql).bind(video).fetch_all(x).await)?)
}

/// The caption whose file is `filename`.
pub async fn by_filename(e: impl Into<Exec<'_>>, filename: &str) -> Result<Option<Caption>> {
    let sql = format!("SELECT {COLUMNS} FROM video_captions WHERE filename = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Caption>(&sql).bind(filename).fetch_optional(x).await)?)
}

/// Sets a video's caption in a language (replacing the one it had: the caller removes its file).
pub async fn upsert(
    e: impl Into<Exec<'_>>,
    video: i64,
    language: &str,
    filename: Option<&str>,
    remote_url: Option<&str>,
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO video_captions (video_id, language, filename, remote_url, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (video_id, language) DO UPDATE \
         SET filename = excluded.filename, remote_url = excluded.remote_url, updated_at = excluded.updated_at"
    )
    .bind(video)
    .bind(language)
    .bind(filename)
    .bind(remote_url)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes a video's caption in a language; whether there was one.
pub async fn delete(e: impl Into<Exec<'_>>, video: i64, language: &str) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM video_captions WHERE video_id = $1 AND language = $2")
        .bind(video)
        .bind(language)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
