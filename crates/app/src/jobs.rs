//! Background work: the `Job` kinds, the workers that claim them from the database, and
//! `run_until_idle` for tests. A job is a row written in the same transaction as the change that
//! needs it, so nothing is lost on a crash; a worker holds it under a lease that its heartbeat
//! renews, and a job whose heartbeat stops goes back to the queue and runs again.
//!
//! ```text
//!  worker: claim (lease) ──> run the job ─┬─ done / retry / failed, fenced by the lease
//!                            heartbeat ───┴─ lease lost: the job is dropped (ffmpeg killed)
//!  sweeper: heartbeat older than the lease ──> queued again (the attempt counted),
//!           or failed when it has no attempt left (a job that crashes its process stops)
//! ```
//!
//! A job that panics is caught and retried like any failure; a worker whose loop panics is
//! replaced, so the number of workers stays what the configuration says.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use flotilla_db::jobs;
use flotilla_domain::time::now_ms;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::{App, Error, Result};

/// Every kind of job. `kind()` strings are stored in the table: never change one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Job {
    Transcode {
        video_id: i64,
    },
    Deliver {
        actor_id: i64,
        inbox: String,
        activity: serde_json::Value,
    },
    FetchThumbnail {
        video_id: i64,
        url: String,
    },
    RefreshVideo {
        video_id: i64,
    },
    RefreshActor {
        url: String,
    },
    FetchActorImage {
        actor_id: i64,
        kind: String,
        url: String,
    },
    /// Something that happened, for the parts that react to it (`events`).
    Event {
        event: crate::events::Event,
    },
    /// A transcoded video's missing web videos and torrents (videos from before they existed, or
    /// `web_videos` turned on later), then an `Update` to its followers.
    VideoFiles {
        video_id: i64,
    },
    /// A remote video's chapters, from its `hasParts` document.
    FetchChapters {
        video_id: i64,
        url: String,
    },
    /// Replaced playlist files of a video, removed once their grace period is over.
    PrunePlaylists {
        video_id: i64,
        files: Vec<String>,
    },
    /// The likes and dislikes of one of our videos changed: its followers get its counts (one job
    /// gathers a burst of ratings).
    VideoCounts {
        video_id: i64,
    },
    /// A remote video's likes and dislikes, read from its origin's collections.
    FetchVideoRates {
        video_id: i64,
        likes: String,
        dislikes: String,
    },
    /// One page of a followed actor's outbox (`page` `None`: its first), and what is left of the
    /// crawl's bounds.
    FetchOutbox {
        actor_id: i64,
        page: Option<String>,
        pages_left: i64,
        items_left: i64,
    },
    /// A video of another server, fetched from its origin by URL.
    FetchVideo {
        url: String,
    },
    /// Views of another server's video counted here, told to its server (`View`s).
    SendViews {
        video_id: i64,
    },
    /// A page of a remote video's `comments` collection (`page` `None`: the collection itself).
    FetchComments {
        video_id: i64,
        url: String,
        items_left: i64,
    },
    /// A comment of another server, fetched from its origin by URL.
    FetchComment {
        url: String,
    },
    /// Our mirror of another server's video, copied from its origin (`redundancy`).
    MirrorCopy {
        redundancy_id: i64,
    },
    /// Another server's playlist, read from its origin with its elements (`federation::playlists`).
    FetchPlaylist {
        url: String,
    },
    /// A plain-text e-mail (`mail`).
    SendEmail {
        to: String,
        subject: String,
        text: String,
    },
    /// A user's archive, built (`archive::export`).
    UserExport {
        export_id: i64,
    },
    /// An uploaded user archive, brought in (`archive::import`).
    UserImport {
        import_id: i64,
    },
    /// A video imported from a URL, downloaded (`video::import`).
    VideoImport {
        import_id: i64,
    },
    /// An ended live session's files, removed once viewers behind its edge had time to play to
    /// its end (`live::cleanup`).
    LiveCleanup {
        video_id: i64,
        session_id: i64,
    },
    /// A video's files moved to the object store's bucket its privacy calls for
    /// (`storage::run_move`).
    MoveToObjectStorage {
        video_id: i64,
    },
    /// A video's files brought back to the local disk.
    MoveToFileSystem {
        video_id: i64,
    },
    /// A deleted video's files removed from the object store (`storage::remove_objects`): names
    /// taken in the transaction that deleted its rows.
    RemoveObjects {
        uuid: String,
        storage: i64,
        /// `(kind, name)`: `hls` or `web`.
        files: Vec<(String, String)>,
    },
    /// A video's renditions made by remote runners, stored and published (`runners::results`).
    RunnerResults {
        video_id: i64,
    },
    /// A video's kept original copied to the object store's private bucket
    /// (`storage::store_original`).
    StoreOriginal {
        video_id: i64,
    },
    /// Images on the disk older than `settle_secs` copied to the images bucket
    /// (`image_storage::store_all`). One at a time (its key): it removes disk copies.
    StoreImages {
        settle_secs: u64,
    },
    /// Every image in the images bucket brought back to the disk (`image_storage::to_file_system`).
    ImagesToFileSystem {},
}

