//! Downloads and the files beside a video's HLS stream, at PeerTube's paths: web videos
//! (`/static/web-videos/<file>`), torrents (`/lazy-static/torrents/<file>`), attachments under
//! `/download/…` (by video and resolution, torrents, `videos/generate/<id>`, the upload while it
//! is kept) and `GET /api/v1/videos/{id}/metadata/{fileId}`; captions (`/api/v1/videos/{id}/captions`,
//! `/lazy-static/video-captions/<file>`), storyboards (`/api/v1/videos/{id}/storyboards`,
//! `/lazy-static/storyboards/<file>`) and chapters (`/api/v1/videos/{id}/chapters`). Who may
//! fetch what is decided in `flotilla_app::video::{files, captions, chapters}`; serving (ranges,
//! ETags, streaming) is `files::serve`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use flotilla_app::App;
use flotilla_app::video::files as vf;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::{extract, files};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(rename = "videoFileToken")]
    video_file_token: Option<String>,
}

/// `Content-Disposition: attachment` with the name in RFC 6266's two forms: an ASCII fallback
/// and the UTF-8 name percent-encoded (names are users' text: quotes and newlines never reach
/// the header).
fn attachment(name: &str) -> HeaderValue {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn send(
    headers: &HeaderMap,
    app: &App,
    d: vf::Download,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    // Downloads may be private (a video's owner, a file token): not kept by shared caches.
    let mut resp = files::serve_place(app, d.place, headers, content_type, "private, max-age=3600", false).await?;
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, attachment(&d.filename));
    Ok(resp)
}

/// `GET /static/web-videos/{file}`: a web video, for whoever may watch its video.
pub async fn get_web_video(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !files::safe_name(&file) || !file.ends_with(".mp4") {
        return Err(ApiError::not_found("file not found"));
    }
    let (_, _, place) = vf::for_static(&app, who.as_ref(), &file, false, q.video_file_token.as_deref()).await?;
    files::serve_place(&app, place, &headers, "video/mp4", IMMUTABLE, true).await
}

/// `GET /lazy-static/torrents/{file}`: a file's torrent.
pub async fn get_torrent(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !files::safe_name(&file) || !file.ends_with(".torrent") {
        return Err(ApiError::not_found("file not found"));
    }
    let (_, _, place) = vf::for_static(&app, who.as_ref(), &file, true, q.video_file_token.as_deref()).await?;
    files::serve_place(&app, place, &headers, "application/x-bittorrent", IMMUTABLE, true).await
}

/// `GET /download/torrents/{file}`: the same, as an attachment.
pub async fn download_torrent(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !files::safe_name(&file) || !file.ends_with(".torrent") {
        return Err(ApiError::not_found("file not found"));
    }
    let d = vf::download_torrent(&app, who.as_ref(), &file, q.video_file_token.as_deref()).await?;
    send(&headers, &app, d, "application/x-bittorrent").await
}

/// `GET /download/web-videos/{uuid}-{res}.mp4` (`WEB`) and
/// `GET /download/streaming-playlists/hls/videos/{uuid}-{res}-fragmented.mp4`.
pub async fn download_file<const WEB: bool>(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let kind = if WEB { vf::KIND_WEB } else { vf::KIND_HLS };
    let d = vf::download(&app, who.as_ref(), &file, kind, q.video_file_token.as_deref()).await?;
    send(&headers, &app, d, "video/mp4").await
}

/// `GET /download/videos/generate/{id}?videoFileIds=…` (repeated, or comma-separated).
pub async fn download_generate(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(id): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut ids = Vec::new();
    let mut token = None;
    for (k, v) in form_pairs(raw.as_deref().unwrap_or("")) {
        match k.as_str() {
            "videoFileIds" | "videoFileIds[]" => {
                for part in v.split(',').take(11) {
                    let n = part.trim().parse::<i64>().map_err(|_| {
                        ApiError::from(flotilla_app::Error::invalid("videoFileIds", "file ids are integers"))
                    })?;
                    ids.push(n);
                }
            }
            "videoFileToken" => token = Some(v),
            _ => {}
        }
        if ids.len() > 10 {
            break;
        }
    }
    let d = vf::generate(&app, who.as_ref(), &id, &ids, token.as_deref()).await?;
    send(&headers, &app, d, "video/mp4").await
}

/// The pairs of a query string, decoded; at most 32 (what a client sends is bounded).
fn form_pairs(raw: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).unwrap_or_default();
    pairs.truncate(32);
    pairs
}

