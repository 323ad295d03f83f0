//! Editors of shared channels (migration 0036).

use crate::{Exec, Result, run};

pub const INVITED: i64 = 1;
pub const ACCEPTED: i64 = 2;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Collaborator {
    pub id: i64,
    pub channel_id: i64,
    pub account_id: i64,
    pub state: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, channel_id, account_id, state, created_at, updated_at";

/// Invites `account` to `channel`; a second invitation of the same account is a conflict.
pub async fn insert(e: impl Into<Exec<'_>>, channel: i64, account: i64, now: i64) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO channel_collaborators (channel_id, account_id, state, created_at, updated_at) \
         VALUES ($1, $2, 1, $3, $3) RETURNING id"
    )
    .bind(channel)
    .bind(account)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn get(e: impl Into<Exec<'_>>, channel: i64, id: i64) -> Result<Option<Collaborator>> {
    let sql = format!("SELECT {COLUMNS} FROM channel_collaborators WHERE channel_id = $1 AND id = $2");
    Ok(run!(e, |x| sqlx::query_as::<_, Collaborator>(&sql).bind(channel).bind(id).fetch_optional(x).await)?)
}

/// A channel's editors and invitations, oldest first.
pub async fn of_channel(e: impl Into<Exec<'_>>, channel: i64) -> Result<Vec<Collaborator>> {
    let sql = format!("SELECT {COLUMNS} FROM channel_collaborators WHERE channel_id = $1 ORDER BY id");
    Ok(run!(e, |x| sqlx::query_as::<_, Collaborator>(&sql).bind(channel).fetch_all(x).await)?)
}

/// An account's editorships in `state`, newest first.
pub async fn of_account(e: impl Into<Exec<'_>>, account: i64, state: i64) -> Result<Vec<Collaborator>> {
    let sql =
        format!("SELECT {COLUMNS} FROM channel_collaborators WHERE account_id = $1 AND state = $2 ORDER BY id DESC");
    Ok(run!(e, |x| sqlx::query_as::<_, Collaborator>(&sql).bind(account).bind(state).fetch_all(x).await)?)
}

/// Accepts an invitation. `false`: it was not one (gone, or accepted already).
pub async fn accept(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE channel_collaborators SET state = 2, updated_at = $2 WHERE id = $1 AND state = 1"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM channel_collaborators WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Whether `user` edits `channel` (an accepted invitation).
pub async fn edits(e: impl Into<Exec<'_>>, user: i64, channel: i64) -> Result<bool> {
    let row: Option<(i64,)> = run!(e, |x| sqlx::query_as(
        "SELECT cc.id FROM channel_collaborators cc JOIN accounts a ON a.id = cc.account_id \
         WHERE a.user_id = $1 AND cc.channel_id = $2 AND cc.state = 2"
    )
    .bind(user)
    .bind(channel)
    .fetch_optional(x)
    .await)?;
    Ok(row.is_some())
}
