//! Accounts, read-only here: `GET /api/v1/accounts/:name` and its channels.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use flotilla_app::{App, account};
use serde_json::Value;

use crate::error::ApiError;

/// `GET /api/v1/accounts/{name}`
pub async fn get_account(State(app): State<Arc<App>>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let acc = account::get_by_handle(&app, &name).await?;
    Ok(Json(account::view(&app, &acc).await?))
}

/// `GET /api/v1/accounts/{name}/video-channels`
pub async fn list_account_channels(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(account::channels(&app, &name).await?))
}
