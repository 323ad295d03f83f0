//! Video blocks (PeerTube's blacklist, migration 0028): the row with its reason, and the
//! `videos.blocked` flag lists and file requests read.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VideoBlock {
    pub video_id: i64,
    pub reason: Option<String>,
    pub unfederated: bool,
    /// 1 by a moderator, 2 automatic.
    pub kind: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "video_id, reason, unfederated, kind, created_at, updated_at";

/// `videos.blocked`: not blocked.
pub const NONE: i64 = 0;
/// Blocked here; followers keep their copies.
pub const HIDDEN: i64 = 1;
/// Blocked and not federated (followers were told to delete it, or never heard of it).
pub const UNFEDERATED: i64 = 2;

/// Blocks a video. `false`: it was already.
pub async fn insert(
    tx: &mut crate::Tx,
    video: i64,
    reason: Option<&str>,
    unfederated: bool,
    kind: i64,
    now: i64,
) -> Result<bool> {
    let n = run!(&mut *tx, |x| sqlx::query(
        "INSERT INTO video_blocks (video_id, reason, unfederated, kind, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING"
    )
    .bind(video)
    .bind(reason)
    .bind(unfederated)
    .bind(kind)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    let flag = if unfederated { UNFEDERATED } else { HIDDEN };
    run!(&mut *tx, |x| sqlx::query("UPDATE videos SET blocked = $2 WHERE id = $1")
        .bind(video)
        .bind(flag)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(true)
}

pub async fn get(e: impl Into<Exec<'_>>, video: i64) -> Result<Option<VideoBlock>> {
    let sql = format!("SELECT {COLUMNS} FROM video_blocks WHERE video_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, VideoBlock>(&sql).bind(video).fetch_optional(x).await)?)
}

pub async fn set_reason(e: impl Into<Exec<'_>>, video: i64, reason: Option<&str>, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("UPDATE video_blocks SET reason = $2, updated_at = $3 WHERE video_id = $1")
        .bind(video)
        .bind(reason)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Unblocks a video: the row it had, if any.
pub async fn remove(tx: &mut crate::Tx, video: i64) -> Result<Option<VideoBlock>> {
    let sql = format!("DELETE FROM video_blocks WHERE video_id = $1 RETURNING {COLUMNS}");
    let row = run!(&mut *tx, |x| sqlx::query_as::<_, VideoBlock>(&sql).bind(video).fetch_optional(x).await)?;
    run!(&mut *tx, |x| sqlx::query("UPDATE videos SET blocked = 0 WHERE id = $1")
        .bind(video)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(row)
}

/// A page of blocks (`kind` 1 or 2, or both), newest first unless `order` says otherwise (an
/// allow-listed ORDER BY), with the video's name matching `search`; and how many match.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    kind: Option<i64>,
    search: Option<&str>,
    order: &str,
    start: i64,
    count: i64,
) -> Result<(Vec<VideoBlock>, i64)> {
    let like = search.map(|s| {
        let s: String = s.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).take(100).collect();
        format!("%{}%", s.to_lowercase())
    });
    let columns = COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {columns} FROM video_blocks b JOIN videos v ON v.id = b.video_id \
         WHERE ($1 < 0 OR b.kind = $1) AND ($2 IS NULL OR lower(v.name) LIKE $2) \
         ORDER BY {order}, b.video_id DESC LIMIT $3 OFFSET $4"
    );
    let rows = run!(e, |x| sqlx::query_as::<_, VideoBlock>(&sql)
        .bind(kind.unwrap_or(-1))
        .bind(like.as_deref())
        .bind(count.clamp(1, 100))
        .bind(start.max(0))
        .fetch_all(x)
        .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM video_blocks b JOIN videos v ON v.id = b.video_id \
         WHERE ($1 < 0 OR b.kind = $1) AND ($2 IS NULL OR lower(v.name) LIKE $2)"
    )
    .bind(kind.unwrap_or(-1))
    .bind(like.as_deref())
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}
