//! One session's ffmpeg: fed the creator's stream as FLV on its standard input, it writes the live
//! HLS into the video's HLS directory; beside it a task keeps `segments-sha256.json` true to the
//! finished segments (what P2P viewers check each segment against).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
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

pub struct Transcoder {
    child: Child,
    stdin: Option<ChildStdin>,
    hashes: JoinHandle<()>,
    stderr: JoinHandle<String>,
    dir: PathBuf,
}

impl Transcoder {
    /// Starts ffmpeg for a session in `dir` (made empty first).
    pub async fn start(app: &App, dir: &Path, source: &Source, latency_mode: i64) -> std::io::Result<Transcoder> {
        if let Err(e) = tokio::fs::remove_dir_all(dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(e);
        }
        tokio::fs::create_dir_all(dir).await?;
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
        let hashes = tokio::spawn(keep_hashes(dir.to_path_buf()));
        Ok(Transcoder { child, stdin, hashes, stderr, dir: dir.to_path_buf() })
    }

    /// Feeds FLV bytes; an error means ffmpeg is gone.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(s) => s.write_all(bytes).await,
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        }
    }

    /// Whether ffmpeg ended by itself.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Ends ffmpeg: its input closed, so it writes what it holds and stops (killed after
    /// `grace`); the hashes brought up to date a last time. Returns ffmpeg's error output when it
    /// failed.
    pub async fn finish(mut self, grace: Duration) -> Option<String> {
        drop(self.stdin.take());
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(s) => s.ok(),
            Err(_) => {
                let _ = self.child.kill().await;
                None
            }
        };
        self.hashes.abort();
        let dir = self.dir.clone();
        let _ = tokio::task::spawn_blocking(move || write_hashes(&dir, &mut BTreeMap::new())).await;
        let stderr = self.stderr.await.unwrap_or_default();
        match status {
            Some(s) if s.success() => None,
            _ => Some(if stderr.is_empty() { "ffmpeg was stopped or failed".into() } else { stderr }),
        }
    }
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

async fn keep_hashes(dir: PathBuf) {
    let mut known = BTreeMap::new();
    loop {
        tokio::time::sleep(HASH_INTERVAL).await;
        let d = dir.clone();
        let mut k = std::mem::take(&mut known);
        let (r, k) = match tokio::task::spawn_blocking(move || (write_hashes(&d, &mut k), k)).await {
            Ok(x) => x,
            Err(_) => return,
        };
        known = k;
        if let Err(e) = r
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot write a live's segment hashes");
        }
    }
}
