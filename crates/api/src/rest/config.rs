//! Instance configuration: `/api/v1/config`, `/config/about`, `/config/custom`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flotilla_app::{App, instance};
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Auth, Body};

/// `GET /api/v1/config`
pub async fn get_config(State(app): State<Arc<App>>) -> Json<Value> {
    Json(instance::server_config(&app))
}

/// `GET /api/v1/config/about`
pub async fn get_about(State(app): State<Arc<App>>) -> Json<Value> {
    Json(instance::about(&app))
}

/// `GET /api/v1/config/custom`
pub async fn get_custom_config(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(instance::custom(&app, &who)?))
}

/// `PUT /api/v1/config/custom`
pub async fn update_custom_config(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(c): Body<instance::CustomConfig>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(instance::update_custom(&app, &who, c).await?))
}

/// `DELETE /api/v1/config/custom`
pub async fn delete_custom_config(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<StatusCode, ApiError> {
    instance::reset_custom(&app, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}
