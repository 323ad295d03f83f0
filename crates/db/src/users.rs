//! Local users: login identity, role, quotas, preferences.

use flotilla_domain::UserId;

use crate::{Exec, Page, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: i64,
    pub video_quota: i64,
    pub video_quota_daily: i64,
    pub blocked: bool,
    pub blocked_reason: Option<String>,
    pub email_verified: bool,
    pub nsfw_policy: String,
    pub p2p_enabled: bool,
    pub auto_play_video: bool,
    /// Watched videos and positions are recorded (`video_history`).
    pub videos_history_enabled: bool,
    /// A TOTP secret is confirmed: logins need a code.
    pub two_factor_enabled: bool,
    /// The address they are moving to, until they confirm it.
    pub pending_email: Option<String>,
    /// Registered while the instance required a confirmed address, and not confirmed yet.
    pub email_verification_required: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
}

impl User {
    pub fn user_id(&self) -> UserId {
        UserId(self.id)
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: i64,
    pub video_quota: i64,
    pub video_quota_daily: i64,
    pub email_verified: bool,
    pub nsfw_policy: &'a str,
    pub now: i64,
}

/// Fields a user or an admin may change; `None` leaves the column as it is.
#[derive(Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<i64>,
    pub video_quota: Option<i64>,
    pub video_quota_daily: Option<i64>,
    pub email_verified: Option<bool>,
    pub nsfw_policy: Option<String>,
    pub p2p_enabled: Option<bool>,
    pub auto_play_video: Option<bool>,
    pub videos_history_enabled: Option<bool>,
}

const COLUMNS: &str = "id, username, email, password_hash, role, video_quota, video_quota_daily, blocked, \
    blocked_reason, email_verified, nsfw_policy, p2p_enabled, auto_play_video, videos_history_enabled, \
    otp_secret IS NOT NULL AS two_factor_enabled, pending_email, email_verification_required, created_at, updated_at, last_login_at";

pub async fn insert(e: impl Into<Exec<'_>>, u: &NewUser<'_>) -> Result<UserId> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO users (username, email, password_hash, role, video_quota, video_quota_daily, email_verified, \
         nsfw_policy, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id"
    )
    .bind(u.username)
    .bind(u.email)
    .bind(u.password_hash)
    .bind(u.role)
    .bind(u.video_quota)
    .bind(u.video_quota_daily)
    .bind(u.email_verified)
    .bind(u.nsfw_policy)
    .bind(u.now)
    .fetch_one(x)
    .await)?;
    Ok(UserId(id))
}

pub async fn get(e: impl Into<Exec<'_>>, id: UserId) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, User>(&sql).bind(id.0).fetch_optional(x).await)?)
}

pub async fn get_by_username(e: impl Into<Exec<'_>>, username: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, User>(&sql).bind(username).fetch_optional(x).await)?)
}

/// PeerTube lets users log in with their username or their email address.
pub async fn get_by_username_or_email(e: impl Into<Exec<'_>>, login: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = $1 OR lower(email) = lower($1)");
    Ok(run!(e, |x| sqlx::query_as::<_, User>(&sql).bind(login).fetch_optional(x).await)?)
}

pub async fn email_taken(e: impl Into<Exec<'_>>, email: &str, except: Option<UserId>) -> Result<bool> {
    let (n,): (i64,) =
        run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM users WHERE lower(email) = lower($1) AND id <> $2")
            .bind(email)
            .bind(except.map(|u| u.0).unwrap_or(-1))
            .fetch_one(x)
            .await)?;
    Ok(n > 0)
}

