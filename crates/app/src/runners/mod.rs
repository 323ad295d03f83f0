//! Remote runners: PeerTube's runner protocol, so that transcoding runs on other machines.
//!
//! ```text
//!  admin: registration token ──> runner registers (its own token, hashed here)
//!  transcode job (remote_runners on): one `vod-hls-transcoding` runner job per rendition, in one
//!     transaction ──> runners poll `jobs/request`, `accept` (a new job token), download the
//!     input, `update` progress, `success` with the rendition (multipart)
//!  success: checked (`results::verify`) ──> kept in tmp/runner-results/<job> ──> job completed
//!     and a `runner-results` job queued in one transaction ──> stored like a local rendition
//!     (`results::store`), the video published, finished after the last
//!  watchdog: a processing job without news for `runner_stalled_after_secs` goes back to pending
//!     (a failure counted); completed results never stored are queued again
//! ```
//!
//! Every state change is one update fenced by the state it leaves and the job token it was given
//! with (`flotilla_db::runners`): a runner whose job was taken from it cannot post for it.

pub mod live;
pub mod results;

use std::net::IpAddr;
use std::sync::Arc;

use flotilla_db::{Page, runners as db, videos};
use flotilla_domain::time::{iso8601, now_ms};
use flotilla_media::hls;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::AuthUser;
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result};

/// PeerTube's `RUNNER_JOBS.MAX_FAILURES`: a job that failed this often is errored for good.
pub const MAX_FAILURES: i64 = 5;
/// The job type we hand out (PeerTube's name).
pub const KIND_HLS: &str = "vod-hls-transcoding";
/// Pending jobs offered in one answer to `jobs/request` (PeerTube's limit).
const OFFERED: i64 = 10;
/// Longest runner name and description (PeerTube's constraints).
const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
const MAX_MESSAGE: usize = 10_000;

/// What we keep of a job to check and store its result (the admin list shows it as
/// `privatePayload`; PeerTube's keys first).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Private {
    #[serde(rename = "videoUUID")]
    pub video_uuid: String,
    pub is_new_video: bool,
    pub delete_web_video_files: bool,
    pub resolution: u32,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The source's duration (s): the result must last as long.
    pub duration: f64,
    pub has_audio: bool,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn state_label(state: i64) -> &'static str {
    match state {
        1 => "Pending",
        2 => "Processing",
        3 => "Completed",
        4 => "Errored",
        5 => "Waiting for a parent job",
        6 => "Cancelled",
        7 => "Parent had an error",
        _ => "Parent has been cancelled",
    }
}

/// PeerTube's `RunnerJob` (`admin`: with `privatePayload`, `RunnerJobAdmin`).
fn job_json(j: &db::Job, admin: bool) -> Value {
    let mut v = json!({
        "uuid": j.uuid,
        "type": j.kind,
        "state": { "id": j.state, "label": state_label(j.state) },
        "payload": serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::Null),
        "failures": j.failures,
        "error": j.error,
        "progress": j.progress,
        "priority": j.priority,
        "updatedAt": iso8601(j.updated_at),
        "createdAt": iso8601(j.created_at),
        "startedAt": j.started_at.map(iso8601),
        "finishedAt": j.finished_at.map(iso8601),
        "parent": Value::Null,
        "runner": j.runner_id.map(|id| json!({
            "id": id,
            "name": j.runner_name,
            "description": j.runner_description,
        })),
    });
    if admin {
        v["privatePayload"] = serde_json::from_str::<Value>(&j.private_payload).unwrap_or(Value::Null);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Admins

pub async fn generate_registration_token(app: &App, who: &AuthUser) -> Result<()> {
    who.require_admin()?;
    let token = format!("ptrrt-{}", uuid::Uuid::new_v4());
    db::insert_registration_token(&app.db, &token, now_ms()).await?;
    Ok(())
}

pub async fn list_registration_tokens(app: &App, who: &AuthUser, page: Page) -> Result<Value> {
    who.require_admin()?;
    let (rows, total) = db::registration_tokens(&app.db, page).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "registrationToken": t.token,
                "createdAt": iso8601(t.created_at),
                "updatedAt": iso8601(t.updated_at),
                "registeredRunnersCount": t.runners,
            })
        })
        .collect();
    Ok(json!({ "total": total, "data": data }))
}

