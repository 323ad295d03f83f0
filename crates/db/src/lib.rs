//! The database: one handle over SQLite or PostgreSQL, the migrations, and one module per table
//! family (`users`, `accounts`, `channels`, …) with plain functions that run runtime-checked SQL.
//!
//! Every query is written once: both databases understand the `$1` placeholders, the column types
//! of our migrations and `RETURNING`. Dispatch between the two happens per call through [`Exec`],
//! never through generics that would spread into the rest of the code. Depends on `domain` only.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, SqliteConnection, SqlitePool};

pub mod abuses;
pub mod accounts;
pub mod actors;
pub mod archives;
pub mod auto_tags;
pub mod blocklist;
pub mod captions;
pub mod channels;
pub mod chapters;
pub mod collaborators;
pub mod comments;
pub mod follows;
pub mod history;
pub mod hosts;
pub mod images;
pub mod jobs;
pub mod live_sessions;
pub mod lives;
pub mod notifications;
pub mod notify;
pub mod playlists;
pub mod rates;
pub mod redundancies;
pub mod registrations;
pub mod runners;
pub mod settings;
pub mod storyboards;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod video_blocks;
pub mod video_imports;
pub mod video_passwords;
pub mod videos;

/// What went wrong in the database, in terms the layers above act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write: the name or address is taken.
    #[error("conflict on {0}")]
    Conflict(String),
    /// The database cannot be reached or timed out: worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Error::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                Error::Conflict(d.constraint().map(str::to_string).unwrap_or_else(|| d.message().to_string()))
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
                Error::Unavailable(e.to_string())
            }
            // PostgreSQL ending the session (an administrator, a shutdown or restart: class 57P)
            // or the connection failing (class 08): the database's state, not the request's.
            sqlx::Error::Database(ref d) if d.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) => {
                Error::Unavailable(e.to_string())
            }
            other => Error::Other(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Which database a handle talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool of connections to SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite has one writer at a time: transactions ([`Db::begin`]) take the one connection of
    /// `write`, and wait for it in the pool; queries and single statements use `read`. A writer
    /// waiting its turn holds no reading connection, so a transaction that reads through the
    /// pool while it is open is never starved by the writers queued behind it.
    Sqlite { read: SqlitePool, write: SqlitePool },
    /// PostgreSQL, split the same way: transactions take a connection of `write`, other
    /// statements one of `read`. A transaction reads through the pool while it is open, so with
    /// one pool every connection could be held by a transaction waiting for another (a stall of
    /// the acquire timeout, then 503s); with two, a reader never waits on a writer. Each is sized
    /// from the CPUs ([`pg_pool_size`]).
    Postgres { read: PgPool, write: PgPool },
}

/// Where a query runs: a pool, or the connection of an open transaction.
pub enum Exec<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    Sqlite(&'a mut SqliteConnection),
    Pg(&'a mut PgConnection),
}

impl<'a> From<&'a Db> for Exec<'a> {
    fn from(db: &'a Db) -> Self {
        match db {
            Db::Sqlite { read, .. } => Exec::SqlitePool(read),
            Db::Postgres { read, .. } => Exec::PgPool(read),
        }
    }
}

impl Exec<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Exec::SqlitePool(_) | Exec::Sqlite(_) => Backend::Sqlite,
            Exec::PgPool(_) | Exec::Pg(_) => Backend::Postgres,
        }
    }
}

impl<'a, 'b: 'a> From<&'a mut Exec<'b>> for Exec<'a> {
    fn from(e: &'a mut Exec<'b>) -> Self {
        match e {
            Exec::SqlitePool(p) => Exec::SqlitePool(p),
            Exec::PgPool(p) => Exec::PgPool(p),
            Exec::Sqlite(c) => Exec::Sqlite(c),
            Exec::Pg(c) => Exec::Pg(c),
        }
    }
}

impl<'a> From<&'a mut Tx> for Exec<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        match tx {
            Tx::Sqlite(t) => Exec::Sqlite(&mut *t),
            Tx::Postgres(t) => Exec::Pg(&mut *t),
        }
    }
}

