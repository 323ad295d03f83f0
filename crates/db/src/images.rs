//! Avatars and banners of actors: one row per stored size, pointing at a file under the data dir.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Image {
    pub id: i64,
    pub actor_id: i64,
    pub kind: String,
    pub filename: String,
    pub width: i64,
    pub height: i64,
    pub created_at: i64,
}

pub async fn insert(
    e: impl Into<Exec<'_>>,
    actor_id: i64,
    kind: &str,
    filename: &str,
    (width, height): (u32, u32),
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO actor_images (actor_id, kind, filename, width, height, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(actor_id)
    .bind(kind)
    .bind(filename)
    .bind(i64::from(width))
    .bind(i64::from(height))
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every image of these actors, smallest first.
pub async fn list_for(e: impl Into<Exec<'_>>, actor_ids: &[i64]) -> Result<Vec<Image>> {
    if actor_ids.is_empty() {
        return Ok(Vec::new());
    }
    let e: Exec<'_> = e.into();
    let (set, ids) = crate::id_set(e.backend(), 1, actor_ids);
    let sql = format!(
        "SELECT id, actor_id, kind, filename, width, height, created_at FROM actor_images \
         WHERE actor_id {set} ORDER BY width, id"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Image>(&sql).bind(&ids).fetch_all(x).await)?)
}

/// Removes the rows of one kind of image of an actor and returns their file names, so the caller
/// can delete the files once the transaction has committed.
pub async fn delete_kind(e: impl Into<Exec<'_>>, actor_id: i64, kind: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        run!(e, |x| sqlx::query_as("DELETE FROM actor_images WHERE actor_id = $1 AND kind = $2 RETURNING filename")
            .bind(actor_id)
            .bind(kind)
            .fetch_all(x)
            .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// File names of every image of these actors (before deleting the actors).
pub async fn filenames_for(e: impl Into<Exec<'_>>, actor_ids: &[i64]) -> Result<Vec<String>> {
    Ok(list_for(e, actor_ids).await?.into_iter().map(|i| i.filename).collect())
}

/// The URL a remote actor's stored image of `kind` was copied from.
pub async fn source_of(e: impl Into<Exec<'_>>, actor_id: i64, kind: &str) -> Result<Option<String>> {
    Ok(run!(e, |x| sqlx::query_scalar::<_, String>(
        "SELECT url FROM remote_image_sources WHERE actor_id = $1 AND kind = $2"
    )
    .bind(actor_id)
    .bind(kind)
    .fetch_optional(x)
    .await)?)
}

pub async fn set_source(e: impl Into<Exec<'_>>, actor_id: i64, kind: &str, url: &str) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO remote_image_sources (actor_id, kind, url) VALUES ($1, $2, $3) \
         ON CONFLICT (actor_id, kind) DO UPDATE SET url = excluded.url"
    )
    .bind(actor_id)
    .bind(kind)
    .bind(url)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Records that `dir/name` is in the object store's images bucket (again: nothing changes).
pub async fn mark_stored(e: impl Into<Exec<'_>>, dir: &str, name: &str) -> Result<()> {
    run!(e, |x| sqlx::query("INSERT INTO stored_images (dir, name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(dir)
        .bind(name)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether `dir/name` is in the images bucket.
pub async fn is_stored(e: impl Into<Exec<'_>>, dir: &str, name: &str) -> Result<bool> {
    let found: i64 =
        run!(e, |x| sqlx::query_scalar("SELECT COUNT(*) FROM stored_images WHERE dir = $1 AND name = $2")
            .bind(dir)
            .bind(name)
            .fetch_one(x)
            .await)?;
    Ok(found > 0)
}

/// Forgets that `dir/name` is in the bucket; whether it was.
pub async fn unmark_stored(e: impl Into<Exec<'_>>, dir: &str, name: &str) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM stored_images WHERE dir = $1 AND name = $2")
        .bind(dir)
        .bind(name)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Stored images after `(dir, name)`, in order, at most `count` (1 to 1000).
pub async fn stored_after(e: impl Into<Exec<'_>>, after: (&str, &str), count: i64) -> Result<Vec<(String, String)>> {
    let count = count.clamp(1, 1000);
    Ok(run!(e, |x| sqlx::query_as(
        "SELECT dir, name FROM stored_images WHERE dir > $1 OR (dir = $1 AND name > $2) ORDER BY dir, name LIMIT $3"
    )
    .bind(after.0)
    .bind(after.1)
    .bind(count)
    .fetch_all(x)
    .await)?)
}