/// Removes a registration token and the runners registered with it (PeerTube's rule); the jobs
/// they held go back to pending, in the same transaction.
pub async fn delete_registration_token(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    who.require_admin()?;
    let mut tx = app.db.begin().await?;
    for runner in db::runner_ids_of_token(&mut tx, id).await? {
        release_jobs_of(&mut tx, runner).await?;
    }
    if !db::delete_registration_token(&mut tx, id).await? {
        return Err(Error::not_found("registration token"));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn list_runners(app: &App, who: &AuthUser, page: Page) -> Result<Value> {
    who.require_admin()?;
    let (rows, total) = db::runners(&app.db, page).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "description": r.description,
                "ip": r.ip,
                "updatedAt": iso8601(r.updated_at),
                "createdAt": iso8601(r.created_at),
                "lastContact": iso8601(r.last_contact),
            })
        })
        .collect();
    Ok(json!({ "total": total, "data": data }))
}

pub async fn delete_runner(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    who.require_admin()?;
    let mut tx = app.db.begin().await?;
    release_jobs_of(&mut tx, id).await?;
    if !db::delete_runner(&mut tx, id).await? {
        return Err(Error::not_found("runner"));
    }
    tx.commit().await?;
    Ok(())
}

/// The jobs a runner holds go back to pending (not its jobs' fault: no failure counted). A live's
/// job ends instead (another runner would start the segments over: its session ends).
async fn release_jobs_of(tx: &mut flotilla_db::Tx, runner_id: i64) -> Result<()> {
    let now = now_ms();
    for (id, token) in db::held_by(&mut *tx, runner_id).await? {
        let is_live = db::job_by_id(&mut *tx, id).await?.is_some_and(|j| j.kind == live::KIND_LIVE);
        if is_live {
            db::error(&mut *tx, id, &token, "its runner was removed", now).await?;
        } else {
            db::requeue(&mut *tx, id, &token, None, now).await?;
        }
    }
    Ok(())
}

pub async fn list_jobs(app: &App, who: &AuthUser, states: &[i64], search: Option<&str>, page: Page) -> Result<Value> {
    who.require_admin()?;
    if let Some(bad) = states.iter().find(|s| !(1..=8).contains(*s)) {
        return Err(Error::invalid("stateOneOf", format!("{bad} is not a runner job state (1 to 8)")));
    }
    let search = search.map(str::trim).filter(|s| !s.is_empty()).map(|s| s.chars().take(200).collect::<String>());
    let (rows, total) = db::list_jobs(&app.db, states, search.as_deref(), page).await?;
    let data: Vec<Value> = rows.iter().map(|j| job_json(j, true)).collect();
    Ok(json!({ "total": total, "data": data }))
}

/// An admin cancels a pending or processing job: its video's transcoding has failed (its owner
/// sees why; an admin can run it again).
pub async fn cancel_job(app: &Arc<App>, who: &AuthUser, uuid: &str) -> Result<()> {
    who.require_admin()?;
    let job = db::job_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("runner job"))?;
    if !db::cancel(&app.db, job.id, now_ms()).await? {
        return Err(Error::Conflict(format!(
            "the runner job is {}: only pending or processing jobs can be cancelled",
            state_label(job.state).to_lowercase()
        )));
    }
    // A live's session sees its job cancelled and ends (`live::failed`).
    if job.kind != live::KIND_LIVE
        && let Some(video_id) = job.video_id
    {
        crate::video::transcode::failed(app, video_id, "a transcoding was cancelled by an administrator").await;
    }
    Ok(())
}

/// Removes a job (cancelled first when it was not over).
pub async fn delete_job(app: &Arc<App>, who: &AuthUser, uuid: &str) -> Result<()> {
    who.require_admin()?;
    let job = db::job_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("runner job"))?;
    if db::cancel(&app.db, job.id, now_ms()).await?
        && job.kind != live::KIND_LIVE
        && let Some(video_id) = job.video_id
    {
        crate::video::transcode::failed(app, video_id, "a transcoding was cancelled by an administrator").await;
    }
    db::delete_job(&app.db, job.id).await?;
    let _ = tokio::fs::remove_dir_all(results::dir(app, &job.uuid)).await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Runners

/// The runner of a token. Unknown: 404, PeerTube's answer (a revoked registration removed it).
async fn runner(app: &App, token: &str, ip: IpAddr) -> Result<db::Runner> {
    let r = db::runner_by_token_hash(&app.db, &hash(token))
        .await?
        .ok_or_else(|| Error::NotFound("unknown runner token: this runner is not registered here".into()))?;
    db::touch_runner(&app.db, r.id, &ip.to_string(), now_ms()).await?;
    Ok(r)
}

