//! The instance's configuration: one struct, defaults in code, every key documented. Loading it
//! (TOML file, then `FLOTILLA_*` environment variables) is the binary's job; checking it is here,
//! so tests that build a `Config` by hand get the same checks.
//!
//! Environment names follow the keys: a top-level `listen` is `FLOTILLA_LISTEN`, `[jobs]
//! concurrency` is `FLOTILLA_JOBS_CONCURRENCY`. The names in DESIGN.md §3 are fixed.

use std::net::SocketAddr;
use std::path::PathBuf;

use flotilla_domain::SignupMode;
use serde::{Deserialize, Serialize};

/// Every role a process can have (`Config::roles`).
pub const ROLES: &[&str] = &["web", "jobs", "tracker", "live"];

/// Resolutions PeerTube knows how to produce (besides 0 = audio only).
pub const KNOWN_RESOLUTIONS: &[u32] = &[144, 240, 360, 480, 720, 1080, 1440, 2160];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// The public base URL of the instance: scheme, host and port, no path. Federation identities
    /// are built from it, so it must not change once other instances know you.
    pub public_url: String,
    /// Directory for the SQLite database, uploads and media files.
    pub data_dir: PathBuf,
    /// `sqlite://path` or `postgres://user:pass@host/db`. Empty: `sqlite://<data_dir>/flotilla.db`.
    pub database_url: String,
    /// Password of the `root` admin created on first start. Empty: one is generated and printed once.
    pub admin_password: String,
    /// Who may create an account: `open`, `approval` (a moderator accepts each request) or `closed`.
    pub signup: SignupMode,
    /// New users confirm their e-mail address (a link sent to it) before they can log in; needs
    /// `[smtp]`.
    pub signup_requires_email_verification: bool,
    /// What this process does (`flotilla serve --roles`): `web` (the API, pages, media files,
    /// ActivityPub), `jobs` (background work and periodic tasks), `tracker` (the P2P tracker's
    /// WebSocket), `live` (the RTMP server). Several processes on one PostgreSQL share the work:
    /// web processes behind a load balancer, job workers elsewhere, one tracker. SQLite allows one
    /// process.
    pub roles: Vec<String>,
    pub instance: InstanceConfig,
    pub user: UserConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub federation: FederationConfig,
    pub transcoding: TranscodingConfig,
    pub upload: UploadConfig,
    pub jobs: JobsConfig,
    pub log: LogConfig,
    pub p2p: P2pConfig,
    pub rate_limits: RateLimitsConfig,
    pub redundancy: RedundancyConfig,
    pub smtp: SmtpConfig,
    pub archives: ArchivesConfig,
    pub import: ImportConfig,
    pub live: LiveConfig,
    pub object_storage: ObjectStorageConfig,
}

/// Object storage (PeerTube's `object_storage`): videos' HLS files and web videos moved to an
/// S3-compatible store after transcoding (`storage`). Keys are flat (`streaming_playlists_bucket_name`
/// rather than PeerTube's nested sections) so that each has its `FLOTILLA_OBJECT_STORAGE_*`
/// variable.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStorageConfig {
    /// New videos' files go to the buckets after transcoding; `flotilla admin
    /// move-to-object-storage` moves the others. With it off but an `endpoint` set, files already
    /// in the store stay readable (and `move-to-file-system` brings them back).
    pub enabled: bool,
    /// The S3 endpoint, `http(s)://host[:port]`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Address buckets as `<bucket>.<endpoint host>` (AWS's style) rather than `<endpoint>/<bucket>`
    /// (self-hosted stores').
    pub virtual_host_style: bool,
    /// Files larger than this are uploaded in parts of this size (bytes; PeerTube: 100 MB). A file
    /// up to it is read whole into memory for its upload, and a larger one takes two parts' worth.
    pub max_upload_part: u64,
    /// Public videos' HLS files: bucket, key prefix, and the URL the public reads them from
    /// (a CDN, or the store's website endpoint; empty: the bucket's own URL on `endpoint`).
    pub streaming_playlists_bucket_name: String,
    pub streaming_playlists_prefix: String,
    pub streaming_playlists_base_url: String,
    /// Public videos' web videos, the same way.
    pub web_videos_bucket_name: String,
    pub web_videos_prefix: String,
    pub web_videos_base_url: String,
    /// Files of videos that are not public (private, internal, password-protected): a bucket that
    /// is never readable by the public, streamed to viewers by Flotilla after its checks. Empty:
    /// such videos keep their files on the local disk. (PeerTube sets a private ACL on such files;
    /// a bucket of their own works on stores without ACLs, Garage among them.)
    pub private_bucket_name: String,
    pub private_prefix: String,
    /// Images (avatars, banners, thumbnails, previews): a bucket the public reads, like the
    /// videos' ones. Empty: images stay on the disk. They keep their `/lazy-static/…` URLs (the
    /// API's `path`s are PeerTube's), which redirect to the bucket.
    pub images_bucket_name: String,
    pub images_prefix: String,
    pub images_base_url: String,
}

