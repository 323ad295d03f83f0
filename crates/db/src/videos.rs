//! Videos, their tags and their HLS renditions (`video_files`).

use flotilla_domain::ChannelId;

use crate::{Arg, Backend, Exec, Result, run};

/// A video's row. Read by column position, not name ([`video_columns!`]).
#[derive(Clone, Debug)]
pub struct Video {
    pub id: i64,
    pub uuid: String,
    pub short_uuid: String,
    pub channel_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub support: Option<String>,
    pub privacy: i64,
    pub state: i64,
    pub category: Option<i64>,
    pub licence: Option<i64>,
    pub language: Option<String>,
    pub nsfw: bool,
    pub comments_enabled: bool,
    /// Comments by others wait for the owner's approval (PeerTube's `commentsPolicy` 3).
    pub comments_held: bool,
    pub download_enabled: bool,
    pub wait_transcoding: bool,
    pub duration: i64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    pub has_audio: bool,
    pub has_video: bool,
    pub input_size: i64,
    pub input_path: Option<String>,
    pub transcode_progress: Option<i64>,
    pub error: Option<String>,
    pub master_playlist: Option<String>,
    pub segments_sha256: Option<String>,
    pub thumbnail: Option<String>,
    pub preview: Option<String>,
    pub views: i64,
    pub likes: i64,
    pub dislikes: i64,
    /// Comments not deleted nor held, and threads not held (tombstones included): what everyone
    /// sees, kept by the comment writes (`comments::recount`).
    pub comments_count: i64,
    pub comment_threads: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
    pub originally_published_at: Option<i64>,
    /// The ActivityPub id of a video of another instance (`None` for ours).
    pub remote_url: Option<String>,
    pub remote_data: Option<String>,
    /// Held back by moderators (`video_blocks`): 0 no, 1 hidden here, 2 hidden and not federated.
    pub blocked: i64,
    /// What a sensitive video shows (1 violence, 2 explicit sex) and a few words about it.
    pub nsfw_flags: i64,
    pub nsfw_summary: Option<String>,
    /// Made to be streamed (`lives`): its state tells whether it streams now.
    pub is_live: bool,
    /// Where its files are: [`STORAGE_FILE_SYSTEM`], [`STORAGE_OBJECT`], [`STORAGE_OBJECT_PRIVATE`].
    pub storage: i64,
}

pub const STORAGE_FILE_SYSTEM: i64 = 0;
/// The object store's public buckets (one per kind of file).
pub const STORAGE_OBJECT: i64 = 1;
/// The object store's private bucket (videos that are not public).
pub const STORAGE_OBJECT_PRIVATE: i64 = 2;

impl Video {
    pub fn is_local(&self) -> bool {
        self.remote_url.is_none()
    }
}

/// The columns of [`Video`], in the order its fields are read: `COLUMNS` for a query of `videos`
/// alone, `V_COLUMNS` for one where the table is `v`, and the rows read by position. Reading a
/// column by name costs a hash of the name in the statement's column map (`sqlx`'s `try_get` with
/// a `&str`): 47 a row, 1,175 a page of 25, several percent of a list's CPU time (issue 19's
/// profile). One list makes the three, so they cannot disagree; in debug builds (the tests) every
/// row's column names are checked against it.
macro_rules! video_columns {
    ($first:ident $(, $field:ident)* $(,)?) => {
        const COLUMNS: &str = concat!(stringify!($first) $(, ", ", stringify!($field))*);
        const V_COLUMNS: &str = concat!("v.", stringify!($first) $(, ", v.", stringify!($field))*);

        fn read_video<'r, R: sqlx::Row>(row: &'r R) -> sqlx::Result<Video>
        where
            usize: sqlx::ColumnIndex<R>,
            String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            #[cfg(debug_assertions)]
            {
                use sqlx::Column;
                let names = row.columns().iter().map(|c| c.name());
                assert!(
                    names.clone().take(COLUMNS.split(", ").count()).eq(COLUMNS.split(", ")),
                    "a Video read from other columns: {:?}",
                    names.collect::<Vec<_>>()
                );
            }
            // Fields are initialized in the order written: the list's.
            let mut at = 0usize;
            let mut next = || {
                at += 1;
                at - 1
            };
            Ok(Video {
                $first: row.try_get(next())?,
                $($field: row.try_get(next())?,)*
            })
        }
    };
}

video_columns!(
    id,
    uuid,
    short_uuid,
    channel_id,
    name,
    description,
    support,
    privacy,
    state,
    category,
    licence,
    language,
    nsfw,
    comments_enabled,
    comments_held,
    download_enabled,
    wait_transcoding,
    duration,
    width,
    height,
    fps,
    has_audio,
    has_video,
    input_size,
    input_path,
    transcode_progress,
    error,
    master_playlist,
    segments_sha256,
    thumbnail,
    preview,
    views,
    likes,
    dislikes,
    comments_count,
    comment_threads,
    created_at,
    updated_at,
    published_at,
    originally_published_at,
    remote_url,
    remote_data,
    blocked,
    nsfw_flags,
    nsfw_summary,
    is_live,
    storage,
);

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for Video {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Video> {
        read_video(row)
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Video {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Video> {
        read_video(row)
    }
}

pub struct NewVideo<'a> {
    pub uuid: &'a str,
    pub short_uuid: &'a str,
    pub channel: ChannelId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub support: Option<&'a str>,
    pub privacy: i64,
    pub state: i64,
    pub category: Option<i64>,
    pub licence: Option<i64>,
    pub language: Option<&'a str>,
    pub nsfw: bool,
    pub comments_enabled: bool,
    pub comments_held: bool,
    pub download_enabled: bool,
    pub wait_transcoding: bool,
    pub duration: i64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    pub has_audio: bool,
    pub has_video: bool,
    pub input_size: i64,
    /// The upload in quarantine; `None` for an import not downloaded yet.
    pub input_path: Option<&'a str>,
    pub probe: &'a str,
    pub now: i64,
}

pub async fn insert(e: impl Into<Exec<'_>>, v: &NewVideo<'_>) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO videos (uuid, short_uuid, channel_id, name, description, support, privacy, state, category, \
         licence, language, nsfw, comments_enabled, download_enabled, wait_transcoding, duration, width, height, fps, \
         has_audio, has_video, input_size, input_path, probe, transcode_progress, created_at, updated_at, comments_held) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23, $24, 0, $25, $25, $26) RETURNING id"
    )
    .bind(v.uuid)
    .bind(v.short_uuid)
    .bind(v.channel.0)
    .bind(v.name)
    .bind(v.description)
    .bind(v.support)
    .bind(v.privacy)
    .bind(v.state)
    .bind(v.category)
    .bind(v.licence)
    .bind(v.language)
    .bind(v.nsfw)
    .bind(v.comments_enabled)
    .bind(v.download_enabled)
    .bind(v.wait_transcoding)
    .bind(v.duration)
    .bind(v.width)
    .bind(v.height)
    .bind(v.fps)
    .bind(v.has_audio)
    .bind(v.has_video)
    .bind(v.input_size)
    .bind(v.input_path)
    .bind(v.probe)
    .bind(v.now)
    .bind(v.comments_held)
    .fetch_one(x)
    .await
    })?;
    Ok(id)
}