/// The job `uuid` as this runner holds it, under this job token.
async fn held(app: &App, runner: &db::Runner, uuid: &str, job_token: &str) -> Result<db::Job> {
    if let Some(j) = db::held_job(&app.db, uuid, runner.id, &hash(job_token)).await? {
        return Ok(j);
    }
    match db::job_by_uuid(&app.db, uuid).await? {
        Some(j) if j.state != db::PROCESSING => Err(Error::Conflict(format!(
            "the runner job is {}, not processing: it was taken back (stalled, cancelled) or is over",
            state_label(j.state).to_lowercase()
        ))),
        _ => Err(Error::NotFound("unknown runner job or job token".into())),
    }
}

/// Whether this runner holds job `uuid` under this job token (before a result's upload is read).
pub async fn check_held(app: &App, runner_token: &str, job_token: &str, uuid: &str, ip: IpAddr) -> Result<()> {
    let r = runner(app, runner_token, ip).await?;
    held(app, &r, uuid, job_token).await.map(|_| ())
}

fn bounded(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("at most {max} characters")));
    }
    Ok(())
}

pub async fn register(
    app: &App,
    registration_token: &str,
    name: &str,
    description: Option<&str>,
    ip: IpAddr,
) -> Result<Value> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "a runner needs a name"));
    }
    bounded("name", name, MAX_NAME)?;
    if let Some(d) = description {
        bounded("description", d, MAX_DESCRIPTION)?;
    }
    let token_id = db::registration_token_id(&app.db, registration_token)
        .await?
        .ok_or_else(|| Error::NotFound("unknown registration token".into()))?;
    let runner_token = format!("ptrt-{}", uuid::Uuid::new_v4());
    let id = db::insert_runner(&app.db, token_id, &hash(&runner_token), name, description, &ip.to_string(), now_ms())
        .await
        .map_err(|e| match e {
            flotilla_db::Error::Conflict(_) => {
                Error::Conflict(format!("a runner named {name:?} is registered here already"))
            }
            e => e.into(),
        })?;
    tracing::info!(runner = name, id, "runner registered");
    Ok(json!({ "id": id, "runnerToken": runner_token }))
}

pub async fn unregister(app: &App, runner_token: &str, ip: IpAddr) -> Result<()> {
    let r = runner(app, runner_token, ip).await?;
    let mut tx = app.db.begin().await?;
    release_jobs_of(&mut tx, r.id).await?;
    db::delete_runner(&mut tx, r.id).await?;
    tx.commit().await?;
    tracing::info!(runner = %r.name, "runner unregistered");
    Ok(())
}

/// `jobs/request`: pending jobs this runner may accept.
pub async fn request(app: &App, runner_token: &str, ip: IpAddr) -> Result<Value> {
    runner(app, runner_token, ip).await?;
    let jobs = db::pending(&app.db, OFFERED).await?;
    let available: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "uuid": j.uuid,
                "type": j.kind,
                "payload": serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(json!({ "availableJobs": available }))
}

/// `jobs/{uuid}/accept`: the job is this runner's, under a new job token.
pub async fn accept(app: &App, runner_token: &str, uuid: &str, ip: IpAddr) -> Result<Value> {
    let r = runner(app, runner_token, ip).await?;
    let job = db::job_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("runner job"))?;
    let job_token = format!("ptrjt-{}", uuid::Uuid::new_v4());
    if !db::accept(&app.db, job.id, r.id, &hash(&job_token), now_ms()).await? {
        return Err(Error::Conflict("this runner job is not pending: another runner took it".into()));
    }
    let job = db::job_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("runner job"))?;
    tracing::info!(runner = %r.name, job = uuid, "runner job accepted");
    let mut v = job_json(&job, false);
    v["jobToken"] = json!(job_token);
    Ok(json!({ "job": v }))
}

/// `jobs/{uuid}/update`: progress, or only a sign of life.
pub async fn update(
    app: &App,
    runner_token: &str,
    job_token: &str,
    uuid: &str,
    progress: Option<i64>,
    ip: IpAddr,
) -> Result<()> {
    let r = runner(app, runner_token, ip).await?;
    let job = held(app, &r, uuid, job_token).await?;
    if let Some(p) = progress
        && !(0..=100).contains(&p)
    {
        return Err(Error::invalid("progress", "a percentage from 0 to 100"));
    }
    if !db::set_progress(&app.db, job.id, &hash(job_token), progress, now_ms()).await? {
        return Err(Error::Conflict("the runner job was taken back meanwhile".into()));
    }
    if progress.is_some()
        && let Some(video_id) = job.video_id
    {
        video_progress(app, video_id).await?;
    }
    Ok(())
}

