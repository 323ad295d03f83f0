//! Video playlists and their elements (migration 0031). Positions stay 1..n without gaps: every
//! write that moves them runs in one transaction that first touches the playlist's row, so two
//! edits of one playlist take turns (PostgreSQL's row lock; SQLite's one writer).

use crate::{Exec, Result, run};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Playlist {
    pub id: i64,
    pub uuid: String,
    pub short_uuid: String,
    pub name: String,
    pub description: Option<String>,
    /// 1 public, 2 unlisted, 3 private.
    pub privacy: i64,
    /// 1 regular, 2 watch later.
    pub kind: i64,
    pub account_id: i64,
    pub channel_id: Option<i64>,
    /// The ActivityPub id of another server's playlist (`None` for ours).
    pub url: Option<String>,
    pub thumbnail: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub fetched_at: i64,
    /// How many elements it has.
    pub videos_length: i64,
    /// The thumbnail of its first video (shown when it has none of its own).
    pub first_thumbnail: Option<String>,
}

impl Playlist {
    pub fn is_local(&self) -> bool {
        self.url.is_none()
    }
}

pub const PUBLIC: i64 = 1;
pub const UNLISTED: i64 = 2;
pub const PRIVATE: i64 = 3;
pub const REGULAR: i64 = 1;
pub const WATCH_LATER: i64 = 2;

const SELECT: &str = "SELECT p.id, p.uuid, p.short_uuid, p.name, p.description, p.privacy, p.kind, p.account_id, \
    p.channel_id, p.url, p.thumbnail, p.created_at, p.updated_at, p.fetched_at, \
    (SELECT COUNT(*) FROM playlist_elements e WHERE e.playlist_id = p.id) AS videos_length, \
    (SELECT v.thumbnail FROM playlist_elements e JOIN videos v ON v.id = e.video_id \
     WHERE e.playlist_id = p.id ORDER BY e.position LIMIT 1) AS first_thumbnail \
    FROM playlists p";

/// A playlist to store.
pub struct NewPlaylist<'a> {
    pub uuid: &'a str,
    pub short_uuid: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub privacy: i64,
    pub kind: i64,
    pub account_id: i64,
    pub channel_id: Option<i64>,
    pub url: Option<&'a str>,
    pub thumbnail: Option<&'a str>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert(e: impl Into<Exec<'_>>, p: &NewPlaylist<'_>) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| sqlx::query_as(
        "INSERT INTO playlists (uuid, short_uuid, name, description, privacy, kind, account_id, channel_id, url, \
         thumbnail, created_at, updated_at, fetched_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id"
    )
    .bind(p.uuid)
    .bind(p.short_uuid)
    .bind(p.name)
    .bind(p.description)
    .bind(p.privacy)
    .bind(p.kind)
    .bind(p.account_id)
    .bind(p.channel_id)
    .bind(p.url)
    .bind(p.thumbnail)
    .bind(p.created_at)
    .bind(p.updated_at)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

