//! Lives and their streaming sessions (migration 0047).

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Live {
    pub video_id: i64,
    pub stream_key: String,
    pub save_replay: bool,
    pub replay_privacy: Option<i64>,
    pub permanent: bool,
    pub latency_mode: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "video_id, stream_key, save_replay, replay_privacy, permanent, latency_mode, created_at, updated_at";

pub async fn insert(e: impl Into<Exec<'_>>, l: &Live) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO video_lives (video_id, stream_key, save_replay, replay_privacy, permanent, latency_mode, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(l.video_id)
    .bind(&l.stream_key)
    .bind(l.save_replay)
    .bind(l.replay_privacy)
    .bind(l.permanent)
    .bind(l.latency_mode)
    .bind(l.created_at)
    .bind(l.updated_at)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn get(e: impl Into<Exec<'_>>, video_id: i64) -> Result<Option<Live>> {
    let sql = format!("SELECT {COLUMNS} FROM video_lives WHERE video_id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Live>(&sql).bind(video_id).fetch_optional(x).await)?)
}

pub async fn by_stream_key(e: impl Into<Exec<'_>>, key: &str) -> Result<Option<Live>> {
    let sql = format!("SELECT {COLUMNS} FROM video_lives WHERE stream_key = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Live>(&sql).bind(key).fetch_optional(x).await)?)
}

/// Writes the settings a creator changes (`PUT /videos/live/{id}`) and the stream key.
pub async fn update(e: impl Into<Exec<'_>>, l: &Live) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE video_lives SET stream_key = $2, save_replay = $3, replay_privacy = $4, permanent = $5, \
         latency_mode = $6, updated_at = $7 WHERE video_id = $1"
    )
    .bind(l.video_id)
    .bind(&l.stream_key)
    .bind(l.save_replay)
    .bind(l.replay_privacy)
    .bind(l.permanent)
    .bind(l.latency_mode)
    .bind(l.updated_at)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A live that became its replay is a live no more.
pub async fn delete(e: impl Into<Exec<'_>>, video_id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM video_lives WHERE video_id = $1")
        .bind(video_id)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Lives of a user's channels that are not ended (waiting or streaming): PeerTube's
/// `max_user_lives` counts these.
pub async fn count_of_user(e: impl Into<Exec<'_>>, account_id: i64) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM videos v JOIN channels c ON c.id = v.channel_id \
         WHERE v.is_live = TRUE AND v.state <> 5 AND c.account_id = $1"
    )
    .bind(account_id)
    .fetch_one(x)
    .await)?;
    Ok(n)
}

/// Local lives not ended, on the whole instance (`max_instance_lives`).
pub async fn count_local(e: impl Into<Exec<'_>>) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM videos WHERE is_live = TRUE AND state <> 5 AND remote_url IS NULL"
    )
    .fetch_one(x)
    .await)?;
    Ok(n)
}
