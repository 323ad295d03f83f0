//! Run-time settings as JSON documents under a key (the admin's custom config).

use crate::{Exec, Result, run};

pub async fn get(e: impl Into<Exec<'_>>, key: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(x).await)?;
    Ok(row.map(|r| r.0))
}

pub async fn put(e: impl Into<Exec<'_>>, key: &str, value: &str, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(e: impl Into<Exec<'_>>, key: &str) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM settings WHERE key = $1")
        .bind(key)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