/// Makes the account's Watch later playlist if it has none (a no-op otherwise).
pub async fn ensure_watch_later(e: impl Into<Exec<'_>>, p: &NewPlaylist<'_>) -> Result<()> {
    Ok(run!(e, |x| sqlx::query(
        "INSERT INTO playlists (uuid, short_uuid, name, description, privacy, kind, account_id, channel_id, url, \
         thumbnail, created_at, updated_at) \
         VALUES ($1, $2, $3, NULL, 3, 2, $4, NULL, NULL, NULL, $5, $5) ON CONFLICT DO NOTHING"
    )
    .bind(p.uuid)
    .bind(p.short_uuid)
    .bind(p.name)
    .bind(p.account_id)
    .bind(p.created_at)
    .execute(x)
    .await
    .map(|_| ()))?)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Playlist>> {
    let sql = format!("{SELECT} WHERE p.id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Playlist>(&sql).bind(id).fetch_optional(x).await)?)
}

/// By numeric id, UUID or short UUID.
pub async fn get_by_any_id(e: impl Into<Exec<'_>>, key: &str) -> Result<Option<Playlist>> {
    let id = key.parse::<i64>().unwrap_or(-1);
    let sql = format!("{SELECT} WHERE p.id = $1 OR p.uuid = $2 OR p.short_uuid = $2");
    Ok(run!(e, |x| sqlx::query_as::<_, Playlist>(&sql).bind(id).bind(key).fetch_optional(x).await)?)
}

pub async fn get_by_url(e: impl Into<Exec<'_>>, url: &str) -> Result<Option<Playlist>> {
    let sql = format!("{SELECT} WHERE p.url = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Playlist>(&sql).bind(url).fetch_optional(x).await)?)
}

pub async fn watch_later_of(e: impl Into<Exec<'_>>, account: i64) -> Result<Option<Playlist>> {
    let sql = format!("{SELECT} WHERE p.account_id = $1 AND p.kind = 2");
    Ok(run!(e, |x| sqlx::query_as::<_, Playlist>(&sql).bind(account).fetch_optional(x).await)?)
}

/// New metadata; `None` leaves a column as it is (`Some(None)` clears a nullable one).
#[derive(Default)]
pub struct PlaylistPatch<'a> {
    pub name: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub privacy: Option<i64>,
    pub channel_id: Option<Option<i64>>,
    pub thumbnail: Option<Option<&'a str>>,
}

pub async fn update(e: impl Into<Exec<'_>>, id: i64, p: &PlaylistPatch<'_>, now: i64) -> Result<()> {
    Ok(run!(e, |x| sqlx::query(
        "UPDATE playlists SET name = COALESCE($2, name), \
         description = CASE WHEN $3 THEN $4 ELSE description END, privacy = COALESCE($5, privacy), \
         channel_id = CASE WHEN $6 THEN $7 ELSE channel_id END, \
         thumbnail = CASE WHEN $8 THEN $9 ELSE thumbnail END, updated_at = $10 WHERE id = $1"
    )
    .bind(id)
    .bind(p.name)
    .bind(p.description.is_some())
    .bind(p.description.flatten())
    .bind(p.privacy)
    .bind(p.channel_id.is_some())
    .bind(p.channel_id.flatten())
    .bind(p.thumbnail.is_some())
    .bind(p.thumbnail.flatten())
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?)
}

/// Marks a playlist changed (and, in a transaction, takes its row: the edits of one playlist take
/// turns). `false`: it is gone.
pub async fn touch(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("UPDATE playlists SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn set_fetched(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<()> {
    Ok(run!(e, |x| sqlx::query("UPDATE playlists SET fetched_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(x)
        .await
        .map(|_| ()))?)
}

/// Deletes a playlist (its elements go with it): its thumbnail file, if it had one.
pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Option<String>>> {
    Ok(run!(e, |x| sqlx::query_as::<_, (Option<String>,)>("DELETE FROM playlists WHERE id = $1 RETURNING thumbnail")
        .bind(id)
        .fetch_optional(x)
        .await)?
    .map(|(t,)| t))
}

/// Which playlists a list shows.
#[derive(Debug, Default, Clone)]
pub struct PlaylistFilter {
    pub account_id: Option<i64>,
    pub channel_id: Option<i64>,
    /// Public ones only (else every privacy: the owner's own lists).
    pub public_only: bool,
    /// 1 regular, 2 watch later.
    pub kind: Option<i64>,
    /// In the name (case-insensitive).
    pub search: Option<String>,
    /// Ours only.
    pub local_only: bool,
    /// Accounts hidden from this viewer (blocklists).
    pub hide_accounts: Vec<i64>,
}

/// A page of playlists and how many match; `order` is an allow-listed ORDER BY.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    f: &PlaylistFilter,
    order: &str,
    start: i64,
    count: i64,
) -> Result<(Vec<Playlist>, i64)> {
    let like = f.search.as_deref().map(|s| {
        let s: String = s.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).take(100).collect();
        format!("%{}%", s.to_lowercase())
    });
    // Ids start at 1: 0 keeps `NOT IN` well-formed when nobody is hidden.
    let hide = if f.hide_accounts.is_empty() { vec![0] } else { f.hide_accounts.clone() };
    let list = crate::id_list(&hide);
    let filter = format!(
        "($1 < 0 OR p.account_id = $1) AND ($2 < 0 OR p.channel_id = $2) AND ($3 = 0 OR p.privacy = 1) \
         AND ($4 < 0 OR p.kind = $4) AND ($5 IS NULL OR lower(p.name) LIKE $5) AND ($6 = 0 OR p.url IS NULL) \
         AND p.account_id NOT IN ({list})"
    );
    let sql = format!("{SELECT} WHERE {filter} ORDER BY {order}, p.id DESC LIMIT $7 OFFSET $8");
    let flags = (i64::from(f.public_only), i64::from(f.local_only));
    let rows = run!(e, |x| sqlx::query_as::<_, Playlist>(&sql)
        .bind(f.account_id.unwrap_or(-1))
        .bind(f.channel_id.unwrap_or(-1))
        .bind(flags.0)
        .bind(f.kind.unwrap_or(-1))
        .bind(like.as_deref())
        .bind(flags.1)
        .bind(count.clamp(1, 100))
        .bind(start.max(0))
        .fetch_all(x)
        .await)?;
    let count_sql = format!("SELECT COUNT(*) FROM playlists p WHERE {filter}");
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(&count_sql)
        .bind(f.account_id.unwrap_or(-1))
        .bind(f.channel_id.unwrap_or(-1))
        .bind(flags.0)
        .bind(f.kind.unwrap_or(-1))
        .bind(like.as_deref())
        .bind(flags.1)
        .fetch_one(x)
        .await)?;
    Ok((rows, total))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Element {
    pub id: i64,
    pub playlist_id: i64,
    pub video_id: Option<i64>,
    pub position: i64,
    pub start_timestamp: Option<i64>,
    pub stop_timestamp: Option<i64>,
    pub url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, playlist_id, video_id, position, start_timestamp, stop_timestamp, url, created_at, updated_at";

/// A page of a playlist's elements in order, and how many it has.
pub async fn elements(
    e: impl Into<Exec<'_>> + Copy,
    playlist: i64,
    start: i64,
    count: i64,
) -> Result<(Vec<Element>, i64)> {
    let sql =
        format!("SELECT {COLUMNS} FROM playlist_elements WHERE playlist_id = $1 ORDER BY position LIMIT $2 OFFSET $3");
    let rows = run!(e, |x| sqlx::query_as::<_, Element>(&sql)
        .bind(playlist)
        .bind(count.clamp(1, 1000))
        .bind(start.max(0))
        .fetch_all(x)
        .await)?;
    let (total,): (i64,) =
        run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM playlist_elements WHERE playlist_id = $1")
            .bind(playlist)
            .fetch_one(x)
            .await)?;
    Ok((rows, total))
}

/// How many elements a playlist has.
pub async fn count(e: impl Into<Exec<'_>>, playlist: i64) -> Result<i64> {
    let (n,): (i64,) = run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM playlist_elements WHERE playlist_id = $1")
        .bind(playlist)
        .fetch_one(x)
        .await)?;
    Ok(n)
}

/// The playlists of one of our channels.
pub async fn of_channel(e: impl Into<Exec<'_>>, channel: i64) -> Result<Vec<Playlist>> {
    let sql = format!("{SELECT} WHERE p.channel_id = $1 AND p.url IS NULL");
    Ok(run!(e, |x| sqlx::query_as::<_, Playlist>(&sql).bind(channel).fetch_all(x).await)?)
}

pub async fn element(e: impl Into<Exec<'_>>, playlist: i64, id: i64) -> Result<Option<Element>> {
    let sql = format!("SELECT {COLUMNS} FROM playlist_elements WHERE playlist_id = $1 AND id = $2");
    Ok(run!(e, |x| sqlx::query_as::<_, Element>(&sql).bind(playlist).bind(id).fetch_optional(x).await)?)
}

/// Appends a video (the caller touched the playlist first, in `tx`); returns the element's id.
pub async fn append(
    tx: &mut crate::Tx,
    playlist: i64,
    video: i64,
    start: Option<i64>,
    stop: Option<i64>,
    now: i64,
) -> Result<i64> {
    let (id,): (i64,) = run!(&mut *tx, |x| sqlx::query_as(
        "INSERT INTO playlist_elements (playlist_id, video_id, position, start_timestamp, stop_timestamp, \
         created_at, updated_at) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(position), 0) + 1 FROM playlist_elements WHERE playlist_id = $1), \
         $3, $4, $5, $5) RETURNING id"
    )
    .bind(playlist)
    .bind(video)
    .bind(start)
    .bind(stop)
    .bind(now)
    .fetch_one(x)
    .await)?;
    Ok(id)
}

pub async fn set_timestamps(
    e: impl Into<Exec<'_>>,
    playlist: i64,
    id: i64,
    start: Option<i64>,
    stop: Option<i64>,
    now: i64,
) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE playlist_elements SET start_timestamp = $3, stop_timestamp = $4, updated_at = $5 \
         WHERE playlist_id = $1 AND id = $2"
    )
    .bind(playlist)
    .bind(id)
    .bind(start)
    .bind(stop)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Removes an element and closes the gap it leaves. `false`: no such element.
pub async fn remove(tx: &mut crate::Tx, playlist: i64, id: i64) -> Result<bool> {
    let gone = run!(&mut *tx, |x| sqlx::query_as::<_, (i64,)>(
        "DELETE FROM playlist_elements WHERE playlist_id = $1 AND id = $2 RETURNING position"
    )
    .bind(playlist)
    .bind(id)
    .fetch_optional(x)
    .await)?;
    let Some((position,)) = gone else { return Ok(false) };
    run!(&mut *tx, |x| sqlx::query(
        "UPDATE playlist_elements SET position = position - 1 WHERE playlist_id = $1 AND position > $2"
    )
    .bind(playlist)
    .bind(position)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(true)
}

/// The element ids of a playlist in order.
pub async fn order(e: impl Into<Exec<'_>>, playlist: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> =
        run!(e, |x| sqlx::query_as("SELECT id FROM playlist_elements WHERE playlist_id = $1 ORDER BY position, id")
            .bind(playlist)
            .fetch_all(x)
            .await)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Gives each element of `ids` (in order) its position 1..n, writing only those that moved;
/// `old` is the order before.
pub async fn renumber(tx: &mut crate::Tx, playlist: i64, old: &[i64], ids: &[i64], now: i64) -> Result<()> {
    for (i, id) in ids.iter().enumerate() {
        if old.get(i) == Some(id) {
            continue;
        }
        run!(&mut *tx, |x| sqlx::query(
            "UPDATE playlist_elements SET position = $3, updated_at = $4 WHERE playlist_id = $1 AND id = $2"
        )
        .bind(playlist)
        .bind(*id)
        .bind(i as i64 + 1)
        .bind(now)
        .execute(x)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// Replaces every element of a (remote) playlist: `(video, start, stop, element url)` in order.
pub async fn replace_all(
    tx: &mut crate::Tx,
    playlist: i64,
    items: &[(i64, Option<i64>, Option<i64>, String)],
    now: i64,
) -> Result<()> {
    run!(&mut *tx, |x| sqlx::query("DELETE FROM playlist_elements WHERE playlist_id = $1")
        .bind(playlist)
        .execute(x)
        .await
        .map(|_| ()))?;
    for (i, (video, start, stop, url)) in items.iter().enumerate() {
        run!(&mut *tx, |x| sqlx::query(
            "INSERT INTO playlist_elements (playlist_id, video_id, position, start_timestamp, stop_timestamp, url, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
        )
        .bind(playlist)
        .bind(*video)
        .bind(i as i64 + 1)
        .bind(*start)
        .bind(*stop)
        .bind(url)
        .bind(now)
        .execute(x)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// Where videos are in an account's playlists: `(video, element, playlist id, playlist name,
/// playlist short uuid, start, stop)`.
pub type Presence = (i64, i64, i64, String, String, Option<i64>, Option<i64>);

pub async fn videos_exist(e: impl Into<Exec<'_>>, account: i64, videos: &[i64]) -> Result<Vec<Presence>> {
    if videos.is_empty() {
        return Ok(Vec::new());
    }
    // The ids are written into the statement (not bound as one set, as `crate::id_set` does
    // elsewhere): with a set SQLite's planner starts from the account's playlists and reads every
    // element of each, where a written list lets it seek the elements by video.
    let ids = crate::id_list(videos);
    let sql = format!(
        "SELECT e.video_id, e.id, p.id, p.name, p.short_uuid, e.start_timestamp, e.stop_timestamp \
         FROM playlist_elements e JOIN playlists p ON p.id = e.playlist_id \
         WHERE p.account_id = $1 AND e.video_id IN ({ids}) ORDER BY e.video_id, p.id, e.position"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Presence>(&sql).bind(account).fetch_all(x).await)?)
}

/// The public playlists of an account or channel (an actor's `playlists` collection): their URLs'
/// uuids and remote ids, newest first, and how many.
pub async fn public_of(
    e: impl Into<Exec<'_>> + Copy,
    account: Option<i64>,
    channel: Option<i64>,
    start: i64,
    count: i64,
) -> Result<(Vec<String>, i64)> {
    let rows: Vec<(String,)> = run!(e, |x| sqlx::query_as(
        "SELECT uuid FROM playlists WHERE privacy = 1 AND url IS NULL AND channel_id IS NOT NULL \
         AND ($1 < 0 OR account_id = $1) AND ($2 < 0 OR channel_id = $2) ORDER BY id DESC LIMIT $3 OFFSET $4"
    )
    .bind(account.unwrap_or(-1))
    .bind(channel.unwrap_or(-1))
    .bind(count.clamp(1, 100))
    .bind(start.max(0))
    .fetch_all(x)
    .await)?;
    let (total,): (i64,) = run!(e, |x| sqlx::query_as(
        "SELECT COUNT(*) FROM playlists WHERE privacy = 1 AND url IS NULL AND channel_id IS NOT NULL \
         AND ($1 < 0 OR account_id = $1) AND ($2 < 0 OR channel_id = $2)"
    )
    .bind(account.unwrap_or(-1))
    .bind(channel.unwrap_or(-1))
    .fetch_one(x)
    .await)?;
    Ok((rows.into_iter().map(|(u,)| u).collect(), total))
}