/// `GET /download/original-video-files/{uuid}`: the upload, while transcoding keeps it.
pub async fn download_source(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(uuid): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let d = vf::download_source(&app, who.as_ref(), &uuid, q.video_file_token.as_deref()).await?;
    // Whatever was uploaded, it is answered as bytes to save, never as something to render.
    let mut resp =
        files::serve_place(&app, d.place, &headers, "application/octet-stream", "private, no-store", false).await?;
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, attachment(&d.filename));
    Ok(resp)
}

/// `GET /api/v1/videos/{id}/metadata/{fileId}`
pub async fn get_metadata(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path((id, file_id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(vf::metadata(&app, who.as_ref(), &id, file_id).await?))
}

/// `GET /lazy-static/video-captions/{file}`: a caption (WebVTT we wrote), for whoever may watch
/// its video; a remote video's caption is fetched from its origin on first request.
pub async fn get_caption(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !files::safe_name(&file) || !file.ends_with(".vtt") {
        return Err(ApiError::not_found("file not found"));
    }
    let (place, public) =
        flotilla_app::video::captions::file(&app, who.as_ref(), &file, q.video_file_token.as_deref()).await?;
    // A caption of a video not everybody may watch is never kept by a shared cache.
    let cache = if public { IMMUTABLE } else { "private, max-age=3600" };
    files::serve_place(&app, place, &headers, "text/vtt; charset=utf-8", cache, true).await
}

/// `GET /api/v1/videos/{id}/captions`
pub async fn list_captions(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    extract::VideoPassword(attempt): extract::VideoPassword,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::video::captions::list(&app, who.as_ref(), &id, &attempt).await?))
}

/// `PUT /api/v1/videos/{id}/captions/{lang}`: multipart, the file in `captionfile`.
pub async fn put_caption(
    State(app): State<Arc<App>>,
    extract::Auth(who): extract::Auth,
    Path((id, lang)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Result<axum::http::StatusCode, ApiError> {
    let mut form = crate::rest::form::Form::from_request(req, &app).await?;
    let mut file = None;
    while let Some(mut part) = form.next().await? {
        if part.name == "captionfile" {
            if file.is_some() {
                return Err(ApiError::invalid("captionfile", "send one captionfile"));
            }
            file = Some(part.bytes(flotilla_app::video::captions::MAX_BYTES, "the caption file").await?);
        } else {
            part.bytes(crate::rest::form::MAX_TEXT_BYTES, "a field").await?;
        }
    }
    let bytes = file.ok_or_else(|| ApiError::invalid("captionfile", "the caption file is missing"))?;
    flotilla_app::video::captions::put(&app, &who, &id, &lang, &bytes).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/videos/{id}/captions/{lang}`
pub async fn delete_caption(
    State(app): State<Arc<App>>,
    extract::Auth(who): extract::Auth,
    Path((id, lang)): Path<(String, String)>,
) -> Result<axum::http::StatusCode, ApiError> {
    flotilla_app::video::captions::delete(&app, &who, &id, &lang).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `GET /lazy-static/storyboards/{file}`: a storyboard's sheet (a JPEG), for whoever may watch its
/// video; a remote video's is fetched from its origin on first request.
pub async fn get_storyboard(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path(file): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !files::safe_name(&file) || !file.ends_with(".jpg") {
        return Err(ApiError::not_found("file not found"));
    }
    let path = flotilla_app::video::storyboards::file(&app, who.as_ref(), &file, q.video_file_token.as_deref()).await?;
    files::serve(&app.media_cache, &path, &headers, "image/jpeg", IMMUTABLE).await
}

/// `GET /api/v1/videos/{id}/storyboards`
pub async fn list_storyboards(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    extract::VideoPassword(attempt): extract::VideoPassword,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::video::storyboards::list(&app, who.as_ref(), &id, &attempt).await?))
}

/// `GET /api/v1/videos/{id}/chapters`
pub async fn get_chapters(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    extract::VideoPassword(attempt): extract::VideoPassword,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::video::chapters::get(&app, who.as_ref(), &id, &attempt).await?))
}

/// `PUT /api/v1/videos/{id}/chapters` (`{"chapters": [{"timecode", "title"}]}`)
pub async fn put_chapters(
    State(app): State<Arc<App>>,
    extract::Auth(who): extract::Auth,
    Path(id): Path<String>,
    crate::extract::Body(body): crate::extract::Body<flotilla_app::video::chapters::ChaptersIn>,
) -> Result<axum::http::StatusCode, ApiError> {
    flotilla_app::video::chapters::put(&app, &who, &id, body).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
