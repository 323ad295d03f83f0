//! Storyboards of videos, one per video (migration 0042).

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Storyboard {
    pub video_id: i64,
    pub filename: String,
    pub remote_url: Option<String>,
    pub total_width: i64,
    pub total_height: i64,
    pub sprite_width: i64,
    pub sprite_height: i64,
    pub sprite_duration: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "video_id, filename, remote_url, total_width, total_height, sprite_width, sprite_height, \
                       sprite_duration, created_at";

pub async fn of_video(e: impl Into<Exec<'_>>, video: i64) -> Result<Option<Storyboard>> {
    let sql = format!("SELECT {COLUMNS} FROM video_storyboards WHERE video_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Storyboard>(&sql).bind(video).fetch_optional(x).await)?)
}

pub async fn by_filename(e: impl Into<Exec<'_>>, filename: &str) -> Result<Option<Storyboard>> {
    let sql = format!("SELECT {COLUMNS} FROM video_storyboards WHERE filename = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Storyboard>(&sql).bind(filename).fetch_optional(x).await)?)
}

/// Sets a video's storyboard (replacing the one it had: the caller removes its file).
pub async fn upsert(e: impl Into<Exec<'_>>, s: &Storyboard) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO video_storyboards (video_id, filename, remote_url, total_width, total_height, sprite_width, \
         sprite_height, sprite_duration, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (video_id) DO UPDATE SET filename = excluded.filename, remote_url = excluded.remote_url, \
         total_width = excluded.total_width, total_height = excluded.total_height, \
         sprite_width = excluded.sprite_width, sprite_height = excluded.sprite_height, \
         sprite_duration = excluded.sprite_duration, created_at = excluded.created_at"
    )
    .bind(s.video_id)
    .bind(&s.filename)
    .bind(&s.remote_url)
    .bind(s.total_width)
    .bind(s.total_height)
    .bind(s.sprite_width)
    .bind(s.sprite_height)
    .bind(s.sprite_duration)
    .bind(s.created_at)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, video: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM video_storyboards WHERE video_id = $1")
        .bind(video)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
