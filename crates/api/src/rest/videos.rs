//! Videos: upload, read, list, delete; the labels PeerTube clients show in their forms.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::App;
use flotilla_app::limits::Kind;
use flotilla_app::video::resumable;
use flotilla_app::video::upload::{self, UploadMeta};
use flotilla_app::video::{self, labels};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, Body, ClientIp, MaybeAuth, VideoPassword};
use crate::rest::form::Form;

/// `POST /api/v1/videos/upload` — multipart with `videofile` and the metadata fields. The file is
/// streamed to quarantine as it arrives, and cut off as soon as it passes the size or quota limit.
/// Everything else is bounded too (`form`): parts, text, at most one of each image, five tags.
pub async fn upload_video(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    req: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    app.limits.check_ip(Kind::Upload, ip)?;
    let left = upload::quota_left(&app, &who).await?;
    let limit = match left {
        Some(l) if l <= 0 => {
            return Err(flotilla_app::Error::TooLarge {
                code: "quota_reached",
                msg: "your video quota is used up".into(),
            }
            .into());
        }
        Some(l) => (l as u64).min(app.config.upload.max_file_size),
        None => app.config.upload.max_file_size,
    };
    let mut form = Form::from_request(req, &app).await?;
    let path = upload::quarantine_path(&app);
    let mut meta = UploadMeta::default();
    let (mut thumbnail, mut preview) = (None, None);
    let read = async {
        let mut got_file = false;
        while let Some(mut part) = form.next().await? {
            let name = part.name.clone();
            if name == "videofile" {
                if got_file {
                    return Err(ApiError::invalid("videofile", "send one video file (videofile) per upload"));
                }
                if meta.filename.is_none() {
                    meta.filename = part.file_name();
                }
                let mut file =
                    tokio::fs::File::create(&path).await.map_err(|e| flotilla_app::Error::write("the upload", e))?;
                let mut written = 0u64;
                while let Some(chunk) = part.chunk().await? {
                    written += chunk.len() as u64;
                    if written > limit {
                        // Whichever limit is lower decides the message.
                        upload::check_size(&app, &who, written, None).await?;
                        return Err(flotilla_app::Error::TooLarge {
                            code: "max_file_size_reached",
                            msg: format!("the file is larger than {limit} bytes"),
                        }
                        .into());
                    }
                    file.write_all(&chunk).await.map_err(|e| flotilla_app::Error::write("the upload", e))?;
                }
                file.flush().await.map_err(|e| flotilla_app::Error::write("the upload", e))?;
                got_file = true;
            } else if name == "thumbnailfile" || name == "previewfile" {
                let slot = if name == "thumbnailfile" { &mut thumbnail } else { &mut preview };
                if slot.is_some() {
                    return Err(ApiError::invalid(&name, format!("send one {name} at most")));
                }
                *slot = Some(part.bytes(app.config.http.max_image_bytes, "the image").await?);
            } else {
                let text = part.text().await?;
                meta.set(&name, text).map_err(|f| ApiError::from(flotilla_app::Error::Validation(vec![f])))?;
            }
        }
        Ok::<bool, ApiError>(got_file)
    }
    .await;
    let got_file = match read {
        Ok(g) => g,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            form.drain().await;
            return Err(e);
        }
    };
    if !got_file {
        meta.validate()?;
        return Err(ApiError::invalid("videofile", "the video file (field videofile) is missing"));
    }
    // Images that are no pictures refuse the whole upload before a video exists.
    let has_images = thumbnail.is_some() || preview.is_some();
    let images = match flotilla_app::video::edit::encode_images(thumbnail, preview).await {
        Ok(i) => i,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e.into());
        }
    };
    let created = upload::create(&app, &who, meta, &path).await?;
    if has_images {
        let v = flotilla_app::video::edit::editable(&app, &who, &created.uuid).await?;
        flotilla_app::video::edit::set_images(&app, &v, images).await?;
    }
    Ok(Json(json!({ "video": { "id": created.id, "uuid": created.uuid, "shortUUID": created.short_uuid } })))
}

