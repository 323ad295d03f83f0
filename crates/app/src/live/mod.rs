//! Lives (PeerTube's live streaming): a video made to be streamed (`POST /videos/live`), its
//! stream key and settings (`GET`/`PUT /videos/live/{id}`), and its sessions — each time a
//! creator's stream reaches the RTMP server ([`ingest`]) until it ends. While a session runs the
//! video is published and its live HLS is written by ffmpeg — here, or a remote runner's
//! (`runners::live`, through the session's [`Relay`]) — into the video's HLS directory
//! ([`stream`]); when it ends the video waits for the next session (a permanent live) or is
//! ended (state 5), and the live files go.
//!
//! The state of a live lives in the database (the video's state, the open session); which
//! sessions run *in this process* is [`Lives`], the registry the ingest fills. A process that
//! stops or crashes mid-session leaves an open session: [`recover`] ends it at the next start,
//! before the RTMP server takes streams again.

pub mod ingest;
pub mod stream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use flotilla_db::{live_sessions, lives, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::video::upload::{self, UploadMeta};
use crate::video::{PRIVACY_PASSWORD, STATE_PUBLISHED, short_uuid};
use crate::{App, Error, Result};

/// PeerTube's video states of a live: waiting for its stream, and ended.
pub const STATE_WAITING_FOR_LIVE: i64 = 4;
pub const STATE_LIVE_ENDED: i64 = 5;

/// PeerTube's latency modes.
pub const LATENCY_DEFAULT: i64 = 1;
pub const LATENCY_HIGH: i64 = 2;
pub const LATENCY_SMALL: i64 = 3;

/// Why a session ended, when it was not the creator stopping (PeerTube's `LiveVideoError`; ours
/// from 101).
pub const ERROR_BAD_SOCKET_HEALTH: i64 = 1;
pub const ERROR_DURATION_EXCEEDED: i64 = 2;
pub const ERROR_QUOTA_EXCEEDED: i64 = 3;
pub const ERROR_FFMPEG: i64 = 4;
pub const ERROR_BLOCKED: i64 = 5;
/// The session's runner job failed (errored, stalled), or an admin cancelled it.
pub const ERROR_RUNNER_JOB: i64 = 6;
pub const ERROR_RUNNER_CANCELLED: i64 = 7;
pub const ERROR_BITRATE_EXCEEDED: i64 = 101;

/// The live HLS files' names (PeerTube's for lives).
pub use flotilla_media::live::{MASTER_PLAYLIST, SEGMENTS_SHA256, is_live_file};

/// Segment length and playlist window per latency mode (PeerTube: 4 s, 2 s for small latency;
/// 15 segments).
pub fn segment_seconds(latency_mode: i64) -> u32 {
    if latency_mode == LATENCY_SMALL { 2 } else { 4 }
}
pub const PLAYLIST_SEGMENTS: u32 = 15;

/// A password-protected live's replay is private (replays cannot be password-protected).
const PRIVACY_PRIVATE_REPLAY: i64 = crate::video::PRIVACY_PRIVATE;

/// The sessions streaming in this process, by video id, and where the RTMP server listens.
#[derive(Default)]
pub struct Lives {
    running: Mutex<HashMap<i64, Running>>,
    rtmp: OnceLock<std::result::Result<SocketAddr, String>>,
    rtmps: OnceLock<SocketAddr>,
    /// Sessions transcoded by remote runners, by the secret key their runner plays them with.
    relays: Mutex<HashMap<String, Arc<Relay>>>,
}

/// One FLV message of a stream: its kind (`TAG_AUDIO`, `TAG_VIDEO`), timestamp (ms) and body.
pub type Tag = (u8, u32, Bytes);

/// A session's stream passed on to the runner that transcodes it (`[live] remote_runners`): what
/// the publisher sends, to whoever plays the session's secret key over RTMP. A player joining
/// late starts with the codecs' headers and the tags since the last keyframe.
pub struct Relay {
    start: Mutex<RelayStart>,
    tx: tokio::sync::broadcast::Sender<Tag>,
}

#[derive(Default)]
struct RelayStart {
    headers: Vec<Tag>,
    gop: Vec<Tag>,
    gop_bytes: usize,
}

/// The most bytes kept since the last keyframe for a late player (past it, the player waits for
/// the next keyframe).
const RELAY_GOP_BYTES: usize = 16 * 1024 * 1024;
/// Tags a player may fall behind before it is cut off.
const RELAY_BACKLOG: usize = 4096;

impl Relay {
    fn new() -> Relay {
        Relay { start: Mutex::new(RelayStart::default()), tx: tokio::sync::broadcast::channel(RELAY_BACKLOG).0 }
    }