/// Runs the same query text on whichever database `$exec` is: the body is compiled once per
/// backend, with `$x` bound to that backend's executor.
#[macro_export]
macro_rules! run {
    ($exec:expr, |$x:ident| $body:expr) => {
        match {
            let e: $crate::Exec<'_> = $exec.into();
            e
        } {
            $crate::Exec::SqlitePool($x) => $body,
            $crate::Exec::PgPool($x) => $body,
            $crate::Exec::Sqlite($x) => $body,
            $crate::Exec::Pg($x) => $body,
        }
    };
}

/// An open transaction. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// The migrations, in order: `(version, name, SQLite text, PostgreSQL text)`. Most are one text for
/// both; a few need each dialect's own. Each runs once, in its own transaction, recorded in
/// `schema_migrations`.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql"), include_str!("../migrations/0001_init.sql")),
    (
        2,
        "jobs_videos",
        include_str!("../migrations/0002_jobs_videos.sql"),
        include_str!("../migrations/0002_jobs_videos.sql"),
    ),
    (
        3,
        "search",
        include_str!("../migrations/0003_search.sqlite.sql"),
        include_str!("../migrations/0003_search.postgres.sql"),
    ),
    (
        4,
        "actor_keys",
        include_str!("../migrations/0004_actor_keys.sql"),
        include_str!("../migrations/0004_actor_keys.sql"),
    ),
    (5, "follows", include_str!("../migrations/0005_follows.sql"), include_str!("../migrations/0005_follows.sql")),
    (
        6,
        "remote_videos",
        include_str!("../migrations/0006_remote_videos.sql"),
        include_str!("../migrations/0006_remote_videos.sql"),
    ),
    (
        7,
        "list_index",
        include_str!("../migrations/0007_list_index.sql"),
        include_str!("../migrations/0007_list_index.sql"),
    ),
    (
        8,
        "remote_hosts",
        include_str!("../migrations/0008_remote_hosts.sql"),
        include_str!("../migrations/0008_remote_hosts.sql"),
    ),
    (
        9,
        "video_fetched_at",
        include_str!("../migrations/0009_video_fetched_at.sql"),
        include_str!("../migrations/0009_video_fetched_at.sql"),
    ),
    (
        10,
        "video_rates",
        include_str!("../migrations/0010_video_rates.sql"),
        include_str!("../migrations/0010_video_rates.sql"),
    ),
    (
        11,
        "video_infohashes",
        include_str!("../migrations/0011_video_infohashes.sql"),
        include_str!("../migrations/0011_video_infohashes.sql"),
    ),
    (
        12,
        "tombstones",
        include_str!("../migrations/0012_tombstones.sql"),
        include_str!("../migrations/0012_tombstones.sql"),
    ),
    (
        13,
        "remote_image_sources",
        include_str!("../migrations/0013_remote_image_sources.sql"),
        include_str!("../migrations/0013_remote_image_sources.sql"),
    ),
    (
        14,
        "token_families",
        include_str!("../migrations/0014_token_families.sql"),
        include_str!("../migrations/0014_token_families.sql"),
    ),
    (
        15,
        "job_leases",
        include_str!("../migrations/0015_job_leases.sql"),
        include_str!("../migrations/0015_job_leases.sql"),
    ),
    (
        16,
        "upload_session_video",
        include_str!("../migrations/0016_upload_session_video.sql"),
        include_str!("../migrations/0016_upload_session_video.sql"),
    ),
    (
        17,
        "inbox_seen_received_at",
        include_str!("../migrations/0017_inbox_seen_received_at.sql"),
        include_str!("../migrations/0017_inbox_seen_received_at.sql"),
    ),
    (
        18,
        "remote_rates",
        include_str!("../migrations/0018_remote_rates.sql"),
        include_str!("../migrations/0018_remote_rates.sql"),
    ),
    (19, "comments", include_str!("../migrations/0019_comments.sql"), include_str!("../migrations/0019_comments.sql")),
    (
        20,
        "notifications",
        include_str!("../migrations/0020_notifications.sql"),
        include_str!("../migrations/0020_notifications.sql"),
    ),
    (21, "views", include_str!("../migrations/0021_views.sql"), include_str!("../migrations/0021_views.sql")),
    (
        22,
        "comment_counts",
        include_str!("../migrations/0022_comment_counts.sql"),
        include_str!("../migrations/0022_comment_counts.sql"),
    ),
    (
        23,
        "comment_held_activity",
        include_str!("../migrations/0023_comment_held_activity.sql"),
        include_str!("../migrations/0023_comment_held_activity.sql"),
    ),
    (
        24,
        "retired_keys",
        include_str!("../migrations/0024_retired_keys.sql"),
        include_str!("../migrations/0024_retired_keys.sql"),
    ),
    (
        25,
        "redundancy",
        include_str!("../migrations/0025_redundancy.sql"),
        include_str!("../migrations/0025_redundancy.sql"),
    ),
    (
        26,
        "blocklists",
        include_str!("../migrations/0026_blocklists.sql"),
        include_str!("../migrations/0026_blocklists.sql"),
    ),
    (27, "abuses", include_str!("../migrations/0027_abuses.sql"), include_str!("../migrations/0027_abuses.sql")),
    (
        28,
        "video_blocks",
        include_str!("../migrations/0028_video_blocks.sql"),
        include_str!("../migrations/0028_video_blocks.sql"),
    ),
    (
        29,
        "watched_words",
        include_str!("../migrations/0029_watched_words.sql"),
        include_str!("../migrations/0029_watched_words.sql"),
    ),
    (
        30,
        "nsfw_details",
        include_str!("../migrations/0030_nsfw_details.sql"),
        include_str!("../migrations/0030_nsfw_details.sql"),
    ),
    (
        31,
        "playlists",
        include_str!("../migrations/0031_playlists.sql"),
        include_str!("../migrations/0031_playlists.sql"),
    ),
    (32, "history", include_str!("../migrations/0032_history.sql"), include_str!("../migrations/0032_history.sql")),
    (
        33,
        "feed_tokens",
        include_str!("../migrations/0033_feed_tokens.sql"),
        include_str!("../migrations/0033_feed_tokens.sql"),
    ),
    (
        34,
        "two_factor",
        include_str!("../migrations/0034_two_factor.sql"),
        include_str!("../migrations/0034_two_factor.sql"),
    ),
    (35, "email", include_str!("../migrations/0035_email.sql"), include_str!("../migrations/0035_email.sql")),
    (
        36,
        "channel_collaborators",
        include_str!("../migrations/0036_channel_collaborators.sql"),
        include_str!("../migrations/0036_channel_collaborators.sql"),
    ),
    (37, "moves", include_str!("../migrations/0037_moves.sql"), include_str!("../migrations/0037_moves.sql")),
    (
        38,
        "user_archives",
        include_str!("../migrations/0038_user_archives.sql"),
        include_str!("../migrations/0038_user_archives.sql"),
    ),
    (
        39,
        "web_videos",
        include_str!("../migrations/0039_web_videos.sql"),
        include_str!("../migrations/0039_web_videos.postgres.sql"),
    ),
    (40, "captions", include_str!("../migrations/0040_captions.sql"), include_str!("../migrations/0040_captions.sql")),
    (41, "chapters", include_str!("../migrations/0041_chapters.sql"), include_str!("../migrations/0041_chapters.sql")),
    (
        42,
        "storyboards",
        include_str!("../migrations/0042_storyboards.sql"),
        include_str!("../migrations/0042_storyboards.sql"),
    ),
    (
        43,
        "video_passwords",
        include_str!("../migrations/0043_video_passwords.sql"),
        include_str!("../migrations/0043_video_passwords.sql"),
    ),
    (
        44,
        "video_imports",
        include_str!("../migrations/0044_video_imports.sql"),
        include_str!("../migrations/0044_video_imports.sql"),
    ),
    (
        45,
        "web_videos_off",
        include_str!("../migrations/0045_web_videos_off.sql"),
        include_str!("../migrations/0045_web_videos_off.sql"),
    ),
    (
        46,
        "video_sources",
        include_str!("../migrations/0046_video_sources.sql"),
        include_str!("../migrations/0046_video_sources.sql"),
    ),
    (47, "lives", include_str!("../migrations/0047_lives.sql"), include_str!("../migrations/0047_lives.sql")),
    (
        48,
        "object_storage",
        include_str!("../migrations/0048_object_storage.sql"),
        include_str!("../migrations/0048_object_storage.sql"),
    ),
    (49, "runners", include_str!("../migrations/0049_runners.sql"), include_str!("../migrations/0049_runners.sql")),
    (
        50,
        "stored_originals_and_exports",
        include_str!("../migrations/0050_stored_originals_and_exports.sql"),
        include_str!("../migrations/0050_stored_originals_and_exports.sql"),
    ),
    (
        51,
        "stored_images",
        include_str!("../migrations/0051_stored_images.sql"),
        include_str!("../migrations/0051_stored_images.sql"),
    ),
    (
        52,
        "list_sorts",
        include_str!("../migrations/0052_list_sorts.sql"),
        include_str!("../migrations/0052_list_sorts.sql"),
    ),
    (
        53,
        "search_vector",
        include_str!("../migrations/0053_search_vector.sqlite.sql"),
        include_str!("../migrations/0053_search_vector.postgres.sql"),
    ),
    (
        54,
        "tag_newest",
        include_str!("../migrations/0054_tag_newest.sqlite.sql"),
        include_str!("../migrations/0054_tag_newest.postgres.sql"),
    ),
];

