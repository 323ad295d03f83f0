//! The persistent job queue: enqueue (inside the caller's transaction), claim under a lease,
//! heartbeat, finish, fail with a retry time, and return stale jobs to the queue.
//!
//! ```text
//!  enqueue ──> queued ──claim──> running ──complete──> done
//!                ▲                  │  └──fail(no retry)──> failed ──retry (admin)──> queued
//!                └──fail(retry_at)──┘
//!                └──heartbeat older than the lease (crashed worker)──┘
//! ```

use crate::{Db, Exec, Page, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub locked_by: Option<String>,
    pub heartbeat_at: Option<i64>,
    pub progress: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_at, locked_by, heartbeat_at, progress, \
    last_error, created_at, updated_at, finished_at";

/// Adds a job. With a `unique_key`, a second job with the same key is not added while the first
/// is queued or running (the existing id is returned); finished jobs release their key.
pub async fn enqueue(
    e: impl Into<Exec<'_>>,
    kind: &str,
    payload: &str,
    unique_key: Option<&str>,
    max_attempts: i64,
    now: i64,
) -> Result<i64> {
    let mut e = e.into();
    if let Some(key) = unique_key {
        let existing: Option<(i64,)> = run!(&mut e, |x| sqlx::query_as("SELECT id FROM jobs WHERE unique_key = $1")
            .bind(key)
            .fetch_optional(x)
            .await)?;
        if let Some((id,)) = existing {
            return Ok(id);
        }
    }
    let (id,): (i64,) = run!(&mut e, |x| sqlx::query_as(
        "INSERT INTO jobs (kind, payload, state, max_attempts, run_at, unique_key, created_at, updated_at) \
         VALUES ($1, $2, 'queued', $3, $4, $5, $4, $4) RETURNING id"
    )
    .bind(kind)
    .bind(payload)
    .bind(max_attempts)
    .bind(now)
    .bind(unique_key)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

/// Takes the next due job of `kind` for `worker`, or `None`. PostgreSQL skips rows other
/// processes hold; SQLite has a single writer, so the statement alone is atomic.
pub async fn claim(db: &Db, kind: &str, worker: &str, now: i64) -> Result<Option<Job>> {
    let lock = match db {
        Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, heartbeat_at = $2, attempts = attempts + 1, \
         progress = NULL, updated_at = $2 WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND kind = $3 \
         AND run_at <= $2 ORDER BY run_at, id LIMIT 1 {lock}) RETURNING {COLUMNS}"
    );
    Ok(run!(db, |x| sqlx::query_as::<_, Job>(&sql).bind(worker).bind(now).bind(kind).fetch_optional(x).await)?)
}

/// Renews the lease; false when the job is no longer this worker's (it was returned to the queue).
pub async fn heartbeat(e: impl Into<Exec<'_>>, id: i64, worker: &str, progress: Option<i64>, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE jobs SET heartbeat_at = $3, progress = COALESCE($4, progress), updated_at = $3 \
         WHERE id = $1 AND locked_by = $2 AND state = 'running'"
    )
    .bind(id)
    .bind(worker)
    .bind(now)
    .bind(progress)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn complete(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE jobs SET state = 'done', locked_by = NULL, unique_key = NULL, progress = 100, finished_at = $2, \
         updated_at = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a failure: back to the queue at `retry_at`, or `failed` for good when `None`.
pub async fn fail(e: impl Into<Exec<'_>>, id: i64, error: &str, retry_at: Option<i64>, now: i64) -> Result<()> {
    let (state, run_at, finished) = match retry_at {
        Some(t) => ("queued", Some(t), None),
        None => ("failed", None, Some(now)),
    };
    run!(e, |x| {
        sqlx::query(
        "UPDATE jobs SET state = $2, last_error = $3, run_at = COALESCE($4, run_at), finished_at = $5, \
         locked_by = NULL, unique_key = CASE WHEN $4 IS NULL THEN NULL ELSE unique_key END, updated_at = $6 WHERE id = $1"
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(run_at)
    .bind(finished)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Puts a running job back in the queue until `run_at` without counting the attempt.
pub async fn defer(e: impl Into<Exec<'_>>, id: i64, run_at: i64, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE jobs SET state = 'queued', locked_by = NULL, attempts = attempts - 1, run_at = $2, updated_at = $3 \
         WHERE id = $1"
    )
    .bind(id)
    .bind(run_at)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Returns running jobs whose heartbeat is older than `cutoff` to the queue: their worker died.
pub async fn requeue_stale(e: impl Into<Exec<'_>>, cutoff: i64, now: i64) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query(
        "UPDATE jobs SET state = 'queued', locked_by = NULL, run_at = $2, updated_at = $2 \
         WHERE state = 'running' AND heartbeat_at < $1"
    )
    .bind(cutoff)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A failed job goes back to the queue with a fresh set of attempts (admin action).
pub async fn retry(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, finished_at = NULL, updated_at = $2 \
         WHERE id = $1 AND state = 'failed'"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Job>(&sql).bind(id).fetch_optional(x).await)?)
}

/// Jobs in a state (`None`: all), newest first, optionally of one kind.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    state: Option<&str>,
    kind: Option<&str>,
    page: Page,
) -> Result<(Vec<Job>, i64)> {
    let filter = "($1 IS NULL OR state = $1) AND ($2 IS NULL OR kind = $2)";
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE {filter} ORDER BY id DESC LIMIT $3 OFFSET $4");
    let rows = run!(e, |x| sqlx::query_as::<_, Job>(&sql)
        .bind(state)
        .bind(kind)
        .bind(page.count)
        .bind(page.start)
        .fetch_all(x)
        .await)?;
    let count_sql = format!("SELECT COUNT(*) FROM jobs WHERE {filter}");
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(&count_sql).bind(state).bind(kind).fetch_one(x).await)?;
    Ok((rows, total))
}

/// When the next queued job of `kind` is due (`None`: none queued).
pub async fn next_due(e: impl Into<Exec<'_>>, kind: &str) -> Result<Option<i64>> {
    let (at,): (Option<i64>,) =
        run!(e, |x| sqlx::query_as("SELECT MIN(run_at) FROM jobs WHERE state = 'queued' AND kind = $1")
            .bind(kind)
            .fetch_one(x)
            .await)?;
    Ok(at)
}

/// Whether any job is queued and due, or running (for `run_until_idle` in tests).
pub async fn pending(e: impl Into<Exec<'_>>, now: i64) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE (state = 'queued' AND run_at <= $1) OR state = 'running'"
    )
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(n)
}