impl Job {
    /// The move of a video's files that way.
    pub fn move_job(video_id: i64, direction: crate::storage::Direction) -> Job {
        match direction {
            crate::storage::Direction::ToObjectStorage => Job::MoveToObjectStorage { video_id },
            crate::storage::Direction::ToFileSystem => Job::MoveToFileSystem { video_id },
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Job::Transcode { .. } => "transcode",
            Job::Deliver { .. } => "deliver",
            Job::FetchThumbnail { .. } => "fetch-thumbnail",
            Job::RefreshVideo { .. } => "refresh-video",
            Job::RefreshActor { .. } => "refresh-actor",
            Job::FetchActorImage { .. } => "fetch-actor-image",
            Job::Event { .. } => "event",
            Job::PrunePlaylists { .. } => "prune-playlists",
            Job::VideoFiles { .. } => "video-files",
            Job::FetchChapters { .. } => "fetch-chapters",
            Job::VideoCounts { .. } => "video-counts",
            Job::FetchVideoRates { .. } => "fetch-video-rates",
            Job::FetchOutbox { .. } => "fetch-outbox",
            Job::FetchVideo { .. } => "fetch-video",
            Job::SendViews { .. } => "send-views",
            Job::FetchComments { .. } => "fetch-comments",
            Job::FetchComment { .. } => "fetch-comment",
            Job::MirrorCopy { .. } => "mirror-copy",
            Job::FetchPlaylist { .. } => "fetch-playlist",
            Job::SendEmail { .. } => "send-email",
            Job::UserExport { .. } => "user-export",
            Job::UserImport { .. } => "user-import",
            Job::VideoImport { .. } => "video-import",
            Job::LiveCleanup { .. } => "live-cleanup",
            Job::MoveToObjectStorage { .. } => "move-to-object-storage",
            Job::MoveToFileSystem { .. } => "move-to-file-system",
            Job::RemoveObjects { .. } => "remove-objects",
            Job::RunnerResults { .. } => "runner-results",
            Job::StoreOriginal { .. } => "store-original",
            Job::StoreImages { .. } => "store-images",
            Job::ImagesToFileSystem { .. } => "images-to-file-system",
        }
    }

    fn max_attempts(&self) -> i64 {
        match self {
            Job::Transcode { .. } => 5,
            // With the backoff capped at an hour, about a day and a half of trying.
            Job::Deliver { .. } => 40,
            Job::FetchThumbnail { .. } | Job::FetchActorImage { .. } => 5,
            Job::RefreshVideo { .. } | Job::RefreshActor { .. } => 3,
            // What an event causes is queued in one transaction: retrying is safe, and a
            // database that is down for a while must not lose it.
            Job::Event { .. } => 20,
            Job::PrunePlaylists { .. } | Job::VideoFiles { .. } => 5,
            Job::FetchChapters { .. } => 3,
            Job::VideoCounts { .. } => 10,
            Job::FetchVideoRates { .. } => 3,
            Job::FetchOutbox { .. } | Job::FetchVideo { .. } => 5,
            Job::SendViews { .. } => 10,
            Job::FetchComments { .. } | Job::FetchComment { .. } => 3,
            Job::MirrorCopy { .. } => 5,
            Job::FetchPlaylist { .. } => 5,
            // With the backoff, about a day of trying while the SMTP server is down.
            Job::SendEmail { .. } => 16,
            Job::UserExport { .. } | Job::UserImport { .. } => 5,
            // Its own failures (the URL, the file) end the import, not the job: attempts are for
            // the server's trouble and for a worker that died midway.
            Job::VideoImport { .. } => 5,
            Job::LiveCleanup { .. } => 5,
            // With the backoff, about a day of trying while the store is down.
            Job::MoveToObjectStorage { .. } | Job::MoveToFileSystem { .. } | Job::RemoveObjects { .. } => 16,
            Job::RunnerResults { .. } => 10,
            Job::StoreOriginal { .. } => 16,
            // The next round queues it again anyway.
            Job::StoreImages { .. } => 3,
            Job::ImagesToFileSystem { .. } => 16,
        }
    }

    pub fn unique_key(&self) -> Option<String> {
        match self {
            Job::Transcode { video_id } => Some(format!("transcode:{video_id}")),
            Job::Deliver { .. } => None,
            Job::FetchThumbnail { video_id, .. } => Some(format!("fetch-thumbnail:{video_id}")),
            Job::RefreshVideo { video_id } => Some(format!("refresh-video:{video_id}")),
            Job::RefreshActor { url } => Some(format!("refresh-actor:{url}")),
            Job::FetchActorImage { actor_id, kind, .. } => Some(format!("fetch-actor-image:{actor_id}:{kind}")),
            Job::Event { .. } | Job::PrunePlaylists { .. } => None,
            Job::VideoCounts { video_id } => Some(format!("video-counts:{video_id}")),
            Job::VideoFiles { video_id } => Some(format!("video-files:{video_id}")),
            Job::FetchChapters { video_id, .. } => Some(format!("fetch-chapters:{video_id}")),
            Job::FetchVideoRates { video_id, .. } => Some(format!("fetch-video-rates:{video_id}")),
            Job::FetchOutbox { actor_id, page: None, .. } => Some(format!("fetch-outbox:{actor_id}")),
            Job::FetchOutbox { .. } => None,
            Job::FetchVideo { url } => Some(format!("fetch-video:{url}")),
            Job::SendViews { video_id } => Some(format!("send-views:{video_id}")),
            Job::FetchComments { url, .. } => Some(format!("fetch-comments:{url}")),
            Job::FetchComment { url } => Some(format!("fetch-comment:{url}")),
            Job::MirrorCopy { redundancy_id } => Some(format!("mirror-copy:{redundancy_id}")),
            Job::FetchPlaylist { url } => Some(format!("fetch-playlist:{url}")),
            Job::SendEmail { .. } => None,
            Job::UserExport { export_id } => Some(format!("user-export:{export_id}")),
            Job::UserImport { import_id } => Some(format!("user-import:{import_id}")),
            Job::VideoImport { import_id } => Some(format!("video-import:{import_id}")),
            Job::LiveCleanup { session_id, .. } => Some(format!("live-cleanup:{session_id}")),
            // One move of a video at a time, whichever way.
            Job::MoveToObjectStorage { video_id } | Job::MoveToFileSystem { video_id } => {
                Some(format!("move-storage:{video_id}"))
            }
            Job::RemoveObjects { .. } => None,
            // One storing of a video's results at a time (each writes its master playlist); a
            // success while it runs is stored by its loop or by the watchdog's next round.
            Job::RunnerResults { video_id } => Some(format!("runner-results:{video_id}")),
            Job::StoreOriginal { video_id } => Some(format!("store-original:{video_id}")),
            // Images go one way at a time, by one worker: a sweep that finds its disk copy gone
            // concludes the image was deleted meanwhile.
            Job::StoreImages { .. } | Job::ImagesToFileSystem { .. } => Some("move-images".into()),
        }
    }