    /// Passes one tag on to the players.
    pub fn push(&self, kind: u8, ts: u32, data: Bytes) {
        let mut s = self.start.lock().unwrap_or_else(|p| p.into_inner());
        let first = data.first().copied().unwrap_or(0);
        let sequence_header = data.get(1) == Some(&0)
            && ((kind == flotilla_media::live::TAG_VIDEO && first & 0x0f == 7)
                || (kind == flotilla_media::live::TAG_AUDIO && first >> 4 == 10));
        if sequence_header {
            s.headers.retain(|(k, _, _)| *k != kind);
            s.headers.push((kind, ts, data.clone()));
        } else {
            if kind == flotilla_media::live::TAG_VIDEO && first >> 4 == 1 {
                s.gop.clear();
                s.gop_bytes = 0;
            }
            if s.gop_bytes + data.len() > RELAY_GOP_BYTES {
                s.gop.clear();
                s.gop_bytes = 0;
            } else {
                s.gop_bytes += data.len();
                s.gop.push((kind, ts, data.clone()));
            }
        }
        // Sent under the lock: a player subscribing meanwhile gets each tag once.
        let _ = self.tx.send((kind, ts, data));
    }

    /// What a new player gets first, and the tags after it.
    pub fn subscribe(&self) -> (Vec<Tag>, tokio::sync::broadcast::Receiver<Tag>) {
        let s = self.start.lock().unwrap_or_else(|p| p.into_inner());
        let mut first = s.headers.clone();
        first.extend(s.gop.iter().cloned());
        (first, self.tx.subscribe())
    }
}

struct Running {
    uuid: String,
    /// Set to end the session from outside its connection (the video deleted or blocked).
    stop: tokio::sync::watch::Sender<Option<i64>>,
}

impl Lives {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the RTMP server listens, once it does.
    pub fn rtmp_addr(&self) -> Option<SocketAddr> {
        self.rtmp.get().and_then(|r| r.as_ref().ok()).copied()
    }

    pub(crate) fn set_rtmp(&self, r: std::result::Result<SocketAddr, String>) {
        let _ = self.rtmp.set(r);
    }

    /// Where the RTMPS server listens, when it does.
    pub fn rtmps_addr(&self) -> Option<SocketAddr> {
        self.rtmps.get().copied()
    }

    pub(crate) fn set_rtmps(&self, a: SocketAddr) {
        let _ = self.rtmps.set(a);
    }

    /// Why lives cannot stream here now, if they cannot.
    fn unavailable(&self) -> Option<String> {
        match self.rtmp.get() {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(e.clone()),
            None => Some("the RTMP server is not listening yet".into()),
        }
    }

    pub fn streaming_count(&self) -> usize {
        self.lock().len()
    }

    /// Waits (up to `limit`) for the sessions of this process to end: a stopping instance ends
    /// them before it closes its database.
    pub async fn wait_ended(&self, limit: std::time::Duration) {
        let until = std::time::Instant::now() + limit;
        while self.streaming_count() > 0 && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// A new relay for a session, under the key its runner plays it with.
    pub fn open_relay(&self, key: &str) -> Arc<Relay> {
        let relay = Arc::new(Relay::new());
        self.relays.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string(), relay.clone());
        relay
    }