/// SQLite's reading connections (see [`Db::connect`]).
const SQLITE_READERS: u32 = 4;
/// Each SQLite connection's page cache, in KiB.
const SQLITE_CACHE_KIB: u32 = 4096;
/// How long a PostgreSQL connection may sit idle before it is pinged ahead of its next use. Under
/// load connections come back within milliseconds and are not pinged; a session the server ended
/// while its connection sat idle (a restart takes seconds) is found before use, unless it ended
/// less than this after the connection's last use: then one statement fails as the database
/// unavailable, and the connection is closed as it comes back and replaced.
const PG_PING_AFTER_IDLE: Duration = Duration::from_millis(250);

/// Connections in each of PostgreSQL's two pools: twice the CPUs, between 4 and 8 (4 on two
/// cores). More backends than cores only take turns on them: at 100,000 videos on two cores, 4
/// reading connections answered the first list page with p99 11.0-14.4 ms where 16 took
/// 14.6-18.7 ms, and PostgreSQL spent 10-20 % less CPU a request (ARCHITECTURE, "The database
/// layer"). At most 8 each keeps a process within the 16 connections it had with one pool: a
/// large machine's several processes stay under PostgreSQL's default `max_connections` (100).
pub fn pg_pool_size() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    (2 * cpus).clamp(4, 8)
}