impl Default for ObjectStorageConfig {
    fn default() -> Self {
        ObjectStorageConfig {
            enabled: false,
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            virtual_host_style: false,
            max_upload_part: 32 * 1024 * 1024,
            streaming_playlists_bucket_name: String::new(),
            streaming_playlists_prefix: String::new(),
            streaming_playlists_base_url: String::new(),
            web_videos_bucket_name: String::new(),
            web_videos_prefix: String::new(),
            web_videos_base_url: String::new(),
            private_bucket_name: String::new(),
            private_prefix: String::new(),
            images_bucket_name: String::new(),
            images_prefix: String::new(),
            images_base_url: String::new(),
        }
    }
}

/// Live streaming (PeerTube's `live`): an RTMP server in the process takes the creator's stream,
/// ffmpeg turns it into a live HLS ladder.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Users may create lives and stream to them.
    pub enabled: bool,
    /// Where the RTMP server listens (PeerTube: port 1935). When it cannot listen there the
    /// instance still starts, says so in its log, and refuses to create lives.
    pub rtmp_listen: String,
    /// The RTMP URL shown to creators; empty: `rtmp://<public host>:<rtmp port>/live`.
    pub rtmp_url: String,
    /// Where the RTMPS server listens (RTMP inside TLS; PeerTube: port 1936); empty: none. Needs
    /// `rtmps_cert_file` and `rtmps_key_file` (PEM).
    pub rtmps_listen: String,
    pub rtmps_cert_file: String,
    pub rtmps_key_file: String,
    /// The RTMPS URL shown to creators; empty: `rtmps://<public host>:<rtmps port>/live`.
    pub rtmps_url: String,
    /// Lives may keep their stream as a video when it ends (PeerTube's `allow_replay`).
    pub allow_replay: bool,
    /// A session streaming longer than this is ended (seconds; 0: no limit).
    pub max_duration_secs: u64,
    /// Lives streaming at once on this instance, and per user (0: no limit).
    pub max_instance_lives: u32,
    pub max_user_lives: u32,
    /// The highest bitrate taken from a creator, in kbit/s averaged over 10 s; a stream above it
    /// is ended (0: no limit).
    pub max_bitrate_kbps: u64,
    /// The live ladder's heights (never above the stream's own).
    pub resolutions: Vec<u32>,
    /// ffmpeg threads per live.
    pub threads: u32,
    /// A session's files are kept this long after it ends (seconds; PeerTube: 5 minutes), so that
    /// viewers behind the live edge play to its end; 0: removed at once.
    pub cleanup_delay_secs: u64,
    /// Lives are transcoded by remote runners (a `live-rtmp-hls-transcoding` job per session:
    /// the runner reads the stream from our RTMP server and uploads the segments) instead of an
    /// ffmpeg here (PeerTube's `live.transcoding.remote_runners.enabled`).
    pub remote_runners: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            enabled: true,
            rtmp_listen: "127.0.0.1:1935".into(),
            rtmp_url: String::new(),
            rtmps_listen: String::new(),
            rtmps_cert_file: String::new(),
            rtmps_key_file: String::new(),
            rtmps_url: String::new(),
            allow_replay: true,
            max_duration_secs: 0,
            max_instance_lives: 20,
            max_user_lives: 3,
            max_bitrate_kbps: 20_000,
            resolutions: vec![720, 480, 360],
            threads: 2,
            cleanup_delay_secs: 300,
            remote_runners: false,
        }
    }
}

