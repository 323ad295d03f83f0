//! Video channels: `/api/v1/video-channels`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use flotilla_app::{App, channel, image, page};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{Auth, Body};
use crate::rest::{ListQuery, read_image};

/// `GET /api/v1/video-channels`
pub async fn list_channels(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    Ok(Json(channel::list(&app, page(q.start, q.count), q.sort.as_deref()).await?))
}

/// `POST /api/v1/video-channels` → `{"videoChannel": {"id"}}`
pub async fn create_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(req): Body<channel::CreateChannel>,
) -> Result<Json<Value>, ApiError> {
    let id = channel::create(&app, &who, req).await?;
    Ok(Json(json!({ "videoChannel": { "id": id.0 } })))
}

/// `GET /api/v1/video-channels/{handle}`
pub async fn get_channel(State(app): State<Arc<App>>, Path(handle): Path<String>) -> Result<Json<Value>, ApiError> {
    let c = channel::get_by_handle(&app, &handle).await?;
    Ok(Json(channel::view(&app, &c).await?))
}

/// `PUT /api/v1/video-channels/{handle}`
pub async fn update_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
    Body(req): Body<channel::UpdateChannel>,
) -> Result<StatusCode, ApiError> {
    channel::update(&app, &who, &handle, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/video-channels/{handle}`
pub async fn delete_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    channel::delete(&app, &who, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/video-channels/{handle}/avatar/pick` (field `avatarfile`)
pub async fn pick_channel_avatar(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
    form: Multipart,
) -> Result<Json<Value>, ApiError> {
    let c = channel::editable(&app, &who, &handle).await?;
    let bytes = read_image(form, "avatarfile").await?;
    Ok(Json(json!({ "avatars": image::set(&app, c.actor_id, image::Kind::Avatar, bytes).await? })))
}

/// `POST /api/v1/video-channels/{handle}/banner/pick` (field `bannerfile`)
pub async fn pick_channel_banner(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
    form: Multipart,
) -> Result<Json<Value>, ApiError> {
    let c = channel::editable(&app, &who, &handle).await?;
    let bytes = read_image(form, "bannerfile").await?;
    Ok(Json(json!({ "banners": image::set(&app, c.actor_id, image::Kind::Banner, bytes).await? })))
}

/// `DELETE /api/v1/video-channels/{handle}/avatar`
pub async fn delete_channel_avatar(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    let c = channel::editable(&app, &who, &handle).await?;
    image::delete(&app, c.actor_id, image::Kind::Avatar).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/video-channels/{handle}/banner`
pub async fn delete_channel_banner(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    let c = channel::editable(&app, &who, &handle).await?;
    image::delete(&app, c.actor_id, image::Kind::Banner).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteBody {
    account_handle: Option<String>,
}

/// `GET /api/v1/video-channels/{handle}/collaborators`
pub async fn list_collaborators(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::collaborators::list(&app, &who, &handle).await?))
}

/// `POST /api/v1/video-channels/{handle}/collaborators/invite` (`accountHandle`)
pub async fn invite_collaborator(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(handle): Path<String>,
    Body(b): Body<InviteBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::collaborators::invite(&app, &who, &handle, b.account_handle.as_deref()).await?))
}

/// `POST /api/v1/video-channels/{handle}/collaborators/{id}/accept`
pub async fn accept_collaboration(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((handle, cid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    flotilla_app::collaborators::accept(&app, &who, &handle, crate::extract::id(&cid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/video-channels/{handle}/collaborators/{id}/reject`
pub async fn reject_collaboration(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((handle, cid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    flotilla_app::collaborators::reject(&app, &who, &handle, crate::extract::id(&cid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/video-channels/{handle}/collaborators/{id}`
pub async fn remove_collaborator(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((handle, cid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    flotilla_app::collaborators::remove(&app, &who, &handle, crate::extract::id(&cid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/video-channels/collaborations`
pub async fn my_collaborations(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::collaborators::of_mine(&app, &who, true).await?))
}

/// `GET /api/v1/users/me/video-channels/invitations`
pub async fn my_invitations(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::collaborators::of_mine(&app, &who, false).await?))
}