/// Holds the user's row until the transaction ends, so that two transactions checking and using
/// the same user's quota take turns (PostgreSQL; SQLite's transactions take the write lock at
/// their start already).
pub async fn lock(e: impl Into<Exec<'_>>, id: UserId) -> Result<()> {
    let e = e.into();
    if e.backend() == crate::Backend::Postgres {
        run!(e, |x| sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(id.0)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn count(e: impl Into<Exec<'_>>) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(x).await)?;
    Ok(n)
}

/// Users for the admin list: optional substring search over username and email, optional
/// blocked filter. Returns the page and the total.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    page: Page,
    order: &str,
    search: Option<&str>,
    blocked: Option<bool>,
) -> Result<(Vec<User>, i64)> {
    let pattern = search.map(|s| format!("%{}%", s.to_lowercase().replace('%', "\\%").replace('_', "\\_")));
    let filter = "($1 IS NULL OR lower(username) LIKE $1 ESCAPE '\\' OR lower(email) LIKE $1 ESCAPE '\\') \
                  AND ($2 IS NULL OR blocked = $2)";
    let sql = format!("SELECT {COLUMNS} FROM users WHERE {filter} ORDER BY {order}, id LIMIT $3 OFFSET $4");
    let rows = run!(e, |x| sqlx::query_as::<_, User>(&sql)
        .bind(&pattern)
        .bind(blocked)
        .bind(page.count)
        .bind(page.start)
        .fetch_all(x)
        .await)?;
    let count_sql = format!("SELECT COUNT(*) FROM users WHERE {filter}");
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(&count_sql).bind(&pattern).bind(blocked).fetch_one(x).await)?;
    Ok((rows, total))
}

pub async fn update(e: impl Into<Exec<'_>>, id: UserId, p: &UserPatch, now: i64) -> Result<()> {
    let done = run!(e, |x| sqlx::query(
        "UPDATE users SET email = COALESCE($2, email), password_hash = COALESCE($3, password_hash), \
         role = COALESCE($4, role), video_quota = COALESCE($5, video_quota), \
         video_quota_daily = COALESCE($6, video_quota_daily), email_verified = COALESCE($7, email_verified), \
         nsfw_policy = COALESCE($8, nsfw_policy), p2p_enabled = COALESCE($9, p2p_enabled), \
         auto_play_video = COALESCE($10, auto_play_video), updated_at = $11, \
         videos_history_enabled = COALESCE($12, videos_history_enabled) WHERE id = $1"
    )
    .bind(id.0)
    .bind(&p.email)
    .bind(&p.password_hash)
    .bind(p.role)
    .bind(p.video_quota)
    .bind(p.video_quota_daily)
    .bind(p.email_verified)
    .bind(&p.nsfw_policy)
    .bind(p.p2p_enabled)
    .bind(p.auto_play_video)
    .bind(now)
    .bind(p.videos_history_enabled)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 { Err(crate::Error::NotFound) } else { Ok(()) }
}

pub async fn set_blocked(
    e: impl Into<Exec<'_>>,
    id: UserId,
    blocked: bool,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE users SET blocked = $2, blocked_reason = $3, updated_at = $4 WHERE id = $1")
        .bind(id.0)
        .bind(blocked)
        .bind(reason)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn touch_login(e: impl Into<Exec<'_>>, id: UserId, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
        .bind(id.0)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, id: UserId) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM users WHERE id = $1").bind(id.0).execute(x).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// `(all users, active since month_start, active since half_year_start)` by last login, for NodeInfo.
pub async fn activity_counts(
    e: impl Into<Exec<'_>> + Copy,
    month_start: i64,
    half_year_start: i64,
) -> Result<(i64, i64, i64)> {
    let (total, month, half): (i64, i64, i64) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*), \
         COALESCE(SUM(CASE WHEN last_login_at >= $1 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN last_login_at >= $2 THEN 1 ELSE 0 END), 0) FROM users"
    )
    .bind(month_start)
    .bind(half_year_start)
    .fetch_one(x)
    .await)?;
    Ok((total, month, half))
}

