//! Notifications (what concerns a user) and each user's notification settings.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub user_id: i64,
    pub kind: i64,
    pub subject: String,
    pub payload: String,
    pub is_read: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, user_id, type AS kind, subject, payload, is_read, created_at, updated_at";

/// Adds a notification unless the user has one of this type about this subject already; its id
/// when added.
pub async fn insert(
    e: impl Into<Exec<'_>>,
    user_id: i64,
    kind: i64,
    subject: &str,
    payload: &str,
    now: i64,
) -> Result<Option<i64>> {
    let row: Option<(i64,)> = run!(e, |x| sqlx::query_as(
        "INSERT INTO notifications (user_id, type, subject, payload, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (user_id, type, subject) DO NOTHING RETURNING id"
    )
    .bind(user_id)
    .bind(kind)
    .bind(subject)
    .bind(payload)
    .bind(now)
    .fetch_optional(x)
    .await)?;
    Ok(row.map(|(id,)| id))
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Notification>> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Notification>(&sql).bind(id).fetch_optional(x).await)?)
}

/// A page of a user's notifications (`unread_only`: those not read), newest first unless
/// `oldest_first`, and how many there are.
pub async fn list(
    e: impl Into<Exec<'_>>,
    user_id: i64,
    unread_only: bool,
    oldest_first: bool,
    start: i64,
    count: i64,
) -> Result<(Vec<Notification>, i64)> {
    let mut x: Exec<'_> = e.into();
    let sql = if oldest_first {
        format!(
            "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND (NOT $2 OR is_read = FALSE) \
             ORDER BY created_at, id LIMIT $3 OFFSET $4"
        )
    } else {
        format!(
            "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND (NOT $2 OR is_read = FALSE) \
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        )
    };
    let rows = run!(&mut x, |x| sqlx::query_as::<_, Notification>(&sql)
        .bind(user_id)
        .bind(unread_only)
        .bind(count)
        .bind(start)
        .fetch_all(x)
        .await)?;
    let (total,): (i64,) = run!(&mut x, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND (NOT $2 OR is_read = FALSE)"
    )
    .bind(user_id)
    .bind(unread_only)
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}

/// Marks some of a user's notifications read (ids of others' are ignored); how many changed.
pub async fn mark_read(e: impl Into<Exec<'_>>, user_id: i64, ids: &[i64], now: i64) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = crate::id_list(ids);
    let sql = format!(
        "UPDATE notifications SET is_read = TRUE, updated_at = $2 WHERE user_id = $1 AND is_read = FALSE \
         AND id IN ({list})"
    );
    Ok(run!(e, |x| sqlx::query(&sql).bind(user_id).bind(now).execute(x).await.map(|r| r.rows_affected()))?)
}

/// Marks all of a user's notifications read.
pub async fn mark_all_read(e: impl Into<Exec<'_>>, user_id: i64, now: i64) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query(
        "UPDATE notifications SET is_read = TRUE, updated_at = $2 WHERE user_id = $1 AND is_read = FALSE"
    )
    .bind(user_id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A user's stored settings (JSON), if they changed any.
pub async fn settings(e: impl Into<Exec<'_>>, user_id: i64) -> Result<Option<String>> {
    let row: Option<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT settings FROM notification_settings WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(x)
            .await)?;
    Ok(row.map(|(s,)| s))
}

pub async fn set_settings(e: impl Into<Exec<'_>>, user_id: i64, settings: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO notification_settings (user_id, settings, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at"
    )
    .bind(user_id)
    .bind(settings)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}