/// Imports of videos by URL (PeerTube's `import.videos.http`), downloaded by yt-dlp through the
/// SSRF guard's proxy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Users may import a video from a URL.
    pub http_enabled: bool,
    /// The yt-dlp program. Empty: `.tools/yt-dlp/bin/yt-dlp` (where `make run` installs it) when
    /// it exists, else `yt-dlp` on the `PATH`.
    pub yt_dlp: String,
    /// An import still downloading after this long is stopped and failed (PeerTube: 2 hours).
    pub timeout_secs: u64,
    /// Largest download, in bytes; 0: the upload limit (`upload.max_file_size`). The user's quota
    /// left bounds it too.
    pub max_size: u64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig { http_enabled: true, yt_dlp: String::new(), timeout_secs: 7200, max_size: 0 }
    }
}

impl ImportConfig {
    /// The yt-dlp program to run.
    pub fn yt_dlp_program(&self) -> PathBuf {
        if !self.yt_dlp.is_empty() {
            return PathBuf::from(&self.yt_dlp);
        }
        let installed = PathBuf::from(".tools/yt-dlp/bin/yt-dlp");
        if installed.exists() {
            return std::fs::canonicalize(&installed).unwrap_or(installed);
        }
        PathBuf::from("yt-dlp")
    }
}

/// User archives (PeerTube 6.1's export and import of a user's data).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchivesConfig {
    /// Users may ask for an archive of their data.
    pub export_enabled: bool,
    /// An export with video files is refused to a user whose videos take more bytes than this
    /// (PeerTube's `export.users.max_user_video_quota`).
    pub export_max_video_bytes: u64,
    /// How long a finished archive can be downloaded before it is removed.
    pub export_expiration_secs: u64,
    /// Users may import an archive (from Flotilla or PeerTube) into their account.
    pub import_enabled: bool,
}

impl Default for ArchivesConfig {
    fn default() -> Self {
        ArchivesConfig {
            export_enabled: true,
            export_max_video_bytes: 10 * 1024 * 1024 * 1024,
            export_expiration_secs: 2 * 24 * 3600,
            import_enabled: true,
        }
    }
}

/// The SMTP server e-mails go through (verification, password reset, notifications). No `host`:
/// no e-mail is sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `starttls` (upgrade a plain connection, port 587), `tls` (TLS from the start, port 465)
    /// or `none` (a relay on this machine or a test server only).
    pub tls: String,
    pub username: String,
    pub password: String,
    /// The sender, e.g. `Flotilla <noreply@video.example.org>`. Empty: `noreply@` the public host.
    pub from: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            tls: "starttls".into(),
            username: String::new(),
            password: String::new(),
            from: String::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceConfig {
    /// The instance's name, shown in the page title and to other instances.
    pub name: String,
    /// One sentence about the instance.
    pub short_description: String,
    /// A longer description (Markdown).
    pub description: String,
    /// Terms of service (Markdown).
    pub terms: String,
    /// `display`, `blur` or `do_not_list`: how NSFW videos are shown to visitors.
    pub default_nsfw_policy: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// Bytes of video each new user may upload in total; -1 for no limit.
    pub video_quota: i64,
    /// Bytes of video each new user may upload per 24 hours; -1 for no limit.
    pub video_quota_daily: i64,
    /// How many channels one user may own.
    pub max_channels: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Take the client address from `X-Forwarded-For` (set it when behind a reverse proxy, so
    /// per-address limits do not lump every visitor together).
    pub trust_proxy: bool,
    /// Largest JSON or form body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest avatar or banner upload, in bytes.
    pub max_image_bytes: usize,
    /// Memory for playlists and hot segments served from RAM, in bytes (0: off).
    pub media_cache_bytes: usize,
    /// A directory with the built web client to serve instead of the one embedded in the binary
    /// (empty: the embedded one, if the binary was built with it).
    pub web_dir: String,
    /// Seconds a client has to send a request's headers, counted from the connection's start or
    /// the end of its previous request (so it also closes idle keep-alive connections). A client
    /// that trickles its headers (slowloris) is disconnected when they run out.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may send nothing before the request ends with 408. Counted between
    /// reads, not in total: an upload of gigabytes takes as long as it needs while bytes flow.
    pub body_idle_timeout_secs: u64,
    /// Open connections at most, HTTP keep-alive and the tracker's WebSockets alike. A connection
    /// past it is answered 503 and closed at once (never queued unanswered). Each viewer holds a
    /// tracker WebSocket and one or more HTTP connections; the open-file limit must allow it.
    pub max_connections: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed logins from one address before it must wait (429).
    pub max_login_failures: u32,
    /// The window, in seconds, over which failed logins are counted.
    pub login_failure_window_secs: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    /// Local testing: allow loopback addresses (127.0.0.0/8, ::1), plain http and explicit ports.
    /// Private networks, link-local and other reserved addresses stay refused.
    pub allow_private: bool,
    /// Instances that follow this one wait for an admin to accept them.
    pub manual_approval: bool,
    /// Follow back the instances that follow this one.
    pub auto_follow_back: bool,
    /// Send unlisted videos to followers too (as PeerTube does, so they play there by their link);
    /// off, only public videos leave this instance.
    pub federate_unlisted: bool,
    /// Let visitors who are not logged in search other servers by address (a video URL, a channel
    /// handle), which makes this server fetch what they name. Logged-in users always may.
    pub remote_search_anonymous: bool,
    /// How long the new likes and dislikes of one of our videos are gathered before followers are
    /// sent its counts (one `Update` for a burst of ratings), in seconds.
    pub counts_batch_secs: u64,
    /// How long views are gathered before they are told: to the server of a remote video (one
    /// `View` each), and, for ours, the new total to followers (one `Update`), in seconds.
    pub views_batch_secs: u64,
    /// How often followers of our videos are told how many watch each now (`viewers`, a live's
    /// audience; one `View` per watched video), in seconds.
    pub viewers_interval_secs: u64,
    /// The edge cache: remote videos are served to our viewers from our own URLs, each piece
    /// fetched from its origin once, checked against the origin's segment hashes and kept on
    /// disk up to this many bytes (least recently used out). 0 turns it off: viewers then fetch
    /// remote videos from their origin.
    pub edge_cache_bytes: u64,
    /// Reports about other servers' content reach them as a `Flag` signed by this instance's
    /// actor, not by the reporting user's account (PeerTube signs with the user's).
    pub anonymous_reports: bool,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            allow_private: false,
            manual_approval: false,
            auto_follow_back: false,
            federate_unlisted: false,
            remote_search_anonymous: false,
            counts_batch_secs: 10,
            views_batch_secs: 300,
            viewers_interval_secs: 45,
            edge_cache_bytes: 4 * 1024 * 1024 * 1024,
            anonymous_reports: false,
        }
    }
}

