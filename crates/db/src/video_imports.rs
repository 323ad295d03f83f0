//! Imports of videos by URL (migration 0044).

use crate::{Exec, Page, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VideoImport {
    pub id: i64,
    pub user_id: i64,
    pub video_id: Option<i64>,
    pub target_url: String,
    pub state: i64,
    pub error: Option<String>,
    pub name_given: bool,
    pub downloaded_bytes: Option<i64>,
    pub total_bytes: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, user_id, video_id, target_url, state, error, name_given, downloaded_bytes, total_bytes, \
                       created_at, updated_at";

pub async fn insert(
    e: impl Into<Exec<'_>>,
    user: i64,
    video: i64,
    target_url: &str,
    state: i64,
    name_given: bool,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO video_imports (user_id, video_id, target_url, state, name_given, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id"
    )
    .bind(user)
    .bind(video)
    .bind(target_url)
    .bind(state)
    .bind(name_given)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<VideoImport>> {
    let sql = format!("SELECT {COLUMNS} FROM video_imports WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, VideoImport>(&sql).bind(id).fetch_optional(x).await)?)
}

/// A user's imports, newest first (`-createdAt`) or oldest first, with how many there are;
/// `target_url` keeps those of one URL.
pub async fn of_user(
    e: impl Into<Exec<'_>> + Copy,
    user: i64,
    target_url: Option<&str>,
    newest_first: bool,
    page: Page,
) -> Result<(Vec<VideoImport>, i64)> {
    let sql = if newest_first {
        format!(
            "SELECT {COLUMNS} FROM video_imports WHERE user_id = $1 AND ($2 IS NULL OR target_url = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        )
    } else {
        format!(
            "SELECT {COLUMNS} FROM video_imports WHERE user_id = $1 AND ($2 IS NULL OR target_url = $2) \
             ORDER BY created_at, id LIMIT $3 OFFSET $4"
        )
    };
    let rows = run!(e, |x| sqlx::query_as::<_, VideoImport>(&sql)
        .bind(user)
        .bind(target_url)
        .bind(page.count)
        .bind(page.start)
        .fetch_all(x)
        .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM video_imports WHERE user_id = $1 AND ($2 IS NULL OR target_url = $2)"
    )
    .bind(user)
    .bind(target_url)
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}

/// Moves an import from one of `from` states to `to` (with its error); whether it was in one.
pub async fn transition(
    e: impl Into<Exec<'_>>,
    id: i64,
    from: &[i64],
    to: i64,
    error: Option<&str>,
    now: i64,
) -> Result<bool> {
    let list = crate::id_list(from);
    let sql =
        format!("UPDATE video_imports SET state = $1, error = $2, updated_at = $3 WHERE id = $4 AND state IN ({list})");
    let n = run!(e, |x| sqlx::query(&sql)
        .bind(to)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Records how far a download is.
pub async fn set_progress(e: impl Into<Exec<'_>>, id: i64, downloaded: Option<i64>, total: Option<i64>) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE video_imports SET downloaded_bytes = $1, total_bytes = $2 WHERE id = $3")
        .bind(downloaded)
        .bind(total)
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM video_imports WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The import that brought a video, if any.
pub async fn of_video(e: impl Into<Exec<'_>>, video: i64) -> Result<Option<VideoImport>> {
    let sql = format!("SELECT {COLUMNS} FROM video_imports WHERE video_id = $1 ORDER BY id DESC LIMIT 1");
    Ok(run!(e, |x| sqlx::query_as::<_, VideoImport>(&sql).bind(video).fetch_optional(x).await)?)
}
