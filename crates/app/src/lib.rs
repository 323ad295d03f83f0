//! The use-cases of Flotilla: one module per aggregate (`user`, `channel`, `account`, …), one
//! function per action, all taking the [`App`] that holds every piece of state. Knows the
//! database and media crates; knows nothing of HTTP (that is `api`). Conversions to PeerTube's
//! JSON shapes live in `convert`, URLs in `uris`.

// PeerTube's `Video` @context is one `json!` literal of some sixty terms (ap::video_context).
#![recursion_limit = "256"]

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use flotilla_db::Db;
use flotilla_domain::FieldError;
use serde::Deserialize;

pub mod abuse;
pub mod account;
pub mod ap;
pub mod archive;
pub mod auth;
pub mod auto_tags;
pub mod blocklist;
pub mod bootstrap;
pub mod changes;
pub mod channel;
pub mod collaborators;
pub mod comment;
pub mod config;
pub mod convert;
pub mod edge;
pub mod events;
pub mod failpoints;
pub mod federation;
pub mod feed;
pub mod history;
pub mod image;
pub mod image_storage;
pub mod instance;
pub mod jobs;
pub mod jobs_admin;
pub mod limits;
pub mod live;
pub mod mail;
pub mod media_cache;
pub mod notification;
pub mod playlist;
pub mod redundancy;
pub mod registration;
pub mod runners;
pub mod storage;
pub mod text;
pub mod two_factor;
pub mod uris;
pub mod user;
pub mod verification;
pub mod video;

pub use config::{Config, PublicUrl};
pub use flotilla_db::Error as DbError;

/// Everything a request or a job needs, passed explicitly (no globals), so several instances can
/// run in one process.
pub struct App {
    pub config: Arc<Config>,
    pub public: PublicUrl,
    pub db: Db,
    pub logins: auth::LoginLimiter,
    /// Requests per client address and per remote server (`limits`).
    pub limits: limits::Limits,
    /// Password hashing, a few at a time (`auth::Passwords`).
    pub passwords: auth::Passwords,
    /// Hot media bytes and recent file-access decisions (`media_cache`).
    pub media_cache: media_cache::MediaCache,
    /// Remote videos' files served from here (`edge`).
    pub edge: edge::EdgeCache,
    /// Limits how often a remote actor's key is fetched again after a failed signature.
    pub key_refetches: media_cache::RefetchLimiter,
    /// Recent totals of public video lists.
    pub list_totals: media_cache::ListTotals,
    /// Where deep pages of public video lists start, recently.
    pub list_bookmarks: media_cache::ListBookmarks,
    /// Who was counted as viewing which video in the last hour.
    pub views_seen: video::views::Seen,
    /// Who watches what now (`video::views::Watching`).
    pub watching: video::views::Watching,
    /// Viewers other servers tell of (their viewers of our videos, their videos' totals).
    pub remote_viewers: video::views::RemoteViewers,
    /// The one client for remote servers (`flotilla_federation::fetch`).
    pub fetcher: flotilla_federation::fetch::Fetcher,
    /// Signs video-file tokens (`video::token`).
    pub file_token_key: Vec<u8>,
    /// Resumable upload sessions with a chunk being written.
    pub uploads_busy: video::resumable::Busy,
    /// Places where tests make the process fail on purpose (`failpoints`; nothing in other builds).
    pub failpoints: failpoints::Failpoints,
    /// Job workers alive now, and how many were replaced after a panic (`jobs`).
    pub live_workers: std::sync::atomic::AtomicUsize,
    pub replaced_workers: std::sync::atomic::AtomicUsize,
    /// Wakes idle job workers when a job is enqueued.
    pub jobs_wakeup: tokio::sync::Notify,
    /// Deliveries in flight per remote host (`federation::delivery`).
    pub host_slots: federation::delivery::HostSlots,
    pub ld_signatures: federation::delivery::LdSignatures,
    /// New notifications, `(user id, notification id)`, for the live streams (`notification`).
    pub notifications: tokio::sync::broadcast::Sender<(i64, i64)>,
    /// `true` once the server stops: long-lived responses (the notification stream) end then, so
    /// a graceful shutdown does not wait for them.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// What the instance's blocklists hide and refuse, and users' mutes (`blocklist`).
    pub blocks: blocklist::Blocks,
    /// Recent feed answers (`feed`).
    pub feeds: feed::FeedCache,
    /// Lives streaming in this process, and the RTMP server's address (`live`).
    pub lives: live::Lives,
    /// The object store's clients, when one is configured (`storage`): also when `enabled` is off,
    /// so that files already there stay readable and can be moved back.
    pub object_storage: Option<storage::ObjectStorage>,
    /// The settings admins change at run time (custom config), over the file's values.
    settings: RwLock<Arc<instance::Settings>>,
}