fn dialect(sql: &str, backend: Backend) -> String {
    let id = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    };
    sql.replace("$ID$", id)
}

impl Db {
    /// Opens `url` (`sqlite://path` or `postgres://…`). A SQLite file is created if missing, in WAL
    /// mode with foreign keys on and a busy timeout, so concurrent writers wait instead of failing.
    pub async fn connect(url: &str) -> Result<Db> {
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
            // Each connection has its own page cache, of up to 4 MiB: a search at 100,000 videos
            // reads ~3 MiB of pages (its matches' rows, the full-text index's document sizes),
            // and with 2 MiB every search read them all again from the kernel (1.9× slower).
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("cache_size", format!("-{}", SQLITE_CACHE_KIB));
            // Four readers keep two cores busy (eight answered no faster and held twice the page
            // caches). A connection idle for a minute is closed, with its page cache. No ping
            // before each use: a file does not drop connections, and the ping was a round trip
            // to the connection's thread per query (searches 7 % faster without).
            let read = SqlitePoolOptions::new()
                .max_connections(SQLITE_READERS)
                .idle_timeout(Duration::from_secs(60))
                .acquire_timeout(Duration::from_secs(15))
                .test_before_acquire(false)
                .connect_with(opts.clone())
                .await?;
            // The writer: transactions queue here for their turn rather than in SQLite's busy
            // handler, each holding a connection of its own.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(Duration::from_secs(60))
                .acquire_timeout(Duration::from_secs(15))
                .test_before_acquire(false)
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite { read, write })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            // Only a connection idle for a while is pinged before use (the server may have
            // restarted or a firewall dropped it meanwhile); sqlx's default pinged before every
            // use, a round trip to the server ahead of each query. One in steady use was pinged
            // when it came back, a moment ago (sqlx always does that on release). 2-13 % more
            // requests a second at 100,000 videos (ARCHITECTURE, "No ping ahead of each query").
            let pool = || {
                PgPoolOptions::new()
                    .max_connections(pg_pool_size())
                    .acquire_timeout(Duration::from_secs(15))
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PG_PING_AFTER_IDLE {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
            };
            let read = pool().connect_with(opts.clone()).await?;
            let write = pool().connect_with(opts).await?;
            Ok(Db::Postgres { read, write })
        } else {
            Err(Error::Other(format!("unsupported database URL '{url}': expected sqlite://… or postgres://…")))
        }
    }

    /// Where statements polled all the time run (the job workers' claims and `next_due`, the
    /// runner watchdog's look-ups): on SQLite the writer's connection, so those polls (~40 a second
    /// on an idle instance) do not keep the readers in use — sqlx hands idle connections out in
    /// turn, so a poll every few seconds kept all of them, and their page caches, alive. On
    /// PostgreSQL the writing pool, so that polls do not take the readers pages need. Other
    /// statements, writes outside a transaction included, use the readers (`&db`).
    pub fn writer(&self) -> Exec<'_> {
        match self {
            Db::Sqlite { write, .. } => Exec::SqlitePool(write),
            Db::Postgres { write, .. } => Exec::PgPool(write),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
    /// deferred transaction that reads then writes can fail with "database is locked" instead of
    /// waiting its turn.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres { write, .. } => Tx::Postgres(write.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres { read, write } => {
                read.close().await;
                write.close().await;
            }
        }
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        run!(self, |x| sqlx::query("SELECT 1").execute(x).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        run!(self, |x| {
            sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
        .execute(x).await.map(|r| r.rows_affected())
        })?;
        let rows: Vec<(i64,)> =
            run!(self, |x| sqlx::query_as("SELECT version FROM schema_migrations ORDER BY version")
                .fetch_all(x)
                .await)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Versions of the migrations this binary has that the database has not run yet.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>> {
        let applied = self.applied_migrations().await?;
        Ok(MIGRATIONS.iter().map(|m| m.0).filter(|v| !applied.contains(v)).collect())
    }

    /// Runs every pending migration; returns the names of those it ran.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let applied = self.applied_migrations().await?;
        let mut ran = Vec::new();
        for (version, name, sqlite, postgres) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
            let text = match self.backend() {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            let sql = dialect(text, self.backend());
            let mut tx = self.begin().await?;
            run!(&mut tx, |x| sqlx::raw_sql(&sql).execute(x).await.map(|r| r.rows_affected()))?;
            run!(&mut tx, |x| sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"
            )
            .bind(version)
            .bind(name)
            .bind(flotilla_domain::time::now_ms())
            .execute(x)
            .await
            .map(|r| r.rows_affected()))?;
            tx.commit().await?;
            tracing::info!(version, name, "migration applied");
            ran.push(format!("{version:04}_{name}"));
        }
        Ok(ran)
    }
}

