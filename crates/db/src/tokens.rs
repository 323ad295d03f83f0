//! The local OAuth client and the users' tokens (stored as SHA-256 hashes).

use flotilla_domain::UserId;

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Token {
    pub id: i64,
    pub user_id: i64,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
    /// The login this pair descends from (by refreshes); `None` for pairs older than families.
    pub family: Option<String>,
    /// When the pair was refreshed (its refresh token used); `None` while it is the current one.
    pub rotated_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, access_expires_at, refresh_expires_at, family, rotated_at";

/// The one local client `(client_id, client_secret)`, created on first use.
pub async fn local_client(
    e: impl Into<Exec<'_>> + Copy,
    make: impl FnOnce() -> (String, String),
    now: i64,
) -> Result<(String, String)> {
    let existing: Option<(String, String)> =
        run!(e, |x| sqlx::query_as("SELECT client_id, client_secret FROM oauth_clients ORDER BY id LIMIT 1")
            .fetch_optional(x)
            .await)?;
    if let Some(c) = existing {
        return Ok(c);
    }
    let (id, secret) = make();
    run!(e, |x| sqlx::query("INSERT INTO oauth_clients (client_id, client_secret, created_at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(&secret)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok((id, secret))
}

/// A new pair of `family` (a login's random id, kept by its refreshes).
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn insert(
    e: impl Into<Exec<'_>>,
    user: UserId,
    access_hash: &str,
    refresh_hash: &str,
    access_expires_at: i64,
    refresh_expires_at: i64,
    family: &str,
    now: i64,
) -> Result<()> {
    run!(e, |x| {
        sqlx::query(
        "INSERT INTO oauth_tokens (user_id, access_hash, refresh_hash, access_expires_at, refresh_expires_at, family, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(user.0)
    .bind(access_hash)
    .bind(refresh_hash)
    .bind(access_expires_at)
    .bind(refresh_expires_at)
    .bind(family)
    .bind(now)
    .execute(x).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get_by_access(e: impl Into<Exec<'_>>, access_hash: &str) -> Result<Option<Token>> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_tokens WHERE access_hash = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Token>(&sql).bind(access_hash).fetch_optional(x).await)?)
}

pub async fn get_by_refresh(e: impl Into<Exec<'_>>, refresh_hash: &str) -> Result<Option<Token>> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_tokens WHERE refresh_hash = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Token>(&sql).bind(refresh_hash).fetch_optional(x).await)?)
}

pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<bool> {
    let r = run!(e, |x| sqlx::query("DELETE FROM oauth_tokens WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r > 0)
}

/// Ends a pair's access token and marks it refreshed at `now` (the first time only: a replay
/// within the grace period does not move it). False when the pair is gone.
pub async fn retire(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<bool> {
    let r = run!(e, |x| sqlx::query(
        "UPDATE oauth_tokens SET access_expires_at = 0, rotated_at = COALESCE(rotated_at, $2) WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r > 0)
}

/// Ends every pair descended from one login.
pub async fn delete_family(e: impl Into<Exec<'_>>, family: &str) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query("DELETE FROM oauth_tokens WHERE family = $1")
        .bind(family)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Ends every session of `user` but the one of the pair `keep` (its login's family).
pub async fn delete_for_user_except(e: impl Into<Exec<'_>>, user: UserId, keep: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM oauth_tokens WHERE user_id = $1 AND id <> $2")
        .bind(user.0)
        .bind(keep)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_for_user(e: impl Into<Exec<'_>>, user: UserId) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM oauth_tokens WHERE user_id = $1")
        .bind(user.0)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Drops tokens whose refresh token has expired too; nothing can use them any more.
pub async fn delete_expired(e: impl Into<Exec<'_>>, now: i64) -> Result<u64> {
    let r = run!(e, |x| sqlx::query("DELETE FROM oauth_tokens WHERE refresh_expires_at < $1")
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r)
}
