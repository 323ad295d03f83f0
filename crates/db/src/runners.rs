//! Remote runners, their registration tokens and the jobs handed to them (migration 0049).
//! Every change of a job's state is one update fenced by the state it leaves (and, for a runner's
//! own posts, by its job token): two runners, or a runner and the stall sweep, never both win.

use crate::{Arg, Exec, Page, Result, run};

pub const PENDING: i64 = 1;
pub const PROCESSING: i64 = 2;
pub const COMPLETED: i64 = 3;
pub const ERRORED: i64 = 4;
pub const CANCELLED: i64 = 6;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RegistrationToken {
    pub id: i64,
    pub token: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub runners: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Runner {
    pub id: i64,
    pub registration_token_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub ip: String,
    pub last_contact: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub uuid: String,
    pub kind: String,
    pub state: i64,
    pub video_id: Option<i64>,
    pub payload: String,
    pub private_payload: String,
    pub runner_id: Option<i64>,
    pub progress: Option<i64>,
    pub failures: i64,
    pub error: Option<String>,
    pub priority: i64,
    pub result_stored: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The runner's name and description (lists).
    pub runner_name: Option<String>,
    pub runner_description: Option<String>,
}

/// A job with its runner's name and description.
const SELECT: &str = "SELECT j.id, j.uuid, j.kind, j.state, j.video_id, j.payload, j.private_payload, j.runner_id, \
     j.progress, j.failures, j.error, j.priority, j.result_stored, j.created_at, j.updated_at, j.started_at, \
     j.finished_at, r.name AS runner_name, r.description AS runner_description \
     FROM runner_jobs j LEFT JOIN runners r ON r.id = j.runner_id";

// ---- registration tokens ----

pub async fn insert_registration_token(e: impl Into<Exec<'_>>, token: &str, now: i64) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO runner_registration_tokens (token, created_at, updated_at) VALUES ($1, $2, $2) RETURNING id"
    )
    .bind(token)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn registration_tokens(e: impl Into<Exec<'_>> + Copy, page: Page) -> Result<(Vec<RegistrationToken>, i64)> {
    let rows = run!(e, |x| sqlx::query_as::<_, RegistrationToken>(
        "SELECT t.id, t.token, t.created_at, t.updated_at, \
         (SELECT COUNT(*) FROM runners r WHERE r.registration_token_id = t.id) AS runners \
         FROM runner_registration_tokens t ORDER BY t.id DESC LIMIT $1 OFFSET $2"
    )
    .bind(page.count)
    .bind(page.start)
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) =
        run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM runner_registration_tokens").fetch_one(x).await)?;
    Ok((rows, total))
}

pub async fn registration_token_id(e: impl Into<Exec<'_>>, token: &str) -> Result<Option<i64>> {
    let row: Option<(i64,)> =
        run!(e, |x| sqlx::query_as("SELECT id FROM runner_registration_tokens WHERE token = $1")
            .bind(token)
            .fetch_optional(x)
            .await)?;
    Ok(row.map(|r| r.0))
}

/// Removes a registration token (its runners go with it, by the foreign key). Whether it existed.
pub async fn delete_registration_token(e: impl Into<Exec<'_>>, id: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM runner_registration_tokens WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The runners registered with a token (to free their jobs before they go).
pub async fn runner_ids_of_token(e: impl Into<Exec<'_>>, token_id: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as("SELECT id FROM runners WHERE registration_token_id = $1")
        .bind(token_id)
        .fetch_all(x)
        .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

// ---- runners ----

const COLUMNS: &str = "id, registration_token_id, name, description, ip, last_contact, created_at, updated_at";

pub async fn insert_runner(
    e: impl Into<Exec<'_>>,
    registration_token_id: i64,
    token_hash: &str,
    name: &str,
    description: Option<&str>,
    ip: &str,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO runners (registration_token_id, token_hash, name, description, ip, last_contact, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING id"
    )
    .bind(registration_token_id)
    .bind(token_hash)
    .bind(name)
    .bind(description)
    .bind(ip)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn runner_by_token_hash(e: impl Into<Exec<'_>>, hash: &str) -> Result<Option<Runner>> {
    let sql = format!("SELECT {COLUMNS} FROM runners WHERE token_hash = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Runner>(&sql).bind(hash).fetch_optional(x).await)?)
}

/// A runner was heard from (at most one write per second per runner: its polls are frequent).
pub async fn touch_runner(e: impl Into<Exec<'_>>, id: i64, ip: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE runners SET last_contact = $2, ip = $3 WHERE id = $1 AND last_contact < $4")
        .bind(id)
        .bind(now)
        .bind(ip)
        .bind(now - 1000)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn runners(e: impl Into<Exec<'_>> + Copy, page: Page) -> Result<(Vec<Runner>, i64)> {
    let sql = format!("SELECT {COLUMNS} FROM runners ORDER BY id DESC LIMIT $1 OFFSET $2");
    let rows = run!(e, |x| sqlx::query_as::<_, Runner>(&sql).bind(page.count).bind(page.start).fetch_all(x).await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM runners").fetch_one(x).await)?;
    Ok((rows, total))
}

pub async fn delete_runner(e: impl Into<Exec<'_>>, id: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM runners WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

// ---- jobs ----

pub struct NewJob<'a> {
    pub uuid: &'a str,
    pub kind: &'a str,
    pub video_id: i64,
    pub payload: &'a str,
    pub private_payload: &'a str,
    pub priority: i64,
}

pub async fn insert_job(e: impl Into<Exec<'_>>, j: &NewJob<'_>, now: i64) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO runner_jobs (uuid, kind, state, video_id, payload, private_payload, priority, created_at, \
         updated_at) VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $7) RETURNING id"
    )
    .bind(j.uuid)
    .bind(j.kind)
    .bind(j.video_id)
    .bind(j.payload)
    .bind(j.private_payload)
    .bind(j.priority)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn job_by_uuid(e: impl Into<Exec<'_>>, uuid: &str) -> Result<Option<Job>> {
    let sql = format!("{SELECT} WHERE j.uuid = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Job>(&sql).bind(uuid).fetch_optional(x).await)?)
}

pub async fn job_by_id(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Job>> {
    let sql = format!("{SELECT} WHERE j.id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Job>(&sql).bind(id).fetch_optional(x).await)?)
}

/// The job `uuid` as its runner holds it: processing, by this runner, under this job token.
pub async fn held_job(e: impl Into<Exec<'_>>, uuid: &str, runner_id: i64, job_token_hash: &str) -> Result<Option<Job>> {
    let sql = format!(
        "{SELECT} WHERE j.uuid = $1 AND j.runner_id = $2 AND j.job_token_hash = $3 \
         AND j.state = 2"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Job>(&sql)
        .bind(uuid)
        .bind(runner_id)
        .bind(job_token_hash)
        .fetch_optional(x)
        .await)?)
}

/// Pending jobs, most urgent first (lower priority first, then oldest).
pub async fn pending(e: impl Into<Exec<'_>>, limit: i64) -> Result<Vec<Job>> {
    let sql = format!("{SELECT} WHERE j.state = 1 ORDER BY j.priority, j.id LIMIT $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Job>(&sql).bind(limit).fetch_all(x).await)?)
}

/// A runner takes a pending job. False when another took it first.
pub async fn accept(e: impl Into<Exec<'_>>, id: i64, runner_id: i64, job_token_hash: &str, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE runner_jobs SET state = 2, runner_id = $2, job_token_hash = $3, progress = NULL, started_at = $4, \
         updated_at = $4 WHERE id = $1 AND state = 1"
    )
    .bind(id)
    .bind(runner_id)
    .bind(job_token_hash)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A runner's progress (or only a sign of life): what keeps its job from being seen as stalled.
pub async fn set_progress(
    e: impl Into<Exec<'_>>,
    id: i64,
    job_token_hash: &str,
    progress: Option<i64>,
    now: i64,
) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE runner_jobs SET progress = COALESCE($3, progress), updated_at = $4 \
         WHERE id = $1 AND job_token_hash = $2 AND state = 2"
    )
    .bind(id)
    .bind(job_token_hash)
    .bind(progress)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A processing job back to pending (aborted, stalled, its runner removed), fenced by its job
/// token. `failed`: counted as a failure, with its message.
pub async fn requeue(
    e: impl Into<Exec<'_>>,
    id: i64,
    job_token_hash: &str,
    failed: Option<&str>,
    now: i64,
) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE runner_jobs SET state = 1, runner_id = NULL, job_token_hash = NULL, progress = NULL, \
         started_at = NULL, failures = failures + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END, \
         error = COALESCE($3, error), updated_at = $4 WHERE id = $1 AND job_token_hash = $2 AND state = 2"
    )
    .bind(id)
    .bind(job_token_hash)
    .bind(failed)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A processing job that failed too often: errored for good.
pub async fn error(e: impl Into<Exec<'_>>, id: i64, job_token_hash: &str, message: &str, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE runner_jobs SET state = 4, failures = failures + 1, error = $3, job_token_hash = NULL, \
         finished_at = $4, updated_at = $4 WHERE id = $1 AND job_token_hash = $2 AND state = 2"
    )
    .bind(id)
    .bind(job_token_hash)
    .bind(message)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A processing job's result accepted (its files are in the result directory).
pub async fn complete(e: impl Into<Exec<'_>>, id: i64, job_token_hash: &str, now: i64) -> Result<bool> {
    let n = run!(e, |x| {
        sqlx::query(
        "UPDATE runner_jobs SET state = 3, progress = 100, job_token_hash = NULL, finished_at = $3, updated_at = $3 \
         WHERE id = $1 AND job_token_hash = $2 AND state = 2"
    )
    .bind(id)
    .bind(job_token_hash)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// An admin cancels a job that is not over. Whether it was.
pub async fn cancel(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE runner_jobs SET state = 6, job_token_hash = NULL, finished_at = $2, updated_at = $2 \
         WHERE id = $1 AND state IN (1, 2)"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn delete_job(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM runner_jobs WHERE id = $1").bind(id).execute(x).await.map(|_| ()))?;
    Ok(())
}

/// Jobs for admins, newest first; `states` empty: all; `search`: in the uuid, kind or runner name.
pub async fn list_jobs(
    e: impl Into<Exec<'_>> + Copy,
    states: &[i64],
    search: Option<&str>,
    page: Page,
) -> Result<(Vec<Job>, i64)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    let push = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    if !states.is_empty() {
        let list = crate::id_list(states);
        clauses.push(format!("j.state IN ({list})"));
    }
    if let Some(s) = search {
        let like: String = s.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).collect();
        let p = push(&mut args, Arg::S(format!("%{like}%")));
        clauses.push(format!("(j.uuid LIKE {p} OR j.kind LIKE {p} OR COALESCE(r.name, '') LIKE {p})"));
    }
    let filter = if clauses.is_empty() { "TRUE".to_string() } else { clauses.join(" AND ") };
    let (count, start) = (page.count, page.start);
    let sql = format!(
        "{SELECT} WHERE {filter} ORDER BY j.id DESC LIMIT {count} OFFSET {start}",
        count = count.clamp(1, 100),
        start = start.max(0)
    );
    let count_sql =
        format!("SELECT COUNT(*) FROM runner_jobs j LEFT JOIN runners r ON r.id = j.runner_id WHERE {filter}");
    let rows = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as::<_, Job>(&sql), &args);
        q.fetch_all(x).await
    })?;
    let (total,): (i64,) = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as(&count_sql), &args);
        q.fetch_one(x).await
    })?;
    Ok((rows, total))
}

