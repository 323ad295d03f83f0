//! Comment moderation: the moderators' list of every comment (`GET /videos/comments`), bulk
//! removal (`POST /bulk/remove-comments-of`), watched words (`/watched-words/accounts/{name}/lists`,
//! `/watched-words/server/lists`) and automatic tags (`/automatic-tags/…`), in PeerTube 6.2's
//! shapes. Rules in `app::comment` and `app::auto_tags`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use flotilla_app::auto_tags::{self, ListBody};
use flotilla_app::{App, comment};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, Body};

fn pairs(raw: Option<String>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))
}

fn list_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().map_err(|_| ApiError::not_found("watched words list not found"))
}

/// `GET /api/v1/videos/comments` (moderators)
pub async fn all_comments(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(comment::admin_list(&app, &who, &pairs(q)?).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkBody {
    account_name: Option<String>,
    scope: Option<String>,
}

/// `POST /api/v1/bulk/remove-comments-of` — `{"accountName", "scope": "my-videos" | "instance"}`
pub async fn remove_comments_of(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<BulkBody>,
) -> Result<StatusCode, ApiError> {
    let name = b.account_name.as_deref().ok_or_else(|| ApiError::invalid("accountName", "whose comments"))?;
    let scope = b.scope.as_deref().ok_or_else(|| ApiError::invalid("scope", "my-videos or instance"))?;
    comment::remove_comments_of(&app, &who, name, scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/watched-words/accounts/{name}/lists`
pub async fn account_lists(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_tags::lists(&app, &who, Some(&name)).await?))
}

/// `POST /api/v1/watched-words/accounts/{name}/lists` — `{"listName", "words"}`
pub async fn create_account_list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(name): Path<String>,
    Body(b): Body<ListBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_tags::create_list(&app, &who, Some(&name), b).await?))
}

/// `PUT /api/v1/watched-words/accounts/{name}/lists/{id}`
pub async fn update_account_list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((name, id)): Path<(String, String)>,
    Body(b): Body<ListBody>,
) -> Result<StatusCode, ApiError> {
    auto_tags::update_list(&app, &who, Some(&name), list_id(&id)?, b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/watched-words/accounts/{name}/lists/{id}`
pub async fn delete_account_list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auto_tags::delete_list(&app, &who, Some(&name), list_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/watched-words/server/lists`
pub async fn server_lists(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_tags::lists(&app, &who, None).await?))
}

/// `POST /api/v1/watched-words/server/lists`
pub async fn create_server_list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<ListBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_tags::create_list(&app, &who, None, b).await?))
}

/// `PUT /api/v1/watched-words/server/lists/{id}`
pub async fn update_server_list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(b): Body<ListBody>,
) -> Result<StatusCode, ApiError> {
    auto_tags::update_list(&app, &who, None, list_id(&id)?, b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/watched-words/server/lists/{id}`
pub async fn delete_server_list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auto_tags::delete_list(&app, &who, None, list_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/automatic-tags/policies/accounts/{name}/comments`
pub async fn policies(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_tags::policies(&app, &who, &name).await?))
}

#[derive(Deserialize)]
pub struct PolicyBody {
    #[serde(default)]
    review: Vec<String>,
}

/// `PUT /api/v1/automatic-tags/policies/accounts/{name}/comments` — `{"review": [tags]}`
pub async fn set_policies(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(name): Path<String>,
    Body(b): Body<PolicyBody>,
) -> Result<StatusCode, ApiError> {
    if b.review.len() > 200 {
        return Err(ApiError::invalid("review", "at most 200 tags"));
    }
    auto_tags::set_policies(&app, &who, &name, &b.review).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/automatic-tags/accounts/{name}/available`
pub async fn account_available(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_tags::available(&app, &who, Some(&name)).await?))
}

/// `GET /api/v1/automatic-tags/server/available`
pub async fn server_available(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_tags::available(&app, &who, None).await?))
}
