//! `flotilla runner`: a remote transcoding runner (PeerTube's runner protocol, the client side).
//! It registers once with a registration token (its runner token kept in `<data>/runner.json`),
//! then polls the server for `vod-hls-transcoding` jobs, one at a time: accept, download the
//! input, make the rendition with its own ffmpeg (`flotilla_media::hls`, the same arguments as a
//! transcoding on the server), report progress (which also tells the server it is alive), and
//! upload the result. Stopped (SIGTERM, Ctrl-C) it gives its job back; killed, the server gives
//! the job to another runner once it stalls. Lives' jobs (`live-rtmp-hls-transcoding`): [`live`].

mod live;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use flotilla_media::hls;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

pub struct Options {
    pub url: String,
    pub registration_token: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub data_dir: PathBuf,
    pub poll: Duration,
    pub update_every: Duration,
    pub threads: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    url: String,
    id: i64,
    name: String,
    runner_token: String,
}

/// Why the loop stops.
enum Stop {
    /// The server does not know this runner any more (its registration token was deleted).
    Revoked,
    /// Asked to stop.
    Signal,
}

struct Runner {
    http: reqwest::Client,
    url: String,
    token: String,
    opts: Options,
    /// Turns true when the runner is asked to stop.
    stop: tokio::sync::watch::Receiver<bool>,
}

/// What went wrong talking to the server: its answer (status, body) or the network.
#[derive(Debug)]
enum CallError {
    Status(u16, String),
    Network(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(s, body) => {
                write!(f, "the server answered {s}: {}", body.chars().take(300).collect::<String>())
            }
            CallError::Network(e) => write!(f, "{e}"),
        }
    }
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("runner.json")
}

pub async fn run(opts: Options) -> ExitCode {
    let url = opts.url.trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        eprintln!("flotilla runner: --url must be the instance's http(s) URL");
        return ExitCode::from(2);
    }
    if let Err(e) = std::fs::create_dir_all(&opts.data_dir) {
        eprintln!("flotilla runner: cannot create {}: {e}", opts.data_dir.display());
        return ExitCode::FAILURE;
    }
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("flotilla-runner/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flotilla runner: {e}");
            return ExitCode::FAILURE;
        }
    };
    let saved = std::fs::read(state_file(&opts.data_dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<Saved>(&b).ok())
        .filter(|s| s.url == url);
    let saved = match saved {
        Some(s) => s,
        None => match register(&http, &url, &opts).await {
            Ok(s) => s,
            Err(msg) => {
                eprintln!("flotilla runner: {msg}");
                return ExitCode::FAILURE;
            }
        },
    };
    tracing::info!(name = %saved.name, server = %url, "runner started; waiting for jobs");
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal().await;
        let _ = tx.send(true);
    });
    let runner = Runner { http, url, token: saved.runner_token, opts, stop: rx };
    match runner.serve().await {
        Stop::Signal => {
            tracing::info!("runner stopped");
            ExitCode::SUCCESS
        }
        Stop::Revoked => {
            let _ = std::fs::remove_file(state_file(&runner.opts.data_dir));
            eprintln!(
                "flotilla runner: the server does not know this runner any more (its registration token was \
                 deleted, or an admin removed it): start it again with a new --registration-token"
            );
            ExitCode::from(3)
        }
    }
}

async fn register(http: &reqwest::Client, url: &str, opts: &Options) -> Result<Saved, String> {
    let (Some(token), Some(name)) = (&opts.registration_token, &opts.name) else {
        return Err("not registered yet: give --registration-token and --name (an admin makes the token in \
                    Administration → Runners)"
            .into());
    };
    let res = http
        .post(format!("{url}/api/v1/runners/register"))
        .timeout(Duration::from_secs(30))
        .json(&json!({ "registrationToken": token, "name": name, "description": opts.description }))
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let detail = body["detail"].as_str().or(body["error"].as_str()).unwrap_or("no detail");
        return Err(format!("registration refused ({status}): {detail}"));
    }
    let saved = Saved {
        url: url.to_string(),
        id: body["id"].as_i64().unwrap_or_default(),
        name: name.clone(),
        runner_token: body["runnerToken"].as_str().ok_or("the server sent no runner token")?.to_string(),
    };
    let path = state_file(&opts.data_dir);
    let bytes = serde_json::to_vec_pretty(&saved).map_err(|e| e.to_string())?;
    write_private(&path, &bytes).map_err(|e| format!("cannot keep the runner token in {}: {e}", path.display()))?;
    tracing::info!(name = %name, id = saved.id, "registered");
    Ok(saved)
}

