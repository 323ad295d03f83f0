//! Mirrors of videos (PeerTube's redundancy, migration 0025): other servers' copies of videos we
//! know, announced to us as `CacheFile`s, and the copies we make of other servers' videos; and the
//! followed servers whose videos we may mirror.

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Redundancy {
    pub id: i64,
    pub video_id: i64,
    pub actor_id: i64,
    pub url: String,
    pub base_url: String,
    pub strategy: Option<String>,
    pub size: i64,
    pub ready: bool,
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, video_id, actor_id, url, base_url, strategy, size, ready, expires_at, created_at, updated_at";

/// Another server's copy, announced (or announced again) by `actor_id`: stored, or refreshed when
/// that actor announced it before. A copy of the same video by the same actor under another id
/// replaces the old one. `None`: the id is another actor's.
pub async fn upsert_remote(
    tx: &mut crate::Tx,
    video_id: i64,
    actor_id: i64,
    url: &str,
    base_url: &str,
    expires_at: i64,
    now: i64,
) -> Result<Option<i64>> {
    run!(&mut *tx, |x| sqlx::query(
        "DELETE FROM video_redundancies WHERE video_id = $1 AND actor_id = $2 AND url <> $3"
    )
    .bind(video_id)
    .bind(actor_id)
    .bind(url)
    .execute(x)
    .await
    .map(|_| ()))?;
    let row: Option<(i64,)> = run!(&mut *tx, |x| sqlx::query_as(
        "INSERT INTO video_redundancies (video_id, actor_id, url, base_url, strategy, size, ready, expires_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, NULL, 0, TRUE, $5, $6, $6) \
         ON CONFLICT (url) DO UPDATE SET base_url = excluded.base_url, expires_at = excluded.expires_at, \
         updated_at = excluded.updated_at \
         WHERE video_redundancies.actor_id = excluded.actor_id AND video_redundancies.video_id = excluded.video_id \
         RETURNING id"
    )
    .bind(video_id)
    .bind(actor_id)
    .bind(url)
    .bind(base_url)
    .bind(expires_at)
    .bind(now)
    .fetch_optional(x)
    .await)?;
    Ok(row.map(|(id,)| id))
}

/// Removes the copy `url` if `actor_id` announced it; whether it did.
pub async fn delete_by_url(e: impl Into<Exec<'_>>, url: &str, actor_id: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("DELETE FROM video_redundancies WHERE url = $1 AND actor_id = $2")
        .bind(url)
        .bind(actor_id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Forgets other servers' copies that expired (they did not renew them); ours (`ours`, our
/// instance actor) are ended by their own check, which tells the origin.
pub async fn prune_expired(e: impl Into<Exec<'_>>, ours: i64, now: i64) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query("DELETE FROM video_redundancies WHERE expires_at <= $1 AND actor_id <> $2")
        .bind(now)
        .bind(ours)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?)
}

pub struct NewOwn<'a> {
    pub video_id: i64,
    pub actor_id: i64,
    pub url: &'a str,
    pub base_url: &'a str,
    pub strategy: &'a str,
    pub size: i64,
    pub expires_at: i64,
    pub now: i64,
}

/// A copy we start making (not ready until the files are all here and checked). A video we
/// mirror already is a conflict.
pub async fn insert_own(e: impl Into<Exec<'_>>, r: &NewOwn<'_>) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO video_redundancies (video_id, actor_id, url, base_url, strategy, size, ready, expires_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $8, $8) RETURNING id"
    )
    .bind(r.video_id)
    .bind(r.actor_id)
    .bind(r.url)
    .bind(r.base_url)
    .bind(r.strategy)
    .bind(r.size)
    .bind(r.expires_at)
    .bind(r.now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

/// Our copy is complete: `size` bytes. `false`: it was ended meanwhile (no row).
pub async fn set_ready(e: impl Into<Exec<'_>>, id: i64, size: i64, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE video_redundancies SET ready = TRUE, size = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(size)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Our copy is kept longer.
pub async fn extend(e: impl Into<Exec<'_>>, id: i64, expires_at: i64, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE video_redundancies SET expires_at = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(expires_at)
        .bind(now)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Redundancy>> {
    let sql = format!("SELECT {COLUMNS} FROM video_redundancies WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Redundancy>(&sql).bind(id).fetch_optional(x).await)?)
}

/// `actor_id`'s copy of a video.
pub async fn get_for(e: impl Into<Exec<'_>>, video_id: i64, actor_id: i64) -> Result<Option<Redundancy>> {
    let sql = format!("SELECT {COLUMNS} FROM video_redundancies WHERE video_id = $1 AND actor_id = $2");
    Ok(run!(e, |x| sqlx::query_as::<_, Redundancy>(&sql).bind(video_id).bind(actor_id).fetch_optional(x).await)?)
}

/// Every copy `actor_id` holds (ours: what the periodic check looks after), oldest first.
pub async fn of_actor(e: impl Into<Exec<'_>>, actor_id: i64) -> Result<Vec<Redundancy>> {
    let sql = format!("SELECT {COLUMNS} FROM video_redundancies WHERE actor_id = $1 ORDER BY id");
    Ok(run!(e, |x| sqlx::query_as::<_, Redundancy>(&sql).bind(actor_id).fetch_all(x).await)?)
}

pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("DELETE FROM video_redundancies WHERE id = $1").bind(id).execute(x).await.map(|_| ()))?;
    Ok(())
}

/// A copy with its video, for the admins' lists.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Listed {
    pub id: i64,
    pub base_url: String,
    pub strategy: Option<String>,
    pub size: i64,
    pub ready: bool,
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub video_id: i64,
    pub video_uuid: String,
    pub video_name: String,
    pub video_url: Option<String>,
}

/// `mine`: the copies `ours` made of other servers' videos; otherwise the copies other servers
/// made of our videos. Newest first.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    ours: i64,
    mine: bool,
    start: i64,
    count: i64,
) -> Result<(Vec<Listed>, i64)> {
    let rows: Vec<Listed> = run!(e, |x| sqlx::query_as(
        "SELECT r.id, r.base_url, r.strategy, r.size, r.ready, r.expires_at, r.created_at, r.updated_at, \
         v.id AS video_id, v.uuid AS video_uuid, v.name AS video_name, v.remote_url AS video_url \
         FROM video_redundancies r JOIN videos v ON v.id = r.video_id \
         WHERE (($2 AND r.actor_id = $1) OR (NOT $2 AND r.actor_id <> $1 AND v.remote_url IS NULL)) \
         ORDER BY r.id DESC LIMIT $3 OFFSET $4"
    )
    .bind(ours)
    .bind(mine)
    .bind(count)
    .bind(start)
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM video_redundancies r JOIN videos v ON v.id = r.video_id \
         WHERE (($2 AND r.actor_id = $1) OR (NOT $2 AND r.actor_id <> $1 AND v.remote_url IS NULL))"
    )
    .bind(ours)
    .bind(mine)
    .fetch_one(x)
    .await)?;
    Ok((rows, total))
}

