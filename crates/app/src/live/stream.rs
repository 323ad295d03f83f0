//! One session's ffmpeg: fed the creator's stream as FLV on its standard input, it writes the live
//! HLS into the video's HLS directory; beside it a task keeps `segments-sha256.json` true to the
//! finished segments (what P2P viewers check each segment against) and, when the session saves
//! its replay, the replay file growing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_media::live::{self, Source};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

use crate::App;

/// How often the hash file is brought up to date (a P2P viewer retries a segment whose hash is
/// not listed yet).
const HASH_INTERVAL: Duration = Duration::from_millis(250);

/// The most bytes of ffmpeg's error output kept for the log.
const MAX_STDERR: usize = 8 * 1024;

/// Keeps the hash file true to the finished segments and, for a session that saves its replay,
/// appends each finished segment of the first variant (the highest rendition) to the replay
/// file, in order, before the sliding window deletes it.
pub struct Watcher {
    dir: PathBuf,
    known: BTreeMap<String, String>,
    replay: Option<Replay>,
    /// The master playlist once ffmpeg wrote it and a segment is hashed, until taken.
    master: Option<String>,
    master_seen: bool,
}

struct Replay {
    path: PathBuf,
    /// The number of the next segment to append (segments before it are in).
    next: Option<u64>,
    bytes: u64,
}

impl Watcher {
    pub fn new(dir: &Path, replay: Option<PathBuf>) -> Watcher {
        Watcher {
            dir: dir.to_path_buf(),
            known: BTreeMap::new(),
            replay: replay.map(|path| Replay { path, next: None, bytes: 0 }),
            master: None,
            master_seen: false,
        }
    }

    /// Bytes in the replay so far.
    pub fn replay_bytes(&self) -> u64 {
        self.replay.as_ref().map_or(0, |r| r.bytes)
    }

