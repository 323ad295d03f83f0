//! A live's job on the runner (`live-rtmp-hls-transcoding`): ffmpeg plays the server's
//! `rtmpUrl` (only `rtmp` and `tcp` allowed) and makes the live ladder with the server's own
//! arguments (`flotilla_media::live`); every segment ffmpeg finishes is uploaded with its playlist
//! (and the master playlist, once) as an `add-chunk` update, every segment its window drops is
//! removed (`remove-chunk`). When the stream ends ffmpeg ends: the last segments go up, then
//! `success`. The server taking the job back (404, 409) stops ffmpeg.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use flotilla_media::live::{self as media, Source};
use serde_json::{Value, json};

use super::{CallError, Runner, Stop};

/// How often the working directory is looked at.
const LOOK: Duration = Duration::from_millis(300);

/// How a live job ended, on the runner's side.
enum End {
    /// ffmpeg ended (the stream did): the last segments went up.
    Done,
    Failed(String),
    Lost(String),
    Stopping,
}

impl Runner {
    /// Does one accepted live job. `Err` only when the runner must stop.
    pub(super) async fn work_live(&self, uuid: &str, job: &Value) -> Result<(), Stop> {
        let Some(job_token) = job["jobToken"].as_str() else { return Ok(()) };
        let dir = self.opts.data_dir.join("work").join(uuid);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        let end = match tokio::fs::create_dir_all(&dir).await {
            Ok(()) => self.live(&dir, uuid, job, job_token).await,
            Err(e) => End::Failed(format!("cannot create {}: {e}", dir.display())),
        };
        let _ = tokio::fs::remove_dir_all(&dir).await;
        let body = json!({ "runnerToken": self.token, "jobToken": job_token });
        match end {
            End::Done => match self.post(&format!("/api/v1/runners/jobs/{uuid}/success"), body).await {
                Ok(_) => tracing::info!(job = uuid, "live ended"),
                Err(e) => tracing::warn!(job = uuid, error = %e, "the live's end not accepted"),
            },
            End::Failed(msg) => {
                tracing::error!(job = uuid, error = %msg, "live job failed");
                self.fail(uuid, job_token, &msg).await;
            }
            End::Lost(why) => {
                tracing::warn!(job = uuid, why = %why, "live job taken back by the server; stopped");
                if why.contains("runner token") {
                    return Err(Stop::Revoked);
                }
            }
            End::Stopping => {
                let mut body = body;
                body["reason"] = json!("the runner is stopping");
                let _ = self.post(&format!("/api/v1/runners/jobs/{uuid}/abort"), body).await;
                return Err(Stop::Signal);
            }
        }
        Ok(())
    }