/// The ids of the administrators and moderators who are not blocked (who hear of new reports).
pub async fn moderators(e: impl Into<Exec<'_>>) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> =
        run!(e, |x| sqlx::query_as("SELECT id FROM users WHERE role IN (0, 1) AND blocked = FALSE ORDER BY id")
            .fetch_all(x)
            .await)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The user's feed token, if one was made.
pub async fn feed_token(e: impl Into<Exec<'_>>, id: UserId) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        run!(e, |x| sqlx::query_as("SELECT feed_token FROM users WHERE id = $1").bind(id.0).fetch_optional(x).await)?;
    Ok(row.and_then(|(t,)| t))
}

/// Sets the user's feed token (a new one replaces the old: old feed URLs stop working).
pub async fn set_feed_token(e: impl Into<Exec<'_>>, id: UserId, token: &str) -> Result<()> {
    Ok(run!(e, |x| sqlx::query("UPDATE users SET feed_token = $2 WHERE id = $1")
        .bind(id.0)
        .bind(token)
        .execute(x)
        .await
        .map(|_| ()))?)
}

/// The user's confirmed TOTP secret and the last time step a code was taken for.
pub async fn otp(e: impl Into<Exec<'_>>, id: UserId) -> Result<Option<(String, i64)>> {
    let row: Option<(Option<String>, i64)> =
        run!(e, |x| sqlx::query_as("SELECT otp_secret, otp_last_step FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(x)
            .await)?;
    Ok(row.and_then(|(s, step)| s.map(|s| (s, step))))
}

/// Takes time step `step` for the user's code: `false` when it (or a later one) was taken
/// already (a code is good once, even under concurrent logins).
pub async fn take_otp_step(e: impl Into<Exec<'_>>, id: UserId, step: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("UPDATE users SET otp_last_step = $2 WHERE id = $1 AND otp_last_step < $2")
        .bind(id.0)
        .bind(step)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Stores a pending two-factor request (replacing any other).
pub async fn set_otp_request(
    e: impl Into<Exec<'_>>,
    id: UserId,
    secret: &str,
    token: &str,
    expires: i64,
) -> Result<()> {
    Ok(run!(e, |x| sqlx::query(
        "UPDATE users SET otp_pending_secret = $2, otp_pending_token = $3, otp_pending_expires = $4 WHERE id = $1"
    )
    .bind(id.0)
    .bind(secret)
    .bind(token)
    .bind(expires)
    .execute(x)
    .await
    .map(|_| ()))?)
}

/// The pending request: its secret, token and expiry.
pub async fn otp_request(e: impl Into<Exec<'_>>, id: UserId) -> Result<Option<(String, String, i64)>> {
    let row: Option<(Option<String>, Option<String>, Option<i64>)> = run!(e, |x| sqlx::query_as(
        "SELECT otp_pending_secret, otp_pending_token, otp_pending_expires FROM users WHERE id = $1"
    )
    .bind(id.0)
    .fetch_optional(x)
    .await)?;
    Ok(match row {
        Some((Some(s), Some(t), Some(e))) => Some((s, t, e)),
        _ => None,
    })
}

/// Turns two-factor on with `secret` (`step`: the time step of the code that confirmed it), or
/// off (`None`); either way the pending request goes.
pub async fn set_otp(e: impl Into<Exec<'_>>, id: UserId, secret: Option<&str>, step: i64) -> Result<()> {
    Ok(run!(e, |x| sqlx::query(
        "UPDATE users SET otp_secret = $2, otp_last_step = $3, otp_pending_secret = NULL, otp_pending_token = NULL, \
         otp_pending_expires = NULL WHERE id = $1"
    )
    .bind(id.0)
    .bind(secret)
    .bind(step)
    .execute(x)
    .await
    .map(|_| ()))?)
}

/// Stores a one-time link's hash (`kind`: `verify`, `reset`, `email`), replacing the user's
/// earlier ones of that kind.
pub async fn put_token(tx: &mut crate::Tx, id: UserId, kind: &str, hash: &str, expires: i64, now: i64) -> Result<()> {
    run!(&mut *tx, |x| sqlx::query("DELETE FROM user_tokens WHERE user_id = $1 AND kind = $2")
        .bind(id.0)
        .bind(kind)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(run!(&mut *tx, |x| sqlx::query(
        "INSERT INTO user_tokens (user_id, kind, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(id.0)
    .bind(kind)
    .bind(hash)
    .bind(expires)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?)
}

/// Takes (deletes) a live one-time link of the user: `false` when there is none with this hash.
pub async fn take_token(tx: &mut crate::Tx, id: UserId, kind: &str, hash: &str, now: i64) -> Result<bool> {
    let n = run!(&mut *tx, |x| sqlx::query(
        "DELETE FROM user_tokens WHERE user_id = $1 AND kind = $2 AND token_hash = $3 AND expires_at > $4"
    )
    .bind(id.0)
    .bind(kind)
    .bind(hash)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Sets or clears the address a user is moving to.
pub async fn set_pending_email(e: impl Into<Exec<'_>>, id: UserId, email: Option<&str>) -> Result<()> {
    Ok(run!(e, |x| sqlx::query("UPDATE users SET pending_email = $2 WHERE id = $1")
        .bind(id.0)
        .bind(email)
        .execute(x)
        .await
        .map(|_| ()))?)
}

/// The user confirmed an address: `email` (their new one) or the one they have.
pub async fn confirm_email(e: impl Into<Exec<'_>>, id: UserId, email: Option<&str>, now: i64) -> Result<()> {
    Ok(run!(e, |x| {
        sqlx::query(
        "UPDATE users SET email = COALESCE($2, email), pending_email = CASE WHEN $2 IS NULL THEN pending_email ELSE NULL END, \
         email_verified = TRUE, email_verification_required = FALSE, updated_at = $3 WHERE id = $1"
    )
    .bind(id.0)
    .bind(email)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ())
    })?)
}

/// Marks a new user as having to confirm their address before logging in.
pub async fn require_verification(e: impl Into<Exec<'_>>, id: UserId) -> Result<()> {
    Ok(run!(e, |x| sqlx::query("UPDATE users SET email_verification_required = TRUE WHERE id = $1")
        .bind(id.0)
        .execute(x)
        .await
        .map(|_| ()))?)
}

/// Deletes spent one-time links.
pub async fn prune_tokens(e: impl Into<Exec<'_>>, now: i64) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query("DELETE FROM user_tokens WHERE expires_at <= $1")
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?)
}

/// The user moving to `email`, if any.
pub async fn get_by_pending_email(e: impl Into<Exec<'_>>, email: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE lower(pending_email) = lower($1)");
    Ok(run!(e, |x| sqlx::query_as::<_, User>(&sql).bind(email).fetch_optional(x).await)?)
}