    /// One look at the directory: hashes rewritten if the segments changed, new segments of the
    /// first variant appended to the replay.
    pub fn step(&mut self) -> std::io::Result<()> {
        write_hashes(&self.dir, &mut self.known)?;
        if !self.master_seen && !self.known.is_empty() {
            match std::fs::read_to_string(self.dir.join(super::MASTER_PLAYLIST)) {
                Ok(m) => {
                    self.master = Some(m);
                    self.master_seen = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let Some(r) = self.replay.as_mut() else { return Ok(()) };
        let mut first: Vec<(u64, &String)> = self
            .known
            .keys()
            .filter_map(|k| {
                let n = k.strip_prefix("0-")?.strip_suffix(".ts")?.parse::<u64>().ok()?;
                Some((n, k))
            })
            .collect();
        first.sort_unstable();
        for (n, name) in first {
            if r.next.is_some_and(|next| n < next) {
                continue;
            }
            let bytes = match std::fs::read(self.dir.join(name)) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&r.path)?;
            std::io::Write::write_all(&mut f, &bytes)?;
            r.bytes += bytes.len() as u64;
            r.next = Some(n + 1);
        }
        Ok(())
    }
}

pub struct Transcoder {
    child: Child,
    stdin: Option<ChildStdin>,
    hashes: JoinHandle<()>,
    stderr: JoinHandle<String>,
    watcher: Arc<Mutex<Watcher>>,
}

impl Transcoder {
    /// Starts ffmpeg for a session in `dir` (made empty first).
    pub async fn start(
        app: &App,
        dir: &Path,
        source: &Source,
        latency_mode: i64,
        replay: Option<PathBuf>,
    ) -> std::io::Result<Transcoder> {
        fresh_dir(dir).await?;
        let settings = live::Settings {
            resolutions: &app.config.live.resolutions,
            segment_seconds: super::segment_seconds(latency_mode),
            list_size: super::PLAYLIST_SEGMENTS,
            threads: app.config.live.threads,
        };
        let args = live::ffmpeg_args(source, &settings);
        let mut child = Command::new("ffmpeg")
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| std::io::Error::other(format!("cannot run ffmpeg (apt-get install ffmpeg): {e}")))?;
        let stdin = child.stdin.take();
        let mut err = child.stderr.take();
        let stderr = tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            if let Some(e) = err.as_mut() {
                while let Ok(n) = e.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if kept.len() < MAX_STDERR {
                        kept.extend_from_slice(&buf[..n.min(MAX_STDERR - kept.len())]);
                    }
                }
            }
            String::from_utf8_lossy(&kept).trim().to_string()
        });
        let watcher = Arc::new(Mutex::new(Watcher::new(dir, replay)));
        let hashes = tokio::spawn(watch(watcher.clone()));
        Ok(Transcoder { child, stdin, hashes, stderr, watcher })
    }

    /// Feeds FLV bytes; an error means ffmpeg is gone.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(s) => s.write_all(bytes).await,
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        }
    }

    /// Bytes in the replay so far.
    pub fn replay_bytes(&self) -> u64 {
        self.watcher.lock().unwrap_or_else(|p| p.into_inner()).replay_bytes()
    }

    /// The master playlist, the first time it is ready (players can join from then on).
    pub fn take_master(&self) -> Option<String> {
        self.watcher.lock().unwrap_or_else(|p| p.into_inner()).master.take()
    }

    /// Whether ffmpeg ended by itself.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Ends ffmpeg: its input closed, so it writes what it holds and stops (killed after
    /// `grace`); the hashes brought up to date a last time. Returns ffmpeg's error output when it
    /// failed, and the master playlist if it appeared only now (a stream shorter than a segment).
    pub async fn finish(mut self, grace: Duration) -> (Option<String>, Option<String>) {
        drop(self.stdin.take());
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(s) => s.ok(),
            Err(_) => {
                let _ = self.child.kill().await;
                None
            }
        };
        self.hashes.abort();
        // The last segments ffmpeg wrote as it stopped.
        let watcher = self.watcher.clone();
        let _ = tokio::task::spawn_blocking(move || watcher.lock().unwrap_or_else(|p| p.into_inner()).step()).await;
        let master = self.take_master();
        let stderr = self.stderr.await.unwrap_or_default();
        let failed = match status {
            Some(s) if s.success() => None,
            _ => Some(if stderr.is_empty() { "ffmpeg was stopped or failed".into() } else { stderr }),
        };
        (failed, master)
    }
}

/// Empties a session's directory (what an earlier session left).
async fn fresh_dir(dir: &Path) -> std::io::Result<()> {
    if let Err(e) = tokio::fs::remove_dir_all(dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(e);
    }
    tokio::fs::create_dir_all(dir).await
}

/// Rewrites `segments-sha256.json` (through a temporary file: readers see the old or the new)
/// when the finished segments changed. Returns whether it did.
fn write_hashes(dir: &Path, known: &mut BTreeMap<String, String>) -> std::io::Result<bool> {
    if !live::refresh_hashes(dir, known)? {
        return Ok(false);
    }
    let tmp = dir.join(format!("{}.tmp", super::SEGMENTS_SHA256));
    std::fs::write(&tmp, serde_json::to_vec(&known).unwrap_or_default())?;
    std::fs::rename(&tmp, dir.join(super::SEGMENTS_SHA256))?;
    Ok(true)
}

async fn watch(watcher: Arc<Mutex<Watcher>>) {
    loop {
        tokio::time::sleep(HASH_INTERVAL).await;
        let w = watcher.clone();
        let r = match tokio::task::spawn_blocking(move || w.lock().unwrap_or_else(|p| p.into_inner()).step()).await {
            Ok(r) => r,
            Err(_) => return,
        };
        if let Err(e) = r
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "cannot keep a live's segment hashes or replay");
        }
    }
}

/// How long an ended session waits for its runner's last segments (they finish once the runner's
/// ffmpeg sees the stream end: the replay keeps them).
const LAST_CHUNKS: Duration = Duration::from_secs(10);

