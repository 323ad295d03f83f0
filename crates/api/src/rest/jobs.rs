//! Background jobs for admins: `GET /api/v1/jobs/:state` (PeerTube's shape) and a retry.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use flotilla_app::{App, jobs_admin, page};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Auth, id};

#[derive(Deserialize)]
pub struct JobQuery {
    start: Option<i64>,
    count: Option<i64>,
    #[serde(rename = "jobType")]
    job_type: Option<String>,
}

/// `GET /api/v1/jobs/{state}` — `active`, `waiting`, `completed`, `failed` or `all`.
pub async fn list_jobs(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(state): Path<String>,
    Query(q): Query<JobQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(jobs_admin::list(&app, &who, &state, q.job_type.as_deref(), page(q.start, q.count)).await?))
}

/// `POST /api/v1/jobs/{id}/retry` — a failed job runs again (ours; PeerTube has no per-job retry).
pub async fn retry_job(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(job): Path<String>,
) -> Result<StatusCode, ApiError> {
    jobs_admin::retry(&app, &who, id(&job)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
