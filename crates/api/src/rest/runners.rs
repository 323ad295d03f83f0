//! Remote runners (`/api/v1/runners/…`), PeerTube's runner protocol: admins' registration tokens,
//! runners and their jobs; the runners' own calls (authenticated by their runner token and, for
//! a job, its job token, never by OAuth). The use-cases are `flotilla_app::runners`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Path, Query, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::runners::{self, results};
use flotilla_app::{App, page};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, Body, ClientIp, id};
use crate::rest::ListQuery;
use crate::rest::form::Form;

// ---- admins ----

/// `GET /api/v1/runners/registration-tokens`
pub async fn list_registration_tokens(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(runners::list_registration_tokens(&app, &who, page(q.start, q.count)).await?))
}

/// `POST /api/v1/runners/registration-tokens/generate`
pub async fn generate_registration_token(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<StatusCode, ApiError> {
    runners::generate_registration_token(&app, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/runners/registration-tokens/{id}`: its runners are removed too.
pub async fn delete_registration_token(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    runners::delete_registration_token(&app, &who, id(&token)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/runners`
pub async fn list_runners(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(runners::list_runners(&app, &who, page(q.start, q.count)).await?))
}

/// `DELETE /api/v1/runners/{id}`
pub async fn delete_runner(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(runner): Path<String>,
) -> Result<StatusCode, ApiError> {
    runners::delete_runner(&app, &who, id(&runner)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/runners/jobs?start&count&search&stateOneOf=…` (`stateOneOf` repeated).
pub async fn list_jobs(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
    let number =
        |field: &str, v: &str| v.parse::<i64>().map_err(|_| ApiError::invalid(field, format!("{v:?} is not a number")));
    let (mut start, mut count, mut search, mut states) = (None, None, None, Vec::new());
    for (k, v) in &pairs {
        match k.as_str() {
            "start" => start = Some(number("start", v)?),
            "count" => count = Some(number("count", v)?),
            "search" => search = Some(v.as_str()),
            "stateOneOf" | "stateOneOf[]" if states.len() < 8 => states.push(number("stateOneOf", v)?),
            "stateOneOf" | "stateOneOf[]" => return Err(ApiError::invalid("stateOneOf", "at most 8 states")),
            _ => {}
        }
    }
    Ok(Json(runners::list_jobs(&app, &who, &states, search, page(start, count)).await?))
}

/// `POST /api/v1/runners/jobs/{uuid}/cancel`
pub async fn cancel_job(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uuid): Path<String>,
) -> Result<StatusCode, ApiError> {
    runners::cancel_job(&app, &who, &uuid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/runners/jobs/{uuid}`
pub async fn delete_job(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uuid): Path<String>,
) -> Result<StatusCode, ApiError> {
    runners::delete_job(&app, &who, &uuid).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- runners ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    registration_token: String,
    name: String,
    description: Option<String>,
}

/// `POST /api/v1/runners/register`
pub async fn register(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(b): Body<RegisterBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(runners::register(&app, &b.registration_token, &b.name, b.description.as_deref(), ip).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnerBody {
    runner_token: String,
}

/// `POST /api/v1/runners/unregister`
pub async fn unregister(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(b): Body<RunnerBody>,
) -> Result<StatusCode, ApiError> {
    runners::unregister(&app, &b.runner_token, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/runners/jobs/request`
pub async fn request(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(b): Body<RunnerBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(runners::request(&app, &b.runner_token, ip).await?))
}

/// `POST /api/v1/runners/jobs/{uuid}/accept`
pub async fn accept(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path(uuid): Path<String>,
    Body(b): Body<RunnerBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(runners::accept(&app, &b.runner_token, &uuid, ip).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobBody {
    runner_token: String,
    job_token: String,
    reason: Option<String>,
    message: Option<String>,
    progress: Option<f64>,
}

/// `POST /api/v1/runners/jobs/{uuid}/abort`
pub async fn abort(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path(uuid): Path<String>,
    Body(b): Body<JobBody>,
) -> Result<StatusCode, ApiError> {
    let reason = b.reason.unwrap_or_default();
    runners::abort(&app, &b.runner_token, &b.job_token, &uuid, &reason, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/runners/jobs/{uuid}/error`
pub async fn error(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path(uuid): Path<String>,
    Body(b): Body<JobBody>,
) -> Result<StatusCode, ApiError> {
    let message = b.message.ok_or_else(|| ApiError::invalid("message", "why the job failed is required"))?;
    runners::error(&app, &b.runner_token, &b.job_token, &uuid, &message, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// `POST /api/v1/runners/jobs/{uuid}/update`: JSON, a URL-encoded form, or multipart (PeerTube's
/// runner sends its updates as multipart forms).
pub async fn update(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path(uuid): Path<String>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let (runner_token, job_token, progress) = if is_multipart(&req) {
        let mut form = Form::from_request(req, &app).await?;
        let (mut rt, mut jt, mut progress) = (None::<String>, None::<String>, None);
        let mut chunk = runners::live::Chunk::default();
        let mut chunk_file: Option<RemoveOnDrop> = None;
        let mut checked = false;
        let read = async {
            while let Some(mut part) = form.next().await? {
                let name = part.name.clone();
                let is_file = matches!(
                    name.as_str(),
                    "payload[videoChunkFile]" | "payload[resolutionPlaylistFile]" | "payload[masterPlaylistFile]"
                );
                // A live's files are only read from the runner holding the job.
                if is_file && !checked {
                    let (Some(r), Some(j)) = (&rt, &jt) else {
                        return Err(ApiError::invalid(
                            "runnerToken",
                            "runnerToken and jobToken come before the files in the form",
                        ));
                    };
                    runners::check_held(&app, r, j, &uuid, ip).await?;
                    checked = true;
                }
                let max = runners::live::MAX_PLAYLIST_BYTES;
                match name.as_str() {
                    "runnerToken" => rt = Some(part.text().await?),
                    "jobToken" => jt = Some(part.text().await?),
                    "progress" => {
                        let t = part.text().await?;
                        progress =
                            Some(t.trim().parse::<f64>().map_err(|_| ApiError::invalid("progress", "a number"))?);
                    }
                    "payload[type]" => chunk.kind = part.text().await?,
                    "payload[videoChunkFilename]" => chunk.chunk_name = part.text().await?,
                    "payload[resolutionPlaylistFilename]" => chunk.playlist_name = Some(part.text().await?),
                    "payload[resolutionPlaylistFile]" => chunk.playlist = Some(part.bytes(max, "the playlist").await?),
                    "payload[masterPlaylistFile]" => chunk.master = Some(part.bytes(max, "the master playlist").await?),
                    "payload[videoChunkFile]" => {
                        if chunk_file.is_some() {
                            return Err(ApiError::invalid(&name, "sent twice"));
                        }
                        let max = runners::live::MAX_CHUNK_BYTES;
                        chunk_file = Some(receive(&app, &mut part, max, "a live segment").await?);
                    }
                    _ => while part.chunk().await?.is_some() {},
                }
            }
            Ok::<_, ApiError>(())
        };
        if let Err(e) = read.await {
            form.drain().await;
            return Err(e);
        }
        let rt = rt.ok_or_else(|| ApiError::invalid("runnerToken", "required"))?;
        let jt = jt.ok_or_else(|| ApiError::invalid("jobToken", "required"))?;
        if !chunk.kind.is_empty() {
            chunk.chunk_file = chunk_file.as_ref().map(|f| f.0.clone());
            runners::live::update(&app, &rt, &jt, &uuid, chunk, ip).await?;
            drop(chunk_file);
            return Ok(StatusCode::NO_CONTENT);
        }
        (rt, jt, progress)
    } else {
        let Body(b) = Body::<JobBody>::from_request(req, &app).await?;
        (b.runner_token, b.job_token, b.progress)
    };
    let progress = progress.filter(|p| p.is_finite()).map(|p| p.round() as i64);
    runners::update(&app, &runner_token, &job_token, &uuid, progress, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/runners/jobs/{uuid}/files/videos/{video}/max-quality`: the file to transcode.
pub async fn input_file(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path((uuid, video)): Path<(String, String)>,
    Body(b): Body<JobBody>,
) -> Result<Response, ApiError> {
    let path = runners::input_file(&app, &b.runner_token, &b.job_token, &uuid, &video, ip).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::not_found("the video's file to transcode is missing"))?;
    let len = file.metadata().await.map_err(|e| ApiError::from(flotilla_app::Error::Internal(e.to_string())))?.len();
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024));
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}

/// Writes a file part of a runner's form to the uploads' directory (at most `max` bytes, `413`
/// past it), synced; removed when the guard goes.
async fn receive(
    app: &App,
    part: &mut crate::rest::form::Part<'_>,
    max: u64,
    what: &str,
) -> Result<RemoveOnDrop, ApiError> {
    let io = |e: std::io::Error| ApiError::from(flotilla_app::Error::Internal(e.to_string()));
    let dir = results::upload_dir(app);
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let path = dir.join(format!("{}.part", flotilla_app::auth::random_token(16)));
    let guard = RemoveOnDrop(path.clone());
    let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
    let mut written = 0u64;
    while let Some(chunk) = part.chunk().await? {
        written += chunk.len() as u64;
        if written > max {
            let msg = format!("{what} is larger than {max} bytes");
            return Err(flotilla_app::Error::TooLarge { code: "payload_too_large", msg }.into());
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    Ok(guard)
}

/// Removes a partial upload however its request ends.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `POST /api/v1/runners/jobs/{uuid}/success`: multipart, `runnerToken` and `jobToken` before
/// the files (`payload[videoFile]`, `payload[resolutionPlaylistFile]`), as PeerTube's runner
/// sends them: a file is only read from the runner holding the job.
pub async fn success(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Path(uuid): Path<String>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    if !is_multipart(&req) {
        // A live's job ends without files (JSON, or a URL-encoded form).
        let Body(b) = Body::<JobBody>::from_request(req, &app).await?;
        runners::live::success(&app, &b.runner_token, &b.job_token, &uuid, ip).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let mut form = Form::from_request(req, &app).await?;
    let (mut rt, mut jt, mut checked) = (None::<String>, None::<String>, false);
    let mut playlist: Option<Vec<u8>> = None;
    let mut video: Option<RemoveOnDrop> = None;
    let max_video = results::max_video_bytes(&app);
    let read = async {
        while let Some(mut part) = form.next().await? {
            let name = part.name.clone();
            match name.as_str() {
                "runnerToken" => rt = Some(part.text().await?),
                "jobToken" => jt = Some(part.text().await?),
                "payload[videoFile]" | "payload[resolutionPlaylistFile]" => {
                    if !checked {
                        let (Some(r), Some(j)) = (&rt, &jt) else {
                            return Err(ApiError::invalid(
                                "runnerToken",
                                "runnerToken and jobToken come before the files in the form",
                            ));
                        };
                        runners::check_held(&app, r, j, &uuid, ip).await?;
                        checked = true;
                    }
                    if name == "payload[resolutionPlaylistFile]" {
                        if playlist.is_some() {
                            return Err(ApiError::invalid(&name, "sent twice"));
                        }
                        playlist = Some(part.bytes(results::MAX_PLAYLIST_BYTES, "the playlist").await?);
                        continue;
                    }
                    if video.is_some() {
                        return Err(ApiError::invalid(&name, "sent twice"));
                    }
                    video = Some(receive(&app, &mut part, max_video, "the video file").await?);
                }
                _ => while part.chunk().await?.is_some() {},
            }
        }
        Ok::<_, ApiError>(())
    };
    if let Err(e) = read.await {
        // Read what the runner still sends (bounded) so that it reads our answer, not a reset.
        form.drain().await;
        return Err(e);
    }
    let rt = rt.ok_or_else(|| ApiError::invalid("runnerToken", "required"))?;
    let jt = jt.ok_or_else(|| ApiError::invalid("jobToken", "required"))?;
    if video.is_none() && playlist.is_none() {
        runners::live::success(&app, &rt, &jt, &uuid, ip).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let video = video.ok_or_else(|| ApiError::invalid("payload[videoFile]", "the rendition's file is required"))?;
    let playlist = playlist
        .ok_or_else(|| ApiError::invalid("payload[resolutionPlaylistFile]", "the rendition's playlist is required"))?;
    results::success(&app, &rt, &jt, &uuid, &video.0, &playlist, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}