pub async fn get(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<Video>> {
    let sql = format!("SELECT {COLUMNS} FROM videos WHERE id = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Video>(&sql).bind(id).fetch_optional(x).await)?)
}

/// Several videos by id (in no particular order; missing ones are left out).
pub async fn get_many(e: impl Into<Exec<'_>>, ids: &[i64]) -> Result<Vec<Video>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let e: Exec<'_> = e.into();
    let (set, ids) = crate::id_set(e.backend(), 1, ids);
    let sql = format!("SELECT {COLUMNS} FROM videos WHERE id {set}");
    Ok(run!(e, |x| sqlx::query_as::<_, Video>(&sql).bind(&ids).fetch_all(x).await)?)
}

/// By numeric id, UUID or short UUID, as PeerTube's API accepts.
pub async fn get_by_any_id(e: impl Into<Exec<'_>>, key: &str) -> Result<Option<Video>> {
    let numeric = key.parse::<i64>().ok().filter(|_| key.len() < 19);
    let sql = format!("SELECT {COLUMNS} FROM videos WHERE id = $1 OR uuid = $2 OR short_uuid = $2");
    Ok(run!(e, |x| sqlx::query_as::<_, Video>(&sql).bind(numeric.unwrap_or(-1)).bind(key).fetch_optional(x).await)?)
}

pub async fn get_by_uuid(e: impl Into<Exec<'_>>, uuid: &str) -> Result<Option<Video>> {
    let sql = format!("SELECT {COLUMNS} FROM videos WHERE uuid = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Video>(&sql).bind(uuid).fetch_optional(x).await)?)
}

/// A live that ended becomes its own replay: no longer a live, with the replay's privacy, waiting
/// for its transcoding.
pub async fn become_replay(e: impl Into<Exec<'_>>, video: i64, privacy: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET is_live = FALSE, privacy = $2, wait_transcoding = TRUE, master_playlist = NULL, \
         segments_sha256 = NULL WHERE id = $1"
    )
    .bind(video)
    .bind(privacy)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Marks a new video as a live (`lives`).
pub async fn set_is_live(e: impl Into<Exec<'_>>, video: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET is_live = TRUE WHERE id = $1")
        .bind(video)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// A live's state as its sessions start and end: published with its live playlists (`playlists`:
/// master and segment hashes) while it streams, and the first time it does its publication date;
/// waiting or ended, without them, after.
pub async fn set_live_state(
    e: impl Into<Exec<'_>>,
    video: i64,
    state: i64,
    playlists: Option<(&str, &str)>,
    now: i64,
) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET state = $2, master_playlist = $3, segments_sha256 = $4, updated_at = $5, \
         published_at = CASE WHEN $2 = 1 THEN COALESCE(published_at, $5) ELSE published_at END \
         WHERE id = $1 AND is_live = TRUE"
    )
    .bind(video)
    .bind(state)
    .bind(playlists.map(|p| p.0))
    .bind(playlists.map(|p| p.1))
    .bind(now)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn set_tags(e: impl Into<Exec<'_>>, video: i64, tags: &[String]) -> Result<()> {
    let mut e = e.into();
    run!(&mut e, |x| sqlx::query("DELETE FROM video_tags WHERE video_id = $1")
        .bind(video)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    for t in tags {
        run!(&mut e, |x| sqlx::query("INSERT INTO video_tags (video_id, tag) VALUES ($1, $2)")
            .bind(video)
            .bind(t)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn tags(e: impl Into<Exec<'_>>, video: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT tag FROM video_tags WHERE video_id = $1 ORDER BY tag")
            .bind(video)
            .fetch_all(x)
            .await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// What a watch page shows of a video beyond its row, its owners and its files
/// ([`watch_extras`]).
#[derive(Debug, Default, PartialEq)]
pub struct WatchExtras {
    /// Its tags, in order.
    pub tags: Vec<String>,
    /// The P2P info hashes of its renditions, in their order.
    pub infohashes: Vec<String>,
    /// Other servers' ready copies, oldest first (20 at most): their base URLs.
    pub mirrors: Vec<String>,
    /// The accepted followers of its channel's actor `channel_actor`.
    pub followers: i64,
}

/// [`WatchExtras`] in one query (rows of four kinds made one list by `UNION ALL`): on PostgreSQL
/// each query is a round trip to another process, and these four were a third of a watch page's.
pub async fn watch_extras(e: impl Into<Exec<'_>>, video: i64, channel_actor: i64, now: i64) -> Result<WatchExtras> {
    let sql = "SELECT CAST(0 AS BIGINT) AS kind, tag AS text, CAST(0 AS BIGINT) AS n FROM video_tags WHERE video_id = $1 \
               UNION ALL SELECT 1, info_hash, position FROM video_infohashes WHERE video_id = $1 \
               UNION ALL SELECT 2, base_url, id FROM (SELECT base_url, id FROM video_redundancies \
                   WHERE video_id = $1 AND ready AND expires_at > $3 ORDER BY id LIMIT 20) r \
               UNION ALL SELECT 3, '', COUNT(*) FROM follows WHERE target_id = $2 AND state = 'accepted' \
               ORDER BY kind, n, text";
    let rows: Vec<(i64, String, i64)> =
        run!(e, |x| sqlx::query_as(sql).bind(video).bind(channel_actor).bind(now).fetch_all(x).await)?;
    let mut out = WatchExtras::default();
    for (kind, text, n) in rows {
        match kind {
            0 => out.tags.push(text),
            1 => out.infohashes.push(text),
            2 => out.mirrors.push(text),
            _ => out.followers = n,
        }
    }
    Ok(out)
}

/// Bytes of uploads counted against a user's quota, in total and since `since`.
pub async fn quota_used(e: impl Into<Exec<'_>>, user_id: i64, since: i64) -> Result<(i64, i64)> {
    let sql = "SELECT CAST(COALESCE(SUM(v.input_size), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN v.created_at >= $2 THEN v.input_size ELSE 0 END), 0) AS BIGINT) \
               FROM videos v JOIN channels c ON c.id = v.channel_id JOIN accounts a ON a.id = c.account_id \
               WHERE a.user_id = $1";
    Ok(run!(e, |x| sqlx::query_as(sql).bind(user_id).bind(since).fetch_one(x).await)?)
}

pub async fn set_state(e: impl Into<Exec<'_>>, id: i64, state: i64, error: Option<&str>, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET state = $2, error = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(error)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// What an imported file brings to its video (made before the download, state "to import").
pub struct ImportedInput<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub duration: i64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    pub has_audio: bool,
    pub has_video: bool,
    pub input_size: i64,
    pub input_path: &'a str,
    pub probe: &'a str,
    pub state: i64,
    pub now: i64,
}

/// Gives a video its imported file and what was read from it (`name`/`description`: `None` keeps).
pub async fn set_imported(e: impl Into<Exec<'_>>, id: i64, i: &ImportedInput<'_>) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET name = COALESCE($2, name), description = COALESCE($3, description), duration = $4, \
         width = $5, height = $6, fps = $7, has_audio = $8, has_video = $9, input_size = $10, input_path = $11, \
         probe = $12, state = $13, error = NULL, transcode_progress = 0, updated_at = $14 WHERE id = $1"
    )
    .bind(id)
    .bind(i.name)
    .bind(i.description)
    .bind(i.duration)
    .bind(i.width)
    .bind(i.height)
    .bind(i.fps)
    .bind(i.has_audio)
    .bind(i.has_video)
    .bind(i.input_size)
    .bind(i.input_path)
    .bind(i.probe)
    .bind(i.state)
    .bind(i.now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_progress(e: impl Into<Exec<'_>>, id: i64, percent: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET transcode_progress = $2 WHERE id = $1")
        .bind(id)
        .bind(percent)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Points the video at a new master playlist and hash file; publishes it the first time
/// (`published_at` is kept on later calls).
pub async fn set_playlists(
    e: impl Into<Exec<'_>>,
    id: i64,
    master: &str,
    sha: &str,
    publish: bool,
    now: i64,
) -> Result<()> {
    run!(e, |x| {
        sqlx::query(
        "UPDATE videos SET master_playlist = $2, segments_sha256 = $3, \
         state = CASE WHEN $4 THEN 1 ELSE state END, error = CASE WHEN $4 THEN NULL ELSE error END, \
         published_at = CASE WHEN $4 AND published_at IS NULL THEN $5 ELSE published_at END, updated_at = $5 WHERE id = $1"
    )
    .bind(id)
    .bind(master)
    .bind(sha)
    .bind(publish)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Sets generated images where the video has none yet (an owner's own image wins); returns
/// whether each was used.
pub async fn set_images(e: impl Into<Exec<'_>>, id: i64, thumbnail: &str, preview: &str) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET thumbnail = COALESCE(thumbnail, $2), preview = COALESCE(preview, $3) WHERE id = $1"
    )
    .bind(id)
    .bind(thumbnail)
    .bind(preview)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Published local videos, public or unlisted (NodeInfo's `localPosts`).
pub async fn count_published_local(e: impl Into<Exec<'_>>) -> Result<i64> {
    let (n,): (i64,) =
        run!(e, |x| sqlx::query_as("SELECT COUNT(*) FROM videos WHERE state = 1 AND privacy IN (1, 2)")
            .fetch_one(x)
            .await)?;
    Ok(n)
}

/// Counts `n` views of a video at `now` (its total and its day's); `pending`: they are views of
/// another server's video, to be told to it (`pending_views`).
pub async fn add_views(tx: &mut crate::Tx, id: i64, n: i64, now: i64, pending: bool) -> Result<()> {
    let day = now.div_euclid(86_400_000);
    run!(&mut *tx, |x| sqlx::query(
        "UPDATE videos SET views = views + $2, recent_views = recent_views + $2 WHERE id = $1"
    )
    .bind(id)
    .bind(n)
    .execute(x)
    .await
    .map(|_| ()))?;
    run!(&mut *tx, |x| {
        sqlx::query(
        "INSERT INTO video_views_daily (video_id, day, views) VALUES ($1, $2, $3)          ON CONFLICT (video_id, day) DO UPDATE SET views = video_views_daily.views + excluded.views"
    )
    .bind(id)
    .bind(day)
    .bind(n)
    .execute(x)
    .await
    .map(|_| ())
    })?;
    if pending {
        run!(&mut *tx, |x| {
            sqlx::query(
            "INSERT INTO pending_views (video_id, views) VALUES ($1, $2)              ON CONFLICT (video_id) DO UPDATE SET views = pending_views.views + excluded.views"
        )
        .bind(id)
        .bind(n)
        .execute(x)
        .await
        .map(|_| ())
        })?;
    }
    Ok(())
}

/// Takes up to `max` of a video's views waiting to be told to its server (the rest wait for
/// the next batch); how many were taken.
pub async fn take_pending_views(tx: &mut crate::Tx, id: i64, max: i64) -> Result<i64> {
    let row: Option<(i64,)> =
        run!(&mut *tx, |x| sqlx::query_as("DELETE FROM pending_views WHERE video_id = $1 RETURNING views")
            .bind(id)
            .fetch_optional(x)
            .await)?;
    let n = row.map(|(n,)| n).unwrap_or(0);
    if n > max {
        run!(&mut *tx, |x| sqlx::query("INSERT INTO pending_views (video_id, views) VALUES ($1, $2)")
            .bind(id)
            .bind(n - max)
            .execute(x)
            .await
            .map(|_| ()))?;
        return Ok(max);
    }
    Ok(n)
}

/// Forgets the daily views older than `before_day` (the trending sort reads a week), and takes
/// them off the videos' `recent_views`, in one transaction.
pub async fn prune_daily_views(tx: &mut crate::Tx, before_day: i64) -> Result<u64> {
    run!(&mut *tx, |x| sqlx::query(
        "UPDATE videos SET recent_views = recent_views - \
         (SELECT COALESCE(SUM(d.views), 0) FROM video_views_daily d WHERE d.video_id = videos.id AND d.day < $1) \
         WHERE id IN (SELECT video_id FROM video_views_daily WHERE day < $1)"
    )
    .bind(before_day)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(run!(&mut *tx, |x| sqlx::query("DELETE FROM video_views_daily WHERE day < $1")
        .bind(before_day)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Sets the thumbnail, returning the previous file name.
pub async fn replace_thumbnail(e: impl Into<Exec<'_>> + Copy, id: i64, name: &str) -> Result<Option<String>> {
    let old: Option<(Option<String>,)> =
        run!(e, |x| sqlx::query_as("SELECT thumbnail FROM videos WHERE id = $1").bind(id).fetch_optional(x).await)?;
    run!(e, |x| sqlx::query("UPDATE videos SET thumbnail = $2 WHERE id = $1")
        .bind(id)
        .bind(name)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(old.and_then(|o| o.0))
}

/// Sets the preview, returning the previous file name.
pub async fn replace_preview(e: impl Into<Exec<'_>> + Copy, id: i64, name: &str) -> Result<Option<String>> {
    let old: Option<(Option<String>,)> =
        run!(e, |x| sqlx::query_as("SELECT preview FROM videos WHERE id = $1").bind(id).fetch_optional(x).await)?;
    run!(e, |x| sqlx::query("UPDATE videos SET preview = $2 WHERE id = $1")
        .bind(id)
        .bind(name)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(old.and_then(|o| o.0))
}

/// Metadata changes; `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct VideoPatch {
    pub channel_id: Option<i64>,
    pub name: Option<String>,
    pub privacy: Option<i64>,
    pub description: Option<Option<String>>,
    pub support: Option<Option<String>>,
    pub category: Option<Option<i64>>,
    pub licence: Option<Option<i64>>,
    pub language: Option<Option<String>>,
    pub nsfw: Option<bool>,
    pub comments_enabled: Option<bool>,
    pub comments_held: Option<bool>,
    pub download_enabled: Option<bool>,
    pub wait_transcoding: Option<bool>,
}

pub async fn update(e: impl Into<Exec<'_>>, id: i64, p: &VideoPatch, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET channel_id = COALESCE($2, channel_id), name = COALESCE($3, name), \
         privacy = COALESCE($4, privacy), \
         description = CASE WHEN $5 THEN $6 ELSE description END, \
         support = CASE WHEN $7 THEN $8 ELSE support END, \
         category = CASE WHEN $9 THEN $10 ELSE category END, \
         licence = CASE WHEN $11 THEN $12 ELSE licence END, \
         language = CASE WHEN $13 THEN $14 ELSE language END, \
         nsfw = COALESCE($15, nsfw), comments_enabled = COALESCE($16, comments_enabled), \
         download_enabled = COALESCE($17, download_enabled), wait_transcoding = COALESCE($18, wait_transcoding), \
         comments_held = COALESCE($20, comments_held), updated_at = $19 WHERE id = $1"
    )
    .bind(id)
    .bind(p.channel_id)
    .bind(&p.name)
    .bind(p.privacy)
    .bind(p.description.is_some())
    .bind(p.description.clone().flatten())
    .bind(p.support.is_some())
    .bind(p.support.clone().flatten())
    .bind(p.category.is_some())
    .bind(p.category.flatten())
    .bind(p.licence.is_some())
    .bind(p.licence.flatten())
    .bind(p.language.is_some())
    .bind(p.language.clone().flatten())
    .bind(p.nsfw)
    .bind(p.comments_enabled)
    .bind(p.download_enabled)
    .bind(p.wait_transcoding)
    .bind(now)
    .bind(p.comments_held)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// What a sensitive video shows and says (nothing for one that is not sensitive).
pub async fn set_nsfw_details(e: impl Into<Exec<'_>>, id: i64, flags: i64, summary: Option<&str>) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET nsfw_flags = CASE WHEN nsfw THEN $2 ELSE 0 END, \
         nsfw_summary = CASE WHEN nsfw THEN $3 ELSE NULL END WHERE id = $1"
    )
    .bind(id)
    .bind(flags)
    .bind(summary)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The quarantined uploads videos still wait to be transcoded from.
pub async fn input_paths(e: impl Into<Exec<'_>>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT input_path FROM videos WHERE input_path IS NOT NULL").fetch_all(x).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The upload has been transcoded: forget the quarantined input.
pub async fn clear_input(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET input_path = NULL, transcode_progress = 100 WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes a video's row and its search entry: two statements, so call it in a transaction.
pub async fn delete(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    let mut e = e.into();
    if e.backend() == Backend::Sqlite {
        run!(&mut e, |x| sqlx::query("DELETE FROM videos_fts WHERE rowid = $1")
            .bind(id)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
    }
    run!(&mut e, |x| sqlx::query("DELETE FROM videos WHERE id = $1")
        .bind(id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every video of these channels.
pub async fn list_for_channels(e: impl Into<Exec<'_>>, channel_ids: &[i64]) -> Result<Vec<Video>> {
    if channel_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::id_list(channel_ids);
    let sql = format!("SELECT {COLUMNS} FROM videos WHERE channel_id IN ({list})");
    Ok(run!(e, |x| sqlx::query_as::<_, Video>(&sql).fetch_all(x).await)?)
}

/// Removes the search rows of videos about to be deleted by a cascade (SQLite's FTS table has no
/// foreign key to follow it).
pub async fn delete_search_rows(e: impl Into<Exec<'_>>, ids: &[i64]) -> Result<()> {
    let e = e.into();
    if e.backend() != Backend::Sqlite || ids.is_empty() {
        return Ok(());
    }
    let list = crate::id_list(ids);
    let sql = format!("DELETE FROM videos_fts WHERE rowid IN ({list})");
    run!(e, |x| sqlx::query(&sql).execute(x).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rewrites the video's search entry from its current name, description and tags. Call in the
/// transaction that changed them.
pub async fn index_search(e: impl Into<Exec<'_>>, id: i64) -> Result<()> {
    let mut e = e.into();
    let tags = tags(&mut e, id).await?.join(" ");
    match e.backend() {
        Backend::Sqlite => {
            run!(&mut e, |x| sqlx::query("DELETE FROM videos_fts WHERE rowid = $1")
                .bind(id)
                .execute(x)
                .await
                .map(|r| r.rows_affected()))?;
            run!(&mut e, |x| sqlx::query(
                "INSERT INTO videos_fts (rowid, name, description, tags) \
                 SELECT id, name, COALESCE(description, ''), $2 FROM videos WHERE id = $1"
            )
            .bind(id)
            .bind(&tags)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Backend::Postgres => {
            run!(&mut e, |x| sqlx::query(
                "UPDATE videos SET search_text = name || ' ' || COALESCE(description, '') || ' ' || $2 WHERE id = $1"
            )
            .bind(id)
            .bind(&tags)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
        }
    }
    Ok(())
}

/// Which videos a list shows. Empty `Vec`s filter nothing.
#[derive(Debug, Default, Clone)]
pub struct VideoFilter {
    pub channel_id: Option<i64>,
    pub account_id: Option<i64>,
    /// Only published public videos (every anonymous list). Off for the owner's own list.
    pub public_only: bool,
    /// Privacies to show when `public_only` is off (empty: all), published or not.
    pub privacy_one_of: Vec<i64>,
    pub published_only: bool,
    pub category_one_of: Vec<i64>,
    pub language_one_of: Vec<String>,
    pub tags_one_of: Vec<String>,
    pub nsfw: Option<bool>,
    /// Words to find in name, description and tags (all must appear, prefixes match).
    pub search: Option<String>,
    /// Only ours (`Some(true)`) or only other instances' (`Some(false)`).
    pub is_local: Option<bool>,
    /// Only lives (`Some(true)`) or only videos that are not (`Some(false)`).
    pub is_live: Option<bool>,
    /// Only videos of channels this actor follows (a user's subscriptions feed).
    pub subscriptions_of: Option<i64>,
    /// Not the videos of these accounts (blocked or muted).
    pub hide_accounts: Vec<i64>,
    /// Not the videos in this user's watch history (`excludeAlreadyWatched`).
    pub unwatched_by: Option<i64>,
    /// Videos of the channels this account owns or edits (a user's own list).
    pub managed_by: Option<i64>,
}

/// The words of what a person typed: letters and digits only, so no query syntax of either
/// database's full-text engine can get through.
fn search_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(16).collect()
}

/// SQLite FTS5: every word, quoted, as a prefix; all must match.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = search_words(text).iter().map(|w| format!("\"{w}\"*")).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// PostgreSQL `to_tsquery`: every word as a prefix; all must match.
fn ts_query(text: &str) -> Option<String> {
    let words: Vec<String> = search_words(text).iter().map(|w| format!("{}:*", w.to_lowercase())).collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

/// From this `start` on, a list's page is found by ids first ([`list_counted`]).
const DEEP_PAGE: i64 = 1_000;

/// `order` is an allow-listed ORDER BY; `"match"` sorts by search relevance.
pub async fn list(
    e: impl Into<Exec<'_>> + Copy,
    f: &VideoFilter,
    order: &str,
    start: i64,
    count: i64,
) -> Result<(Vec<Video>, i64)> {
    list_counted(e, f, order, start, count, None, None).await
}

/// Where a deep page of a list starts: the row at `offset` of that list (its sort value and id),
/// found by [`bookmark`] a moment ago. A page at `start >= offset` is read from there, `start -
/// offset` rows on, instead of walking `start` index entries (50,000 entries took 12 ms on
/// PostgreSQL, 2.4 ms on SQLite, per request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bookmark {
    pub offset: i64,
    pub value: i64,
    pub id: i64,
}

/// The sort columns a bookmark can seek by: integers every published video has (`published_at`
/// is set when a video is published, so only lists of published videos use bookmarks).
const SEEKABLE: &[&str] = &["v.published_at", "v.created_at", "v.views", "v.likes", "v.recent_views", "v.duration"];

/// The column of `order` and whether it is descending, when a page of `f` in that order can start
/// at a [`Bookmark`]: a list of published public videos, sorted by a column of [`SEEKABLE`], with
/// no search (a rank is no column).
pub fn seekable(f: &VideoFilter, order: &str) -> Option<(&'static str, bool)> {
    if !f.public_only || f.search.is_some() {
        return None;
    }
    let (column, direction) = order.split_once(' ')?;
    let column = SEEKABLE.iter().find(|c| **c == column)?;
    match direction {
        "DESC" => Some((column, true)),
        "ASC" => Some((column, false)),
        _ => None,
    }
}

/// The bookmark of the row at `offset` of the list of `f` in `order` (see [`seekable`]), or `None`
/// when the list is shorter or cannot be sought.
pub async fn bookmark(
    e: impl Into<Exec<'_>> + Copy,
    f: &VideoFilter,
    order: &str,
    offset: i64,
) -> Result<Option<Bookmark>> {
    let Some((key, _)) = seekable(f, order) else { return Ok(None) };
    let start = offset;
    let mut args: Vec<Arg> = Vec::new();
    let (clauses, _, _) = filter_clauses(f, e.into().backend(), false, &mut args);
    let filter = if clauses.is_empty() { "TRUE".to_string() } else { clauses.join(" AND ") };
    let sql = format!(
        "SELECT {key}, v.id FROM videos v WHERE {filter} ORDER BY {order}, v.id DESC LIMIT 1 OFFSET {start}",
        start = start.max(0)
    );
    let row: Option<(Option<i64>, i64)> = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as(&sql), &args);
        q.fetch_optional(x).await
    })?;
    Ok(row.and_then(|(value, id)| Some(Bookmark { offset: start.max(0), value: value?, id })))
}

fn push(args: &mut Vec<Arg>, a: Arg) -> String {
    args.push(a);
    format!("${}", args.len())
}

/// The WHERE clauses of `f` (their values pushed onto `args`), the search rank's ORDER BY, and
/// SQLite's full-text match placeholder, which the rows are joined to.
fn filter_clauses(
    f: &VideoFilter,
    backend: Backend,
    tag_walk: bool,
    args: &mut Vec<Arg>,
) -> (Vec<String>, Option<String>, Option<String>) {
    let mut clauses: Vec<String> = Vec::new();
    if f.public_only {
        clauses.push("v.state = 1 AND v.privacy = 1 AND v.blocked = 0".into());
    } else {
        if f.published_only {
            clauses.push("v.state = 1".into());
        }
        if !f.privacy_one_of.is_empty() {
            let list = crate::id_list(&f.privacy_one_of);
            clauses.push(format!("v.privacy IN ({list})"));
        }
    }
    if let Some(c) = f.channel_id {
        let p = push(args, Arg::I(c));
        clauses.push(format!("v.channel_id = {p}"));
    }
    if let Some(a) = f.account_id {
        let p = push(args, Arg::I(a));
        clauses.push(format!("v.channel_id IN (SELECT id FROM channels WHERE account_id = {p})"));
    }
    if !f.category_one_of.is_empty() {
        let list = crate::id_list(&f.category_one_of);
        clauses.push(format!("v.category IN ({list})"));
    }
    if !f.language_one_of.is_empty() {
        let ps: Vec<String> = f.language_one_of.iter().map(|l| push(args, Arg::S(l.clone()))).collect();
        clauses.push(format!("v.language IN ({})", ps.join(",")));
    }
    if tag_walk && let [tag] = f.tags_one_of.as_slice() {
        // The rows come from the tag's rows (`FROM video_tags t`, [`list_counted`]); a video with
        // the tag written twice in different cases counts once, by its smallest spelling.
        let p = push(args, Arg::S(tag.to_lowercase()));
        clauses.push(format!(
            "lower(t.tag) = {p} AND NOT EXISTS (SELECT 1 FROM video_tags t2 \
             WHERE t2.video_id = t.video_id AND lower(t2.tag) = lower(t.tag) AND t2.tag < t.tag)"
        ));
    } else if !f.tags_one_of.is_empty() {
        let ps: Vec<String> = f.tags_one_of.iter().map(|t| push(args, Arg::S(t.to_lowercase()))).collect();
        clauses.push(format!("v.id IN (SELECT video_id FROM video_tags WHERE lower(tag) IN ({}))", ps.join(",")));
    }
    if let Some(actor) = f.subscriptions_of {
        let p = push(args, Arg::I(actor));
        clauses.push(format!(
            "v.channel_id IN (SELECT c.id FROM channels c JOIN follows fo ON fo.target_id = c.actor_id \
             WHERE fo.follower_id = {p} AND fo.state = 'accepted')"
        ));
    }
    if !f.hide_accounts.is_empty() {
        let list = crate::id_list(&f.hide_accounts);
        clauses.push(format!("v.channel_id NOT IN (SELECT id FROM channels WHERE account_id IN ({list}))"));
    }
    if let Some(a) = f.managed_by {
        let p = push(args, Arg::I(a));
        clauses.push(format!(
            "(v.channel_id IN (SELECT id FROM channels WHERE account_id = {p}) \
             OR v.channel_id IN (SELECT channel_id FROM channel_collaborators WHERE account_id = {p} AND state = 2))"
        ));
    }
    if let Some(user) = f.unwatched_by {
        let p = push(args, Arg::I(user));
        clauses.push(format!("v.id NOT IN (SELECT video_id FROM video_history WHERE user_id = {p})"));
    }
    match f.is_local {
        Some(true) => clauses.push("v.remote_url IS NULL".into()),
        Some(false) => clauses.push("v.remote_url IS NOT NULL".into()),
        None => {}
    }
    match f.is_live {
        Some(true) => clauses.push("v.is_live = TRUE".into()),
        Some(false) => clauses.push("v.is_live = FALSE".into()),
        None => {}
    }
    if let Some(n) = f.nsfw {
        clauses.push(if n { "v.nsfw = TRUE".into() } else { "v.nsfw = FALSE".into() });
    }
    let mut rank = None;
    // SQLite's full-text match (its placeholder), which the rows are joined to.
    let mut fts: Option<String> = None;
    if let Some(text) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        match backend {
            // The matches and their rank in one pass of the index, then their rows (a rank looked
            // up per matching row ran the match again for each: 110 ms at 100,000 videos). CROSS
            // JOIN keeps that order: SQLite's planner otherwise walks every public video and runs
            // the match for each (3 s).
            Backend::Sqlite => match fts_query(text) {
                Some(q) => {
                    fts = Some(push(args, Arg::S(q)));
                    rank = Some("f.fts_rank ASC".to_string());
                }
                None => clauses.push("1 = 0".into()),
            },
            Backend::Postgres => match ts_query(text) {
                Some(q) => {
                    let p = push(args, Arg::S(q));
                    // The stored tsvector (migration 0053): matched by its index and ranked
                    // without computing it again from the text. The query is parsed once per
                    // statement, in a subquery: written inline, it would be parsed for every
                    // match unless folded into a plan made for this very text, so PostgreSQL
                    // planned the statement again on every search (0.12–0.2 ms of the ids
                    // query's ~0.9 ms); this way its cached plan serves every search.
                    clauses.push(format!("v.search_vector @@ (SELECT to_tsquery('simple', {p}))"));
                    rank = Some(format!("ts_rank(v.search_vector, (SELECT to_tsquery('simple', {p}))) DESC"));
                }
                None => clauses.push("1 = 0".into()),
            },
        }
    }
    (clauses, rank, fts)
}

/// [`list`], with the total already known (a recent count of the same filter): one query less;
/// and for a deep page, a [`Bookmark`] of that list at or before `start` to read it from.
pub async fn list_counted(
    e: impl Into<Exec<'_>> + Copy,
    f: &VideoFilter,
    order: &str,
    start: i64,
    count: i64,
    known_total: Option<i64>,
    at: Option<Bookmark>,
) -> Result<(Vec<Video>, i64)> {
    let backend = e.into().backend();
    let mut args: Vec<Arg> = Vec::new();
    // One tag, newest first: the tag's rows in publication order (`video_tags_newest`, migration
    // 0054), each video looked up until the page is full, rather than every public video newest
    // first looked up among the tag's rows.
    let tag_walk = f.tags_one_of.len() == 1
        && f.search.is_none()
        && order == "v.published_at DESC"
        && at.is_none()
        && start < DEEP_PAGE;
    let (mut clauses, rank, fts) = filter_clauses(f, backend, tag_walk, &mut args);
    let filter = if clauses.is_empty() { "TRUE".to_string() } else { clauses.join(" AND ") };
    let from = match (&fts, tag_walk) {
        (Some(p), _) => format!(
            "(SELECT rowid AS fts_id, bm25(videos_fts) AS fts_rank FROM videos_fts WHERE videos_fts MATCH {p}) f \
             CROSS JOIN videos v ON v.id = f.fts_id"
        ),
        // CROSS JOIN is SQLite's way of keeping that order (PostgreSQL has no CROSS JOIN … ON).
        (None, true) => match backend {
            Backend::Sqlite => "video_tags t CROSS JOIN videos v ON v.id = t.video_id".to_string(),
            Backend::Postgres => "video_tags t JOIN videos v ON v.id = t.video_id".to_string(),
        },
        (None, false) => "videos v".to_string(),
    };
    // The count is of the whole list: its SQL and values are taken before a bookmark's.
    let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {filter}");
    let count_args = args.len();
    let mut start = start.max(0);
    let mut deep = start >= DEEP_PAGE && fts.is_none();
    if let Some(b) = at.filter(|b| b.offset <= start)
        && let Some((key, desc)) = seekable(f, order)
    {
        // The rows from the bookmark's on: after it in the order, or level with it and at or
        // below its id (ids break ties, descending).
        let p = push(&mut args, Arg::I(b.value));
        let pi = push(&mut args, Arg::I(b.id));
        clauses.push(if desc {
            format!("{key} <= {p} AND ({key} < {p} OR v.id <= {pi})")
        } else {
            format!("{key} >= {p} AND ({key} > {p} OR v.id <= {pi})")
        });
        start -= b.offset;
        deep = start >= DEEP_PAGE;
    }
    let filter = if clauses.is_empty() { "TRUE".to_string() } else { clauses.join(" AND ") };
    let searched = rank.is_some();
    let order = match (order, rank) {
        ("match", Some(r)) => r,
        ("match", None) => "v.published_at DESC".to_string(),
        _ if tag_walk => "t.published_at DESC".to_string(),
        (o, _) => o.to_string(),
    };
    // Ties broken by id, named as the index the rows are walked by has it.
    let tie = if tag_walk { "t.video_id" } else { "v.id" };
    let sql = if deep {
        // A deep page: the rows skipped are found by the index alone, and only the page's own
        // rows are read (skipping 50,000 whole rows took 130 ms).
        format!(
            "SELECT {V_COLUMNS} FROM videos v WHERE v.id IN \
             (SELECT v.id FROM videos v WHERE {filter} ORDER BY {order}, v.id DESC LIMIT {count} OFFSET {start}) \
             ORDER BY {order}, v.id DESC",
            count = count.clamp(1, 100),
            start = start.max(0)
        )
    } else if let Some((sort_key, direction)) =
        order.rsplit_once(' ').filter(|(_, d)| searched && matches!(*d, "ASC" | "DESC"))
    {
        // A search: its matches (500 for a word of 0.5 % of 100,000 videos) are sorted by their
        // ids and sort key alone, and only the page's rows are read whole. Sorting the whole rows
        // made SQLite's sorter carry every column of every match: 4.2 ms against 2.8 ms a query.
        // (`order` is one term: an allow-listed sort or the rank.)
        let join = match backend {
            Backend::Sqlite => "CROSS JOIN",
            Backend::Postgres => "JOIN",
        };
        format!(
            "SELECT {V_COLUMNS} FROM \
             (SELECT v.id AS page_id, {sort_key} AS page_key FROM {from} WHERE {filter} \
              ORDER BY {order}, v.id DESC LIMIT {count} OFFSET {start}) p \
             {join} videos v ON v.id = p.page_id ORDER BY p.page_key {direction}, v.id DESC",
            count = count.clamp(1, 100),
            start = start.max(0)
        )
    } else {
        format!(
            "SELECT {V_COLUMNS} FROM {from} WHERE {filter} ORDER BY {order}, {tie} DESC LIMIT {count} OFFSET {start}",
            count = count.clamp(1, 100),
            start = start.max(0)
        )
    };
    let rows = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as::<_, Video>(&sql), &args);
        q.fetch_all(x).await
    })?;
    if let Some(total) = known_total {
        return Ok((rows, total));
    }
    let (total,): (i64,) = run!(e, |x| {
        let q = crate::bind_args!(sqlx::query_as(&count_sql), &args[..count_args]);
        q.fetch_one(x).await
    })?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_text_never_carries_query_syntax() {
        assert_eq!(
            super::fts_query("Ocean \"deep\" OR NEAR(x*)").unwrap(),
            "\"Ocean\"* \"deep\"* \"OR\"* \"NEAR\"* \"x\"*"
        );
        assert_eq!(super::ts_query("Glacier & !snow:*").unwrap(), "glacier:* & snow:*");
        assert_eq!(super::fts_query("%$#"), None);
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VideoFile {
    pub id: i64,
    pub video_id: i64,
    /// [`KIND_HLS`] or [`KIND_WEB`].
    pub kind: String,
    pub resolution: i64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    pub size: i64,
    pub bandwidth: i64,
    pub codecs: String,
    pub filename: String,
    /// The media playlist of an HLS rendition; empty for a web video.
    pub playlist: String,
    /// Its `.torrent` under `torrents/`, once made.
    pub torrent: Option<String>,
    /// That torrent's v1 info hash, hex.
    pub info_hash: Option<String>,
    pub created_at: i64,
}

/// An HLS rendition: a fragmented MP4 and its media playlist.
pub const KIND_HLS: &str = "hls";
/// A web video: a plain faststart MP4.
pub const KIND_WEB: &str = "web";

pub struct NewFile<'a> {
    pub kind: &'a str,
    pub resolution: i64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    pub size: i64,
    pub bandwidth: i64,
    pub codecs: &'a str,
    pub filename: &'a str,
    pub playlist: &'a str,
}

/// The columns of [`VideoFile`], as a literal for `concat!`.
macro_rules! file_select {
    () => {
        "SELECT id, video_id, kind, resolution, width, height, fps, size, bandwidth, codecs, filename, playlist, \
         torrent, info_hash, created_at FROM video_files"
    };
}

pub async fn insert_file(e: impl Into<Exec<'_>>, video: i64, f: &NewFile<'_>, now: i64) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO video_files (video_id, kind, resolution, width, height, fps, size, bandwidth, codecs, filename, \
         playlist, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id"
    )
    .bind(video)
    .bind(f.kind)
    .bind(f.resolution)
    .bind(f.width)
    .bind(f.height)
    .bind(f.fps)
    .bind(f.size)
    .bind(f.bandwidth)
    .bind(f.codecs)
    .bind(f.filename)
    .bind(f.playlist)
    .bind(now)
    .fetch_one(x)
    .await
    })?;
    Ok(id)
}

/// Records a file's torrent (made after the file is in place).
pub async fn set_torrent(e: impl Into<Exec<'_>>, file_id: i64, torrent: &str, info_hash: &str) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE video_files SET torrent = $1, info_hash = $2 WHERE id = $3")
        .bind(torrent)
        .bind(info_hash)
        .bind(file_id)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// HLS renditions of a video, highest resolution first (PeerTube's order in `files`).
pub async fn files(e: impl Into<Exec<'_>>, video: i64) -> Result<Vec<VideoFile>> {
    files_of_kind(e, video, KIND_HLS).await
}

/// Web videos of a video, highest resolution first.
pub async fn web_files(e: impl Into<Exec<'_>>, video: i64) -> Result<Vec<VideoFile>> {
    files_of_kind(e, video, KIND_WEB).await
}

async fn files_of_kind(e: impl Into<Exec<'_>>, video: i64, kind: &str) -> Result<Vec<VideoFile>> {
    let sql = concat!(file_select!(), " WHERE video_id = $1 AND kind = $2 ORDER BY resolution DESC");
    Ok(run!(e, |x| sqlx::query_as::<_, VideoFile>(sql).bind(video).bind(kind).fetch_all(x).await)?)
}

/// Every file of a video, both kinds.
pub async fn all_files(e: impl Into<Exec<'_>>, video: i64) -> Result<Vec<VideoFile>> {
    let sql = concat!(file_select!(), " WHERE video_id = $1 ORDER BY resolution DESC, kind");
    Ok(run!(e, |x| sqlx::query_as::<_, VideoFile>(sql).bind(video).fetch_all(x).await)?)
}

/// The file of that kind whose name (its file's, or with `by_torrent` its torrent's) is `name`.
pub async fn file_named(e: impl Into<Exec<'_>>, name: &str, by_torrent: bool) -> Result<Option<VideoFile>> {
    let sql = if by_torrent {
        concat!(file_select!(), " WHERE torrent = $1")
    } else {
        concat!(file_select!(), " WHERE filename = $1")
    };
    Ok(run!(e, |x| sqlx::query_as::<_, VideoFile>(sql).bind(name).fetch_optional(x).await)?)
}

/// Local videos done transcoding with a file that has no torrent, (`want_web`) an HLS rendition
/// without its web video, or a picture and no storyboard: what the app's `video-files` jobs complete.
/// (Videos whose files are in the object store are left out: completing them would bring every
/// file back to the disk each hour.)
pub async fn missing_extras(e: impl Into<Exec<'_>>, want_web: bool, limit: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = run!(e, |x| {
        sqlx::query_as(
        "SELECT DISTINCT v.id FROM videos v JOIN video_files f ON f.video_id = v.id \
         WHERE v.remote_url IS NULL AND v.input_path IS NULL AND v.master_playlist IS NOT NULL AND v.storage = 0 \
         AND (f.torrent IS NULL OR ($1 AND NOT v.web_videos_off AND f.kind = 'hls' AND NOT EXISTS (SELECT 1 FROM video_files w \
              WHERE w.video_id = v.id AND w.kind = 'web' AND w.resolution = f.resolution)) \
              OR (f.resolution > 0 AND v.duration >= 3 \
                  AND NOT EXISTS (SELECT 1 FROM video_storyboards s WHERE s.video_id = v.id))) \
         ORDER BY v.id LIMIT $2"
    )
    .bind(want_web)
    .bind(limit)
    .fetch_all(x)
    .await
    })?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// What was uploaded: its name, when it was last replaced, the original kept (see migration 0046).
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct Source {
    pub input_filename: Option<String>,
    pub input_updated_at: Option<i64>,
    pub original_file: Option<String>,
    /// The kept original is in the object store's private bucket, not on the disk.
    pub original_stored: bool,
}

pub async fn source(e: impl Into<Exec<'_>>, id: i64) -> Result<Source> {
    let s: Option<Source> = run!(e, |x| sqlx::query_as::<_, Source>(
        "SELECT input_filename, input_updated_at, original_file, original_stored FROM videos WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(x)
    .await)?;
    Ok(s.unwrap_or_default())
}

/// Records the uploaded file's name (`None` keeps the one recorded) and when it came.
pub async fn set_input_filename(e: impl Into<Exec<'_>>, id: i64, name: Option<&str>, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET input_filename = COALESCE($2, input_filename), input_updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets the kept original (its name under `original-video-files/`), or forgets it; returns the
/// one it replaces.
pub async fn set_original(e: impl Into<Exec<'_>>, id: i64, file: Option<&str>) -> Result<Option<String>> {
    let mut e = e.into();
    let old: Option<Option<String>> =
        run!(&mut e, |x| sqlx::query_scalar("SELECT original_file FROM videos WHERE id = $1")
            .bind(id)
            .fetch_optional(x)
            .await)?;
    run!(&mut e, |x| sqlx::query("UPDATE videos SET original_file = $2, original_stored = FALSE WHERE id = $1")
        .bind(id)
        .bind(file)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(old.flatten())
}

/// The kept original `file` is now in the object store: one update, fenced by the name (a newer
/// original may have replaced it meanwhile). Whether it was still the video's.
pub async fn set_original_stored(e: impl Into<Exec<'_>>, id: i64, file: &str) -> Result<bool> {
    let n = run!(e, |x| sqlx::query(
        "UPDATE videos SET original_stored = TRUE WHERE id = $1 AND original_file = $2 AND NOT original_stored"
    )
    .bind(id)
    .bind(file)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Local videos whose kept original is still on the disk, after `after_id`.
pub async fn ids_with_local_original(e: impl Into<Exec<'_>>, after_id: i64, limit: i64) -> Result<Vec<i64>> {
    let sql = "SELECT id FROM videos WHERE remote_url IS NULL AND original_file IS NOT NULL AND NOT original_stored \
               AND id > $1 ORDER BY id LIMIT $2";
    Ok(run!(e, |x| sqlx::query_scalar::<_, i64>(sql).bind(after_id).bind(limit).fetch_all(x).await)?)
}

/// Whether an administrator turned a video's web videos off (`DELETE /videos/:id/web-videos`).
pub async fn web_videos_off(e: impl Into<Exec<'_>>, id: i64) -> Result<bool> {
    let off: Option<bool> = run!(e, |x| sqlx::query_scalar("SELECT web_videos_off FROM videos WHERE id = $1")
        .bind(id)
        .fetch_optional(x)
        .await)?;
    Ok(off.unwrap_or(false))
}

pub async fn set_web_videos_off(e: impl Into<Exec<'_>>, id: i64, off: bool) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET web_videos_off = $2 WHERE id = $1")
        .bind(id)
        .bind(off)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A video without its HLS playlists (their files' rows are gone): no master playlist.
pub async fn clear_hls(e: impl Into<Exec<'_>>, id: i64, now: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "UPDATE videos SET master_playlist = NULL, segments_sha256 = NULL, updated_at = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// What ffprobe printed for the video's upload when it was received (`None` for a remote video).
pub async fn probe_json(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        run!(e, |x| sqlx::query_as("SELECT probe FROM videos WHERE id = $1").bind(id).fetch_optional(x).await)?;
    Ok(row.and_then(|r| r.0))
}

/// Gives a transcoded video a file to transcode again (a copy in quarantine; its size is already
/// counted in its quota, so `input_size` stays).
pub async fn set_input(e: impl Into<Exec<'_>>, id: i64, path: &str) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET input_path = $2, transcode_progress = 0 WHERE id = $1")
        .bind(id)
        .bind(path)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes the files of one kind of a video (their rows; the caller removes what is on disk).
pub async fn delete_files_of_kind(e: impl Into<Exec<'_>>, video: i64, kind: &str) -> Result<u64> {
    Ok(run!(e, |x| sqlx::query("DELETE FROM video_files WHERE video_id = $1 AND kind = $2")
        .bind(video)
        .bind(kind)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?)
}

/// A remote video as received.
pub struct RemoteVideo<'a> {
    pub remote_url: &'a str,
    pub uuid: &'a str,
    pub short_uuid: &'a str,
    pub channel_id: i64,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub support: Option<&'a str>,
    pub privacy: i64,
    pub category: Option<i64>,
    pub licence: Option<i64>,
    pub language: Option<&'a str>,
    pub nsfw: bool,
    pub comments_enabled: bool,
    pub download_enabled: bool,
    pub duration: i64,
    pub width: i64,
    pub height: i64,
    pub views: i64,
    pub remote_data: &'a str,
    pub published_at: i64,
    pub updated_at: i64,
    /// 1, or a live's 4 (waiting) and 5 (ended).
    pub state: i64,
    pub is_live: bool,
}

/// Inserts or updates a remote video by its ActivityPub id; returns its local id.
pub async fn upsert_remote(e: impl Into<Exec<'_>>, v: &RemoteVideo<'_>, now: i64) -> Result<i64> {
    let (id,): (i64,) = run!(e, |x| {
        sqlx::query_as(
        "INSERT INTO videos (uuid, short_uuid, channel_id, name, description, support, privacy, state, category, licence, \
         language, nsfw, comments_enabled, download_enabled, wait_transcoding, duration, width, height, fps, has_audio, \
         has_video, input_size, views, remote_url, remote_data, created_at, updated_at, published_at, fetched_at, \
         is_live) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $23, $8, $9, $10, $11, $12, $13, FALSE, $14, $15, $16, 0, TRUE, TRUE, 0, $17, \
         $18, $19, $20, $21, $22, $20, $24) \
         ON CONFLICT (remote_url) DO UPDATE SET name = excluded.name, description = excluded.description, \
         support = excluded.support, privacy = excluded.privacy, category = excluded.category, licence = excluded.licence, \
         language = excluded.language, nsfw = excluded.nsfw, comments_enabled = excluded.comments_enabled, \
         download_enabled = excluded.download_enabled, duration = excluded.duration, width = excluded.width, \
         height = excluded.height, views = excluded.views, remote_data = excluded.remote_data, \
         updated_at = excluded.updated_at, fetched_at = excluded.fetched_at, state = excluded.state, \
         is_live = excluded.is_live RETURNING id"
    )
    .bind(v.uuid)
    .bind(v.short_uuid)
    .bind(v.channel_id)
    .bind(v.name)
    .bind(v.description)
    .bind(v.support)
    .bind(v.privacy)
    .bind(v.category)
    .bind(v.licence)
    .bind(v.language)
    .bind(v.nsfw)
    .bind(v.comments_enabled)
    .bind(v.download_enabled)
    .bind(v.duration)
    .bind(v.width)
    .bind(v.height)
    .bind(v.views)
    .bind(v.remote_url)
    .bind(v.remote_data)
    .bind(now)
    .bind(v.updated_at)
    .bind(v.published_at)
    .bind(v.state)
    .bind(v.is_live)
    .fetch_one(x)
    .await
    })?;
    Ok(id)
}

/// A remote video's likes and dislikes as its origin counts them.
pub async fn set_rates(e: impl Into<Exec<'_>>, id: i64, likes: i64, dislikes: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET likes = $2, dislikes = $3 WHERE id = $1 AND remote_url IS NOT NULL")
        .bind(id)
        .bind(likes)
        .bind(dislikes)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Replaces a video's P2P info hashes (its master playlist was written anew).
pub async fn set_infohashes(tx: &mut crate::Tx, video_id: i64, hashes: &[String]) -> Result<()> {
    run!(&mut *tx, |x| sqlx::query("DELETE FROM video_infohashes WHERE video_id = $1")
        .bind(video_id)
        .execute(x)
        .await
        .map(|_| ()))?;
    for (i, h) in hashes.iter().enumerate() {
        run!(&mut *tx, |x| sqlx::query(
            "INSERT INTO video_infohashes (info_hash, video_id, position) VALUES ($1, $2, $3) \
             ON CONFLICT (info_hash) DO NOTHING"
        )
        .bind(h)
        .bind(video_id)
        .bind(i as i64)
        .execute(x)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

pub async fn infohashes(e: impl Into<Exec<'_>>, video_id: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        run!(e, |x| sqlx::query_as("SELECT info_hash FROM video_infohashes WHERE video_id = $1 ORDER BY position")
            .bind(video_id)
            .fetch_all(x)
            .await)?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// The local video whose rendition has this info hash (the tracker's admission).
pub async fn video_by_infohash(e: impl Into<Exec<'_>>, info_hash: &str) -> Result<Option<i64>> {
    let row: Option<(i64,)> =
        run!(e, |x| sqlx::query_as("SELECT video_id FROM video_infohashes WHERE info_hash = $1")
            .bind(info_hash)
            .fetch_optional(x)
            .await)?;
    Ok(row.map(|(v,)| v))
}

/// When a remote video was last fetched from (or sent by) its origin; `None` for ours.
pub async fn fetched_at(e: impl Into<Exec<'_>>, id: i64) -> Result<Option<i64>> {
    let row: Option<(Option<i64>,)> =
        run!(e, |x| sqlx::query_as("SELECT fetched_at FROM videos WHERE id = $1 AND remote_url IS NOT NULL")
            .bind(id)
            .fetch_optional(x)
            .await)?;
    Ok(row.and_then(|(t,)| t))
}

/// Marks a remote video as just checked with its origin.
pub async fn set_fetched_at(e: impl Into<Exec<'_>>, id: i64, at: i64) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE videos SET fetched_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Holds the remote video's row (when we have it) until the transaction ends, so that two
/// `Update`s of it arriving side by side take turns: each then compares its date with the copy the
/// other left (PostgreSQL; SQLite's transactions take the write lock at their start already).
pub async fn lock_remote(e: impl Into<Exec<'_>>, url: &str) -> Result<()> {
    let e = e.into();
    if e.backend() == crate::Backend::Postgres {
        run!(e, |x| sqlx::query("SELECT id FROM videos WHERE remote_url = $1 FOR UPDATE")
            .bind(url)
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn get_by_remote_url(e: impl Into<Exec<'_>>, url: &str) -> Result<Option<Video>> {
    let sql = format!("SELECT {COLUMNS} FROM videos WHERE remote_url = $1");
    Ok(run!(e, |x| sqlx::query_as::<_, Video>(&sql).bind(url).fetch_optional(x).await)?)
}

/// Remote videos whose channel is on `host` and that no local actor follows, neither through the
/// channel nor through its account (a subscriber keeps them after the instance is unfollowed).
pub async fn list_unfollowed_remote_by_host(e: impl Into<Exec<'_>>, host: &str) -> Result<Vec<Video>> {
    let sql = format!(
        "SELECT {V_COLUMNS} FROM videos v JOIN channels c ON c.id = v.channel_id JOIN actors ac ON ac.id = c.actor_id \
         JOIN accounts acc ON acc.id = c.account_id \
         WHERE ac.host = $1 AND v.remote_url IS NOT NULL AND NOT EXISTS (\
           SELECT 1 FROM follows f JOIN actors fa ON fa.id = f.follower_id \
           WHERE fa.host = '' AND f.target_id IN (c.actor_id, acc.actor_id))"
    );
    Ok(run!(e, |x| sqlx::query_as::<_, Video>(&sql).bind(host).fetch_all(x).await)?)
}

pub async fn set_thumbnail_if_none(e: impl Into<Exec<'_>>, id: i64, name: &str) -> Result<bool> {
    let n = run!(e, |x| sqlx::query("UPDATE videos SET thumbnail = $2 WHERE id = $1 AND thumbnail IS NULL")
        .bind(id)
        .bind(name)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Remembers that the local object at `url` was deleted (its URL then answers 410 Gone).
pub async fn insert_tombstone(e: impl Into<Exec<'_>>, url: &str, former_type: &str, at: i64) -> Result<()> {
    run!(e, |x| sqlx::query(
        "INSERT INTO tombstones (url, former_type, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (url) DO NOTHING"
    )
    .bind(url)
    .bind(former_type)
    .bind(at)
    .execute(x)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The former type and time of deletion of the local object that was at `url`.
pub async fn get_tombstone(e: impl Into<Exec<'_>>, url: &str) -> Result<Option<(String, i64)>> {
    Ok(run!(e, |x| sqlx::query_as::<_, (String, i64)>(
        "SELECT former_type, deleted_at FROM tombstones WHERE url = $1"
    )
    .bind(url)
    .fetch_optional(x)
    .await)?)
}

/// Records where a video's files are now, if they were still at `from` (a move that lost a race
/// changes nothing): whether it did.
pub async fn set_storage(e: impl Into<Exec<'_>>, video: i64, from: i64, to: i64) -> Result<bool> {
    let r = run!(e, |x| sqlx::query("UPDATE videos SET storage = $3 WHERE id = $1 AND storage = $2")
        .bind(video)
        .bind(from)
        .bind(to)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Local videos whose files are at `storage`, after `after_id`, by id (a move of them all goes by
/// pages).
pub async fn ids_in_storage(e: impl Into<Exec<'_>>, storage: i64, after_id: i64, limit: i64) -> Result<Vec<i64>> {
    let sql = "SELECT id FROM videos WHERE remote_url IS NULL AND storage = $1 AND id > $2 ORDER BY id LIMIT $3";
    Ok(run!(e, |x| sqlx::query_scalar::<_, i64>(sql).bind(storage).bind(after_id).bind(limit).fetch_all(x).await)?)
}

/// What ffprobe read in a file, kept before it left the disk.
pub async fn file_metadata(e: impl Into<Exec<'_>>, file: i64) -> Result<Option<String>> {
    let sql = "SELECT metadata FROM video_files WHERE id = $1";
    Ok(run!(e, |x| sqlx::query_scalar::<_, Option<String>>(sql).bind(file).fetch_optional(x).await)?.flatten())
}

pub async fn set_file_metadata(e: impl Into<Exec<'_>>, file: i64, metadata: &str) -> Result<()> {
    run!(e, |x| sqlx::query("UPDATE video_files SET metadata = $2 WHERE id = $1")
        .bind(file)
        .bind(metadata)
        .execute(x)
        .await
        .map(|_| ()))?;
    Ok(())
}
