//! Users' watch history (migration 0032): one row per user and video, the last position.

use crate::{Exec, Result, run};

/// Records where `user` is in `video` (seconds).
pub async fn record(e: impl Into<Exec<'_>>, user: i64, video: i64, position: i64, now: i64) -> Result<()> {
    Ok(run!(e, |x| sqlx::query(
        "INSERT INTO video_history (user_id, video_id, position, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, video_id) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at"
    )
    .bind(user)
    .bind(video)
    .bind(position)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?)
}

/// The stored positions of `user` in `videos`: `(video, seconds)`.
pub async fn positions(e: impl Into<Exec<'_>>, user: i64, videos: &[i64]) -> Result<Vec<(i64, i64)>> {
    if videos.is_empty() {
        return Ok(Vec::new());
    }
    let e: Exec<'_> = e.into();
    let (set, ids) = crate::id_set(e.backend(), 2, videos);
    let sql = format!("SELECT video_id, position FROM video_history WHERE user_id = $1 AND video_id {set}");
    Ok(run!(e, |x| sqlx::query_as::<_, (i64, i64)>(&sql).bind(user).bind(&ids).fetch_all(x).await)?)
}

/// A page of the user's history, most recent first: video ids (names matching `search`), and
/// how many there are.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    user: i64,
    search: Option<&str>,
    start: i64,
    count: i64,
) -> Result<(Vec<i64>, i64)> {
    let like = search.map(|s| {
        let s: String = s.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).take(100).collect();
        format!("%{}%", s.to_lowercase())
    });
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as(
        "SELECT h.video_id FROM video_history h JOIN videos v ON v.id = h.video_id \
         WHERE h.user_id = $1 AND ($2 IS NULL OR lower(v.name) LIKE $2) \
         ORDER BY h.updated_at DESC, h.video_id DESC LIMIT $3 OFFSET $4"
    )
    .bind(user)
    .bind(like.as_deref())
    .bind(count.clamp(1, 100))
    .bind(start.max(0))
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM video_history h JOIN videos v ON v.id = h.video_id \
         WHERE h.user_id = $1 AND ($2 IS NULL OR lower(v.name) LIKE $2)"
    )
    .bind(user)
    .bind(like.as_deref())
    .fetch_one(x)
    .await)?;
    Ok((rows.into_iter().map(|(v,)| v).collect(), total))
}

/// Forgets one video. `false`: it was not in the history.
pub async fn remove(e: impl Into<Exec<'_>>, user: i64, video: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM video_history WHERE user_id = $1 AND video_id = $2")
        .bind(user)
        .bind(video)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Forgets what was watched before `before` (ms; everything when `None`): how many rows went.
pub async fn clear(e: impl Into<Exec<'_>>, user: i64, before: Option<i64>) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query("DELETE FROM video_history WHERE user_id = $1 AND updated_at < $2")
        .bind(user)
        .bind(before.unwrap_or(i64::MAX))
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?)
}