/// The video's `transcodingProgress` (what its owner watches): the mean of its renditions' jobs,
/// a completed one counting 100, below 100 until the last result is stored.
async fn video_progress(app: &App, video_id: i64) -> Result<()> {
    let jobs = db::of_video(&app.db, video_id).await?;
    let open: Vec<i64> = jobs
        .iter()
        // A live's job of the same video (its replay transcoded) is not a rendition.
        .filter(|j| j.kind == KIND_HLS)
        .filter_map(|j| match j.state {
            db::COMPLETED => Some(100),
            db::PENDING => Some(0),
            db::PROCESSING => Some(j.progress.unwrap_or(0).clamp(0, 100)),
            _ => None,
        })
        .collect();
    if !open.is_empty() {
        let mean = open.iter().sum::<i64>() / open.len() as i64;
        videos::set_progress(&app.db, video_id, mean.min(99)).await?;
    }
    Ok(())
}

/// `jobs/{uuid}/abort`: the runner gives the job back (stopping, say): pending again.
pub async fn abort(app: &App, runner_token: &str, job_token: &str, uuid: &str, reason: &str, ip: IpAddr) -> Result<()> {
    let r = runner(app, runner_token, ip).await?;
    let job = held(app, &r, uuid, job_token).await?;
    if job.kind == live::KIND_LIVE {
        // PeerTube's live jobs cannot be aborted either: the session cannot wait for another.
        db::error(&app.db, job.id, &hash(job_token), "its runner gave it up", now_ms()).await?;
        return Ok(());
    }
    db::requeue(&app.db, job.id, &hash(job_token), None, now_ms()).await?;
    tracing::info!(runner = %r.name, job = uuid, reason = %reason.chars().take(200).collect::<String>(), "runner job aborted");
    Ok(())
}

/// `jobs/{uuid}/error`: the runner failed it. Pending again for another try, or errored after
/// [`MAX_FAILURES`] (its video's transcoding failed).
pub async fn error(
    app: &Arc<App>,
    runner_token: &str,
    job_token: &str,
    uuid: &str,
    message: &str,
    ip: IpAddr,
) -> Result<()> {
    let r = runner(app, runner_token, ip).await?;
    let job = held(app, &r, uuid, job_token).await?;
    let message: String = message.chars().take(MAX_MESSAGE).collect();
    tracing::warn!(runner = %r.name, job = uuid, error = %message, "runner job failed");
    count_failure(app, &job, &hash(job_token), &format!("runner {}: {message}", r.name)).await
}

/// A failure of a processing job: pending again, or errored for good after [`MAX_FAILURES`].
async fn count_failure(app: &Arc<App>, job: &db::Job, token_hash: &str, why: &str) -> Result<()> {
    let now = now_ms();
    // A live's job is not tried again: its session ends with the error (`live::failed`).
    if job.kind == live::KIND_LIVE {
        db::error(&app.db, job.id, token_hash, why, now).await?;
        return Ok(());
    }
    if job.failures + 1 >= MAX_FAILURES {
        if db::error(&app.db, job.id, token_hash, why, now).await?
            && let Some(video_id) = job.video_id
        {
            let msg = format!("transcoding failed on remote runners {MAX_FAILURES} times; the last: {why}");
            crate::video::transcode::failed(app, video_id, &msg).await;
        }
    } else {
        db::requeue(&app.db, job.id, token_hash, Some(why), now).await?;
    }
    Ok(())
}

/// `jobs/{uuid}/files/videos/{video}/max-quality`: the file the runner transcodes (the upload).
pub async fn input_file(
    app: &App,
    runner_token: &str,
    job_token: &str,
    uuid: &str,
    video: &str,
    ip: IpAddr,
) -> Result<std::path::PathBuf> {
    let r = runner(app, runner_token, ip).await?;
    let job = held(app, &r, uuid, job_token).await?;
    let v = match job.video_id {
        Some(id) => videos::get(&app.db, id).await?,
        None => None,
    }
    .ok_or_else(|| Error::not_found("video"))?;
    if video != v.uuid && video != v.id.to_string() && video != v.short_uuid {
        return Err(Error::NotFound("this job transcodes another video".into()));
    }
    let input = v.input_path.ok_or_else(|| Error::NotFound("the video has no file to transcode any more".into()))?;
    Ok(std::path::PathBuf::from(input))
}