/// Writes a file only its owner reads (it holds the runner's token).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

impl Runner {
    async fn post(&self, path: &str, body: Value) -> Result<Value, CallError> {
        let res = self
            .http
            .post(format!("{}{path}", self.url))
            .timeout(Duration::from_secs(60))
            .json(&body)
            .send()
            .await
            .map_err(|e| CallError::Network(e.to_string()))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| CallError::Network(e.to_string()))?;
        if !status.is_success() {
            return Err(CallError::Status(status.as_u16(), text));
        }
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) })
    }

    /// Resolves once the runner is asked to stop.
    async fn stopping(&self) {
        let mut rx = self.stop.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    async fn serve(&self) -> Stop {
        loop {
            let asked = tokio::select! {
                r = self.post("/api/v1/runners/jobs/request", json!({ "runnerToken": self.token })) => r,
                _ = self.stopping() => return Stop::Signal,
            };
            match asked {
                Err(CallError::Status(404, _)) => return Stop::Revoked,
                Err(e) => tracing::warn!(error = %e, "cannot ask for jobs; trying again"),
                Ok(v) => {
                    let jobs = v["availableJobs"].as_array().cloned().unwrap_or_default();
                    for job in jobs.iter().filter(|j| j["type"] == HLS || j["type"] == LIVE) {
                        let Some(uuid) = job["uuid"].as_str() else { continue };
                        match self
                            .post(&format!("/api/v1/runners/jobs/{uuid}/accept"), json!({ "runnerToken": self.token }))
                            .await
                        {
                            Ok(accepted) => {
                                let done = if job["type"] == LIVE {
                                    self.work_live(uuid, &accepted["job"]).await
                                } else {
                                    self.work(uuid, &accepted["job"]).await
                                };
                                if let Err(stop) = done {
                                    return stop;
                                }
                                break;
                            }
                            Err(CallError::Status(404, body)) if body.contains("runner token") => return Stop::Revoked,
                            // Another runner took it first.
                            Err(e) => tracing::debug!(job = uuid, error = %e, "job not accepted"),
                        }
                    }
                    if !jobs.is_empty() {
                        continue;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.opts.poll) => {}
                _ = self.stopping() => return Stop::Signal,
            }
        }
    }

    /// Does one accepted job. `Err` only when the runner must stop.
    async fn work(&self, uuid: &str, job: &Value) -> Result<(), Stop> {
        let Some(job_token) = job["jobToken"].as_str() else { return Ok(()) };
        let dir = self.opts.data_dir.join("work").join(uuid);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        if let Err(e) = tokio::fs::create_dir_all(&dir).await {
            self.fail(uuid, job_token, &format!("cannot create {}: {e}", dir.display())).await;
            return Ok(());
        }
        tracing::info!(job = uuid, resolution = %job["payload"]["output"]["resolution"], "job accepted");
        let progress = Arc::new(AtomicI64::new(0));
        let outcome = tokio::select! {
            r = self.transcode(&dir, job, job_token, progress.clone()) => r,
            lost = self.keep_alive(uuid, job_token, progress.clone()) => Err(Outcome::Lost(lost)),
            _ = self.stopping() => Err(Outcome::Stopping),
        };
        let result = match outcome {
            // Signs of life go on during the upload: a large result on a slow link takes longer
            // than the server waits for news.
            Ok((video, playlist)) => match tokio::select! {
                r = self.upload_retrying(uuid, job_token, &video, &playlist) => r,
                lost = self.keep_alive(uuid, job_token, progress.clone()) => Err(CallError::Status(409, lost)),
            } {
                Ok(()) => {
                    tracing::info!(job = uuid, "job done");
                    Ok(())
                }
                Err(CallError::Status(404, body)) if body.contains("runner token") => Err(Stop::Revoked),
                Err(e) => {
                    tracing::error!(job = uuid, error = %e, "result not accepted");
                    Ok(())
                }
            },
            Err(Outcome::Failed(msg)) => {
                tracing::error!(job = uuid, error = %msg, "job failed");
                self.fail(uuid, job_token, &msg).await;
                Ok(())
            }
            Err(Outcome::Lost(why)) => {
                tracing::warn!(job = uuid, why = %why, "job taken back by the server; dropped");
                if why.contains("runner token") { Err(Stop::Revoked) } else { Ok(()) }
            }
            Err(Outcome::Stopping) => {
                let _ = self
                    .post(
                        &format!("/api/v1/runners/jobs/{uuid}/abort"),
                        json!({ "runnerToken": self.token, "jobToken": job_token, "reason": "the runner is stopping" }),
                    )
                    .await;
                Err(Stop::Signal)
            }
        };
        let _ = tokio::fs::remove_dir_all(&dir).await;
        result
    }

    async fn fail(&self, uuid: &str, job_token: &str, message: &str) {
        let body = json!({ "runnerToken": self.token, "jobToken": job_token, "message": message });
        if let Err(e) = self.post(&format!("/api/v1/runners/jobs/{uuid}/error"), body).await {
            tracing::warn!(job = uuid, error = %e, "cannot tell the server the job failed");
        }
    }

    /// Tells the server the job's progress every `update_every`; returns when the server says
    /// the job is not ours any more (its answer), never otherwise.
    async fn keep_alive(&self, uuid: &str, job_token: &str, progress: Arc<AtomicI64>) -> String {
        loop {
            tokio::time::sleep(self.opts.update_every).await;
            let body = json!({
                "runnerToken": self.token,
                "jobToken": job_token,
                "progress": progress.load(Ordering::Relaxed),
            });
            match self.post(&format!("/api/v1/runners/jobs/{uuid}/update"), body).await {
                Ok(_) => {}
                Err(CallError::Status(s @ (404 | 409), body)) => return format!("{s}: {body}"),
                Err(e) => tracing::warn!(job = uuid, error = %e, "cannot report progress"),
            }
        }
    }

    /// Downloads the input and makes the rendition; the paths of its file and playlist.
    async fn transcode(
        &self,
        dir: &Path,
        job: &Value,
        job_token: &str,
        progress: Arc<AtomicI64>,
    ) -> Result<(PathBuf, PathBuf), Outcome> {
        let payload = &job["payload"];
        let input_url = payload["input"]["videoFileUrl"]
            .as_str()
            .ok_or_else(|| Outcome::Failed("the job has no input URL".into()))?;
        let resolution = payload["output"]["resolution"]
            .as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .ok_or_else(|| Outcome::Failed("the job has no output resolution".into()))?;
        let fps = payload["output"]["fps"].as_f64().unwrap_or(0.0);
        let input = dir.join("input");
        self.download(input_url, job_token, &input).await.map_err(|e| Outcome::Failed(format!("download: {e}")))?;
        let (probe, _) =
            flotilla_media::probe::probe(&input).await.map_err(|e| Outcome::Failed(format!("probe: {e}")))?;
        let mut rendition = hls::plan(&probe, &[resolution])
            .into_iter()
            .find(|r| r.resolution == resolution)
            .ok_or_else(|| Outcome::Failed(format!("the input cannot give a {resolution}p rendition")))?;
        if fps > 0.0 && resolution > 0 {
            rendition.fps = fps;
        }
        let (fragment, playlist) = hls::names("video", resolution);
        let outputs = [hls::Output { rendition: &rendition, fragment: &fragment, playlist: &playlist }];
        let threads = match self.opts.threads {
            0 => std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
            n => n,
        };
        let args = hls::ladder_args(&input, &probe, &outputs, threads);
        let duration = probe.duration.max(0.1);
        let limit = Duration::from_secs((duration * 30.0) as u64 + 600);
        hls::run_ffmpeg(dir, &args, limit, |secs| {
            progress.store(((secs / duration) * 100.0).clamp(0.0, 99.0) as i64, Ordering::Relaxed);
        })
        .await
        .map_err(|e| Outcome::Failed(format!("ffmpeg: {e}")))?;
        let _ = tokio::fs::remove_file(&input).await;
        Ok((dir.join(fragment), dir.join(playlist)))
    }

    async fn download(&self, url: &str, job_token: &str, to: &Path) -> Result<(), String> {
        let mut res = self
            .http
            .post(url)
            .json(&json!({ "runnerToken": self.token, "jobToken": job_token }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("the server answered {}", res.status()));
        }
        let mut file = tokio::fs::File::create(to).await.map_err(|e| e.to_string())?;
        // A connection that stops sending must not hold the job for ever (the progress reports
        // would keep the server from seeing it stalled).
        loop {
            let chunk = tokio::time::timeout(IDLE, res.chunk())
                .await
                .map_err(|_| format!("no byte received for {} s", IDLE.as_secs()))?
                .map_err(|e| e.to_string())?;
            let Some(chunk) = chunk else { break };
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        file.flush().await.map_err(|e| e.to_string())?;
        Ok(())
    }

    /// [`Runner::upload`], tried again (3 times, 5 s apart) when the network failed rather than
    /// the server refusing: a rendition is minutes of work, a dropped connection seconds.
    async fn upload_retrying(
        &self,
        uuid: &str,
        job_token: &str,
        video: &Path,
        playlist: &Path,
    ) -> Result<(), CallError> {
        let mut tries = 0;
        loop {
            match self.upload(uuid, job_token, video, playlist).await {
                Err(CallError::Network(e)) if tries < 3 => {
                    tries += 1;
                    tracing::warn!(job = uuid, error = %e, attempt = tries, "result upload failed; trying again");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                other => return other,
            }
        }
    }

    /// `success`: the tokens first, then the files (the server reads a file only from the runner
    /// holding the job).
    async fn upload(&self, uuid: &str, job_token: &str, video: &Path, playlist: &Path) -> Result<(), CallError> {
        let io = |e: std::io::Error| CallError::Network(e.to_string());
        let file = tokio::fs::File::open(video).await.map_err(io)?;
        let len = file.metadata().await.map_err(io)?.len();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        let video_part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), len)
            .file_name("video.mp4")
            .mime_str("video/mp4")
            .map_err(|e| CallError::Network(e.to_string()))?;
        let playlist_part = reqwest::multipart::Part::bytes(tokio::fs::read(playlist).await.map_err(io)?)
            .file_name("video.m3u8")
            .mime_str("application/vnd.apple.mpegurl")
            .map_err(|e| CallError::Network(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("runnerToken", self.token.clone())
            .text("jobToken", job_token.to_string())
            .part("payload[videoFile]", video_part)
            .part("payload[resolutionPlaylistFile]", playlist_part);
        // Generous (a slow link at 256 KiB/s), but finite: a stuck upload frees the runner.
        let limit = Duration::from_secs(600 + len / (256 * 1024));
        self.post_form(&format!("/api/v1/runners/jobs/{uuid}/success"), form, limit).await
    }

    /// Posts a multipart form; the server's refusal as `CallError::Status`.
    async fn post_form(&self, path: &str, form: reqwest::multipart::Form, limit: Duration) -> Result<(), CallError> {
        let res = self
            .http
            .post(format!("{}{path}", self.url))
            .timeout(limit)
            .multipart(form)
            .send()
            .await
            .map_err(|e| CallError::Network(e.to_string()))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        Err(CallError::Status(status.as_u16(), res.text().await.unwrap_or_default()))
    }
}

/// SIGTERM or Ctrl-C.
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// How long a download may go without a byte before the job is given up.
const IDLE: Duration = Duration::from_secs(60);

/// The job types this runner does.
pub const HLS: &str = "vod-hls-transcoding";
pub const LIVE: &str = "live-rtmp-hls-transcoding";

enum Outcome {
    Failed(String),
    Lost(String),
    Stopping,
}