/// `LIMIT/OFFSET` from PeerTube's `start`/`count`, already clamped by the caller.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub start: i64,
    pub count: i64,
}

/// Maps a PeerTube sort parameter (`name`, `-createdAt`, …) onto a column from an allow-list,
/// so user input never reaches the SQL text.
pub fn order_by(sort: Option<&str>, allowed: &[(&str, &str)], default: &str) -> String {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else { return default.to_string() };
    let (desc, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort),
    };
    match allowed.iter().find(|(k, _)| *k == key) {
        Some((_, col)) => format!("{col} {}", if desc { "DESC" } else { "ASC" }),
        None => default.to_string(),
    }
}

/// `1,2,3` for `IN (…)`: the one way values reach SQL text other than as bound parameters, and
/// it takes integers only, which cannot carry SQL. (A list of binds would need a statement per
/// length; these lists come from our own rows.)
/// A value that a query built from a dynamic filter binds, in the order of its `$N`.
pub(crate) enum Arg {
    I(i64),
    S(String),
}

/// Binds `args` (`&[Arg]`) to a `sqlx` query, in order.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::Arg::I(i) => q.bind(*i),
                $crate::Arg::S(s) => q.bind(s.as_str()),
            };
        }
        q
    }};
}
pub(crate) use bind_args;

pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// `ids` as one bound parameter at the placeholder `$n` (1 to 4): the SQL that reads them after a
/// column (`IN (…)` over a JSON array on SQLite, `= ANY(…)` over an array on PostgreSQL) and the
/// text to bind there. Written into the statement instead, every set of ids is a statement of its
/// own to prepare (and, on PostgreSQL, to plan), and each one takes a place in the connection's
/// statement cache. The SQL is a constant, so nothing but ids can reach it.
pub(crate) fn id_set(backend: Backend, n: usize, ids: &[i64]) -> (&'static str, String) {
    const SQLITE: [&str; 4] = [
        "IN (SELECT value FROM json_each($1))",
        "IN (SELECT value FROM json_each($2))",
        "IN (SELECT value FROM json_each($3))",
        "IN (SELECT value FROM json_each($4))",
    ];
    const POSTGRES: [&str; 4] = [
        "= ANY(CAST($1 AS BIGINT[]))",
        "= ANY(CAST($2 AS BIGINT[]))",
        "= ANY(CAST($3 AS BIGINT[]))",
        "= ANY(CAST($4 AS BIGINT[]))",
    ];
    match backend {
        Backend::Sqlite => (SQLITE[n - 1], format!("[{}]", id_list(ids))),
        Backend::Postgres => (POSTGRES[n - 1], format!("{{{}}}", id_list(ids))),
    }
}

/// The rule that no SQL is built from values, as tests over this crate's sources.
#[cfg(test)]
mod sql_rule;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_set_reads_its_own_placeholder_and_binds_every_id() {
        for n in 1..=4 {
            for backend in [Backend::Sqlite, Backend::Postgres] {
                let (sql, _) = id_set(backend, n, &[7]);
                assert!(sql.contains(&format!("${n}")) && sql.matches('$').count() == 1, "{n}: {sql}");
            }
        }
        assert_eq!(id_set(Backend::Sqlite, 2, &[3, 1, 2]).1, "[3,1,2]");
        assert_eq!(id_set(Backend::Postgres, 2, &[3, 1, 2]).1, "{3,1,2}");
    }

    #[test]
    fn sort_keys_outside_the_allow_list_fall_back_to_the_default() {
        let allowed = [("createdAt", "u.created_at"), ("username", "u.username")];
        assert_eq!(order_by(Some("-createdAt"), &allowed, "u.id ASC"), "u.created_at DESC");
        assert_eq!(order_by(Some("username"), &allowed, "u.id ASC"), "u.username ASC");
        assert_eq!(order_by(Some("1; DROP TABLE users"), &allowed, "u.id ASC"), "u.id ASC");
        assert_eq!(order_by(None, &allowed, "u.id ASC"), "u.id ASC");
    }

    #[test]
    fn migrations_become_each_dialect() {
        let sql = dialect("CREATE TABLE t (id $ID$)", Backend::Postgres);
        assert!(sql.contains("GENERATED BY DEFAULT AS IDENTITY"));
        assert!(dialect("x $ID$", Backend::Sqlite).contains("AUTOINCREMENT"));
    }
}