/// Mirrors (PeerTube's redundancy): copies of other servers' videos made here, and which servers'
/// copies of our videos we list to players.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedundancyConfig {
    /// Whose mirrors of our videos are listed to players: `nobody`, `followings` (servers this
    /// instance follows) or `anybody` (PeerTube's `remote_redundancy.videos.accept_from`).
    pub accept_from: String,
    /// How often the strategies are checked (new mirrors, renewals, removals), in seconds.
    pub check_interval_secs: u64,
    /// How this instance chooses videos to mirror among those of the servers it follows and lets
    /// it mirror (`PUT /api/v1/server/redundancy/{host}`); none: no automatic mirroring.
    pub strategies: Vec<RedundancyStrategy>,
}

impl Default for RedundancyConfig {
    fn default() -> Self {
        RedundancyConfig { accept_from: "followings".into(), check_interval_secs: 3600, strategies: Vec::new() }
    }
}

/// One way of choosing videos to mirror, with its own disk budget.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedundancyStrategy {
    /// `most-views`, `trending` (views here over the last week) or `recently-added`.
    pub strategy: String,
    /// Bytes the mirrors of this strategy may take.
    pub size_bytes: u64,
    /// How long a mirror is kept at least, in seconds (it is renewed while it is kept).
    pub min_lifetime_secs: u64,
    /// `recently-added` only: the views a video needs first.
    #[serde(default)]
    pub min_views: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscodingConfig {
    /// Heights to transcode to, up to the source's own.
    pub resolutions: Vec<u32>,
    /// Beside each HLS rendition, a plain MP4 (PeerTube's "web video"): what downloads, torrents
    /// and players without HLS use. Made by copying the rendition's streams, not a second
    /// encode; it doubles the disk a video takes.
    pub web_videos: bool,
    /// Keep what was uploaded after transcoding (PeerTube's `transcoding.original_file.keep`),
    /// downloadable by the video's managers; it takes the disk the upload took.
    pub keep_original: bool,
    /// Threads one transcoding uses (0: every core of the machine). The renditions up to 1080p
    /// after the first are made together in one ffmpeg sharing them; larger ones run alone on one
    /// thread (x264's memory at 4K grows with its threads).
    pub threads: u32,
    /// Hand transcoding to remote runners (`flotilla runner`, or PeerTube's `peertube-runner`)
    /// instead of this server's workers: one runner job per rendition, listed in the admin's
    /// runners page. With no runner registered, videos wait.
    pub remote_runners: bool,
    /// A runner's job without news (progress, sign of life) for this long is given to another
    /// runner (PeerTube: 2 minutes).
    pub runner_stalled_after_secs: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Largest video file accepted, in bytes.
    pub max_file_size: u64,
    /// Longest video or audio accepted, in seconds (what the file claims, checked before
    /// transcoding; transcoding never goes past it).
    pub max_duration_secs: u64,
    /// Largest picture accepted, in pixels on its longer side (4096: 4K; the top rendition is made
    /// at the source's size, and x264's memory grows with it: about 1.3 GB at 4096², 4.5 GB at 8192²).
    pub max_dimension: u32,
    /// Most frames per second accepted in an upload (the renditions have at most 60).
    pub max_fps: u32,
    /// Resumable uploads one user may have in progress at once.
    pub max_open_sessions: u32,
    /// Owners may replace a video's file (PeerTube's `video_file.update.enabled`): the new one is
    /// transcoded while the old renditions play.
    pub replace_enabled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// How many transcoding jobs run at once.
    pub concurrency: u32,
    /// Seconds without a heartbeat after which a running job is taken to be dead (its process
    /// crashed) and goes back to the queue.
    pub lease_secs: u64,
}

