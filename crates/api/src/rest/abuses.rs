//! Abuse reports: `/abuses` (report; moderators list, answer, delete), `/abuses/{id}/messages`
//! and `/users/me/abuses`, in PeerTube's shapes. Rules in `app::abuse`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use flotilla_app::App;
use flotilla_app::abuse::{self, NewReport, ReportUpdate};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, Body};

fn pairs(raw: Option<String>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))
}

fn id(s: &str, what: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().map_err(|_| ApiError::not_found(format!("{what} not found")))
}

/// `POST /api/v1/abuses`
pub async fn report(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<NewReport>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(abuse::report(&app, &who, b).await?))
}

/// `GET /api/v1/abuses` (moderators)
pub async fn list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(abuse::list(&app, &who, &pairs(q)?).await?))
}

/// `GET /api/v1/users/me/abuses`
pub async fn list_mine(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(abuse::list_mine(&app, &who, &pairs(q)?).await?))
}

/// `PUT /api/v1/abuses/{id}` — `{"state", "moderationComment"}`
pub async fn update(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(a): Path<String>,
    Body(b): Body<ReportUpdate>,
) -> Result<StatusCode, ApiError> {
    abuse::update(&app, &who, id(&a, "abuse")?, b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/abuses/{id}`
pub async fn delete(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(a): Path<String>,
) -> Result<StatusCode, ApiError> {
    abuse::delete(&app, &who, id(&a, "abuse")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/abuses/{id}/messages`
pub async fn messages(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(a): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(abuse::messages(&app, &who, id(&a, "abuse")?).await?))
}

#[derive(Deserialize)]
pub struct MessageBody {
    message: Option<String>,
}

/// `POST /api/v1/abuses/{id}/messages` — `{"message"}`
pub async fn add_message(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(a): Path<String>,
    Body(b): Body<MessageBody>,
) -> Result<Json<Value>, ApiError> {
    let text = b.message.as_deref().ok_or_else(|| ApiError::invalid("message", "the message is missing"))?;
    Ok(Json(abuse::add_message(&app, &who, id(&a, "abuse")?, text).await?))
}

/// `DELETE /api/v1/abuses/{id}/messages/{messageId}`
pub async fn delete_message(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((a, m)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    abuse::delete_message(&app, &who, id(&a, "abuse")?, id(&m, "abuse message")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
