//! Lives' streaming sessions (migration 0047): one row from a stream's start to its end.

use crate::{Exec, Page, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Session {
    pub id: i64,
    pub video_id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub error: Option<i64>,
    pub save_replay: bool,
    pub replay_privacy: Option<i64>,
    pub replay_video_id: Option<i64>,
    pub ending_processed: bool,
}

const COLUMNS: &str =
    "id, video_id, started_at, ended_at, error, save_replay, replay_privacy, replay_video_id, ending_processed";

/// Starts a session; returns its id.
pub async fn start(
    e: impl Into<Exec<'_>>,
    video_id: i64,
    save_replay: bool,
    replay_privacy: Option<i64>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO video_live_sessions (video_id, started_at, save_replay, replay_privacy) VALUES ($1, $2, $3, $4) \
         RETURNING id"
    )
    .bind(video_id)
    .bind(now)
    .bind(save_replay)
    .bind(replay_privacy)
    .fetch_one(x)
    .await
    })?;
    Ok(id)
}

/// Ends a session that was still open; `false` when it was ended already.
pub async fn end(e: impl Into<Exec<'_>>, id: i64, error: Option<i64>, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE video_live_sessions SET ended_at = $2, error = $3 WHERE id = $1 AND ended_at IS NULL"
    )
    .bind(id)
    .bind(now)
    .bind(error)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Session>> {
    let sql = format!("SELECT {COLUMNS} FROM video_live_sessions WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Session>(&sql).bind(id).fetch_optional(x).await)?)
}

/// A live's sessions, oldest first, with how many there are.
pub async fn of_video(e: impl Into<Exec<'_>> + Copy, video_id: i64, page: Page) -> Result<(Vec<Session>, i64)> {
    let sql = format!(
        "SELECT {COLUMNS} FROM video_live_sessions WHERE video_id = $1 ORDER BY started_at, id LIMIT $2 OFFSET $3"
    );
    let rows = run!(e, |x| sqlx::query_as::<_, Session>(&sql)
        .bind(video_id)
        .bind(page.count)
        .bind(page.start)
        .fetch_all(x)
        .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM video_live_sessions WHERE video_id = $1")
        .bind(video_id)
        .fetch_one(x)
        .await)?;
    Ok((rows, total))
}

/// A live's latest session (the one streaming now, if any).
pub async fn latest(e: impl Into<Exec<'_>>, video_id: i64) -> Result<Option<Session>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM video_live_sessions WHERE video_id = $1 ORDER BY started_at DESC, id DESC LIMIT 1"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Session>(&sql).bind(video_id).fetch_optional(x).await)?)
}

/// Forgets a session still open (one that never aired); `false` when it had ended already.
pub async fn delete_open(e: impl Into<Exec<'_>>, id: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM video_live_sessions WHERE id = $1 AND ended_at IS NULL")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Records the replay made of a session (its ending processed).
pub async fn set_replay(e: impl Into<Exec<'_>>, id: i64, replay_video_id: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE video_live_sessions SET replay_video_id = $2, ending_processed = TRUE WHERE id = $1"
    )
    .bind(id)
    .bind(replay_video_id)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The session a replay video was made from.
pub async fn of_replay(e: impl Into<Exec<'_>>, replay_video_id: i64) -> Result<Option<Session>> {
    let sql = format!("SELECT {COLUMNS} FROM video_live_sessions WHERE replay_video_id = $1 LIMIT 1");
    Ok(run!(e, |x| sqlx::query_as::<_, Session>(&sql).bind(replay_video_id).fetch_optional(x).await)?)
}

/// Sessions never ended (the process stopped or crashed while they streamed).
pub async fn open(e: impl Into<Exec<'_>>) -> Result<Vec<Session>> {
    let sql = format!("SELECT {COLUMNS} FROM video_live_sessions WHERE ended_at IS NULL ORDER BY id");
    Ok(run!(e, |x| sqlx::query_as::<_, Session>(&sql).fetch_all(x).await)?)
}