/// Requests one client may make, as "N/period" (`15/5m`: a burst of 15, refilled over five
/// minutes; periods in `s`, `m` or `h`) or `off`. Per client address (IPv6 by its /64), except
/// `inbox`, per remote server. Answered `429 Too Many Requests` with `Retry-After`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Turns every limit on or off.
    pub enabled: bool,
    /// Every request under `/api/v1`.
    pub api: String,
    /// Logins with a password (PeerTube's default: 15 per 5 minutes).
    pub login: String,
    /// Sign-ups and registration requests.
    pub registration: String,
    /// Password changes.
    pub password: String,
    /// Uploads started (multipart, or a resumable upload's first request).
    pub upload: String,
    /// Searches (`/api/v1/search/…`), which may make this server fetch from others.
    pub search: String,
    /// Activities delivered to our inboxes by one remote server (PeerTube's: 500 per 10 s).
    pub inbox: String,
    /// Abuse reports by one account, and `Flag`s from one remote server.
    pub reports: String,
    /// Wrong passwords of password-protected videos: past this, every password from that address
    /// is refused until the period ends (a right one too, or the refusals would tell them apart).
    pub video_password: String,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            enabled: true,
            api: "3000/1m".into(),
            login: "15/5m".into(),
            registration: "5/5m".into(),
            password: "5/5m".into(),
            upload: "30/5m".into(),
            search: "120/1m".into(),
            inbox: "500/10s".into(),
            reports: "10/1h".into(),
            video_password: "10/10m".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` (for a terminal), `json` (for log collectors) or `auto` (pretty on a terminal).
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `flotilla=debug,info`. `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:9000".into(),
            public_url: "http://localhost:9000".into(),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            admin_password: String::new(),
            signup: SignupMode::Closed,
            instance: InstanceConfig::default(),
            user: UserConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            federation: FederationConfig::default(),
            transcoding: TranscodingConfig::default(),
            upload: UploadConfig::default(),
            jobs: JobsConfig::default(),
            log: LogConfig::default(),
            p2p: P2pConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            redundancy: RedundancyConfig::default(),
            smtp: SmtpConfig::default(),
            archives: ArchivesConfig::default(),
            import: ImportConfig::default(),
            live: LiveConfig::default(),
            object_storage: ObjectStorageConfig::default(),
            signup_requires_email_verification: false,
            roles: ROLES.iter().map(|r| r.to_string()).collect(),
        }
    }
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            name: "Flotilla".into(),
            short_description: "A Flotilla instance: videos that federate with PeerTube and the fediverse.".into(),
            description: String::new(),
            terms: String::new(),
            default_nsfw_policy: "do_not_list".into(),
        }
    }
}

impl Default for UserConfig {
    fn default() -> Self {
        UserConfig { video_quota: -1, video_quota_daily: -1, max_channels: 20 }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            trust_proxy: false,
            max_body_bytes: 1024 * 1024,
            max_image_bytes: 8 * 1024 * 1024,
            media_cache_bytes: 64 * 1024 * 1024,
            web_dir: String::new(),
            header_read_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            max_connections: 4096,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { max_login_failures: 10, login_failure_window_secs: 600 }
    }
}

