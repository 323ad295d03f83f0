//! Passwords of password-protected videos (migration 0043).

use crate::{Exec, Page, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VideoPassword {
    pub id: i64,
    pub video_id: i64,
    pub password: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, video_id, password, created_at";

/// A page of a video's passwords, oldest first, and how many it has.
pub async fn list(e: impl Into<Exec<'_>>, video: i64, page: Page) -> Result<Vec<VideoPassword>> {
    let sql = format!("SELECT {COLUMNS} FROM video_passwords WHERE video_id = $1 ORDER BY id LIMIT $2 OFFSET $3");
    Ok(run!(e, |x| sqlx::query_as::<_, VideoPassword>(&sql)
        .bind(video)
        .bind(page.count)
        .bind(page.start)
        .fetch_all(x)
        .await)?)
}

/// Every password of a video.
pub async fn all(e: impl Into<Exec<'_>>, video: i64) -> Result<Vec<VideoPassword>> {
    let sql = format!("SELECT {COLUMNS} FROM video_passwords WHERE video_id = $1 ORDER BY id");
    Ok(run!(e, |x| sqlx::query_as::<_, VideoPassword>(&sql).bind(video).fetch_all(x).await)?)
}

/// How many passwords a video has.
pub async fn count(e: impl Into<Exec<'_>>, video: i64) -> Result<i64> {
    Ok(run!(e, |x| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM video_passwords WHERE video_id = $1")
        .bind(video)
        .fetch_one(x)
        .await)?)
}

/// Replaces a video's passwords with `passwords` (already checked and without duplicates).
pub async fn replace(e: impl Into<Exec<'_>>, video: i64, passwords: &[String], now: i64) -> Result<()> {
    let mut e = e.into();
    run!(&mut e, |x| sqlx::query("DELETE FROM video_passwords WHERE video_id = $1")
        .bind(video)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    for p in passwords {
        run!(&mut e, |x| sqlx::query(
            "INSERT INTO video_passwords (video_id, password, created_at) VALUES ($1, $2, $3)"
        )
        .bind(video)
        .bind(p)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Removes one password of a video; whether it was there.
pub async fn delete(e: impl Into<Exec<'_>>, video: i64, id: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM video_passwords WHERE video_id = $1 AND id = $2")
        .bind(video)
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Holds the video's row until the transaction ends, so that two removals of passwords take
/// turns and cannot leave it without any (PostgreSQL; SQLite's transactions take the write lock
/// at their start already).
pub async fn lock_video(e: impl Into<Exec<'_>>, video: i64) -> Result<()> {
    let e = e.into();
    if e.backend() == crate::Backend::Postgres {
        run!(e, |x| sqlx::query("SELECT id FROM videos WHERE id = $1 FOR UPDATE")
            .bind(video)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}
