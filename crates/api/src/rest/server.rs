//! Instance follows (PeerTube's `/api/v1/server/following` and `/followers`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use flotilla_app::federation::follow;
use flotilla_app::{App, page};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Auth, Body};

#[derive(Deserialize)]
pub struct FollowBody {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    handles: Vec<String>,
}

/// `POST /api/v1/server/following` — `{"hosts": ["video.example.org"], "handles": ["chan@host"]}`.
pub async fn follow_instances(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<FollowBody>,
) -> Result<StatusCode, ApiError> {
    follow::follow_hosts(&app, &who, &b.hosts, &b.handles).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/server/following/{hostOrHandle}`
pub async fn unfollow_instance(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(host): Path<String>,
) -> Result<StatusCode, ApiError> {
    follow::unfollow_host(&app, &who, &host).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct FollowQuery {
    start: Option<i64>,
    count: Option<i64>,
    state: Option<String>,
}

/// `GET /api/v1/server/following`
pub async fn list_following(
    State(app): State<Arc<App>>,
    Query(q): Query<FollowQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(follow::list(&app, true, q.state.as_deref(), page(q.start, q.count)).await?))
}

/// `GET /api/v1/server/followers`
pub async fn list_followers(
    State(app): State<Arc<App>>,
    Query(q): Query<FollowQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(follow::list(&app, false, q.state.as_deref(), page(q.start, q.count)).await?))
}

/// `POST /api/v1/server/followers/{handle}/accept` — `handle` is `peertube@host`.
pub async fn accept_follower(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    follow::decide(&app, &who, &handle, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/server/followers/{handle}/reject`
pub async fn reject_follower(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    follow::decide(&app, &who, &handle, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RedundancyQuery {
    target: Option<String>,
    start: Option<i64>,
    count: Option<i64>,
}

/// `GET /api/v1/server/redundancy/videos?target=my-videos|remote-videos` (admins).
pub async fn list_redundancies(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<RedundancyQuery>,
) -> Result<Json<Value>, ApiError> {
    let target = q.target.as_deref().unwrap_or_default();
    Ok(Json(flotilla_app::redundancy::list(&app, &who, target, page(q.start, q.count)).await?))
}

#[derive(Deserialize)]
pub struct MirrorBody {
    #[serde(rename = "videoId")]
    video_id: Value,
}

/// `POST /api/v1/server/redundancy/videos` — `{"videoId": id or UUID}` (admins).
pub async fn add_redundancy(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<MirrorBody>,
) -> Result<StatusCode, ApiError> {
    let key = match &b.video_id {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err(ApiError::invalid("videoId", "a video id or UUID")),
    };
    flotilla_app::redundancy::mirror_manually(&app, &who, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/server/redundancy/videos/{redundancyId}` (admins).
pub async fn remove_redundancy(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("redundancy not found"))?;
    flotilla_app::redundancy::remove_manually(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AllowBody {
    #[serde(rename = "redundancyAllowed")]
    redundancy_allowed: bool,
}

/// `PUT /api/v1/server/redundancy/{host}` — `{"redundancyAllowed": true}` (admins).
pub async fn allow_redundancy(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(host): Path<String>,
    Body(b): Body<AllowBody>,
) -> Result<StatusCode, ApiError> {
    flotilla_app::redundancy::allow_host(&app, &who, &host, b.redundancy_allowed).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/server/edge-cache` (ours, admins): the edge cache's use and counters.
pub async fn edge_cache(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::edge::stats(&app, &who)?))
}
