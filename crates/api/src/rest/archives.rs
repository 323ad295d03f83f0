//! User archives (PeerTube 6.1): `/users/:id/exports…` and `/users/:id/imports…`; the archive
//! itself is downloaded from `/download/user-exports/:file` (`lib.rs`). The work is
//! `flotilla_app::archive`'s.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::App;
use flotilla_app::limits::Kind;
use flotilla_app::video::resumable;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Auth, Body, ClientIp, id};
use crate::rest::videos::{UploadId, announced_length, header_str, put_chunk, upload_id};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    with_video_files: Option<bool>,
}

/// `POST /api/v1/users/{id}/exports/request` `{ withVideoFiles }`
pub async fn request_export(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
    Body(b): Body<ExportRequest>,
) -> Result<Json<Value>, ApiError> {
    let uid = id(&uid)?;
    Ok(Json(flotilla_app::archive::request_export(&app, &who, uid, b.with_video_files.unwrap_or(false)).await?))
}

/// `GET /api/v1/users/{id}/exports`
pub async fn list_exports(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::archive::list_exports(&app, &who, id(&uid)?).await?))
}

/// `DELETE /api/v1/users/{id}/exports/{exportId}`
pub async fn delete_export(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((uid, export)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    flotilla_app::archive::delete_export(&app, &who, id(&uid)?, id(&export)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/imports/import-resumable` — `{ filename }`, `X-Upload-Content-Length`;
/// answers `201` with `Location: //host/…?upload_id=…`, as a resumable video upload.
pub async fn init_import(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    Path(uid): Path<String>,
    headers: HeaderMap,
    Body(meta): Body<Value>,
) -> Result<Response, ApiError> {
    app.limits.check_ip(Kind::Upload, ip)?;
    let uid = id(&uid)?;
    let total = announced_length(&headers)?;
    let mime = header_str(&headers, "x-upload-content-type").unwrap_or("application/zip");
    let upload = flotilla_app::archive::init_import(&app, &who, uid, meta, total, mime).await?;
    let location = format!("//{}/api/v1/users/{uid}/imports/import-resumable?upload_id={upload}", app.public.host);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

/// `PUT /api/v1/users/{id}/imports/import-resumable?upload_id=` — a chunk; `200 { userImport: { id } }`
/// after the last.
pub async fn put_import(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(_uid): Path<String>,
    Query(q): Query<UploadId>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    put_chunk(&app, &who, resumable::USER_IMPORT, upload_id(&q)?, &headers, body).await
}

/// `DELETE /api/v1/users/{id}/imports/import-resumable?upload_id=`
pub async fn cancel_import(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(_uid): Path<String>,
    Query(q): Query<UploadId>,
) -> Result<StatusCode, ApiError> {
    resumable::cancel(&app, &who, resumable::USER_IMPORT, upload_id(&q)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/{id}/imports/latest`
pub async fn latest_import(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(uid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(flotilla_app::archive::latest_import(&app, &who, id(&uid)?).await?))
}