/// `PUT /api/v1/videos/{id}` — multipart (as PeerTube's client sends it, with optional
/// `thumbnailfile`/`previewfile`) or JSON.
pub async fn update_video(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    use axum::extract::FromRequest;
    let multipart = header_str(req.headers(), "content-type").is_some_and(|c| c.starts_with("multipart/form-data"));
    let (update, thumb, preview) = if multipart {
        let mut form = Form::from_request(req, &app).await?;
        let mut update = flotilla_app::video::edit::VideoUpdate::default();
        let (mut thumb, mut preview) = (None, None);
        while let Some(mut part) = form.next().await? {
            let name = part.name.clone();
            if name == "thumbnailfile" || name == "previewfile" {
                let slot = if name == "thumbnailfile" { &mut thumb } else { &mut preview };
                if slot.is_some() {
                    return Err(ApiError::invalid(&name, format!("send one {name} at most")));
                }
                *slot = Some(part.bytes(app.config.http.max_image_bytes, "the image").await?);
            } else {
                let text = part.text().await?;
                update.set(&name, text).map_err(|f| ApiError::from(flotilla_app::Error::Validation(vec![f])))?;
            }
        }
        (update, thumb, preview)
    } else {
        let Body(update) = Body::<flotilla_app::video::edit::VideoUpdate>::from_request(req, &app).await?;
        (update, None, None)
    };
    flotilla_app::video::edit::update(&app, &who, &id, update, thumb, preview).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A resumable upload's announced size (`X-Upload-Content-Length`), required.
pub(crate) fn announced_length(headers: &HeaderMap) -> Result<u64, ApiError> {
    header_str(headers, "x-upload-content-length").and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| {
        ApiError::invalid(
            "X-Upload-Content-Length",
            "the X-Upload-Content-Length header (file size in bytes) is required",
        )
    })
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[derive(Deserialize)]
pub struct UploadId {
    pub upload_id: Option<String>,
}

pub(crate) fn upload_id(q: &UploadId) -> Result<&str, ApiError> {
    q.upload_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("upload_id", "the upload_id query parameter is required"))
}