impl Default for TranscodingConfig {
    fn default() -> Self {
        TranscodingConfig {
            resolutions: vec![240, 360, 480, 720, 1080],
            web_videos: true,
            keep_original: false,
            threads: 0,
            remote_runners: false,
            runner_stalled_after_secs: 120,
        }
    }
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_file_size: 8 * 1024 * 1024 * 1024,
            max_duration_secs: 6 * 3600,
            max_dimension: 4096,
            max_fps: 240,
            max_open_sessions: 10,
            replace_enabled: true,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { concurrency: 1, lease_secs: 60 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    /// Viewers share video segments with each other over WebRTC (the tracker at /tracker/socket).
    pub enabled: bool,
    /// STUN servers the players use to find their public address (`stun:host:port`). None is
    /// right on a LAN; on the internet, give one or two (see the README).
    pub stun_servers: Vec<String>,
}

impl Default for P2pConfig {
    fn default() -> Self {
        P2pConfig { enabled: true, stun_servers: Vec::new() }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: "auto".into(), level: "info".into() }
    }
}

/// A configuration value that cannot work, naming its key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {key}: {msg}")]
pub struct ConfigError {
    pub key: String,
    pub msg: String,
}

fn bad(key: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError { key: key.into(), msg: msg.into() }
}

/// The parts of `public_url` the rest of the code needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    /// `http` or `https`.
    pub scheme: String,
    /// Host and port as other instances see it (`example.org`, `127.0.0.1:9001`).
    pub host: String,
}

impl PublicUrl {
    pub fn parse(s: &str) -> Result<PublicUrl, String> {
        let (scheme, rest) =
            s.split_once("://").ok_or_else(|| format!("'{s}' is not a URL: expected http(s)://host[:port]"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("scheme must be http or https, not '{scheme}'"));
        }
        let host = rest.strip_suffix('/').unwrap_or(rest);
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        if host.contains(['/', '?', '#', '@', ' ']) {
            return Err(format!("'{s}' must be only scheme, host and port: no path, query, user or spaces"));
        }
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) if !n.ends_with(']') || host.starts_with('[') => (n, Some(p)),
            _ => (host, None),
        };
        if let Some(p) = port {
            p.parse::<u16>().map_err(|_| format!("port '{p}' is not a number between 1 and 65535"))?;
        }
        let valid_name = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
        if name.is_empty() || !valid_name {
            return Err(format!("'{name}' is not a valid host name"));
        }
        // Default ports are left out, as browsers and other instances write them.
        let host = match (scheme, port) {
            ("http", Some("80")) | ("https", Some("443")) => name.to_ascii_lowercase(),
            _ => host.to_ascii_lowercase(),
        };
        Ok(PublicUrl { scheme: scheme.into(), host })
    }

    /// `scheme://host`, with no trailing slash.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }
}

impl UploadConfig {
    /// What an upload may claim, for the media probe.
    pub fn limits(&self) -> flotilla_media::probe::Limits {
        flotilla_media::probe::Limits {
            max_duration: self.max_duration_secs as f64,
            max_dimension: self.max_dimension,
            max_fps: f64::from(self.max_fps),
        }
    }
}