/// Bytes our copies chosen by `strategy` take.
pub async fn used_by(e: impl Into<Exec<'_>>, ours: i64, strategy: &str) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM video_redundancies WHERE actor_id = $1 AND strategy = $2"
    )
    .bind(ours)
    .bind(strategy)
    .fetch_one(x)
    .await
    })?;
    Ok(n)
}

/// Whether `follower` (our instance actor) follows an actor of `host`, accepted (`any_state`:
/// pending too).
async fn follows(e: impl Into<Exec<'_>>, follower: i64, host: &str, any_state: bool) -> Result<bool> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM follows f JOIN actors a ON a.id = f.target_id \
         WHERE f.follower_id = $1 AND a.host = $2 AND ($3 OR f.state = 'accepted')"
    )
    .bind(follower)
    .bind(host)
    .bind(any_state)
    .fetch_one(x)
    .await)?;
    Ok(n > 0)
}

/// Whether `follower` follows a server (an accepted follow of one of its actors).
pub async fn follows_host(e: impl Into<Exec<'_>>, follower: i64, host: &str) -> Result<bool> {
    follows(e, follower, host, false).await
}

/// The same, pending follows included.
pub async fn follows_host_any(e: impl Into<Exec<'_>>, follower: i64, host: &str) -> Result<bool> {
    follows(e, follower, host, true).await
}

/// Whether we may mirror the videos of `host`.
pub async fn host_allowed(e: impl Into<Exec<'_>>, host: &str) -> Result<bool> {
    let row: Option<(bool,)> = run!(e, |x| sqlx::query_as("SELECT allowed FROM redundancy_hosts WHERE host = $1")
        .bind(host)
        .fetch_optional(x)
        .await)?;
    Ok(row.is_some_and(|(a,)| a))
}

/// The servers we may mirror.
pub async fn allowed_hosts(e: impl Into<Exec<'_>>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT host FROM redundancy_hosts WHERE allowed").fetch_all(x).await)?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

pub async fn set_host_allowed(e: impl Into<Exec<'_>>, host: &str, allowed: bool, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO redundancy_hosts (host, allowed, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (host) DO UPDATE SET allowed = excluded.allowed, updated_at = excluded.updated_at"
    )
    .bind(host)
    .bind(allowed)
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Public remote videos of servers we may mirror that we do not mirror yet, best first for a
/// strategy: `most-views` (views), `trending` (views here over the last week, from `since_day`),
/// `recently-added` (newest, with at least `min_views`). At most `limit`.
pub async fn candidates(
    e: impl Into<Exec<'_>>,
    ours: i64,
    strategy: &str,
    min_views: i64,
    since_day: i64,
    limit: i64,
) -> Result<Vec<i64>> {
    // One text per strategy, the same clauses written once (constants, no values in them).
    macro_rules! from {
        () => {
            "FROM videos v JOIN channels c ON c.id = v.channel_id JOIN actors a ON a.id = c.actor_id \
             JOIN redundancy_hosts h ON h.host = a.host AND h.allowed \
             WHERE v.remote_url IS NOT NULL AND v.state = 1 AND v.privacy = 1 \
             AND NOT EXISTS (SELECT 1 FROM video_redundancies r WHERE r.video_id = v.id AND r.actor_id = $1)"
        };
    }
    let rows: Vec<(i64,)> = match strategy {
        "most-views" => {
            run!(e, |x| sqlx::query_as(concat!("SELECT v.id ", from!(), " ORDER BY v.views DESC, v.id DESC LIMIT $2"))
                .bind(ours)
                .bind(limit)
                .fetch_all(x)
                .await)?
        }
        "trending" => run!(e, |x| sqlx::query_as(concat!(
            "SELECT v.id ",
            from!(),
            " ORDER BY (SELECT COALESCE(SUM(d.views), 0) FROM video_views_daily d \
             WHERE d.video_id = v.id AND d.day >= $2) DESC, v.views DESC, v.id DESC LIMIT $3"
        ))
        .bind(ours)
        .bind(since_day)
        .bind(limit)
        .fetch_all(x)
        .await)?,
        _ => run!(e, |x| sqlx::query_as(concat!(
            "SELECT v.id ",
            from!(),
            " AND v.views >= $2 ORDER BY v.published_at DESC, v.id DESC LIMIT $3"
        ))
        .bind(ours)
        .bind(min_views)
        .bind(limit)
        .fetch_all(x)
        .await)?,
    };
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
