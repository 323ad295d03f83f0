//! Blocklists (migration 0026): the accounts and servers a user mutes (`user` `Some`) and those
//! the instance blocks for everyone (`user` `None`). A server is a domain as an admin wrote it and
//! covers its subdomains and ports (`example.com` hides `video.example.com:8443`).

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountBlock {
    pub id: i64,
    pub user_id: Option<i64>,
    pub target_actor_id: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ServerBlock {
    pub id: i64,
    pub user_id: Option<i64>,
    pub host: String,
    pub created_at: i64,
}

/// Blocks `target` (an actor) for `user`, or for the instance. `false`: it was already.
pub async fn add_account(e: impl Into<Exec<'_>>, user: Option<i64>, target: i64, now: i64) -> Result<bool> {
    let done = run!(e, |x| {
        sqlx::query(
        "INSERT INTO account_blocks (user_id, target_actor_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    )
    .bind(user)
    .bind(target)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(done > 0)
}

/// `false`: it was not blocked.
pub async fn remove_account(e: impl Into<Exec<'_>>, user: Option<i64>, target: i64) -> Result<bool> {
    let done = run!(e, |x| {
        sqlx::query(
        "DELETE FROM account_blocks WHERE target_actor_id = $2 AND (user_id = $1 OR ($1 IS NULL AND user_id IS NULL))"
    )
    .bind(user)
    .bind(target)
    .execute(x)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(done > 0)
}

/// A page of the accounts blocked in a scope, newest first, and how many there are.
pub async fn list_accounts(
    e: impl Into<Exec<'_>> + Copy,
    user: Option<i64>,
    start: i64,
    count: i64,
) -> Result<(Vec<AccountBlock>, i64)> {
    let rows = run!(e, |x| sqlx::query_as::<_, AccountBlock>(
        "SELECT id, user_id, target_actor_id, created_at FROM account_blocks \
         WHERE user_id = $1 OR ($1 IS NULL AND user_id IS NULL) ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    )
    .bind(user)
    .bind(count)
    .bind(start)
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM account_blocks WHERE user_id = $1 OR ($1 IS NULL AND user_id IS NULL)"
    )
    .bind(user)
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}

/// Blocks the domain `host` for `user`, or for the instance. `false`: it was already.
pub async fn add_server(e: impl Into<Exec<'_>>, user: Option<i64>, host: &str, now: i64) -> Result<bool> {
    let done = run!(e, |x| sqlx::query(
        "INSERT INTO server_blocks (user_id, host, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    )
    .bind(user)
    .bind(host)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// `false`: it was not blocked.
pub async fn remove_server(e: impl Into<Exec<'_>>, user: Option<i64>, host: &str) -> Result<bool> {
    let done = run!(e, |x| sqlx::query(
        "DELETE FROM server_blocks WHERE host = $2 AND (user_id = $1 OR ($1 IS NULL AND user_id IS NULL))"
    )
    .bind(user)
    .bind(host)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// A page of the servers blocked in a scope, newest first, and how many there are.
pub async fn list_servers(
    e: impl Into<Exec<'_>> + Copy,
    user: Option<i64>,
    start: i64,
    count: i64,
) -> Result<(Vec<ServerBlock>, i64)> {
    let rows = run!(e, |x| sqlx::query_as::<_, ServerBlock>(
        "SELECT id, user_id, host, created_at FROM server_blocks \
         WHERE user_id = $1 OR ($1 IS NULL AND user_id IS NULL) ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    )
    .bind(user)
    .bind(count)
    .bind(start)
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM server_blocks WHERE user_id = $1 OR ($1 IS NULL AND user_id IS NULL)"
    )
    .bind(user)
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}

/// Every domain blocked in a scope.
pub async fn domains(e: impl Into<Exec<'_>>, user: Option<i64>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = run!(e, |x| sqlx::query_as(
        "SELECT host FROM server_blocks WHERE user_id = $1 OR ($1 IS NULL AND user_id IS NULL) ORDER BY host"
    )
    .bind(user)
    .fetch_all(x)
    .await)?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// The actors blocked in a scope.
pub async fn actors(e: impl Into<Exec<'_>>, user: Option<i64>) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as(
        "SELECT target_actor_id FROM account_blocks WHERE user_id = $1 OR ($1 IS NULL AND user_id IS NULL)"
    )
    .bind(user)
    .fetch_all(x)
    .await)?;
    Ok(rows.into_iter().map(|(a,)| a).collect())
}

/// The accounts (ids of `accounts`) whose content a scope hides: those blocked, and those of the
/// servers blocked (known ones: a server's accounts are learnt only by fetching from it).
pub async fn hidden_accounts(e: impl Into<Exec<'_>>, user: Option<i64>) -> Result<Vec<i64>> {
    // A domain `b.host` covers the host itself, its subdomains, and both with a port.
    let sql = "SELECT a.id FROM accounts a JOIN actors ac ON ac.id = a.actor_id \
         WHERE a.actor_id IN (SELECT target_actor_id FROM account_blocks WHERE user_id = $1 OR ($1 IS NULL AND user_id IS NULL)) \
         OR (ac.host <> '' AND EXISTS (SELECT 1 FROM server_blocks b \
         WHERE (b.user_id = $1 OR ($1 IS NULL AND b.user_id IS NULL)) \
         AND (ac.host = b.host OR ac.host LIKE ('%.' || b.host) OR ac.host LIKE (b.host || ':%') \
         OR ac.host LIKE ('%.' || b.host || ':%')))) ORDER BY a.id";
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as(sql).bind(user).fetch_all(x).await)?;
    Ok(rows.into_iter().map(|(a,)| a).collect())
}

/// The users who mute anything.
pub async fn muting_users(e: impl Into<Exec<'_>>) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as(
        "SELECT user_id FROM account_blocks WHERE user_id IS NOT NULL \
         UNION SELECT user_id FROM server_blocks WHERE user_id IS NOT NULL"
    )
    .fetch_all(x)
    .await)?;
    Ok(rows.into_iter().map(|(u,)| u).collect())
}

/// Whether a user has anything muted (most have not: their lists need no more than the
/// instance's blocks).
pub async fn has_any(e: impl Into<Exec<'_>> + Copy, user: i64) -> Result<bool> {
    let (n,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM account_blocks WHERE user_id = $1) + (SELECT COUNT(*) FROM server_blocks WHERE user_id = $1)"
    )
    .bind(user)
    .fetch_one(x)
    .await
    })?;
    Ok(n > 0)
}