    /// Reads a stored job; the kind decides the payload's type (no guessing from its shape).
    fn parse(kind: &str, payload: &str) -> std::result::Result<Job, String> {
        #[derive(Deserialize)]
        struct VideoPayload {
            video_id: i64,
        }
        #[derive(Deserialize)]
        struct ThumbnailPayload {
            video_id: i64,
            url: String,
        }
        #[derive(Deserialize)]
        struct ActorImagePayload {
            actor_id: i64,
            kind: String,
            url: String,
        }
        #[derive(Deserialize)]
        struct ActorPayload {
            url: String,
        }
        #[derive(Deserialize)]
        struct PrunePayload {
            video_id: i64,
            files: Vec<String>,
        }
        #[derive(Deserialize)]
        struct LiveCleanupPayload {
            video_id: i64,
            session_id: i64,
        }
        #[derive(Deserialize)]
        struct RemoveObjectsPayload {
            uuid: String,
            storage: i64,
            files: Vec<(String, String)>,
        }
        #[derive(Deserialize)]
        struct StoreImagesPayload {
            settle_secs: u64,
        }
        #[derive(Deserialize)]
        struct EventPayload {
            event: crate::events::Event,
        }
        #[derive(Deserialize)]
        struct RatesPayload {
            video_id: i64,
            likes: String,
            dislikes: String,
        }
        #[derive(Deserialize)]
        struct OutboxPayload {
            actor_id: i64,
            page: Option<String>,
            pages_left: i64,
            items_left: i64,
        }
        #[derive(Deserialize)]
        struct CommentsPayload {
            video_id: i64,
            url: String,
            items_left: i64,
        }
        #[derive(Deserialize)]
        struct MirrorPayload {
            redundancy_id: i64,
        }
        #[derive(Deserialize)]
        struct EmailPayload {
            to: String,
            subject: String,
            text: String,
        }
        #[derive(Deserialize)]
        struct ExportPayload {
            export_id: i64,
        }
        #[derive(Deserialize)]
        struct ImportPayload {
            import_id: i64,
        }
        #[derive(Deserialize)]
        struct DeliverPayload {
            actor_id: i64,
            inbox: String,
            activity: serde_json::Value,
        }
        match kind {
            "transcode" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::Transcode { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "fetch-thumbnail" => serde_json::from_str::<ThumbnailPayload>(payload)
                .map(|p| Job::FetchThumbnail { video_id: p.video_id, url: p.url })
                .map_err(|e| e.to_string()),
            "refresh-video" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::RefreshVideo { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "refresh-actor" => serde_json::from_str::<ActorPayload>(payload)
                .map(|p| Job::RefreshActor { url: p.url })
                .map_err(|e| e.to_string()),
            "fetch-actor-image" => serde_json::from_str::<ActorImagePayload>(payload)
                .map(|p| Job::FetchActorImage { actor_id: p.actor_id, kind: p.kind, url: p.url })
                .map_err(|e| e.to_string()),
            "deliver" => serde_json::from_str::<DeliverPayload>(payload)
                .map(|p| Job::Deliver { actor_id: p.actor_id, inbox: p.inbox, activity: p.activity })
                .map_err(|e| e.to_string()),
            "event" => serde_json::from_str::<EventPayload>(payload)
                .map(|p| Job::Event { event: p.event })
                .map_err(|e| e.to_string()),
            "prune-playlists" => serde_json::from_str::<PrunePayload>(payload)
                .map(|p| Job::PrunePlaylists { video_id: p.video_id, files: p.files })
                .map_err(|e| e.to_string()),
            "video-counts" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::VideoCounts { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "video-files" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::VideoFiles { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "fetch-chapters" => serde_json::from_str::<ThumbnailPayload>(payload)
                .map(|p| Job::FetchChapters { video_id: p.video_id, url: p.url })
                .map_err(|e| e.to_string()),
            "fetch-video-rates" => serde_json::from_str::<RatesPayload>(payload)
                .map(|p| Job::FetchVideoRates { video_id: p.video_id, likes: p.likes, dislikes: p.dislikes })
                .map_err(|e| e.to_string()),
            "fetch-outbox" => serde_json::from_str::<OutboxPayload>(payload)
                .map(|p| Job::FetchOutbox {
                    actor_id: p.actor_id,
                    page: p.page,
                    pages_left: p.pages_left,
                    items_left: p.items_left,
                })
                .map_err(|e| e.to_string()),
            "fetch-video" => serde_json::from_str::<ActorPayload>(payload)
                .map(|p| Job::FetchVideo { url: p.url })
                .map_err(|e| e.to_string()),
            "send-views" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::SendViews { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "fetch-comments" => serde_json::from_str::<CommentsPayload>(payload)
                .map(|p| Job::FetchComments { video_id: p.video_id, url: p.url, items_left: p.items_left })
                .map_err(|e| e.to_string()),
            "fetch-comment" => serde_json::from_str::<ActorPayload>(payload)
                .map(|p| Job::FetchComment { url: p.url })
                .map_err(|e| e.to_string()),
            "mirror-copy" => serde_json::from_str::<MirrorPayload>(payload)
                .map(|p| Job::MirrorCopy { redundancy_id: p.redundancy_id })
                .map_err(|e| e.to_string()),
            "fetch-playlist" => serde_json::from_str::<ActorPayload>(payload)
                .map(|p| Job::FetchPlaylist { url: p.url })
                .map_err(|e| e.to_string()),
            "send-email" => serde_json::from_str::<EmailPayload>(payload)
                .map(|p| Job::SendEmail { to: p.to, subject: p.subject, text: p.text })
                .map_err(|e| e.to_string()),
            "user-export" => serde_json::from_str::<ExportPayload>(payload)
                .map(|p| Job::UserExport { export_id: p.export_id })
                .map_err(|e| e.to_string()),
            "user-import" => serde_json::from_str::<ImportPayload>(payload)
                .map(|p| Job::UserImport { import_id: p.import_id })
                .map_err(|e| e.to_string()),
            "video-import" => serde_json::from_str::<ImportPayload>(payload)
                .map(|p| Job::VideoImport { import_id: p.import_id })
                .map_err(|e| e.to_string()),
            "live-cleanup" => serde_json::from_str::<LiveCleanupPayload>(payload)
                .map(|p| Job::LiveCleanup { video_id: p.video_id, session_id: p.session_id })
                .map_err(|e| e.to_string()),
            "move-to-object-storage" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::MoveToObjectStorage { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "move-to-file-system" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::MoveToFileSystem { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "remove-objects" => serde_json::from_str::<RemoveObjectsPayload>(payload)
                .map(|p| Job::RemoveObjects { uuid: p.uuid, storage: p.storage, files: p.files })
                .map_err(|e| e.to_string()),
            "runner-results" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::RunnerResults { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "store-original" => serde_json::from_str::<VideoPayload>(payload)
                .map(|p| Job::StoreOriginal { video_id: p.video_id })
                .map_err(|e| e.to_string()),
            "store-images" => serde_json::from_str::<StoreImagesPayload>(payload)
                .map(|p| Job::StoreImages { settle_secs: p.settle_secs })
                .map_err(|e| e.to_string()),
            "images-to-file-system" => Ok(Job::ImagesToFileSystem {}),
            other => Err(format!("unknown job kind '{other}'")),
        }
    }
}

/// Kinds the workers serve, with how many run at once.
fn kinds(app: &App) -> Vec<(&'static str, u32)> {
    // Deliveries wait on the network, not the CPU: many run at once (at most
    // `delivery::PER_HOST` to one host).
    vec![
        ("transcode", app.config.jobs.concurrency),
        ("deliver", 8),
        ("fetch-thumbnail", 1),
        ("refresh-video", 1),
        ("refresh-actor", 1),
        ("fetch-actor-image", 1),
        ("event", 1),
        ("prune-playlists", 1),
        // Copies and hashes of whole files: one at a time, beside the transcoding workers.
        ("video-files", 1),
        ("fetch-chapters", 1),
        ("video-counts", 1),
        ("fetch-video-rates", 1),
        ("fetch-outbox", 1),
        ("fetch-video", 2),
        ("send-views", 1),
        ("fetch-comments", 1),
        // One worker: a thread's comments are stored in the order they were queued, parents first.
        ("fetch-comment", 1),
        // One mirror copied at a time: each is a whole video over the network and onto the disk.
        ("mirror-copy", 1),
        ("fetch-playlist", 1),
        ("send-email", 1),
        // One archive at a time: each reads or writes a user's whole data.
        ("user-export", 1),
        ("user-import", 1),
        // Downloads wait on the network; two at once, so one slow server does not hold all.
        ("video-import", 2),
        ("live-cleanup", 1),
        // Whole videos to and from the object store: one at a time.
        ("move-to-object-storage", 1),
        ("move-to-file-system", 1),
        ("remove-objects", 1),
        // Renditions made elsewhere: a copy and the hashes of each, one video at a time.
        ("runner-results", 1),
        ("store-original", 1),
        ("store-images", 1),
        ("images-to-file-system", 1),
    ]
}

/// How many workers [`spawn_workers`] keeps alive.
pub fn worker_count(app: &App) -> usize {
    kinds(app).iter().map(|(_, n)| *n as usize).sum()
}

/// Adds a job (inside the caller's transaction, as `e`). Workers are woken after the commit by
/// [`App::wake_jobs`].
pub async fn enqueue(e: impl Into<flotilla_db::Exec<'_>>, job: &Job) -> Result<i64> {
    enqueue_at(e, job, now_ms()).await
}

/// [`enqueue`], due at `run_at` (ms since the epoch).
pub async fn enqueue_at(e: impl Into<flotilla_db::Exec<'_>>, job: &Job, run_at: i64) -> Result<i64> {
    let payload = serde_json::to_string(job).map_err(|e| Error::Internal(e.to_string()))?;
    let key = job.unique_key();
    Ok(jobs::enqueue(e, job.kind(), &payload, key.as_deref(), job.max_attempts(), run_at).await?)
}

/// How a job ended.
#[derive(Debug)]
pub enum Failure {
    /// Worth trying again later (database down, a tool crashed).
    Retry(String),
    /// Will never work (the input is not a video): give up now.
    Fail(String),
    /// Not now and not a failure (its remote host is busy with others): queued again after the
    /// delay, the attempt not counted.
    Defer(Duration),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Db(flotilla_db::Error::Unavailable(_))
            | Error::Internal(_)
            | Error::Db(flotilla_db::Error::Other(_)) => Failure::Retry(e.to_string()),
            other => Failure::Fail(other.to_string()),
        }
    }
}

impl From<flotilla_db::Error> for Failure {
    fn from(e: flotilla_db::Error) -> Self {
        Failure::from(Error::from(e))
    }
}

/// Progress of the running job, 0–100, read by its heartbeat.
#[derive(Clone, Default)]
pub struct Progress(Arc<AtomicI64>);

impl Progress {
    pub fn set(&self, percent: i64) {
        self.0.store(percent.clamp(0, 100), Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Remote fetches one job may cause (a refresh, a thumbnail): see `fetch::with_budget`.
const FETCHES_PER_JOB: u32 = 16;

/// Waits between attempts: 10 s, 20 s, 40 s … capped at an hour.
fn backoff_ms(attempts: i64) -> i64 {
    let secs = 10i64.saturating_mul(1 << attempts.clamp(0, 20)) / 2;
    secs.min(3600) * 1000
}

async fn dispatch(app: &Arc<App>, job: &Job, progress: &Progress) -> std::result::Result<(), Failure> {
    match job {
        Job::Transcode { video_id } => crate::video::transcode::run(app, *video_id, progress).await,
        Job::Deliver { actor_id, inbox, activity } => {
            crate::federation::delivery::run(app, *actor_id, inbox, activity).await
        }
        Job::FetchThumbnail { video_id, url } => crate::federation::videos::fetch_thumbnail(app, *video_id, url).await,
        Job::RefreshVideo { video_id } => crate::federation::videos::refresh(app, *video_id).await,
        Job::RefreshActor { url } => crate::federation::remote::refresh(app, url).await,
        Job::FetchActorImage { actor_id, kind, url } => {
            crate::federation::remote::fetch_image(app, *actor_id, kind, url).await
        }
        // Each subscriber's part is safe to run again: deliveries are queued in one transaction,
        // notifications are stored once per subject.
        Job::Event { event } => {
            crate::federation::on_event(app, event).await?;
            Ok(crate::notification::on_event(app, event).await?)
        }
        Job::PrunePlaylists { video_id, files } => {
            crate::video::transcode::prune_playlists(app, *video_id, files).await
        }
        Job::VideoCounts { video_id } => crate::federation::rates::send_counts(app, *video_id).await,
        Job::VideoFiles { video_id } => crate::video::files::run(app, *video_id).await,
        Job::FetchChapters { video_id, url } => crate::video::chapters::fetch(app, *video_id, url).await,
        Job::FetchVideoRates { video_id, likes, dislikes } => {
            crate::federation::rates::fetch_counts(app, *video_id, likes, dislikes).await
        }
        Job::FetchOutbox { actor_id, page, pages_left, items_left } => {
            crate::federation::backfill::fetch_page(app, *actor_id, page.as_deref(), *pages_left, *items_left).await
        }
        Job::FetchVideo { url } => crate::federation::backfill::fetch_video(app, url).await,
        Job::SendViews { video_id } => crate::federation::views::send(app, *video_id).await,
        Job::FetchComments { video_id, url, items_left } => {
            crate::federation::backfill::fetch_comments(app, *video_id, url, *items_left).await
        }
        Job::FetchComment { url } => crate::federation::backfill::fetch_comment(app, url).await,
        Job::MirrorCopy { redundancy_id } => crate::redundancy::copy(app, *redundancy_id).await,
        // Its own budget: the playlist, its pages and elements (each video has one of its own).
        Job::SendEmail { to, subject, text } => crate::mail::send(app, to, subject, text).await,
        Job::UserExport { export_id } => Box::pin(crate::archive::export::run(app, *export_id)).await,
        Job::UserImport { import_id } => Box::pin(crate::archive::import::run(app, *import_id)).await,
        Job::VideoImport { import_id } => Box::pin(crate::video::import::run(app, *import_id, progress)).await,
        Job::LiveCleanup { video_id, session_id } => Ok(crate::live::cleanup(app, *video_id, *session_id).await?),
        Job::MoveToObjectStorage { video_id } => {
            crate::storage::run_move(app, *video_id, crate::storage::Direction::ToObjectStorage).await
        }
        Job::MoveToFileSystem { video_id } => {
            crate::storage::run_move(app, *video_id, crate::storage::Direction::ToFileSystem).await
        }
        Job::RemoveObjects { uuid, storage, files } => crate::storage::remove_objects(app, uuid, *storage, files).await,
        Job::RunnerResults { video_id } => Box::pin(crate::runners::results::store_all(app, *video_id)).await,
        Job::StoreOriginal { video_id } => crate::storage::store_original(app, *video_id).await,
        Job::StoreImages { settle_secs } => {
            crate::image_storage::store_all(app, Duration::from_secs(*settle_secs)).await.map(|_| ())
        }
        Job::ImagesToFileSystem {} => crate::image_storage::to_file_system(app).await.map(|_| ()),
        Job::FetchPlaylist { url } => {
            let budget = (crate::federation::playlists::MAX_REMOTE_ELEMENTS + 32) as u32;
            flotilla_federation::fetch::with_budget(budget, Box::pin(crate::federation::playlists::fetch(app, url)))
                .await
        }
    }
}

/// What to do when a job is given up for good.
async fn gave_up(app: &Arc<App>, job: &Job, why: &str) {
    match job {
        Job::Transcode { video_id } => crate::video::transcode::failed(app, *video_id, why).await,
        Job::Deliver { inbox, .. } => tracing::warn!(inbox, error = why, "delivery given up"),
        Job::FetchThumbnail { url, .. } => tracing::warn!(url, error = why, "remote thumbnail not fetched"),
        Job::RefreshVideo { video_id } => {
            tracing::warn!(video = video_id, error = why, "remote video not refreshed")
        }
        Job::RefreshActor { url } => tracing::warn!(actor = url, error = why, "remote actor not refreshed"),
        Job::FetchActorImage { url, .. } => tracing::warn!(url, error = why, "remote avatar or banner not fetched"),
        Job::Event { event } => tracing::error!(?event, error = why, "an event's consequences were given up"),
        Job::PrunePlaylists { video_id, .. } => {
            tracing::warn!(video = video_id, error = why, "replaced playlists not removed")
        }
        Job::VideoCounts { video_id } => {
            tracing::warn!(video = video_id, error = why, "a video's new counts not sent")
        }
        Job::VideoFiles { video_id } => {
            tracing::warn!(video = video_id, error = why, "a video's web videos and torrents not made")
        }
        Job::FetchChapters { url, .. } => tracing::warn!(url, error = why, "a remote video's chapters not read"),
        Job::FetchVideoRates { video_id, .. } => {
            tracing::warn!(video = video_id, error = why, "a remote video's counts not read")
        }
        Job::FetchOutbox { actor_id, page, .. } => {
            tracing::warn!(actor = actor_id, ?page, error = why, "a followed actor's outbox not crawled")
        }
        Job::FetchVideo { url } => tracing::warn!(url, error = why, "a remote video not fetched"),
        Job::SendViews { video_id } => tracing::warn!(video = video_id, error = why, "views not told to their server"),
        Job::FetchComments { url, .. } => tracing::warn!(url, error = why, "a remote video's comments not read"),
        Job::FetchComment { url } => tracing::warn!(url, error = why, "a remote comment not fetched"),
        Job::MirrorCopy { redundancy_id } => crate::redundancy::copy_given_up(app, *redundancy_id, why).await,
        Job::FetchPlaylist { url } => tracing::warn!(url, error = why, "a remote playlist not read"),
        Job::SendEmail { to, subject, .. } => tracing::warn!(to, subject, error = why, "an e-mail not sent"),
        Job::UserExport { export_id } => crate::archive::export::failed(app, *export_id, why).await,
        Job::UserImport { import_id } => crate::archive::import::failed(app, *import_id, why).await,
        Job::VideoImport { import_id } => crate::video::import::failed(app, *import_id, why).await,
        Job::LiveCleanup { video_id, .. } => {
            tracing::warn!(video = video_id, error = why, "an ended live's files not removed")
        }
        Job::MoveToObjectStorage { video_id } | Job::MoveToFileSystem { video_id } => {
            tracing::error!(video = video_id, error = why, "a video's files not moved (they stay where they were)")
        }
        Job::RemoveObjects { uuid, .. } => {
            tracing::warn!(video = uuid, error = why, "a deleted video's files left in the object store")
        }
        Job::StoreOriginal { video_id } => {
            tracing::warn!(
                video = video_id,
                error = why,
                "a kept original not moved to the object store (it stays on the disk)"
            )
        }
        Job::StoreImages { .. } => tracing::warn!(error = why, "images not moved to the object store (retried later)"),
        Job::ImagesToFileSystem {} => {
            tracing::error!(error = why, "images not brought back from the object store (those left stay there)")
        }
        Job::RunnerResults { video_id } => {
            let msg = format!("the renditions made by remote runners could not be stored: {why}");
            crate::video::transcode::failed(app, *video_id, &msg).await
        }
    }
}

/// Why a running job stopped early.
enum Stopped {
    /// Its lease was taken (it was swept and claimed again): someone else owns it now.
    LeaseLost,
    /// The job panicked.
    Panicked(String),
}

/// Renews the lease every quarter of it until the job's lease is lost (returns then).
async fn keep_lease(app: &App, lease: &jobs::Lease, progress: &Progress) {
    let every = Duration::from_millis((app.config.jobs.lease_secs * 1000 / 4).max(250));
    loop {
        tokio::time::sleep(every).await;
        match jobs::heartbeat(&app.db, lease, Some(progress.get()), now_ms()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(id = lease.id, error = %e, "job heartbeat failed"),
        }
    }
}

/// Runs one claimed job to its end, renewing its lease meanwhile. A job whose lease is lost is
/// dropped where it stands (its ffmpeg killed with it); a job that panics counts as a failure.
pub async fn run_claimed(app: &Arc<App>, row: jobs::Job) {
    use futures_util::FutureExt;
    let lease = row.lease();
    let job = match Job::parse(&row.kind, &row.payload) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(id = row.id, kind = %row.kind, error = %e, "unreadable job; marking it failed");
            let _ = jobs::fail_unreadable(&app.db, row.id, &e, now_ms()).await;
            return;
        }
    };
    let progress = Progress::default();
    tracing::info!(id = row.id, kind = %row.kind, attempt = row.attempts, "job started");
    let work = std::panic::AssertUnwindSafe(async {
        app.failpoints.hit(&format!("job.{}", row.kind));
        flotilla_federation::fetch::with_budget(FETCHES_PER_JOB, dispatch(app, &job, &progress)).await
    })
    .catch_unwind();
    // One task for the job and its heartbeat: stopping the worker stops both, and a lost lease
    // drops the job.
    let result = tokio::select! {
        r = work => r.map_err(|panic| Stopped::Panicked(panic_message(&panic))),
        () = keep_lease(app, &lease, &progress) => Err(Stopped::LeaseLost),
    };
    let result = match result {
        Ok(r) => r,
        Err(Stopped::LeaseLost) => {
            tracing::warn!(id = row.id, kind = %row.kind, "job lease lost (it runs elsewhere now); stopped here");
            return;
        }
        Err(Stopped::Panicked(msg)) => {
            tracing::error!(id = row.id, kind = %row.kind, panic = %msg, "job panicked");
            Err(Failure::Retry(format!("the job panicked: {msg}")))
        }
    };
    let now = now_ms();
    let outcome = match result {
        Ok(()) => jobs::complete(&app.db, &lease, now).await.map(|held| (held, "done")),
        Err(Failure::Defer(after)) => {
            jobs::defer(&app.db, &lease, now + after.as_millis() as i64, now).await.map(|held| (held, "deferred"))
        }
        Err(Failure::Retry(why)) if row.attempts < row.max_attempts => {
            tracing::warn!(id = row.id, kind = %row.kind, attempt = row.attempts, error = %why, "job failed; will retry");
            jobs::fail(&app.db, &lease, &why, Some(now + backoff_ms(row.attempts)), now)
                .await
                .map(|held| (held, "retry"))
        }
        Err(Failure::Retry(why)) | Err(Failure::Fail(why)) => {
            tracing::warn!(id = row.id, kind = %row.kind, error = %why, "job failed for good");
            match jobs::fail(&app.db, &lease, &why, None, now).await {
                Ok(true) => {
                    gave_up(app, &job, &why).await;
                    Ok((true, "failed"))
                }
                other => other.map(|held| (held, "failed")),
            }
        }
    };
    match outcome {
        Ok((false, _)) => tracing::warn!(id = row.id, kind = %row.kind, "job lease lost before its end was recorded"),
        Ok((true, "deferred")) => {}
        Ok((true, state)) => tracing::info!(id = row.id, kind = %row.kind, state, "job finished"),
        Err(e) => tracing::error!(id = row.id, error = %e, "cannot record the end of a job; it will run again"),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

fn worker_id(n: usize) -> String {
    format!("{}-{}-{n}", std::process::id(), &crate::auth::random_token(4))
}

/// Claims the next due job of `kind` for `worker`, each claim under a lease token of its own.
async fn claim(app: &App, kind: &str, worker: &str) -> Result<Option<jobs::Job>> {
    Ok(jobs::claim(&app.db, kind, worker, &crate::auth::random_token(8), now_ms()).await?)
}

/// What wakes an idle worker, listened to before it looks for work: [`App::wake_jobs`] and a
/// freed host slot reach only those already listening (`Notify::notify_waiters` keeps no permit),
/// so a worker that started listening only after finding nothing missed a job committed
/// meanwhile and slept until its next look, up to two seconds later.
struct Listening<'a> {
    job: tokio::sync::futures::Notified<'a>,
    slot: tokio::sync::futures::Notified<'a>,
}

/// Starts listening for what wakes an idle worker (see [`Listening`]).
fn listen(app: &App) -> Listening<'_> {
    Listening { job: app.jobs_wakeup.notified(), slot: app.host_slots.1.notified() }
}

/// Why an idle worker woke.
#[derive(Debug, PartialEq, Eq)]
enum Woke {
    /// A job was committed.
    Job,
    /// A host slot was freed: a deferred delivery can go.
    HostSlot,
    /// The next queued job is due, or the look again that covers jobs queued by other processes.
    Due,
}

impl std::fmt::Display for Woke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Sleeps until a worker of `kind` that found nothing to do may find something: woken through
/// `listening` (taken before it looked), or when the next queued job is due, at most two seconds
/// (jobs queued by another process sharing a PostgreSQL database wake nobody here).
async fn idle_wait(app: &App, kind: &str, listening: Listening<'_>) -> Woke {
    let wait = match jobs::next_due(app.db.writer(), kind).await {
        Ok(Some(at)) => Duration::from_millis((at - now_ms()).clamp(10, 2000) as u64),
        _ => Duration::from_secs(2),
    };
    tokio::select! {
        _ = listening.job => Woke::Job,
        _ = listening.slot, if kind == "deliver" => Woke::HostSlot,
        _ = tokio::time::sleep(wait) => Woke::Due,
    }
}

/// One worker's loop: claim, run, or sleep until woken.
async fn work(app: Arc<App>, kind: &'static str, worker: String) {
    loop {
        app.failpoints.hit("jobs.worker");
        let listening = listen(&app);
        match claim(&app, kind, &worker).await {
            Ok(Some(row)) => run_claimed(&app, row).await,
            Ok(None) => {
                // Where a test makes a job's commit fall between the look and the wait.
                app.failpoints.gate("jobs.idle", kind, &worker).await;
                let woke = idle_wait(&app, kind, listening).await;
                app.failpoints.gate("jobs.woke", &worker, woke).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim jobs; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Counts a worker as alive while it exists (its task may be aborted at any await).
struct Alive<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs a worker, and a new one whenever it panics: the pool never shrinks.
async fn supervise(app: Arc<App>, kind: &'static str, n: usize) {
    loop {
        let worker = worker_id(n);
        let task = tokio::spawn({
            let app = app.clone();
            async move {
                app.live_workers.fetch_add(1, Ordering::SeqCst);
                let _alive = Alive(&app.live_workers);
                work(app.clone(), kind, worker).await
            }
        });
        let abort = task.abort_handle();
        // Aborting the supervisor aborts its worker too.
        struct AbortOnDrop(tokio::task::AbortHandle);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _guard = AbortOnDrop(abort);
        match task.await {
            Err(e) if e.is_panic() => {
                tracing::error!(kind, "a job worker panicked; starting another");
                app.replaced_workers.fetch_add(1, Ordering::SeqCst);
            }
            _ => return,
        }
    }
}

/// Starts the workers and the sweeper that returns dead workers' jobs to the queue.
pub fn spawn_workers(app: Arc<App>) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    for (kind, count) in kinds(&app) {
        for n in 0..count as usize {
            handles.push(tokio::spawn(supervise(app.clone(), kind, n)));
        }
    }
    let sweeper = app.clone();
    handles.push(tokio::spawn(async move {
        let lease = sweeper.config.jobs.lease_secs as i64 * 1000;
        loop {
            if let Err(e) = sweep(&sweeper).await {
                tracing::warn!(error = %e, "cannot sweep stale jobs");
            }
            tokio::time::sleep(Duration::from_millis((lease / 2).max(500) as u64)).await;
        }
    }));
    handles
}

/// Jobs whose heartbeat is older than the lease: their worker died with its process (or hangs).
/// Each goes back to the queue, its attempt counted, or — with no attempt left — fails for good
/// (a job that kills its process every time stops after `max_attempts`). Returns how many.
pub async fn sweep(app: &Arc<App>) -> Result<usize> {
    let now = now_ms();
    let stale = jobs::stale(&app.db, now - app.config.jobs.lease_secs as i64 * 1000).await?;
    let mut n = 0;
    for row in stale {
        let lease = row.lease();
        if row.attempts >= row.max_attempts {
            let why = format!(
                "its worker stopped during each of {} attempts (the process was killed or crashed)",
                row.attempts
            );
            if jobs::fail(&app.db, &lease, &why, None, now).await? {
                tracing::warn!(id = row.id, kind = %row.kind, "job stopped its worker every time; failed for good");
                if let Ok(job) = Job::parse(&row.kind, &row.payload) {
                    gave_up(app, &job, &why).await;
                }
                n += 1;
            }
        } else if jobs::requeue(&app.db, &lease, now + backoff_ms(row.attempts - 1), now).await? {
            tracing::warn!(id = row.id, kind = %row.kind, attempt = row.attempts, "job of a stopped worker returned to the queue");
            n += 1;
        }
    }
    if n > 0 {
        app.wake_jobs();
    }
    Ok(n)
}

/// Runs jobs in this task until none is queued, due or running (tests: deterministic waits instead
/// of sleeps). Gives up after `limit`.
/// How long finished jobs stay listed (`GET /api/v1/jobs/…`): done ones a week, failed ones a
/// month.
pub const DONE_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;
pub const FAILED_KEPT_MS: i64 = 30 * 24 * 3600 * 1000;

/// Forgets the jobs finished longer ago than they are kept (the hourly sweep), in batches so that
/// no write holds SQLite's lock for long; how many. Without it every delivery of every fan-out
/// would stay in the table for good.
pub async fn prune_finished(app: &App, now: i64) -> Result<u64> {
    let mut total = 0;
    loop {
        let n = jobs::prune_finished(&app.db, now - DONE_KEPT_MS, now - FAILED_KEPT_MS, 5000).await?;
        total += n;
        if n < 5000 {
            return Ok(total);
        }
    }
}

pub async fn run_until_idle(app: &Arc<App>, limit: Duration) -> Result<()> {
    let worker = worker_id(999);
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let mut ran = false;
        for (kind, _) in kinds(app) {
            if let Some(row) = claim(app, kind, &worker).await? {
                run_claimed(app, row).await;
                ran = true;
            }
        }
        if !ran {
            // A job deferred for a moment (its host busy) still counts; retries (10 s and more) do not.
            if jobs::pending(&app.db, now_ms() + 1000).await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::Internal(format!("jobs still pending after {} s", limit.as_secs())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_by_kind() {
        let j = Job::Transcode { video_id: 42 };
        let payload = serde_json::to_string(&j).unwrap();
        assert_eq!(payload, r#"{"video_id":42}"#);
        assert!(matches!(Job::parse("transcode", &payload), Ok(Job::Transcode { video_id: 42 })));
        assert!(Job::parse("nonsense", &payload).is_err());
    }

    #[test]
    fn a_mirror_copy_is_stored_read_back_and_has_workers() {
        let j = Job::MirrorCopy { redundancy_id: 7 };
        let payload = serde_json::to_string(&j).unwrap();
        assert!(matches!(Job::parse(j.kind(), &payload), Ok(Job::MirrorCopy { redundancy_id: 7 })));
        // A kind no worker claims would wait for ever (`kinds`, read without an `App` here).
        let src = include_str!("jobs.rs");
        let claimed = src.split("fn kinds(").nth(1).unwrap().split("\n}\n").next().unwrap();
        assert!(claimed.contains(&format!("(\"{}\", ", j.kind())), "{claimed}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }
}
