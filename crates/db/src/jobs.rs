//! The persistent job queue: enqueue (inside the caller's transaction), claim under a lease,
//! heartbeat, finish, fail with a retry time, and return stale jobs to the queue.
//!
//! ```text
//!  enqueue ──> queued ──claim──> running ──complete──> done
//!                ▲                  │  └──fail(no retry)──> failed ──retry (admin)──> queued
//!                └──fail(retry_at)──┘
//!                └──requeue: heartbeat older than the lease (crashed worker)──┘
//! ```
//!
//! Every change of a running job is fenced by its [`Lease`] (`AND locked_by = … AND lease = …`):
//! a worker whose job was swept and claimed again by another changes nothing, and learns it from
//! the `false` it gets back.

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
    /// The token of the current claim (`None` unless running).
    pub lease: Option<String>,
}

impl Job {
    /// The lease of a claimed job.
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.id,
            worker: self.locked_by.clone().unwrap_or_default(),
            token: self.lease.clone().unwrap_or_default(),
        }
    }
}

/// Who holds a running job: its worker and the token of this claim (a worker that claims the same
/// job again after losing it holds another token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub worker: String,
    pub token: String,
}

const COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_at, locked_by, heartbeat_at, progress, \
    last_error, created_at, updated_at, finished_at, lease";

/// The fence of every change to a running job.
const FENCE: &str = "id = $1 AND locked_by = $2 AND lease = $3 AND state = 'running'";

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
    // Two transactions may both find no job with the key and both insert (a local like and a
    // remote one queueing a video's counts at once): the second one's insert then does nothing
    // (PostgreSQL waits for the first to commit) and it takes the first one's job, instead of
    // failing on the unique key and losing the change that queued it. Should that job be over
    // already (its key released), the insert is tried again.
    for _ in 0..3 {
        let inserted: Option<(i64,)> = run!(&mut e, |x| sqlx::query_as(
            "INSERT INTO jobs (kind, payload, state, max_attempts, run_at, unique_key, created_at, updated_at) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $4, $4) ON CONFLICT DO NOTHING RETURNING id"
        )
        .bind(kind)
        .bind(payload)
        .bind(max_attempts)
        .bind(now)
        .bind(unique_key)
        .fetch_optional(x)
        .await)?;
        if let Some((id,)) = inserted {
            return Ok(id);
        }
        let existing: Option<(i64,)> = run!(&mut e, |x| sqlx::query_as("SELECT id FROM jobs WHERE unique_key = $1")
            .bind(unique_key)
            .fetch_optional(x)
            .await)?;
        if let Some((id,)) = existing {
            return Ok(id);
        }
    }
    Err(crate::Error::Conflict(format!("job key {unique_key:?} kept changing hands")))
}

/// Lets a new job take `key` while the one holding it runs: a job that reads the state it sends
/// (a video's counts) releases its key as it starts, so a change after that read queues another.
pub async fn release_key(e: impl Into<Exec<'_>>, key: &str) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE jobs SET unique_key = NULL WHERE unique_key = $1 AND state = 'running'")
        .bind(key)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Takes the next due job of `kind` for `worker` under the lease `token`, or `None`. PostgreSQL
/// skips rows other processes hold; SQLite has a single writer, so the statement alone is atomic.
/// The claim counts an attempt: a job whose worker dies with it has used one.
pub async fn claim(db: &Db, kind: &str, worker: &str, token: &str, now: i64) -> Result<Option<Job>> {
    let lock = match db {
        Db::Postgres { .. } => "FOR UPDATE SKIP LOCKED",
        Db::Sqlite { .. } => "",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, lease = $4, heartbeat_at = $2, attempts = attempts + 1, \
         progress = NULL, updated_at = $2 WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND kind = $3 \
         AND run_at <= $2 ORDER BY run_at, id LIMIT 1 {lock}) RETURNING {COLUMNS}"
    );
    Ok(run!(db.writer(), |x| sqlx::query_as::<_, Job>(&sql)
        .bind(worker)
        .bind(now)
        .bind(kind)
        .bind(token)
        .fetch_optional(x)
        .await)?)
}

