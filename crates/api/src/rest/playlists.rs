//! Video playlists (`/api/v1/video-playlists`, the account and channel lists, `videos-exist`)
//! and the watch history (`/api/v1/users/me/history/videos`), in PeerTube's shapes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Path, Query, RawQuery, State};
use axum::http::StatusCode;
use flotilla_app::playlist::{self, AddElement, ListQuery, PlaylistForm, Reorder, Scope, UpdateElement};
use flotilla_app::{App, history};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Auth, Body, MaybeAuth};
use crate::rest::form::Form;

/// The JSON variant of the playlist form (PeerTube takes both).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaylistJson {
    display_name: Option<String>,
    #[serde(default, deserialize_with = "flotilla_app::nullable")]
    description: Option<Option<String>>,
    privacy: Option<i64>,
    #[serde(default, deserialize_with = "flotilla_app::nullable")]
    video_channel_id: Option<Option<i64>>,
}

/// Reads `POST`/`PUT /video-playlists` as multipart (with `thumbnailfile`) or JSON.
async fn read_form(app: &Arc<App>, req: axum::extract::Request) -> Result<PlaylistForm, ApiError> {
    let multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    if !multipart {
        let Body(j) = Body::<PlaylistJson>::from_request(req, app).await?;
        return Ok(PlaylistForm {
            display_name: j.display_name,
            description: j.description,
            privacy: j.privacy,
            channel_id: j.video_channel_id,
            thumbnail: None,
        });
    }
    let mut form = Form::from_request(req, app).await?;
    let mut f = PlaylistForm::default();
    while let Some(mut part) = form.next().await? {
        let name = part.name.clone();
        if name == "thumbnailfile" {
            if f.thumbnail.is_some() {
                return Err(ApiError::invalid(&name, "send one thumbnailfile at most"));
            }
            f.thumbnail = Some(part.bytes(app.config.http.max_image_bytes, "the image").await?);
            continue;
        }
        let text = part.text().await?;
        let int =
            |t: &str| t.trim().parse::<i64>().map_err(|_| ApiError::invalid(&name, format!("'{t}' is not a number")));
        match name.as_str() {
            "displayName" => f.display_name = Some(text),
            "description" => f.description = Some(Some(text).filter(|t| !t.is_empty())),
            "privacy" => f.privacy = Some(int(&text)?),
            // An empty value takes the playlist out of its channel (PeerTube's form sends one).
            "videoChannelId" => f.channel_id = Some(if text.trim().is_empty() { None } else { Some(int(&text)?) }),
            _ => {}
        }
    }
    Ok(f)
}

/// `POST /api/v1/video-playlists`
pub async fn create(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    req: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    let form = read_form(&app, req).await?;
    Ok(Json(playlist::create(&app, &who, form).await?))
}

/// `PUT /api/v1/video-playlists/{id}`
pub async fn update(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    let form = read_form(&app, req).await?;
    playlist::update(&app, &who, &id, form).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/video-playlists/{id}`
pub async fn get(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(playlist::get(&app, who.as_ref(), &id).await?))
}

/// `DELETE /api/v1/video-playlists/{id}`
pub async fn delete(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    playlist::delete(&app, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/video-playlists`
pub async fn list(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(playlist::list(&app, who.as_ref(), q, Scope::All).await?))
}

/// `GET /api/v1/accounts/{name}/video-playlists`
pub async fn list_of_account(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(playlist::list(&app, who.as_ref(), q, Scope::Account(&name)).await?))
}

/// `GET /api/v1/video-channels/{handle}/video-playlists`
pub async fn list_of_channel(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Path(handle): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(playlist::list(&app, who.as_ref(), q, Scope::Channel(&handle)).await?))
}

/// `GET /api/v1/video-playlists/privacies`
pub async fn privacies() -> Json<Value> {
    Json(playlist::privacies())
}

#[derive(Deserialize)]
pub struct PageQuery {
    start: Option<i64>,
    count: Option<i64>,
}

/// `GET /api/v1/video-playlists/{id}/videos`
pub async fn elements(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(playlist::elements(&app, who.as_ref(), &id, q.start, q.count).await?))
}

/// `POST /api/v1/video-playlists/{id}/videos`
pub async fn add(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(b): Body<AddElement>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(playlist::add(&app, &who, &id, b).await?))
}

/// `PUT /api/v1/video-playlists/{id}/videos/{element}`
pub async fn update_element(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, element)): Path<(String, String)>,
    Body(b): Body<UpdateElement>,
) -> Result<StatusCode, ApiError> {
    playlist::update_element(&app, &who, &id, &element, b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/video-playlists/{id}/videos/{element}`
pub async fn remove(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, element)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    playlist::remove(&app, &who, &id, &element).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/video-playlists/{id}/videos/reorder`
pub async fn reorder(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(b): Body<Reorder>,
) -> Result<StatusCode, ApiError> {
    playlist::reorder(&app, &who, &id, b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/video-playlists/videos-exist?videoIds=1&videoIds=2`
pub async fn videos_exist(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or_default())
        .map_err(|e| crate::error::rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
    let mut ids = Vec::new();
    for (k, v) in pairs {
        if k.trim_end_matches("[]") == "videoIds" {
            for one in v.split(',') {
                ids.push(
                    one.trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::invalid("videoIds", format!("'{one}' is not a video id")))?,
                );
            }
        }
        if ids.len() > 100 {
            return Err(ApiError::invalid("videoIds", "ask about 100 videos at most"));
        }
    }
    Ok(Json(playlist::videos_exist(&app, &who, &ids).await?))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    start: Option<i64>,
    count: Option<i64>,
    search: Option<String>,
}

/// `GET /api/v1/users/me/history/videos`
pub async fn history(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(history::list(&app, &who, q.search.as_deref(), q.start, q.count).await?))
}

/// `DELETE /api/v1/users/me/history/videos/{videoId}`
pub async fn forget(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(video): Path<String>,
) -> Result<StatusCode, ApiError> {
    history::remove(&app, &who, &video).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClearBody {
    before_date: Option<String>,
}

/// `POST /api/v1/users/me/history/videos/remove` (`{"beforeDate"}` optional; no body clears all)
pub async fn clear(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let before = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<ClearBody>(&body)
            .map_err(|e| crate::error::rejection(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))?
            .before_date
    };
    history::clear(&app, &who, before.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