// ---------------------------------------------------------------------------------------------
// The server's side

/// Hands a video's renditions still to make to runners (the `transcode` job with
/// `[transcoding] remote_runners`): one job each, in one transaction. Renditions with a job
/// under way (pending, processing, or completed and not stored yet) get no second one.
pub async fn hand_over(
    app: &Arc<App>,
    v: &videos::Video,
    probe: &flotilla_media::probe::Probe,
    todo: &[hls::Rendition],
) -> std::result::Result<(), Failure> {
    let retry = |e: flotilla_db::Error| Failure::Retry(e.to_string());
    let existing = db::of_video(&app.db, v.id).await.map_err(retry)?;
    let under_way = |res: u32| {
        existing.iter().any(|j| {
            let same = serde_json::from_str::<Private>(&j.private_payload).is_ok_and(|p| p.resolution == res);
            same && (j.state == db::PENDING
                || j.state == db::PROCESSING
                || (j.state == db::COMPLETED && !j.result_stored))
        })
    };
    let now = now_ms();
    let mut tx = app.db.begin().await.map_err(retry)?;
    // The jobs of an earlier transcoding of this video that are over (an upload replaced, a
    // transcoding run again after a failure) are forgotten: what is missing now is `todo`.
    for j in existing
        .iter()
        .filter(|j| j.state == db::ERRORED || j.state == db::CANCELLED || (j.state == db::COMPLETED && j.result_stored))
    {
        db::delete_job(&mut tx, j.id).await.map_err(retry)?;
    }
    let mut made = 0;
    for r in todo.iter().filter(|r| !under_way(r.resolution)) {
        let uuid = uuid::Uuid::new_v4().to_string();
        let url =
            crate::uris::absolute(app, &format!("/api/v1/runners/jobs/{uuid}/files/videos/{}/max-quality", v.uuid));
        let payload = json!({
            "input": { "videoFileUrl": url, "separatedAudioFileUrl": [] },
            "output": { "resolution": r.resolution, "fps": r.fps, "separatedAudio": false },
        });
        let private = Private {
            video_uuid: v.uuid.clone(),
            is_new_video: true,
            delete_web_video_files: false,
            resolution: r.resolution,
            width: r.width,
            height: r.height,
            fps: r.fps,
            duration: probe.duration,
            has_audio: probe.has_audio,
        };
        let private = serde_json::to_string(&private).map_err(|e| Failure::Retry(e.to_string()))?;
        let new = db::NewJob {
            uuid: &uuid,
            kind: KIND_HLS,
            video_id: v.id,
            payload: &payload.to_string(),
            private_payload: &private,
            // The lowest rendition first: it publishes the video.
            priority: i64::from(r.resolution),
        };
        db::insert_job(&mut tx, &new, now).await.map_err(retry)?;
        made += 1;
    }
    tx.commit().await.map_err(retry)?;
    tracing::info!(video = %v.uuid, jobs = made, "renditions handed to remote runners");
    Ok(())
}

/// The watchdog (every few seconds, in the jobs role): processing jobs without news for
/// `runner_stalled_after_secs` go back to pending (a failure counted: a job that kills every
/// runner stops); completed results never stored are queued again. Returns how many stalled.
pub async fn watchdog(app: &Arc<App>) -> Result<usize> {
    // Its two look-ups run every few seconds: on the writer's connection (`Db::writer`).
    let now = now_ms();
    let stall_ms = app.config.transcoding.runner_stalled_after_secs as i64 * 1000;
    let mut n = 0;
    for (id, token) in db::stalled(app.db.writer(), now - stall_ms).await? {
        let Some(job) = db::job_by_id(&app.db, id).await? else { continue };
        let why = format!("its runner sent no news for {} s (stopped or unreachable)", stall_ms / 1000);
        count_failure(app, &job, &token, &why).await?;
        tracing::warn!(job = %job.uuid, "runner job stalled; back to pending");
        n += 1;
    }
    results::sweep_files(app).await;
    // A `runner-results` job lost between a success and its queueing cannot be (one transaction),
    // but one that ended while a success was being committed may have missed it.
    let unstored = db::videos_with_unstored_results(app.db.writer(), now - 30_000).await?;
    if !unstored.is_empty() {
        let mut tx = app.db.begin().await?;
        for video_id in unstored {
            jobs::enqueue(&mut tx, &Job::RunnerResults { video_id }).await?;
        }
        tx.commit().await?;
        app.wake_jobs();
    }
    Ok(n)
}
