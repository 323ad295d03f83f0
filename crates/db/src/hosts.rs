//! Delivery health of remote hosts: a score and since when a host has been failing, so a host
//! that is gone stops costing us a job per activity (see migration 0008).

use crate::{Exec, Result, run};

pub const BASE_SCORE: i64 = 1000;
const MAX_SCORE: i64 = 10_000;
const STEP: i64 = 10;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Host {
    pub host: String,
    pub score: i64,
    pub failing_since: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// A delivery to `host` succeeded (or it sent us a valid activity): it is alive.
pub async fn succeeded(e: impl Into<Exec<'_>>, host: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO remote_hosts (host, score, failing_since, last_error, updated_at) VALUES ($1, $2, NULL, NULL, $4) \
         ON CONFLICT (host) DO UPDATE SET score = CASE WHEN remote_hosts.score + $3 > $5 THEN $5 \
         ELSE remote_hosts.score + $3 END, failing_since = NULL, updated_at = $4"
    )
    .bind(host)
    .bind(BASE_SCORE + STEP)
    .bind(STEP)
    .bind(now)
    .bind(MAX_SCORE)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A delivery to `host` failed for a reason that may pass (down, timeout, 5xx).
pub async fn failed(e: impl Into<Exec<'_>>, host: &str, error: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO remote_hosts (host, score, failing_since, last_error, updated_at) VALUES ($1, $2, $4, $5, $4) \
         ON CONFLICT (host) DO UPDATE SET score = CASE WHEN remote_hosts.score < $3 THEN 0 \
         ELSE remote_hosts.score - $3 END, failing_since = COALESCE(remote_hosts.failing_since, $4), \
         last_error = $5, updated_at = $4"
    )
    .bind(host)
    .bind(BASE_SCORE - STEP)
    .bind(STEP)
    .bind(now)
    .bind(error)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A host that talked to us is alive again, whatever its deliveries did.
pub async fn revived(e: impl Into<Exec<'_>>, host: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE remote_hosts SET failing_since = NULL, updated_at = $2 WHERE host = $1 AND failing_since IS NOT NULL"
    )
    .bind(host)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn get(e: impl Into<Exec<'_>>, host: &str) -> Result<Option<Host>> {
    Ok(run!(e, |x| sqlx::query_as::<_, Host>(
        "SELECT host, score, failing_since, last_error, updated_at FROM remote_hosts WHERE host = $1"
    )
    .bind(host)
    .fetch_optional(x)
    .await)?)
}

/// Hosts failing since before `cutoff`: dead until they talk to us.
pub async fn dead(e: impl Into<Exec<'_>>, cutoff: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = run!(e, |x| sqlx::query_as(
        "SELECT host FROM remote_hosts WHERE failing_since IS NOT NULL AND failing_since < $1"
    )
    .bind(cutoff)
    .fetch_all(x)
    .await)?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// Every known host with its score (hosts never seen have [`BASE_SCORE`]).
pub async fn scores(e: impl Into<Exec<'_>>) -> Result<Vec<(String, i64)>> {
    Ok(run!(e, |x| sqlx::query_as("SELECT host, score FROM remote_hosts").fetch_all(x).await)?)
}