/// Renews the lease; false when the job is no longer held under it (it was swept and maybe claimed
/// again): the worker must stop.
pub async fn heartbeat(e: impl Into<Exec<'_>>, lease: &Lease, progress: Option<i64>, now: i64) -> Result<bool> {
    let sql =
        format!("UPDATE jobs SET heartbeat_at = $4, progress = COALESCE($5, progress), updated_at = $4 WHERE {FENCE}");
    let n = run!(e, |x| sqlx::query(&sql)
        .bind(lease.id)
        .bind(&lease.worker)
        .bind(&lease.token)
        .bind(now)
        .bind(progress)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The job is done; false (and nothing changed) when the lease was lost.
pub async fn complete(e: impl Into<Exec<'_>>, lease: &Lease, now: i64) -> Result<bool> {
    let sql = format!(
        "UPDATE jobs SET state = 'done', locked_by = NULL, lease = NULL, unique_key = NULL, progress = 100, \
         finished_at = $4, updated_at = $4 WHERE {FENCE}"
    );
    let n = run!(e, |x| sqlx::query(&sql)
        .bind(lease.id)
        .bind(&lease.worker)
        .bind(&lease.token)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Records a failure: back to the queue at `retry_at`, or `failed` for good when `None`; false (and
/// nothing changed) when the lease was lost.
pub async fn fail(e: impl Into<Exec<'_>>, lease: &Lease, error: &str, retry_at: Option<i64>, now: i64) -> Result<bool> {
    let (state, finished) = match retry_at {
        Some(_) => ("queued", None),
        None => ("failed", Some(now)),
    };
    let sql = format!(
        "UPDATE jobs SET state = $4, last_error = $5, run_at = COALESCE($6, run_at), finished_at = $7, \
         locked_by = NULL, lease = NULL, unique_key = CASE WHEN $6 IS NULL THEN NULL ELSE unique_key END, \
         updated_at = $8 WHERE {FENCE}"
    );
    let n = run!(e, |x| sqlx::query(&sql)
        .bind(lease.id)
        .bind(&lease.worker)
        .bind(&lease.token)
        .bind(state)
        .bind(error)
        .bind(retry_at)
        .bind(finished)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Fails a job whose claim could not be read (unknown kind, broken payload), whoever holds it.
pub async fn fail_unreadable(e: impl Into<Exec<'_>>, id: i64, error: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE jobs SET state = 'failed', last_error = $2, finished_at = $3, locked_by = NULL, lease = NULL, \
         unique_key = NULL, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(error)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Puts a running job back in the queue until `run_at` without counting the attempt; false when
/// the lease was lost.
pub async fn defer(e: impl Into<Exec<'_>>, lease: &Lease, run_at: i64, now: i64) -> Result<bool> {
    let sql = format!(
        "UPDATE jobs SET state = 'queued', locked_by = NULL, lease = NULL, attempts = attempts - 1, run_at = $4, \
         updated_at = $5 WHERE {FENCE}"
    );
    let n = run!(e, |x| sqlx::query(&sql)
        .bind(lease.id)
        .bind(&lease.worker)
        .bind(&lease.token)
        .bind(run_at)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Running jobs whose heartbeat is older than `cutoff`: their worker died (or hangs).
pub async fn stale(e: impl Into<Exec<'_>>, cutoff: i64) -> Result<Vec<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE state = 'running' AND heartbeat_at < $1 ORDER BY id LIMIT 100");
    Ok(run!(e, |x| sqlx::query_as::<_, Job>(&sql).bind(cutoff).fetch_all(x).await)?)
}

/// Returns a stale job to the queue, due at `run_at` (its attempt stays counted); false when it
/// was meanwhile finished or renewed under this lease.
pub async fn requeue(e: impl Into<Exec<'_>>, lease: &Lease, run_at: i64, now: i64) -> Result<bool> {
    let sql = format!(
        "UPDATE jobs SET state = 'queued', locked_by = NULL, lease = NULL, run_at = $4, \
         last_error = 'its worker stopped (the process was killed or crashed)', updated_at = $5 WHERE {FENCE}"
    );
    let n = run!(e, |x| sqlx::query(&sql)
        .bind(lease.id)
        .bind(&lease.worker)
        .bind(&lease.token)
        .bind(run_at)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
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

/// Forgets finished jobs: `done` ones finished before `done_before`, `failed` ones before
/// `failed_before` (kept longer, for an admin to look at or retry), at most `limit` rows a call
/// (a short write on SQLite); how many. Queued and running jobs are never touched.
pub async fn prune_finished(e: impl Into<Exec<'_>>, done_before: i64, failed_before: i64, limit: i64) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE \
         (state = 'done' AND finished_at < $1) OR (state = 'failed' AND finished_at < $2) LIMIT $3)"
    )
    .bind(done_before)
    .bind(failed_before)
    .bind(limit)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?)
}
