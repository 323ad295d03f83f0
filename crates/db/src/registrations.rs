//! Sign-up requests when the instance requires approval. States are PeerTube's
//! (`UserRegistrationState`): 1 pending, 2 rejected, 3 accepted.

use crate::{Exec, Page, Result, run};

pub const PENDING: i64 = 1;
pub const REJECTED: i64 = 2;
pub const ACCEPTED: i64 = 3;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Registration {
    pub id: i64,
    pub state: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub display_name: Option<String>,
    pub channel_name: Option<String>,
    pub channel_display_name: Option<String>,
    pub reason: String,
    pub moderation_response: Option<String>,
    pub user_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewRegistration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub display_name: Option<&'a str>,
    pub channel_name: Option<&'a str>,
    pub channel_display_name: Option<&'a str>,
    pub reason: &'a str,
    pub now: i64,
}

const COLUMNS: &str = "id, state, username, email, password_hash, display_name, channel_name, channel_display_name, \
    reason, moderation_response, user_id, created_at, updated_at";

pub async fn insert(e: impl Into<Exec<'_>>, r: &NewRegistration<'_>) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO registrations (state, username, email, password_hash, display_name, channel_name, \
         channel_display_name, reason, created_at, updated_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id"
    )
    .bind(r.username)
    .bind(r.email)
    .bind(r.password_hash)
    .bind(r.display_name)
    .bind(r.channel_name)
    .bind(r.channel_display_name)
    .bind(r.reason)
    .bind(r.now)
    .fetch_one(x)
    .await
    })?;
    Ok(id)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Registration>> {
    let sql = format!("SELECT {COLUMNS} FROM registrations WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Registration>(&sql).bind(id).fetch_optional(x).await)?)
}

/// A pending request already holds this username or email.
pub async fn pending_claims(e: impl Into<Exec<'_>>, username: &str, email: &str) -> Result<bool> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM registrations WHERE state = 1 AND (username = $1 OR lower(email) = lower($2))"
    )
    .bind(username)
    .bind(email)
    .fetch_one(x)
    .await)?;
    Ok(n > 0)
}

pub async fn list(e: impl Into<Exec<'_>> + Copy, page: Page) -> Result<(Vec<Registration>, i64)> {
    let sql = format!("SELECT {COLUMNS} FROM registrations ORDER BY id DESC LIMIT $1 OFFSET $2");
    let rows =
        run!(e, |x| sqlx::query_as::<_, Registration>(&sql).bind(page.count).bind(page.start).fetch_all(x).await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM registrations").fetch_one(x).await)?;
    Ok((rows, total))
}

pub async fn set_state(
    e: impl Into<Exec<'_>>,
    id: i64,
    state: i64,
    response: Option<&str>,
    user_id: Option<i64>,
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE registrations SET state = $2, moderation_response = $3, user_id = $4, updated_at = $5 WHERE id = $1"
    )
    .bind(id)
    .bind(state)
    .bind(response)
    .bind(user_id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM registrations WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The newest request made with this username or email, whatever its state.
pub async fn latest_for_login(e: impl Into<Exec<'_>>, login: &str) -> Result<Option<Registration>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM registrations WHERE username = $1 OR lower(email) = lower($1) ORDER BY id DESC LIMIT 1"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Registration>(&sql).bind(login).fetch_optional(x).await)?)
}
