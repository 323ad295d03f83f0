//! User archives: exports (a zip a job builds, downloaded by its random file name) and imports
//! (an uploaded archive a job reads). PeerTube's states: 1 pending, 2 processing, 3 completed,
//! 4 errored.

use crate::{Exec, Result, run};

pub const PENDING: i64 = 1;
pub const PROCESSING: i64 = 2;
pub const COMPLETED: i64 = 3;
pub const ERRORED: i64 = 4;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Export {
    pub id: i64,
    pub user_id: i64,
    pub state: i64,
    pub with_video_files: bool,
    /// The archive's name under `<data>/user-exports/`: random, it is also the download link's
    /// secret.
    pub filename: String,
    pub size: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// In the object store's private bucket rather than under `<data>/user-exports/`.
    pub stored: bool,
}

/// An export row's columns (`COLUMNS` are an import's).
const SELECT: &str = "SELECT id, user_id, state, with_video_files, filename, size, error, created_at, expires_at, stored \
     FROM user_exports";

pub async fn insert_export(
    e: impl Into<Exec<'_>>,
    user_id: i64,
    with_video_files: bool,
    filename: &str,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO user_exports (user_id, state, with_video_files, filename, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id"
    )
    .bind(user_id)
    .bind(PENDING)
    .bind(with_video_files)
    .bind(filename)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn get_export(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Export>> {
    let sql = format!("{SELECT} WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Export>(&sql).bind(id).fetch_optional(x).await)?)
}

pub async fn export_by_filename(e: impl Into<Exec<'_>>, filename: &str) -> Result<Option<Export>> {
    let sql = format!("{SELECT} WHERE filename = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Export>(&sql).bind(filename).fetch_optional(x).await)?)
}

/// A user's exports, newest first.
pub async fn exports_of(e: impl Into<Exec<'_>>, user_id: i64) -> Result<Vec<Export>> {
    let sql = format!("{SELECT} WHERE user_id = $1 ORDER BY id DESC");
    Ok(run!(e, |x| sqlx::query_as::<_, Export>(&sql).bind(user_id).fetch_all(x).await)?)
}

/// The finished archive is in the object store.
pub async fn set_export_stored(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE user_exports SET stored = TRUE WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_export_state(
    e: impl Into<Exec<'_>>,
    id: i64,
    state: i64,
    size: Option<i64>,
    error: Option<&str>,
    expires_at: Option<i64>,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE user_exports SET state = $2, size = $3, error = $4, expires_at = $5 WHERE id = $1"
    )
    .bind(id)
    .bind(state)
    .bind(size)
    .bind(error)
    .bind(expires_at)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_export(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM user_exports WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Completed exports whose link expired before `now`, and errored ones older than `now`.
pub async fn expired_exports(e: impl Into<Exec<'_>>, now: i64) -> Result<Vec<Export>> {
    let sql = format!("{SELECT} WHERE expires_at IS NOT NULL AND expires_at < $1 ORDER BY id");
    Ok(run!(e, |x| sqlx::query_as::<_, Export>(&sql).bind(now).fetch_all(x).await)?)
}

/// Every export's file name (the files under `user-exports/` nothing else refers to are leftovers).
pub async fn export_filenames(e: impl Into<Exec<'_>>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = run!(e, |x| sqlx::query_as("SELECT filename FROM user_exports").fetch_all(x).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Import {
    pub id: i64,
    pub user_id: i64,
    pub state: i64,
    /// The uploaded archive (in quarantine) until the job is done with it.
    pub path: String,
    pub error: Option<String>,
    /// What was brought in: PeerTube's `resultSummary` as JSON.
    pub summary: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, user_id, state, path, error, summary, created_at, updated_at";

pub async fn insert_import(e: impl Into<Exec<'_>>, user_id: i64, path: &str, now: i64) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO user_imports (user_id, state, path, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id"
    )
    .bind(user_id)
    .bind(PENDING)
    .bind(path)
    .bind(now)
    .fetch_one(x)
    .await
    })?;
    Ok(id)
}

pub async fn get_import(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Import>> {
    let sql = format!("SELECT {COLUMNS} FROM user_imports WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Import>(&sql).bind(id).fetch_optional(x).await)?)
}

pub async fn latest_import(e: impl Into<Exec<'_>>, user_id: i64) -> Result<Option<Import>> {
    let sql = format!("SELECT {COLUMNS} FROM user_imports WHERE user_id = $1 ORDER BY id DESC LIMIT 1");
    Ok(run!(e, |x| sqlx::query_as::<_, Import>(&sql).bind(user_id).fetch_optional(x).await)?)
}

/// Whether the user has an import waiting or running.
pub async fn import_in_progress(e: impl Into<Exec<'_>>, user_id: i64) -> Result<bool> {
    let (n,): (i64,) =
        run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM user_imports WHERE user_id = $1 AND state IN ($2, $3)")
            .bind(user_id)
            .bind(PENDING)
            .bind(PROCESSING)
            .fetch_one(x)
            .await)?;
    Ok(n > 0)
}

pub async fn set_import_state(
    e: impl Into<Exec<'_>>,
    id: i64,
    state: i64,
    error: Option<&str>,
    summary: Option<&str>,
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE user_imports SET state = $2, error = $3, summary = $4, updated_at = $5 WHERE id = $1"
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(summary)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Archives of imports not finished yet (their files are kept by the upload sweep).
pub async fn import_paths(e: impl Into<Exec<'_>>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = run!(e, |x| sqlx::query_as("SELECT path FROM user_imports WHERE state IN ($1, $2)")
        .bind(PENDING)
        .bind(PROCESSING)
        .fetch_all(x)
        .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

// What an export reads: a user's own rows, each list bounded by `limit`.

/// `(video_id, rating, created_at)` of the user's likes and dislikes, oldest first.
pub async fn rates_of(e: impl Into<Exec<'_>>, user_id: i64, limit: i64) -> Result<Vec<(i64, String, i64)>> {
    Ok(run!(e, |x| sqlx::query_as(
        "SELECT video_id, rating, created_at FROM video_rates WHERE user_id = $1 ORDER BY created_at, video_id LIMIT $2"
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(x)
    .await)?)
}

/// `(name, host, created_at)` of the actors `actor_id` follows ('' host: this instance).
pub async fn following_of(e: impl Into<Exec<'_>>, actor_id: i64, limit: i64) -> Result<Vec<(String, String, i64)>> {
    Ok(run!(e, |x| sqlx::query_as(
        "SELECT a.name, a.host, f.created_at FROM follows f JOIN actors a ON a.id = f.target_id \
         WHERE f.follower_id = $1 ORDER BY f.id LIMIT $2"
    )
    .bind(actor_id)
    .bind(limit)
    .fetch_all(x)
    .await)?)
}

/// `(follower name, follower host, followed name, created_at)` of the accepted followers of
/// these actors.
pub async fn followers_of(
    e: impl Into<Exec<'_>>,
    actor_ids: &[i64],
    limit: i64,
) -> Result<Vec<(String, String, String, i64)>> {
    let list = crate::id_list(if actor_ids.is_empty() { &[0] } else { actor_ids });
    let sql = format!(
        "SELECT a.name, a.host, t.name, f.created_at FROM follows f JOIN actors a ON a.id = f.follower_id \
         JOIN actors t ON t.id = f.target_id WHERE f.target_id IN ({list}) AND f.state = 'accepted' \
         ORDER BY f.id LIMIT $1"
    );
    Ok(run!(e, |x| sqlx::query_as(&sql).bind(limit).fetch_all(x).await)?)
}

/// `(id, video_id, in_reply_to, text, created_at)` of an account's comments not deleted.
pub async fn comments_of(
    e: impl Into<Exec<'_>>,
    account_id: i64,
    limit: i64,
) -> Result<Vec<(i64, i64, Option<i64>, String, i64)>> {
    Ok(run!(e, |x| sqlx::query_as(
        "SELECT id, video_id, in_reply_to, text, created_at FROM video_comments \
         WHERE account_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT $2"
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(x)
    .await)?)
}

/// `(video_id, position, updated_at)` of the user's watch history, oldest first.
pub async fn history_of(e: impl Into<Exec<'_>>, user_id: i64, limit: i64) -> Result<Vec<(i64, i64, i64)>> {
    Ok(run!(e, |x| {
        sqlx::query_as(
        "SELECT video_id, position, updated_at FROM video_history WHERE user_id = $1 ORDER BY updated_at, video_id LIMIT $2"
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(x)
    .await
    })?)
}

/// Ids of the videos of these channels, oldest first.
pub async fn video_ids_of_channels(e: impl Into<Exec<'_>>, channel_ids: &[i64], limit: i64) -> Result<Vec<i64>> {
    let list = crate::id_list(if channel_ids.is_empty() { &[0] } else { channel_ids });
    let sql = format!("SELECT id FROM videos WHERE channel_id IN ({list}) ORDER BY id LIMIT $1");
    let rows: Vec<(i64,)> = run!(e, |x| sqlx::query_as(&sql).bind(limit).fetch_all(x).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Ids of a channel's videos with this name and a duration within a second of `duration` (an
/// import run again finds the videos it already brought).
pub async fn same_video_in_channel(e: impl Into<Exec<'_>>, channel_id: i64, name: &str, duration: i64) -> Result<bool> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM videos WHERE channel_id = $1 AND name = $2 AND duration BETWEEN $3 AND $4"
    )
    .bind(channel_id)
    .bind(name)
    .bind(duration - 1)
    .bind(duration + 1)
    .fetch_one(x)
    .await)?;
    Ok(n > 0)
}

/// `(id, name, host)` of these actors ('' host: this instance).
pub async fn actor_names(e: impl Into<Exec<'_>>, actor_ids: &[i64]) -> Result<Vec<(i64, String, String)>> {
    let list = crate::id_list(if actor_ids.is_empty() { &[0] } else { actor_ids });
    let sql = format!("SELECT id, name, host FROM actors WHERE id IN ({list})");
    Ok(run!(e, |x| sqlx::query_as(&sql).fetch_all(x).await)?)
}
