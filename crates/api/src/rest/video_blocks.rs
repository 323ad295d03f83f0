//! Video blocks (PeerTube's blacklist): `/videos/{id}/blacklist` (`POST`, `PUT`, `DELETE`,
//! moderators) and `/videos/blacklist` (the list). Rules in `app::video::block`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use flotilla_app::App;
use flotilla_app::video::block::{self, BlockBody};
use serde_json::Value;

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, OptionalBody};

/// `POST /api/v1/videos/{id}/blacklist` — `{"reason", "unfederate"}` (both optional)
pub async fn block_video(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    OptionalBody(b): OptionalBody<BlockBody>,
) -> Result<StatusCode, ApiError> {
    block::block(&app, &who, &id, b.unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/videos/{id}/blacklist` — `{"reason"}`
pub async fn update_block(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    OptionalBody(b): OptionalBody<BlockBody>,
) -> Result<StatusCode, ApiError> {
    block::update(&app, &who, &id, b.unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/videos/{id}/blacklist`
pub async fn unblock_video(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    block::unblock(&app, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/videos/blacklist`
pub async fn list_blocks(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
    Ok(Json(block::list(&app, &who, &pairs).await?))
}