    async fn live(&self, dir: &Path, uuid: &str, job: &Value, job_token: &str) -> End {
        let payload = &job["payload"];
        let Some(url) = payload["input"]["rtmpUrl"].as_str().filter(|u| u.starts_with("rtmp://")) else {
            return End::Failed("the job has no rtmp:// input URL".into());
        };
        let resolutions: Vec<u32> = payload["output"]["toTranscode"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t["resolution"].as_u64().and_then(|r| u32::try_from(r).ok())).collect())
            .unwrap_or_default();
        let size = |k: &str| payload["input"][k].as_u64().and_then(|v| u32::try_from(v).ok());
        let source = Source {
            has_video: !resolutions.is_empty(),
            // PeerTube's server does not say: a stream is taken to have sound.
            has_audio: payload["input"]["hasAudio"].as_bool().unwrap_or(true),
            width: size("width"),
            height: size("height"),
        };
        let settings = media::Settings {
            resolutions: &resolutions,
            segment_seconds: payload["output"]["segmentDuration"].as_u64().unwrap_or(4).clamp(1, 30) as u32,
            list_size: payload["output"]["segmentListSize"].as_u64().unwrap_or(15).clamp(3, 100) as u32,
            threads: match self.opts.threads {
                0 => std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
                n => n,
            },
        };
        let args = media::ffmpeg_args_from(&source, &settings, url, "rtmp,tcp");
        let mut child = match tokio::process::Command::new("ffmpeg")
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return End::Failed(format!("cannot run ffmpeg (apt-get install ffmpeg): {e}")),
        };
        let stderr = child.stderr.take();
        let errors = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut kept = Vec::new();
            if let Some(mut e) = stderr {
                let _ = (&mut e).take(8192).read_to_end(&mut kept).await;
                let mut rest = [0u8; 4096];
                while matches!(e.read(&mut rest).await, Ok(n) if n > 0) {}
            }
            String::from_utf8_lossy(&kept).trim().to_string()
        });
        tracing::info!(job = uuid, "live job accepted: transcoding the stream");
        let mut sent = Sent::default();
        let mut last_news = Instant::now();
        loop {
            let exited = tokio::select! {
                s = child.wait() => Some(s),
                _ = tokio::time::sleep(LOOK) => None,
                _ = self.stopping() => {
                    let _ = child.kill().await;
                    return End::Stopping;
                }
            };
            // What ffmpeg finished (and, when it ended, the last of it).
            match self.sync(dir, uuid, job_token, &mut sent).await {
                Ok(true) => last_news = Instant::now(),
                Ok(false) => {}
                Err(CallError::Status(s @ (404 | 409), body)) => {
                    let _ = child.kill().await;
                    return End::Lost(format!("{s}: {body}"));
                }
                Err(e) => tracing::warn!(job = uuid, error = %e, "cannot upload a live segment; trying again"),
            }
            if let Some(status) = exited {
                let why = errors.await.unwrap_or_default();
                return match status {
                    Ok(s) if s.success() => End::Done,
                    _ => End::Failed(format!("ffmpeg: {}", if why.is_empty() { "it failed" } else { &why })),
                };
            }
            // Signs of life while the stream gives no segment.
            if last_news.elapsed() >= self.opts.update_every {
                let body = json!({ "runnerToken": self.token, "jobToken": job_token });
                match self.post(&format!("/api/v1/runners/jobs/{uuid}/update"), body).await {
                    Ok(_) => last_news = Instant::now(),
                    Err(CallError::Status(s @ (404 | 409), body)) => {
                        let _ = child.kill().await;
                        return End::Lost(format!("{s}: {body}"));
                    }
                    Err(e) => tracing::warn!(job = uuid, error = %e, "cannot report to the server"),
                }
            }
        }
    }

    /// Uploads the segments the variant playlists name that are not up yet, and removes those
    /// the playlists dropped. Whether anything was sent.
    async fn sync(&self, dir: &Path, uuid: &str, job_token: &str, sent: &mut Sent) -> Result<bool, CallError> {
        let mut named = BTreeSet::new();
        let mut any = false;
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return Ok(false) };
        let mut playlists = Vec::new();
        while let Ok(Some(e)) = entries.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".m3u8") && name != media::MASTER_PLAYLIST && media::is_live_file(&name) {
                playlists.push(name);
            }
        }
        playlists.sort();
        for p in playlists {
            let Ok(text) = tokio::fs::read_to_string(dir.join(&p)).await else { continue };
            for seg in text.lines().map(str::trim).filter(|l| media::is_segment_name(l)) {
                named.insert(seg.to_string());
                if sent.up.contains(seg) {
                    continue;
                }
                let master =
                    if sent.master { None } else { tokio::fs::read(dir.join(media::MASTER_PLAYLIST)).await.ok() };
                let Ok(bytes) = tokio::fs::read(dir.join(seg)).await else { continue };
                let with_master = master.is_some();
                self.chunk(uuid, job_token, "add-chunk", seg, Some(bytes), Some((&p, text.clone())), master).await?;
                sent.master |= with_master;
                sent.up.insert(seg.to_string());
                any = true;
            }
        }
        let dropped: Vec<String> = sent.up.iter().filter(|s| !named.contains(*s)).cloned().collect();
        for seg in dropped {
            if tokio::fs::try_exists(dir.join(&seg)).await.unwrap_or(false) {
                continue;
            }
            self.chunk(uuid, job_token, "remove-chunk", &seg, None, None, None).await?;
            sent.up.remove(&seg);
            any = true;
        }
        Ok(any)
    }

    /// One `update` of a live job (multipart, the tokens before the files).
    #[allow(clippy::too_many_arguments)]
    async fn chunk(
        &self,
        uuid: &str,
        job_token: &str,
        kind: &str,
        name: &str,
        bytes: Option<Vec<u8>>,
        playlist: Option<(&str, String)>,
        master: Option<Vec<u8>>,
    ) -> Result<(), CallError> {
        let part = |b: Vec<u8>, file: &str| reqwest::multipart::Part::bytes(b).file_name(file.to_string());
        let mut form = reqwest::multipart::Form::new()
            .text("runnerToken", self.token.clone())
            .text("jobToken", job_token.to_string())
            .text("payload[type]", kind.to_string())
            .text("payload[videoChunkFilename]", name.to_string());
        if let Some(b) = bytes {
            form = form.part("payload[videoChunkFile]", part(b, name));
        }
        if let Some((p, text)) = playlist {
            form = form
                .text("payload[resolutionPlaylistFilename]", p.to_string())
                .part("payload[resolutionPlaylistFile]", part(text.into_bytes(), p));
        }
        if let Some(m) = master {
            form = form.part("payload[masterPlaylistFile]", part(m, media::MASTER_PLAYLIST));
        }
        self.post_form(&format!("/api/v1/runners/jobs/{uuid}/update"), form, Duration::from_secs(60)).await
    }
}

/// What is on the server.
#[derive(Default)]
struct Sent {
    up: BTreeSet<String>,
    master: bool,
}