impl Config {
    /// Whether this process has `role` (one of [`ROLES`]).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The database URL, with the default filled in.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("flotilla.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Checks every value; the first bad one is named in the error.
    pub fn validate(&self) -> Result<PublicUrl, ConfigError> {
        self.listen
            .parse::<SocketAddr>()
            .map_err(|_| bad("listen", format!("'{}' is not an address:port such as 127.0.0.1:9000", self.listen)))?;
        let public = PublicUrl::parse(&self.public_url).map_err(|m| bad("public_url", m))?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(bad("data_dir", "must not be empty"));
        }
        let db = self.database_url();
        if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return Err(bad("database_url", format!("'{db}' must start with sqlite:// or postgres://")));
        }
        if !self.admin_password.is_empty() {
            flotilla_domain::rules::password(&self.admin_password).map_err(|m| bad("admin_password", m))?;
        }
        if flotilla_domain::NsfwPolicy::parse(&self.instance.default_nsfw_policy).is_none() {
            return Err(bad("instance.default_nsfw_policy", "must be display, blur or do_not_list"));
        }
        if self.instance.name.trim().is_empty() {
            return Err(bad("instance.name", "must not be empty"));
        }
        flotilla_domain::rules::quota(self.user.video_quota).map_err(|m| bad("user.video_quota", m))?;
        flotilla_domain::rules::quota(self.user.video_quota_daily).map_err(|m| bad("user.video_quota_daily", m))?;
        if !matches!(self.smtp.tls.as_str(), "starttls" | "tls" | "none") {
            return Err(bad("smtp.tls", "must be starttls, tls or none"));
        }
        if self.signup_requires_email_verification && self.smtp.host.trim().is_empty() {
            return Err(bad(
                "signup_requires_email_verification",
                "needs an SMTP server ([smtp] host) to send the links",
            ));
        }
        if !self.smtp.from.is_empty() && self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(bad(
                "smtp.from",
                format!("'{}' is not an address such as Name <noreply@example.org>", self.smtp.from),
            ));
        }
        if !matches!(self.redundancy.accept_from.as_str(), "nobody" | "followings" | "anybody") {
            return Err(bad("redundancy.accept_from", "must be nobody, followings or anybody"));
        }
        if let Some(s) = self
            .redundancy
            .strategies
            .iter()
            .find(|s| !matches!(s.strategy.as_str(), "most-views" | "trending" | "recently-added"))
        {
            return Err(bad(
                "redundancy.strategies",
                format!("'{}' is not most-views, trending or recently-added", s.strategy),
            ));
        }
        if self.redundancy.check_interval_secs == 0 {
            return Err(bad("redundancy.check_interval_secs", "must be at least 1"));
        }
        if self.user.max_channels < 1 {
            return Err(bad("user.max_channels", "must be at least 1"));
        }
        if let Some(url) = self.p2p.stun_servers.iter().find(|s| !(s.starts_with("stun:") || s.starts_with("stuns:"))) {
            return Err(bad("p2p.stun_servers", format!("'{url}' is not a stun: or stuns: URL")));
        }
        if !self.http.web_dir.is_empty() && !std::path::Path::new(&self.http.web_dir).join("index.html").is_file() {
            return Err(bad(
                "http.web_dir",
                format!("{} holds no index.html: build the client (cd web && npm run build)", self.http.web_dir),
            ));
        }
        if self.http.max_body_bytes < 1024 {
            return Err(bad("http.max_body_bytes", "must be at least 1024"));
        }
        if self.http.max_image_bytes < 1024 {
            return Err(bad("http.max_image_bytes", "must be at least 1024"));
        }
        if self.roles.is_empty() {
            return Err(bad("roles", format!("name at least one of {}", ROLES.join(", "))));
        }
        if let Some(r) = self.roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
            return Err(bad("roles", format!("'{r}' is not one of {}", ROLES.join(", "))));
        }
        if self.live.resolutions.iter().any(|r| !(144..=2160).contains(r)) {
            return Err(bad("live.resolutions", "each must be between 144 and 2160"));
        }
        if !self.live.rtmps_listen.is_empty()
            && (self.live.rtmps_cert_file.is_empty() || self.live.rtmps_key_file.is_empty())
        {
            return Err(bad("live.rtmps_listen", "RTMPS needs live.rtmps_cert_file and live.rtmps_key_file (PEM)"));
        }
        if self.live.threads == 0 {
            return Err(bad("live.threads", "must be at least 1"));
        }
        if self.import.timeout_secs == 0 {
            return Err(bad("import.timeout_secs", "must be at least 1"));
        }
        if self.http.header_read_timeout_secs == 0 {
            return Err(bad("http.header_read_timeout_secs", "must be at least 1"));
        }
        if self.http.body_idle_timeout_secs == 0 {
            return Err(bad("http.body_idle_timeout_secs", "must be at least 1"));
        }
        if self.http.max_connections == 0 {
            return Err(bad("http.max_connections", "must be at least 1"));
        }
        if self.auth.max_login_failures == 0 || self.auth.login_failure_window_secs == 0 {
            return Err(bad("auth.max_login_failures", "the limit and its window must be above 0"));
        }
        if self.transcoding.resolutions.is_empty() {
            return Err(bad("transcoding.resolutions", "must list at least one resolution"));
        }
        if let Some(r) = self.transcoding.resolutions.iter().find(|r| !KNOWN_RESOLUTIONS.contains(r)) {
            return Err(bad("transcoding.resolutions", format!("{r} is not one of {KNOWN_RESOLUTIONS:?}")));
        }
        if self.jobs.concurrency == 0 || self.jobs.concurrency > 64 {
            return Err(bad("jobs.concurrency", "must be between 1 and 64"));
        }
        if self.transcoding.runner_stalled_after_secs < 2 {
            return Err(bad("transcoding.runner_stalled_after_secs", "must be at least 2"));
        }
        if self.jobs.lease_secs < 2 {
            return Err(bad("jobs.lease_secs", "must be at least 2"));
        }
        if self.upload.max_file_size < 1024 {
            return Err(bad("upload.max_file_size", "must be at least 1024 bytes"));
        }
        if self.upload.max_duration_secs == 0 {
            return Err(bad("upload.max_duration_secs", "must be above 0"));
        }
        if !(144..=16384).contains(&self.upload.max_dimension) {
            return Err(bad("upload.max_dimension", "must be between 144 and 16384"));
        }
        if self.upload.max_open_sessions == 0 {
            return Err(bad("upload.max_open_sessions", "must be at least 1"));
        }
        if !(1..=1000).contains(&self.upload.max_fps) {
            return Err(bad("upload.max_fps", "must be between 1 and 1000"));
        }
        let r = &self.rate_limits;
        for (key, spec) in [
            ("api", &r.api),
            ("login", &r.login),
            ("registration", &r.registration),
            ("password", &r.password),
            ("upload", &r.upload),
            ("search", &r.search),
            ("inbox", &r.inbox),
            ("reports", &r.reports),
            ("video_password", &r.video_password),
        ] {
            crate::limits::parse(spec).map_err(|m| bad(&format!("rate_limits.{key}"), m))?;
        }
        if self.object_storage.enabled && self.object_storage.endpoint.is_empty() {
            return Err(bad("object_storage.endpoint", "is needed when object storage is enabled"));
        }
        if !self.object_storage.endpoint.is_empty() {
            crate::storage::ObjectStorage::new(&self.object_storage).map_err(|m| bad("object_storage", m))?;
        }
        if !matches!(self.log.format.as_str(), "auto" | "pretty" | "json") {
            return Err(bad("log.format", "must be auto, pretty or json"));
        }
        Ok(public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let public = Config::default().validate().unwrap();
        assert_eq!(public.host, "localhost:9000");
        assert_eq!(public.base(), "http://localhost:9000");
    }

    #[test]
    fn public_urls_are_scheme_host_and_port_only() {
        assert_eq!(PublicUrl::parse("https://Video.Example.org/").unwrap().host, "video.example.org");
        assert_eq!(PublicUrl::parse("https://example.org:443").unwrap().host, "example.org");
        assert_eq!(PublicUrl::parse("http://127.0.0.1:9001").unwrap().host, "127.0.0.1:9001");
        assert!(PublicUrl::parse("ftp://example.org").is_err());
        assert!(PublicUrl::parse("https://example.org/peertube").is_err());
        assert!(PublicUrl::parse("example.org").is_err());
        assert!(PublicUrl::parse("http://example.org:99999").is_err());
    }

    #[test]
    fn object_storage_and_roles_are_checked() {
        let mut c = Config::default();
        c.object_storage.enabled = true;
        assert_eq!(c.validate().unwrap_err().key, "object_storage.endpoint");
        c.object_storage.endpoint = "ftp://store.example".into();
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "object_storage");
        assert!(e.msg.contains("http(s)"), "{}", e.msg);
        c.object_storage.endpoint = "http://127.0.0.1:3900".into();
        c.object_storage.access_key_id = "GK1".into();
        c.object_storage.secret_access_key = "s".into();
        assert!(c.validate().unwrap_err().msg.contains("streaming_playlists_bucket_name"));
        c.object_storage.streaming_playlists_bucket_name = "hls".into();
        c.object_storage.web_videos_bucket_name = "web".into();
        c.validate().unwrap();
        c.roles = vec!["web".into(), "dance".into()];
        assert_eq!(c.validate().unwrap_err().key, "roles");
        c.roles = vec![];
        assert_eq!(c.validate().unwrap_err().key, "roles");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let mut c = Config::default();
        c.transcoding.resolutions = vec![360, 500];
        assert_eq!(c.validate().unwrap_err().key, "transcoding.resolutions");
        let c = Config { listen: "localhost".into(), ..Default::default() };
        assert_eq!(c.validate().unwrap_err().key, "listen");
    }
}