/// A session transcoded by a remote runner (`[live] remote_runners`): the stream goes to the
/// relay its runner plays; the runner's segments arrive in the directory through the runner API
/// (`runners::live::update`), where the same watcher keeps hashes, replay and publication.
pub struct Remote {
    relay: Arc<super::Relay>,
    key: String,
    job_id: i64,
    hashes: JoinHandle<()>,
    watcher: Arc<Mutex<Watcher>>,
}

impl Remote {
    /// Opens the relay and creates the runner job, for a session in `dir` (made empty first).
    pub async fn start(
        app: &App,
        dir: &Path,
        source: &Source,
        latency_mode: i64,
        replay: Option<PathBuf>,
        video: &flotilla_db::videos::Video,
        session_id: i64,
    ) -> std::io::Result<Remote> {
        fresh_dir(dir).await?;
        let key = crate::auth::random_token(24);
        let relay = app.lives.open_relay(&key);
        let job_id = match crate::runners::live::create(app, video, session_id, source, latency_mode, &key).await {
            Ok(id) => id,
            Err(e) => {
                app.lives.close_relay(&key);
                return Err(std::io::Error::other(e.to_string()));
            }
        };
        let watcher = Arc::new(Mutex::new(Watcher::new(dir, replay)));
        let hashes = tokio::spawn(watch(watcher.clone()));
        Ok(Remote { relay, key, job_id, hashes, watcher })
    }

    /// Ends the relay (the runner's ffmpeg sees the stream end), waits a little for the runner's
    /// last segments (its job over, or [`LAST_CHUNKS`]), then the watcher; a job no runner took
    /// is cancelled. The master playlist if it appeared only now.
    pub async fn finish(self, app: &App) -> Option<String> {
        app.lives.close_relay(&self.key);
        drop(self.relay);
        // Not while the instance stops: it ends its sessions within a bound of its own.
        let until = std::time::Instant::now() + LAST_CHUNKS;
        while std::time::Instant::now() < until
            && !*app.stopping.borrow()
            && crate::runners::live::processing(app, self.job_id).await
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.hashes.abort();
        let watcher = self.watcher.clone();
        let _ = tokio::task::spawn_blocking(move || watcher.lock().unwrap_or_else(|p| p.into_inner()).step()).await;
        crate::runners::live::session_ended(app, self.job_id).await;
        self.watcher.lock().unwrap_or_else(|p| p.into_inner()).master.take()
    }
}

/// Who transcodes a session: an ffmpeg here, or a remote runner.
pub enum Encoder {
    Local(Transcoder),
    Remote(Remote),
}

impl Encoder {
    /// Passes one media message on; an error means the local ffmpeg is gone.
    pub async fn send(&mut self, kind: u8, ts: u32, data: bytes::Bytes) -> std::io::Result<()> {
        match self {
            Encoder::Local(t) => {
                let mut out = Vec::with_capacity(data.len() + 15);
                live::flv_tag(&mut out, kind, ts, &data);
                t.write(&out).await
            }
            Encoder::Remote(r) => {
                r.relay.push(kind, ts, data);
                Ok(())
            }
        }
    }

    fn watcher(&self) -> &Arc<Mutex<Watcher>> {
        match self {
            Encoder::Local(t) => &t.watcher,
            Encoder::Remote(r) => &r.watcher,
        }
    }

    pub fn replay_bytes(&self) -> u64 {
        self.watcher().lock().unwrap_or_else(|p| p.into_inner()).replay_bytes()
    }

    pub fn take_master(&self) -> Option<String> {
        self.watcher().lock().unwrap_or_else(|p| p.into_inner()).master.take()
    }

    /// Whether the encoder stopped by itself: the session's error.
    pub async fn failed(&mut self, app: &App) -> Option<i64> {
        match self {
            Encoder::Local(t) => t.exited().then_some(super::ERROR_FFMPEG),
            Encoder::Remote(r) => crate::runners::live::failed(app, r.job_id).await,
        }
    }

    /// See [`Transcoder::finish`].
    pub async fn finish(self, app: &App, grace: Duration) -> (Option<String>, Option<String>) {
        match self {
            Encoder::Local(t) => t.finish(grace).await,
            Encoder::Remote(r) => (None, r.finish(app).await),
        }
    }
}
