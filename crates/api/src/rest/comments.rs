//! Comments under videos: `/videos/{id}/comment-threads`, `/videos/{id}/comments/{commentId}`
//! and `/users/me/videos/comments`, in PeerTube's shapes (`app::comment` holds the rules).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use flotilla_app::{App, comment};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, Body, MaybeAuth, VideoPassword};

fn pairs(raw: Option<String>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))
}

fn comment_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().map_err(|_| ApiError::not_found("comment not found"))
}

#[derive(Deserialize)]
pub struct CommentBody {
    text: Option<String>,
}

fn text(body: &CommentBody) -> Result<&str, ApiError> {
    body.text.as_deref().ok_or_else(|| ApiError::invalid("text", "the comment's text is missing"))
}

/// `GET /api/v1/videos/{id}/comment-threads`
pub async fn list_threads(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    VideoPassword(attempt): VideoPassword,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Box<serde_json::value::RawValue>>, ApiError> {
    Ok(Json(comment::list_threads(&app, who.as_ref(), &id, &pairs(q)?, &attempt).await?))
}

/// `POST /api/v1/videos/{id}/comment-threads` — `{"text"}`: a new thread.
pub async fn create_thread(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    VideoPassword(attempt): VideoPassword,
    Path(id): Path<String>,
    Body(body): Body<CommentBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(comment::create(&app, &who, &id, None, text(&body)?, &attempt).await?))
}

/// `GET /api/v1/videos/{id}/comment-threads/{threadId}` — the thread as a tree.
pub async fn get_thread(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    VideoPassword(attempt): VideoPassword,
    Path((id, thread)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let thread = thread.parse::<i64>().map_err(|_| ApiError::not_found("comment thread not found"))?;
    Ok(Json(comment::thread(&app, who.as_ref(), &id, thread, &attempt).await?))
}

/// `POST /api/v1/videos/{id}/comments/{commentId}` — `{"text"}`: a reply.
pub async fn reply(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    VideoPassword(attempt): VideoPassword,
    Path((id, parent)): Path<(String, String)>,
    Body(body): Body<CommentBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(comment::create(&app, &who, &id, Some(comment_id(&parent)?), text(&body)?, &attempt).await?))
}

/// `DELETE /api/v1/videos/{id}/comments/{commentId}`
pub async fn delete(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, c)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    comment::delete(&app, &who, &id, comment_id(&c)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/videos/{id}/comments/{commentId}/approve`
pub async fn approve(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, c)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    comment::approve(&app, &who, &id, comment_id(&c)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/videos/comments` — comments on the caller's videos.
pub async fn on_my_videos(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(comment::on_my_videos(&app, &who, &pairs(q)?).await?))
}