/// `POST /api/v1/videos/upload-resumable` — JSON metadata, `X-Upload-Content-Length` and
/// `X-Upload-Content-Type`; answers `201` with `Location: //host/…?upload_id=…`.
pub async fn init_resumable_upload(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Body(meta): Body<Value>,
) -> Result<Response, ApiError> {
    app.limits.check_ip(Kind::Upload, ip)?;
    let total = announced_length(&headers)?;
    let mime = header_str(&headers, "x-upload-content-type").unwrap_or("application/octet-stream");
    let id = resumable::init(&app, &who, meta, total, mime).await?;
    let location = format!("//{}/api/v1/videos/upload-resumable?upload_id={id}", app.public.host);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

/// `PUT /api/v1/videos/upload-resumable?upload_id=` — one chunk with `Content-Range`; `308` with
/// `Range: bytes=0-<last stored>` until the last, then `200 {"video": {…}}`.
pub async fn put_resumable_upload(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<UploadId>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    put_chunk(&app, &who, resumable::VIDEO, upload_id(&q)?, &headers, body).await
}

/// One chunk of a resumable session of `kind` (a video, a user archive), answered as uploadx
/// does: `308` with the stored `Range` until the last byte, then what the bytes became.
pub(crate) async fn put_chunk(
    app: &App,
    who: &flotilla_app::auth::AuthUser,
    kind: &str,
    id: &str,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let range = match header_str(headers, "content-range") {
        Some(v) => Some(resumable::parse_content_range(v).ok_or_else(|| {
            ApiError::invalid("Content-Range", format!("'{v}' is not bytes <first>-<last>/<total> or bytes */<total>"))
        })?),
        None => None,
    };
    match resumable::put(app, who, kind, id, range, body.into_data_stream()).await? {
        resumable::Status::Incomplete { stored } => {
            let mut resp = StatusCode::PERMANENT_REDIRECT.into_response();
            if stored > 0 {
                resp.headers_mut()
                    .insert(header::RANGE, HeaderValue::from_str(&format!("bytes=0-{}", stored - 1)).expect("ascii"));
            }
            Ok(resp)
        }
        resumable::Status::Done(created) => {
            Ok(Json(json!({ "video": { "id": created.id, "uuid": created.uuid, "shortUUID": created.short_uuid } }))
                .into_response())
        }
        resumable::Status::Imported(id) => Ok(Json(json!({ "userImport": { "id": id } })).into_response()),
        // PeerTube answers the last chunk of a replacement with 204.
        resumable::Status::Replaced(_) => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `DELETE /api/v1/videos/upload-resumable?upload_id=` — cancels and frees the space.
pub async fn cancel_resumable_upload(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<UploadId>,
) -> Result<StatusCode, ApiError> {
    resumable::cancel(&app, &who, resumable::VIDEO, upload_id(&q)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/videos/{id}` — numeric id, UUID or short UUID.
pub async fn get_video(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    VideoPassword(attempt): VideoPassword,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(video::get(&app, who.as_ref(), &id, &attempt).await?))
}

/// `POST /api/v1/videos/{id}/token` — a `videoFileToken` for the files of a video the caller may watch.
pub async fn create_video_file_token(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    VideoPassword(attempt): VideoPassword,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(video::token::issue(&app, who.as_ref(), &id, &attempt).await?))
}

#[derive(Deserialize)]
pub struct ViewBody {
    #[serde(rename = "currentTime")]
    current_time: Option<f64>,
}

/// `POST /api/v1/videos/{id}/views` — counted once per viewer per video per hour.
pub async fn add_view(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    VideoPassword(attempt): VideoPassword,
    Path(id): Path<String>,
    Body(body): Body<ViewBody>,
) -> Result<StatusCode, ApiError> {
    video::views::add(&app, who.as_ref(), &attempt, &id, body.current_time).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RateBody {
    rating: Option<String>,
}

/// `PUT /api/v1/videos/{id}/rate` — `{"rating": "like" | "dislike" | "none"}`.
pub async fn rate_video(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    VideoPassword(attempt): VideoPassword,
    Path(id): Path<String>,
    Body(body): Body<RateBody>,
) -> Result<StatusCode, ApiError> {
    video::views::rate(&app, &who, &id, body.rating.as_deref(), &attempt).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/videos/{id}/rating`
pub async fn get_my_rating(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(video::views::my_rating(&app, &who, &id).await?))
}

fn list_params(raw: Option<String>) -> Result<video::ListParams, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
    Ok(video::ListParams::from_pairs(&pairs)?)
}

/// `GET /api/v1/videos` — published public videos, with PeerTube's filters and sorts.
pub async fn list_videos(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    RawQuery(q): RawQuery,
) -> Result<Json<Box<RawValue>>, ApiError> {
    Ok(Json(video::list(&app, who.as_ref(), list_params(q)?, video::Scope::All).await?))
}

/// `GET /api/v1/search/videos?search=` — words in name, description and tags; sorted by relevance.
pub async fn search_videos(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    ClientIp(ip): ClientIp,
    RawQuery(q): RawQuery,
) -> Result<Json<Box<RawValue>>, ApiError> {
    app.limits.check_ip(Kind::Search, ip)?;
    let params = list_params(q)?;
    if let Some(s) = params.search.as_deref().filter(|s| s.trim().starts_with("http")) {
        let found = flotilla_app::federation::search::video_by_url(&app, who.as_ref(), s).await?;
        let text = serde_json::value::to_raw_value(&found)
            .map_err(|e| flotilla_app::Error::Internal(format!("search answer: {e}")))?;
        return Ok(Json(text));
    }
    Ok(Json(video::list(&app, who.as_ref(), params, video::Scope::All).await?))
}

#[derive(Deserialize)]
pub struct ChannelSearch {
    search: Option<String>,
    start: Option<i64>,
    count: Option<i64>,
}

/// `GET /api/v1/search/video-channels?search=` — words, a handle (`name@host`) or a channel URL.
pub async fn search_channels(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    ClientIp(ip): ClientIp,
    Query(q): Query<ChannelSearch>,
) -> Result<Json<Value>, ApiError> {
    app.limits.check_ip(Kind::Search, ip)?;
    let search = q.search.unwrap_or_default();
    let page = flotilla_app::page(q.start, q.count);
    Ok(Json(flotilla_app::federation::search::channels(&app, who.as_ref(), &search, page).await?))
}

/// `GET /api/v1/video-channels/{handle}/videos`
pub async fn list_channel_videos(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Path(handle): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Box<RawValue>>, ApiError> {
    Ok(Json(video::list(&app, who.as_ref(), list_params(q)?, video::Scope::Channel(&handle)).await?))
}

/// `GET /api/v1/accounts/{name}/videos`
pub async fn list_account_videos(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Box<RawValue>>, ApiError> {
    Ok(Json(video::list(&app, who.as_ref(), list_params(q)?, video::Scope::Account(&name)).await?))
}

/// `GET /api/v1/users/me/videos` — the caller's videos in every state and privacy.
pub async fn list_my_videos(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Box<RawValue>>, ApiError> {
    Ok(Json(video::list(&app, Some(&who), list_params(q)?, video::Scope::Mine).await?))
}

/// `DELETE /api/v1/videos/{id}`
pub async fn delete_video(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    video::delete(&app, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn label_map(items: &[(i64, &str)]) -> Json<Value> {
    let mut m = Map::new();
    for (id, label) in items {
        m.insert(id.to_string(), Value::String((*label).to_string()));
    }
    Json(Value::Object(m))
}

/// `GET /api/v1/videos/categories`
pub async fn list_categories() -> Json<Value> {
    label_map(labels::CATEGORIES)
}

/// `GET /api/v1/videos/licences`
pub async fn list_licences() -> Json<Value> {
    label_map(labels::LICENCES)
}

/// `GET /api/v1/videos/languages`
pub async fn list_languages() -> Json<Value> {
    let mut m = Map::new();
    for (code, label) in labels::LANGUAGES {
        m.insert((*code).to_string(), Value::String((*label).to_string()));
    }
    Json(Value::Object(m))
}

/// `GET /api/v1/videos/privacies`
pub async fn list_privacies() -> Json<Value> {
    label_map(&[(1, "Public"), (2, "Unlisted"), (3, "Private"), (4, "Internal"), (5, "Password protected")])
}

#[derive(Deserialize)]
pub struct PasswordPage {
    start: Option<i64>,
    count: Option<i64>,
}

/// `GET /api/v1/videos/{id}/passwords` — a password-protected video's passwords, for its managers.
pub async fn list_passwords(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(q): Query<PasswordPage>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(video::passwords::list(&app, &who, &id, flotilla_app::page(q.start, q.count)).await?))
}

#[derive(Deserialize)]
pub struct PasswordsBody {
    passwords: Option<Vec<String>>,
}

/// `PUT /api/v1/videos/{id}/passwords` — `{"passwords": [...]}` replaces them all.
pub async fn replace_passwords(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(body): Body<PasswordsBody>,
) -> Result<StatusCode, ApiError> {
    video::passwords::replace(&app, &who, &id, body.passwords).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/videos/{id}/passwords/{passwordId}` — never the last one.
pub async fn delete_password(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, password)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let password = crate::extract::id(&password)?;
    video::passwords::delete(&app, &who, &id, password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/videos/{id}/hls` — administrators.
pub async fn delete_hls(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    video::renditions::delete(&app, &who, &id, video::renditions::KIND_HLS).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/videos/{id}/web-videos` — administrators.
pub async fn delete_web_videos(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    video::renditions::delete(&app, &who, &id, video::renditions::KIND_WEB).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscodingBody {
    transcoding_type: Option<String>,
    #[serde(default)]
    force_transcoding: bool,
}

/// `POST /api/v1/videos/{id}/transcoding` — administrators: `{"transcodingType": "hls" |
/// "web-video", "forceTranscoding"}`.
pub async fn create_transcoding(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(body): Body<TranscodingBody>,
) -> Result<StatusCode, ApiError> {
    video::renditions::transcode(&app, &who, &id, body.transcoding_type.as_deref(), body.force_transcoding).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/videos/{id}/source/replace-resumable` — `{"filename"}`, `X-Upload-Content-Length`
/// and `X-Upload-Content-Type`; answers `201` with `Location`, then chunks as an upload.
pub async fn init_replace(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    app.limits.check_ip(Kind::Upload, ip)?;
    let total = announced_length(&headers)?;
    let mime = header_str(&headers, "x-upload-content-type").unwrap_or("application/octet-stream");
    let meta = body.map(|Json(v)| v).unwrap_or(Value::Null);
    let session = resumable::init_replace(&app, &who, &id, meta, total, mime).await?;
    // `id` named an existing video: an id, UUID or short UUID, nothing to escape.
    let location = format!("//{}/api/v1/videos/{id}/source/replace-resumable?upload_id={session}", app.public.host);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

/// `PUT /api/v1/videos/{id}/source/replace-resumable?upload_id=` — a chunk; the last answers 204.
pub async fn put_replace(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<UploadId>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    put_chunk(&app, &who, resumable::REPLACE, upload_id(&q)?, &headers, body).await
}

/// `DELETE /api/v1/videos/{id}/source/replace-resumable?upload_id=` — cancels the replacement.
pub async fn cancel_replace(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<UploadId>,
) -> Result<StatusCode, ApiError> {
    resumable::cancel(&app, &who, resumable::REPLACE, upload_id(&q)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/videos/{id}/source` — what was uploaded, for those who manage the video.
pub async fn get_source(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(video::source::get(&app, &who, &id).await?))
}

/// `DELETE /api/v1/videos/{id}/source/file` — moderators remove a kept original.
pub async fn delete_source_file(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    video::source::delete_file(&app, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
