//! A user's subscriptions to channels: `/api/v1/users/me/subscriptions`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use flotilla_app::federation::subscriptions;
use flotilla_app::{App, page, video};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::rest::ListQuery;

#[derive(Deserialize)]
pub struct SubscribeBody {
    uri: Option<String>,
}

/// `POST /api/v1/users/me/subscriptions` — `{"uri": "channel@host"}`.
pub async fn subscribe(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<SubscribeBody>,
) -> Result<StatusCode, ApiError> {
    let uri =
        b.uri.filter(|u| !u.is_empty()).ok_or_else(|| ApiError::invalid("uri", "uri (channel@host) is required"))?;
    subscriptions::subscribe(&app, &who, &uri).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/subscriptions`
pub async fn list_subscriptions(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(subscriptions::list(&app, &who, page(q.start, q.count)).await?))
}

/// `GET /api/v1/users/me/subscriptions/videos` — the feed.
pub async fn list_subscription_videos(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Box<RawValue>>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or_default())
        .map_err(|e| crate::error::rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
    let params = video::ListParams::from_pairs(&pairs)?;
    Ok(Json(video::list(&app, Some(&who), params, video::Scope::Subscriptions).await?))
}

#[derive(Deserialize)]
pub struct ExistQuery {
    uris: Option<String>,
}

/// `GET /api/v1/users/me/subscriptions/exist?uris=a@h,b@h`
pub async fn subscriptions_exist(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ExistQuery>,
) -> Result<Json<Value>, ApiError> {
    let uris: Vec<String> =
        q.uris.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    Ok(Json(subscriptions::exist(&app, &who, &uris).await?))
}

/// `DELETE /api/v1/users/me/subscriptions/{handle}`
pub async fn unsubscribe(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    subscriptions::unsubscribe(&app, &who, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}