/// Processing jobs not heard of since `before`: their runner died, hangs or lost its network.
pub async fn stalled(e: impl Into<Exec<'_>>, before: i64) -> Result<Vec<(i64, String)>> {
    Ok(run!(e, |x| sqlx::query_as(
        "SELECT id, job_token_hash FROM runner_jobs WHERE state = 2 AND updated_at < $1 AND job_token_hash IS NOT NULL"
    )
    .bind(before)
    .fetch_all(x)
    .await)?)
}

/// The jobs a runner holds (processing), with their job tokens.
pub async fn held_by(e: impl Into<Exec<'_>>, runner_id: i64) -> Result<Vec<(i64, String)>> {
    Ok(run!(e, |x| sqlx::query_as(
        "SELECT id, job_token_hash FROM runner_jobs WHERE state = 2 AND runner_id = $1 AND job_token_hash IS NOT NULL"
    )
    .bind(runner_id)
    .fetch_all(x)
    .await)?)
}

/// A video's jobs, oldest first.
pub async fn of_video(e: impl Into<Exec<'_>>, video_id: i64) -> Result<Vec<Job>> {
    let sql = format!("{SELECT} WHERE j.video_id = $1 ORDER BY j.id");
    Ok(run!(e, |x| sqlx::query_as::<_, Job>(&sql).bind(video_id).fetch_all(x).await)?)
}

/// Completed jobs whose result is not in their video yet, finished before `before`: their
/// `runner-results` job was lost or has not run (the periodic sweep queues it again).
pub async fn videos_with_unstored_results(e: impl Into<Exec<'_>>, before: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as(
        "SELECT DISTINCT video_id FROM runner_jobs WHERE state = 3 AND NOT result_stored AND video_id IS NOT NULL \
         AND finished_at < $1"
    )
    .bind(before)
    .fetch_all(x)
    .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub async fn mark_stored(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE runner_jobs SET result_stored = TRUE, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// A completed job whose result was lost before it was stored (its files gone): to be done again.
pub async fn redo(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<bool> {
    let n = run!(e, |x| {
        sqlx::query(
        "UPDATE runner_jobs SET state = 1, runner_id = NULL, progress = NULL, started_at = NULL, finished_at = NULL, \
         updated_at = $2 WHERE id = $1 AND state = 3 AND NOT result_stored"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}