    /// The relay of this key, while its session runs.
    pub fn relay(&self, key: &str) -> Option<Arc<Relay>> {
        self.relays.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    /// The session ended: its players see the stream end.
    pub fn close_relay(&self, key: &str) {
        self.relays.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Ends a session streaming here, from outside its connection (`error`: why).
    pub fn stop(&self, video_id: i64, error: Option<i64>) {
        if let Some(r) = self.lock().get(&video_id) {
            let _ = r.stop.send(Some(error.unwrap_or(0)));
        }
    }
}

/// `replaySettings` (PeerTube 5.2+).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReplaySettings {
    pub privacy: Option<i64>,
}

/// What a creator sets on a live (create and update).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSettings {
    pub save_replay: Option<bool>,
    pub permanent_live: Option<bool>,
    pub latency_mode: Option<i64>,
    pub replay_settings: Option<ReplaySettings>,
}

impl LiveSettings {
    /// Takes one multipart field of a live's creation; `false` when the name is not a live's.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool> {
        let boolean = |v: &str| match v.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(Error::invalid(name, format!("{name} must be true or false"))),
        };
        let int =
            |v: &str| v.trim().parse::<i64>().map_err(|_| Error::invalid(name, format!("{name} must be a number")));
        match name {
            "saveReplay" => self.save_replay = Some(boolean(value)?),
            "permanentLive" => self.permanent_live = Some(boolean(value)?),
            "latencyMode" => self.latency_mode = Some(int(value)?),
            "replaySettings[privacy]" | "replaySettings.privacy" => {
                self.replay_settings = Some(ReplaySettings { privacy: Some(int(value)?) })
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `POST /videos/live`: the upload's metadata and the live's settings.
#[derive(Debug, Default, Deserialize)]
pub struct CreateLive {
    #[serde(flatten)]
    pub meta: UploadMeta,
    #[serde(flatten)]
    pub settings: LiveSettings,
}

fn check_latency(mode: Option<i64>) -> Result<i64> {
    match mode {
        None => Ok(LATENCY_DEFAULT),
        Some(m @ (LATENCY_DEFAULT | LATENCY_HIGH | LATENCY_SMALL)) => Ok(m),
        Some(_) => Err(Error::invalid("latencyMode", "latencyMode must be 1 (default), 2 (high) or 3 (small)")),
    }
}

/// A replay's privacy: any but password-protected (PeerTube's rule).
fn check_replay_privacy(p: Option<i64>) -> Result<Option<i64>> {
    match p {
        Some(p) if !(1..=4).contains(&p) => Err(Error::invalid(
            "replaySettings.privacy",
            "a replay's privacy must be 1 (public), 2 (unlisted), 3 (private) or 4 (internal)",
        )),
        p => Ok(p),
    }
}

/// Refuses when lives cannot be made or streamed here (turned off, no RTMP server).
fn check_enabled(app: &App) -> Result<()> {
    let refuse = |msg: String| Error::ForbiddenCode { code: "live_not_enabled", msg };
    if !app.config.live.enabled {
        return Err(refuse("Live is not enabled on this instance".into()));
    }
    // Another process runs the RTMP server (`roles`): creators are sent to its configured URL.
    if !app.config.has_role("live") {
        if app.config.live.rtmp_url.is_empty() {
            return Err(refuse(
                "Live is not available from this process: it has no live role and [live] rtmp_url is not set".into(),
            ));
        }
        return Ok(());
    }
    if let Some(why) = app.lives.unavailable() {
        return Err(refuse(format!("Live is not available on this instance now: {why}")));
    }
    Ok(())
}

fn new_stream_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `POST /api/v1/videos/live`: the video (state 4, "waiting for live") and its live, in one
/// transaction.
pub async fn create(app: &App, who: &AuthUser, req: CreateLive) -> Result<Value> {
    check_enabled(app)?;
    let CreateLive { meta, settings } = req;
    let save_replay = settings.save_replay.unwrap_or(false);
    if save_replay && !app.config.live.allow_replay {
        return Err(Error::ForbiddenCode {
            code: "live_not_allowing_replay",
            msg: "Saving live replay is not enabled on this instance".into(),
        });
    }
    let latency_mode = check_latency(settings.latency_mode)?;
    let replay_privacy = check_replay_privacy(settings.replay_settings.and_then(|r| r.privacy))?;
    meta.validate()?;
    let (comments_enabled, comments_held) = crate::video::comments_policy(meta.comments_policy, meta.comments_enabled)?;
    let channel = upload::check_channel(app, who, meta.channel_id.unwrap_or_default()).await?;
    let limits = &app.config.live;
    if limits.max_instance_lives > 0 && lives::count_local(&app.db).await? >= i64::from(limits.max_instance_lives) {
        return Err(Error::ForbiddenCode {
            code: "max_instance_lives_limit_reached",
            msg: "Cannot create this live because the max instance lives limit is reached.".into(),
        });
    }
    if limits.max_user_lives > 0
        && lives::count_of_user(&app.db, channel.owner().0).await? >= i64::from(limits.max_user_lives)
    {
        return Err(Error::ForbiddenCode {
            code: "max_user_lives_limit_reached",
            msg: "Cannot create this live because the max user lives limit is reached.".into(),
        });
    }
    // PeerTube makes a live private unless told otherwise; its replay takes the live's privacy.
    let privacy = meta.privacy.unwrap_or(crate::video::PRIVACY_PRIVATE);
    let replay_privacy =
        replay_privacy.unwrap_or(if privacy == PRIVACY_PASSWORD { PRIVACY_PRIVATE_REPLAY } else { privacy });
    let uuid = uuid::Uuid::new_v4();
    let short = short_uuid(&uuid);
    let now = now_ms();
    let tags: Vec<String> = meta.tags.iter().map(|t| t.trim().to_string()).collect();
    let mut tx = app.db.begin().await?;
    let id = videos::insert(
        &mut tx,
        &videos::NewVideo {
            uuid: &uuid.to_string(),
            short_uuid: &short,
            channel: channel.channel_id(),
            name: meta.name.as_deref().unwrap_or_default().trim(),
            description: meta.description.as_deref(),
            support: meta.support.as_deref(),
            privacy,
            state: STATE_WAITING_FOR_LIVE,
            category: meta.category,
            licence: meta.licence,
            language: meta.language.as_deref(),
            nsfw: meta.nsfw.unwrap_or(false),
            comments_enabled: comments_enabled.unwrap_or(true),
            comments_held: comments_held.unwrap_or(false),
            download_enabled: meta.download_enabled.unwrap_or(true),
            wait_transcoding: false,
            duration: 0,
            width: 0,
            height: 0,
            fps: 0.0,
            has_audio: false,
            has_video: false,
            input_size: 0,
            input_path: None,
            probe: "{}",
            now,
        },
    )
    .await?;
    videos::set_is_live(&mut tx, id).await?;
    videos::set_tags(&mut tx, id, &tags).await?;
    videos::index_search(&mut tx, id).await?;
    crate::video::block::hold_if_needed(app, &mut tx, who, id).await?;
    let summary = meta.nsfw_summary.as_deref().map(str::trim).filter(|s| !s.is_empty());
    videos::set_nsfw_details(&mut tx, id, meta.nsfw_flags.unwrap_or(0), summary).await?;
    crate::video::chapters::follow_description(&mut tx, id, None, meta.description.as_deref()).await?;
    if meta.privacy == Some(PRIVACY_PASSWORD) {
        flotilla_db::video_passwords::replace(&mut tx, id, &meta.video_passwords, now).await?;
    }
    lives::insert(
        &mut tx,
        &lives::Live {
            video_id: id,
            stream_key: new_stream_key(),
            save_replay,
            replay_privacy: save_replay.then_some(replay_privacy),
            permanent: settings.permanent_live.unwrap_or(false),
            latency_mode,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    // Followers hear of it while it waits (PeerTube's `Create`, when it is public).
    crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: id, was_federated: false }).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(video = %uuid, by = %who.user.username, "live created");
    Ok(json!({ "video": { "id": id, "uuid": uuid.to_string(), "shortUUID": short } }))
}

/// The live behind `key`, and whether `who` may see its stream key (its owner, or an admin:
/// PeerTube's `GET_ANY_LIVE`). A live's settings are not secret: PeerTube shows them to anyone.
async fn live_of(app: &App, who: Option<&AuthUser>, key: &str) -> Result<(videos::Video, lives::Live, bool)> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    let live = lives::get(&app.db, v.id).await?.ok_or_else(|| Error::NotFound("Live video not found".into()))?;
    let private = match who {
        Some(w) if w.role() == flotilla_domain::Role::Admin => true,
        Some(w) => v.is_local() && crate::video::owner_user(app, &v).await? == Some(w.user.id),
        None => false,
    };
    Ok((v, live, private))
}

/// [`live_of`] for a change: its owner or an admin only.
async fn managed_live(app: &App, who: &AuthUser, key: &str) -> Result<(videos::Video, lives::Live)> {
    let (v, live, private) = live_of(app, Some(who), key).await?;
    if !v.is_local() {
        return Err(Error::Forbidden("Cannot manage a video of another server.".into()));
    }
    if !private {
        return Err(Error::Forbidden("Cannot manage a video of another user.".into()));
    }
    Ok((v, live))
}

/// The RTMP URL creators stream to: `[live] rtmp_url`, else the public host and the RTMP port.
pub fn rtmp_url(app: &App) -> Option<String> {
    if !app.config.live.rtmp_url.is_empty() {
        return Some(app.config.live.rtmp_url.clone());
    }
    let port = app.lives.rtmp_addr()?.port();
    let host = url::Url::parse(&app.config.public_url).ok()?.host_str()?.to_string();
    Some(format!("rtmp://{host}:{port}/live"))
}

/// The RTMPS URL, when RTMPS is on: `[live] rtmps_url`, else the public host and the RTMPS port.
pub fn rtmps_url(app: &App) -> Option<String> {
    let port = app.lives.rtmps_addr()?.port();
    if !app.config.live.rtmps_url.is_empty() {
        return Some(app.config.live.rtmps_url.clone());
    }
    let host = url::Url::parse(&app.config.public_url).ok()?.host_str()?.to_string();
    Some(format!("rtmps://{host}:{port}/live"))
}

/// PeerTube's `LiveVideo`: the stream's address and key for those who manage the video only.
fn live_json(app: &App, l: &lives::Live, private: bool) -> Value {
    let mut out = json!({
        "saveReplay": l.save_replay,
        "permanentLive": l.permanent,
        "latencyMode": l.latency_mode,
    });
    if let Some(p) = l.replay_privacy {
        out["replaySettings"] = json!({ "privacy": p });
    }
    if private {
        out["rtmpUrl"] = json!(rtmp_url(app));
        out["rtmpsUrl"] = json!(rtmps_url(app));
        out["streamKey"] = json!(l.stream_key);
    }
    out
}

/// `GET /api/v1/videos/live/{id}`: the settings for anyone, the stream's address and key for
/// its owner and admins.
pub async fn get(app: &App, who: Option<&AuthUser>, key: &str) -> Result<Value> {
    let (_, live, private) = live_of(app, who, key).await?;
    Ok(live_json(app, &live, private))
}

/// `PUT /api/v1/videos/live/{id}`: the owner changes the replay, permanence and latency, while
/// the live waits for its stream (PeerTube's rules and words).
pub async fn update(app: &App, who: &AuthUser, key: &str, s: LiveSettings) -> Result<()> {
    let (v, mut live) = managed_live(app, who, key).await?;
    if s.save_replay == Some(true) && !app.config.live.allow_replay {
        return Err(Error::ForbiddenCode {
            code: "live_not_allowing_replay",
            msg: "Saving live replay is not allowed by this instance".into(),
        });
    }
    let latency = s.latency_mode.map(|m| check_latency(Some(m))).transpose()?;
    let privacy = check_replay_privacy(s.replay_settings.as_ref().and_then(|r| r.privacy))?;
    let save = s.save_replay.unwrap_or(live.save_replay);
    if save && !live.save_replay && s.save_replay == Some(true) {
        match &s.replay_settings {
            None => {
                return Err(Error::invalid(
                    "replaySettings",
                    "Replay settings are missing now the live replay is saved",
                ));
            }
            Some(r) if r.privacy.is_none() => {
                return Err(Error::invalid(
                    "replaySettings.privacy",
                    "Privacy replay setting is missing now the live replay is saved",
                ));
            }
            Some(_) => {}
        }
    }
    if !save && s.replay_settings.is_some() {
        return Err(Error::invalid("replaySettings", "Cannot save replay settings since live replay is not enabled"));
    }
    if v.state != STATE_WAITING_FOR_LIVE {
        return Err(Error::bad_request("live_already_started", "Cannot update a live that has already started"));
    }
    live.save_replay = save;
    live.replay_privacy = if save { privacy.or(live.replay_privacy).or(Some(v.privacy.min(4))) } else { None };
    if let Some(p) = s.permanent_live {
        live.permanent = p;
    }
    if let Some(m) = latency {
        live.latency_mode = m;
    }
    live.updated_at = now_ms();
    let mut tx = app.db.begin().await?;
    lives::update(&mut tx, &live).await?;
    let was_federated = crate::ap::federates(app, &v);
    crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated }).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// PeerTube's `LiveVideoSession`.
async fn session_json(app: &App, s: &live_sessions::Session) -> Result<Value> {
    let replay = match s.replay_video_id {
        Some(id) => {
            videos::get(&app.db, id).await?.map(|r| json!({ "id": r.id, "uuid": r.uuid, "shortUUID": r.short_uuid }))
        }
        None => None,
    };
    let mut out = json!({
        "id": s.id,
        "startDate": iso8601(s.started_at),
        "endDate": s.ended_at.map(iso8601),
        "error": s.error,
        "saveReplay": s.save_replay,
        "endingProcessed": s.ended_at.is_some() && (s.ending_processed || !s.save_replay),
    });
    // Both absent, not null, when there are none (PeerTube's).
    if let Some(p) = s.replay_privacy {
        out["replaySettings"] = json!({ "privacy": p });
    }
    if let Some(r) = replay {
        out["replayVideo"] = r;
    }
    Ok(out)
}

/// The most sessions listed (PeerTube's list is not paginated; a permanent live streamed every
/// day for years still answers in bounded size).
const MAX_SESSIONS: i64 = 1000;

/// `GET /api/v1/videos/live/{id}/sessions`: the owner's and admins', oldest first.
pub async fn sessions(app: &App, who: &AuthUser, key: &str) -> Result<Value> {
    let (v, _) = managed_live(app, who, key).await?;
    let (rows, total) =
        live_sessions::of_video(&app.db, v.id, flotilla_db::Page { start: 0, count: MAX_SESSIONS }).await?;
    let mut data = Vec::with_capacity(rows.len());
    for s in &rows {
        data.push(session_json(app, s).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}

/// `GET /api/v1/videos/{id}/live-session`: the session a replay video was made from (PeerTube
/// asks for nothing more than the replay's id).
pub async fn live_session(app: &App, key: &str) -> Result<Value> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    let s =
        live_sessions::of_replay(&app.db, v.id).await?.ok_or_else(|| Error::NotFound("No live replay found".into()))?;
    session_json(app, &s).await
}

/// A session that started: what the ingest needs to run it.
pub struct Started {
    pub video: videos::Video,
    pub live: lives::Live,
    pub session_id: i64,
    /// Where the replay grows, when this session saves one.
    pub replay: Option<std::path::PathBuf>,
    /// The live's owner (whose quota the replay counts against).
    pub owner: Option<flotilla_domain::UserId>,
    pub stop: tokio::sync::watch::Receiver<Option<i64>>,
}

/// Why a stream was refused (said to the publisher and logged; never to the network).
#[derive(Debug)]
pub struct Refused(pub String);

/// A publisher asks to stream with `stream_key`: starts a session if the key is a live's that
/// may stream now. The video is published later, once the session airs ([`went_live`]).
pub async fn begin(app: &App, stream_key: &str) -> std::result::Result<Started, Refused> {
    let refuse = |why: &str| Refused(why.to_string());
    if !app.config.live.enabled {
        return Err(refuse("live is turned off on this instance"));
    }
    if stream_key.is_empty() || stream_key.len() > 64 {
        return Err(refuse("unknown stream key"));
    }
    let db = |e: flotilla_db::Error| Refused(format!("the database failed: {e}"));
    let live =
        lives::by_stream_key(&app.db, stream_key).await.map_err(db)?.ok_or_else(|| refuse("unknown stream key"))?;
    let v = videos::get(&app.db, live.video_id).await.map_err(db)?.ok_or_else(|| refuse("unknown stream key"))?;
    if v.blocked != 0 {
        return Err(refuse("this live is blocked by the instance's moderators"));
    }
    if v.state == STATE_LIVE_ENDED {
        return Err(refuse("this live has ended (a permanent live can stream again, this one cannot)"));
    }
    if v.state != STATE_WAITING_FOR_LIVE && !app.lives.lock().contains_key(&v.id) {
        return Err(refuse("this live is not waiting for a stream"));
    }
    let max = app.config.live.max_instance_lives;
    let (tx_stop, rx_stop) = tokio::sync::watch::channel(None);
    {
        let mut running = app.lives.lock();
        if running.contains_key(&v.id) {
            return Err(refuse("this live is streaming already"));
        }
        if max > 0 && running.len() >= max as usize {
            return Err(refuse("the instance streams as many lives as it may"));
        }
        running.insert(v.id, Running { uuid: v.uuid.clone(), stop: tx_stop });
    }
    let started = async {
        let save_replay = live.save_replay && app.config.live.allow_replay;
        let now = now_ms();
        let mut tx = app.db.begin().await?;
        // Another process of this instance may stream it (several processes on one PostgreSQL).
        if let Some(s) = live_sessions::latest(&mut tx, v.id).await?
            && s.ended_at.is_none()
        {
            return Err(Error::Conflict("this live is streaming already".into()));
        }
        let session = live_sessions::start(&mut tx, v.id, save_replay, live.replay_privacy, now).await?;
        tx.commit().await?;
        Ok::<i64, Error>(session)
    }
    .await;
    match started {
        Ok(session_id) => {
            crate::video::forget_files(app, &v.uuid).await;
            tracing::info!(video = %v.uuid, session = session_id, "live session started");
            let replay = (live.save_replay && app.config.live.allow_replay).then(|| replay_path(app, session_id));
            if let Some(dir) = replay.as_ref().and_then(|p| p.parent())
                && let Err(e) = tokio::fs::create_dir_all(dir).await
            {
                tracing::error!(dir = %dir.display(), error = %e, "cannot make the live replays' directory");
            }
            let owner = crate::video::owner_user(app, &v).await.ok().flatten().map(flotilla_domain::UserId);
            Ok(Started { video: v, live, session_id, replay, owner, stop: rx_stop })
        }
        Err(e) => {
            app.lives.lock().remove(&v.id);
            Err(Refused(e.to_string()))
        }
    }
}

/// The live's first segments are out and its master playlist written: players can join. In one
/// transaction the video is published (state 1, with its live playlists), its swarms are named for
/// the tracker (one per variant, from the master playlist, as players name them) and its
/// followers are told (PeerTube too publishes only once segments are out).
pub async fn went_live(app: &App, v: &videos::Video, session_id: i64, master: &str) -> Result<()> {
    let swarm_id = crate::uris::absolute(app, &crate::uris::hls_file_path(&v.uuid, MASTER_PLAYLIST));
    let hashes = flotilla_media::p2p::info_hashes(&swarm_id, master);
    let mut tx = app.db.begin().await?;
    let now = now_ms();
    videos::set_live_state(&mut tx, v.id, STATE_PUBLISHED, Some((MASTER_PLAYLIST, SEGMENTS_SHA256)), now).await?;
    videos::set_infohashes(&mut tx, v.id, &hashes).await?;
    let was_federated = crate::ap::federates(app, v);
    let event = crate::events::Event::LiveStarted { video_id: v.id, session_id, was_federated };
    crate::events::record(&mut tx, event).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// Where a session's replay grows (the first variant's segments, appended as they finish).
pub fn replay_path(app: &App, session_id: i64) -> std::path::PathBuf {
    app.data_path("live-replays").join(format!("{session_id}.ts"))
}

/// Ends a session: the video waits for the next one (permanent) or is ended; its live files stay
/// `[live] cleanup_delay_secs` for viewers behind the edge (their playlists closed, so players stop
/// at the end), then a [`cleanup`] job removes them; a replay the session saved becomes a video.
/// Safe to call for a session already ended, or whose video was deleted meanwhile.
///
/// `aired`: the session produced segments. One that never did (an encoder that connected and
/// failed, a stream ffmpeg could not read) leaves no trace: its session is forgotten and the live
/// waits again, permanent or not (PeerTube records a session only once the input was read).
pub async fn end(app: &App, video_id: i64, session_id: i64, error: Option<i64>, aired: bool) {
    // Files first (a replay's transcoding writes into the same directory once the end is
    // committed, under other names), the registry last.
    let uuid = app.lives.lock().get(&video_id).map(|r| r.uuid.clone());
    if let Some(uuid) = &uuid {
        if aired && app.config.live.cleanup_delay_secs > 0 {
            let dir = crate::video::hls_dir(app, uuid);
            let ended = tokio::task::spawn_blocking(move || flotilla_media::live::end_playlists(&dir)).await;
            if let Ok(Err(e)) = ended
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(video = video_id, error = %e, "cannot close an ended live's playlists");
            }
        } else {
            clear_files(app, uuid).await;
        }
        crate::video::forget_files(app, uuid).await;
    }
    if let Err(e) = finish(app, video_id, session_id, error, aired).await {
        // The next start's recovery ends it.
        tracing::error!(video = video_id, session = session_id, error = %e, "cannot record a live session's end");
    }
    app.lives.lock().remove(&video_id);
    tracing::info!(video = video_id, session = session_id, error, "live session ended");
}

/// A replay's file, probed and moved into quarantine as an upload would be.
struct ReplayInput {
    probe: flotilla_media::probe::Probe,
    probe_json: String,
    path: String,
    size: i64,
}

async fn replay_input(app: &App, session_id: i64) -> Option<ReplayInput> {
    let file = replay_path(app, session_id);
    let size = tokio::fs::metadata(&file).await.ok()?.len();
    if size == 0 {
        let _ = tokio::fs::remove_file(&file).await;
        return None;
    }
    match crate::video::upload::probe_upload(app, &file).await {
        Ok((probe, probe_json)) => {
            let quarantine = crate::video::upload::quarantine_path(app);
            if let Err(e) = tokio::fs::rename(&file, &quarantine).await {
                tracing::error!(file = %file.display(), error = %e, "cannot keep a live's replay");
                return None;
            }
            Some(ReplayInput { probe, probe_json, path: quarantine.display().to_string(), size: size as i64 })
        }
        Err(e) => {
            tracing::warn!(session = session_id, error = %e, "a live's replay cannot be read: none is made");
            let _ = tokio::fs::remove_file(&file).await;
            None
        }
    }
}

/// The session's end in one transaction: the session ended, the video's new state, and the replay
/// (a video to transcode, with its job) when the session saved one.
async fn finish(app: &App, video_id: i64, session_id: i64, error: Option<i64>, aired: bool) -> Result<()> {
    let Some(session) = live_sessions::get(&app.db, session_id).await? else {
        let _ = tokio::fs::remove_file(replay_path(app, session_id)).await;
        return Ok(());
    };
    let replay = if session.save_replay && session.ended_at.is_none() && aired {
        replay_input(app, session_id).await
    } else {
        let _ = tokio::fs::remove_file(replay_path(app, session_id)).await;
        None
    };
    let result = commit_end(app, video_id, &session, error, replay.as_ref(), aired).await;
    match (&result, replay) {
        (Ok(true), _) => {
            app.wake_jobs();
            tracing::info!(video = video_id, session = session_id, "a live's replay is made into a video");
        }
        // Not made: the replay goes back where the next try finds it, or away when not wanted.
        (Err(_), Some(r)) => {
            let _ = tokio::fs::rename(&r.path, replay_path(app, session_id)).await;
        }
        (Ok(false), Some(r)) => {
            let _ = tokio::fs::remove_file(&r.path).await;
        }
        (_, None) => {}
    }
    result.map(|_| ())
}

/// [`finish`]'s transaction; `true` when it made a replay.
async fn commit_end(
    app: &App,
    video_id: i64,
    session: &live_sessions::Session,
    error: Option<i64>,
    replay: Option<&ReplayInput>,
    aired: bool,
) -> Result<bool> {
    let session_id = session.id;
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    if !aired {
        // Nothing was shown: as if it never started (the live still waits; nobody was told).
        live_sessions::delete_open(&mut tx, session_id).await?;
        tx.commit().await?;
        return Ok(false);
    }
    let ended = live_sessions::end(&mut tx, session_id, error, now).await?;
    let live = lives::get(&mut tx, video_id).await?;
    let v = videos::get(&mut tx, video_id).await?;
    let mut made = false;
    if let (Some(live), Some(v)) = (live, v)
        && ended
    {
        let was_federated = crate::ap::federates(app, &v);
        let state = if live.permanent { STATE_WAITING_FOR_LIVE } else { STATE_LIVE_ENDED };
        videos::set_live_state(&mut tx, v.id, state, None, now).await?;
        videos::set_infohashes(&mut tx, v.id, &[]).await?;
        // Followers see it end; a live becoming its own public replay is sent whole once
        // transcoded instead (a private one is withdrawn now).
        let becomes_public_replay = replay.is_some()
            && !live.permanent
            && matches!(
                session.replay_privacy,
                Some(crate::video::PRIVACY_PUBLIC) | Some(crate::video::PRIVACY_UNLISTED)
            );
        if !becomes_public_replay {
            crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated })
                .await?;
        }
        let delay = app.config.live.cleanup_delay_secs;
        if delay > 0 {
            let job = crate::jobs::Job::LiveCleanup { video_id: v.id, session_id };
            crate::jobs::enqueue_at(&mut tx, &job, now + delay as i64 * 1000).await?;
        }
        if let Some(r) = replay {
            let replay_id = make_replay(&mut tx, &v, &live, session.replay_privacy, r, now).await?;
            live_sessions::set_replay(&mut tx, session_id, replay_id).await?;
            crate::jobs::enqueue(&mut tx, &crate::jobs::Job::Transcode { video_id: replay_id }).await?;
            made = true;
        }
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(made)
}

/// The replay as a video to transcode, in the transaction ending its session. A permanent live's
/// replay is a new video of its channel named after the live and the session's start (PeerTube's);
/// a normal live becomes its own replay: the same video, no longer a live, with the replay's
/// privacy.
async fn make_replay(
    tx: &mut flotilla_db::Tx,
    v: &videos::Video,
    live: &lives::Live,
    privacy: Option<i64>,
    r: &ReplayInput,
    now: i64,
) -> Result<i64> {
    let p = &r.probe;
    let privacy = privacy.unwrap_or(v.privacy.min(crate::video::PRIVACY_INTERNAL));
    if !live.permanent {
        videos::set_imported(
            &mut *tx,
            v.id,
            &videos::ImportedInput {
                name: None,
                description: None,
                duration: p.duration.round() as i64,
                width: i64::from(p.width),
                height: i64::from(p.height),
                fps: p.fps,
                has_audio: p.has_audio,
                has_video: p.has_video,
                input_size: r.size,
                input_path: &r.path,
                probe: &r.probe_json,
                state: crate::video::STATE_TO_TRANSCODE,
                now,
            },
        )
        .await?;
        videos::become_replay(&mut *tx, v.id, privacy).await?;
        lives::delete(&mut *tx, v.id).await?;
        return Ok(v.id);
    }
    let uuid = uuid::Uuid::new_v4();
    let short = short_uuid(&uuid);
    let started = flotilla_domain::time::iso8601(v.published_at.unwrap_or(now));
    let mut name: String = v.name.chars().take(120 - 3 - started.len()).collect();
    name.push_str(" - ");
    name.push_str(&started);
    let id = videos::insert(
        &mut *tx,
        &videos::NewVideo {
            uuid: &uuid.to_string(),
            short_uuid: &short,
            channel: flotilla_domain::ChannelId(v.channel_id),
            name: &name,
            description: v.description.as_deref(),
            support: v.support.as_deref(),
            privacy,
            state: crate::video::STATE_TO_TRANSCODE,
            category: v.category,
            licence: v.licence,
            language: v.language.as_deref(),
            nsfw: v.nsfw,
            comments_enabled: v.comments_enabled,
            comments_held: v.comments_held,
            download_enabled: v.download_enabled,
            wait_transcoding: true,
            duration: p.duration.round() as i64,
            width: i64::from(p.width),
            height: i64::from(p.height),
            fps: p.fps,
            has_audio: p.has_audio,
            has_video: p.has_video,
            input_size: r.size,
            input_path: Some(&r.path),
            probe: &r.probe_json,
            now,
        },
    )
    .await?;
    let tags = videos::tags(&mut *tx, v.id).await?;
    videos::set_tags(&mut *tx, id, &tags).await?;
    videos::index_search(&mut *tx, id).await?;
    Ok(id)
}

/// Removes a live's HLS files (a replay's renditions, written in the same directory under other
/// names, stay).
pub async fn clear_files(app: &App, uuid: &str) {
    let dir = crate::video::hls_dir(app, uuid);
    let shown = dir.display().to_string();
    let removed = tokio::task::spawn_blocking(move || flotilla_media::live::remove_live_files(&dir, false)).await;
    if let Ok(Err(e)) = removed {
        tracing::warn!(dir = shown, error = %e, "cannot remove a live's files");
    }
}

/// The `live-cleanup` job: an ended session's files go once its grace is over, unless a newer
/// session of the live has started since (its ffmpeg began from an empty directory, and the
/// files are its own now; its end queues its own clean-up).
pub async fn cleanup(app: &std::sync::Arc<App>, video_id: i64, session_id: i64) -> Result<()> {
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    if live_sessions::latest(&app.db, video_id).await?.is_some_and(|s| s.id != session_id) {
        return Ok(());
    }
    let app2 = app.clone();
    let dir = crate::video::hls_dir(app, &v.uuid);
    // A live that became its own replay keeps its directory: the replay's transcoding made it and
    // moves each rendition in when encoded; removed while still empty (the first rendition not
    // there yet), that move fails.
    let keep_dir = !v.is_live;
    let removed = tokio::task::spawn_blocking(move || {
        // Under the registry's lock: a session beginning now waits for the files to be gone, and
        // one that began already is seen here.
        let running = app2.lives.lock();
        if running.contains_key(&video_id) {
            return Ok(());
        }
        flotilla_media::live::remove_live_files(&dir, keep_dir)
    })
    .await
    .map_err(|e| Error::Internal(format!("the clean-up of a live's files stopped: {e}")))?;
    removed.map_err(|e| Error::Internal(format!("cannot remove an ended live's files: {e}")))?;
    crate::video::forget_files(app, &v.uuid).await;
    tracing::info!(video = %v.uuid, session = session_id, "an ended live's files removed");
    Ok(())
}

/// At start, before streams are taken: sessions a stopped or crashed process left open are
/// ended (their lives wait again, or are ended; a replay they saved is made), and their files
/// removed.
pub async fn recover(app: &App) -> Result<usize> {
    let open = live_sessions::open(&app.db).await?;
    for s in &open {
        app.lives.lock().remove(&s.video_id);
        if let Some(v) = videos::get(&app.db, s.video_id).await? {
            clear_files(app, &v.uuid).await;
            crate::video::forget_files(app, &v.uuid).await;
        }
        // It aired if its swarms were named (`went_live`).
        let aired = !videos::infohashes(&app.db, s.video_id).await?.is_empty();
        finish(app, s.video_id, s.id, None, aired).await?;
        tracing::warn!(video = s.video_id, session = s.id, "a live session cut by a stop or crash was ended");
    }
    Ok(open.len())
}