impl App {
    /// Connects to the database, runs pending migrations, creates the `root` admin and the data
    /// directories if missing. The configuration must have been validated.
    pub async fn open(config: Config) -> Result<App> {
        let public = config.validate().map_err(|e| Error::Internal(e.to_string()))?;
        for dir in std::iter::once(config.data_dir.clone()).chain(DATA_DIRS.iter().map(|d| config.data_dir.join(d))) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::Internal(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let db = Db::connect(&config.database_url()).await?;
        db.migrate().await?;
        let settings = instance::load(&db, &config).await?;
        let file_token_key = video::token::load_key(&db).await?;
        let app = App {
            logins: auth::LoginLimiter::new(&config.auth),
            limits: limits::Limits::new(&config.rate_limits),
            passwords: auth::Passwords::new(),
            jobs_wakeup: tokio::sync::Notify::new(),
            failpoints: failpoints::Failpoints::from_env(),
            live_workers: Default::default(),
            replaced_workers: Default::default(),
            host_slots: Default::default(),
            ld_signatures: Default::default(),
            uploads_busy: Default::default(),
            views_seen: Default::default(),
            watching: Default::default(),
            remote_viewers: Default::default(),
            list_totals: Default::default(),
            list_bookmarks: Default::default(),
            key_refetches: Default::default(),
            blocks: Default::default(),
            feeds: Default::default(),
            lives: Default::default(),
            media_cache: media_cache::MediaCache::new(config.http.media_cache_bytes),
            edge: edge::EdgeCache::open(config.data_dir.join("edge-cache"), config.federation.edge_cache_bytes),
            fetcher: flotilla_federation::fetch::Fetcher::new(
                config.federation.allow_private,
                &format!("Flotilla/{} (+{})", env!("CARGO_PKG_VERSION"), public.base()),
            ),
            file_token_key,
            object_storage: if config.object_storage.endpoint.is_empty() {
                None
            } else {
                Some(storage::ObjectStorage::new(&config.object_storage).map_err(Error::Internal)?)
            },
            config: Arc::new(config),
            public,
            db,
            // A listener more than 256 behind misses some and reloads the list (`Lagged`).
            notifications: tokio::sync::broadcast::channel(256).0,
            stopping: tokio::sync::watch::channel(false).0,
            settings: RwLock::new(Arc::new(settings)),
        };
        ap::ensure_instance_actor(&app).await?;
        bootstrap::ensure_root(&app).await?;
        blocklist::reload(&app).await?;
        Ok(app)
    }

    /// The current effective settings.
    pub fn settings(&self) -> Arc<instance::Settings> {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_settings(&self, s: instance::Settings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
    }

    pub fn images_dir(&self) -> PathBuf {
        images_dir(&self.config)
    }

    /// A directory under the data dir (`tmp/uploads`, `streaming-playlists/hls`, `thumbnails`, …).
    pub fn data_path(&self, sub: &str) -> PathBuf {
        self.config.data_dir.join(sub)
    }

    /// Tells idle workers that a job was committed.
    pub fn wake_jobs(&self) {
        self.jobs_wakeup.notify_waiters();
    }
}

/// Directories under the data dir that the app writes into.
pub const DATA_DIRS: &[&str] = &[
    "images",
    "original-video-files",
    "tmp/uploads",
    "tmp/transcode",
    "streaming-playlists/hls",
    "thumbnails",
    "previews",
    "user-exports",
    "web-videos",
    "torrents",
    "captions",
    "storyboards",
];

fn images_dir(config: &Config) -> PathBuf {
    config.data_dir.join("images")
}

/// Why a use-case refused or failed. `code()` is stable and documented in docs/API-CONVENTIONS.md;
/// the HTTP status is decided in one place, in `api`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Db(#[from] flotilla_db::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{msg}")]
    Unauthorized { code: &'static str, msg: String },
    #[error("{0}")]
    Forbidden(String),
    /// A refusal with a code of its own (a password-protected video's `video_requires_password`).
    #[error("{msg}")]
    ForbiddenCode { code: &'static str, msg: String },
    #[error("invalid request parameters: {}", .0.iter().map(|f| f.field.as_str()).collect::<Vec<_>>().join(", "))]
    Validation(Vec<FieldError>),
    #[error("{msg}")]
    BadRequest { code: &'static str, msg: String },
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts: retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{msg}")]
    TooLarge { code: &'static str, msg: String },
    #[error("{0}")]
    UnsupportedMedia(String),
    /// A resumable upload's chunk does not continue what is stored; `stored` bytes are kept.
    #[error("{msg}")]
    RangeMismatch { stored: u64, msg: String },
    /// The disk is full: nothing of the request was kept; worth another try later.
    #[error("{0}")]
    StorageFull(String),
    /// Another server we needed (a remote video's origin) failed or answered what we refuse.
    #[error("{msg}")]
    Upstream { code: &'static str, msg: String },
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Db(flotilla_db::Error::NotFound) | Error::NotFound(_) => "not_found",
            Error::Db(flotilla_db::Error::Conflict(_)) | Error::Conflict(_) => "conflict",
            Error::Db(flotilla_db::Error::Unavailable(_)) => "database_unavailable",
            Error::Db(flotilla_db::Error::Other(_)) | Error::Internal(_) => "internal_error",
            Error::Unauthorized { code, .. }
            | Error::BadRequest { code, .. }
            | Error::TooLarge { code, .. }
            | Error::Upstream { code, .. }
            | Error::ForbiddenCode { code, .. } => code,
            Error::Forbidden(_) => "forbidden",
            Error::Validation(_) => "invalid_params",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::UnsupportedMedia(_) => "unsupported_media_type",
            Error::RangeMismatch { .. } => "upload_range_mismatch",
            Error::StorageFull(_) => "insufficient_storage",
        }
    }

    /// A failed write of `what`: a full disk is said so (507, try again later), anything else is
    /// an internal error.
    pub fn write(what: &str, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::StorageFull {
            Error::StorageFull(format!("the server's disk is full: {what} could not be stored; try again later"))
        } else {
            Error::Internal(format!("cannot write {what}: {e}"))
        }
    }

    pub fn not_found(what: &str) -> Error {
        Error::NotFound(format!("{what} not found"))
    }

    pub fn invalid(field: &str, msg: impl Into<String>) -> Error {
        Error::Validation(vec![FieldError { field: field.into(), msg: msg.into() }])
    }

    pub fn bad_request(code: &'static str, msg: impl Into<String>) -> Error {
        Error::BadRequest { code, msg: msg.into() }
    }
}

impl From<flotilla_media::Error> for Error {
    fn from(e: flotilla_media::Error) -> Self {
        match e {
            flotilla_media::Error::Rejected(m) => Error::bad_request("invalid_image", m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<Vec<FieldError>> for Error {
    fn from(v: Vec<FieldError>) -> Self {
        Error::Validation(v)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// PeerTube's pagination: `start` from 0, `count` 1–100 (default 15).
pub fn page(start: Option<i64>, count: Option<i64>) -> flotilla_db::Page {
    flotilla_db::Page { start: start.unwrap_or(0).max(0), count: count.unwrap_or(15).clamp(1, 100) }
}

/// For `Option<Option<T>>` fields: absent → `None` (leave as is), `null` → `Some(None)` (clear).
pub fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

/// Splits a PeerTube handle (`name` or `name@host`) and tells whether it names a local actor.
pub fn local_name<'a>(app: &App, handle: &'a str) -> Option<&'a str> {
    match handle.split_once('@') {
        None => Some(handle),
        Some((name, host)) if host.eq_ignore_ascii_case(&app.public.host) => Some(name),
        Some(_) => None,
    }
}
