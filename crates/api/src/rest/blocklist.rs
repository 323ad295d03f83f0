//! Blocklists: `/users/me/blocklist/{accounts,servers}` (a user's mutes),
//! `/server/blocklist/{accounts,servers}` (the instance's blocks, moderators), `/blocklist/status`,
//! and the CSV import and export of blocked servers (ours; Mastodon's format). Rules in
//! `app::blocklist`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::blocklist::{self, Scope};
use flotilla_app::{App, page};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, Body, MaybeAuth};
use crate::rest::ListQuery;

#[derive(Deserialize)]
pub struct AccountBody {
    #[serde(rename = "accountName")]
    account_name: Option<String>,
}

#[derive(Deserialize)]
pub struct ServerBody {
    host: Option<String>,
}

fn account_name(b: &AccountBody) -> Result<&str, ApiError> {
    b.account_name.as_deref().ok_or_else(|| ApiError::invalid("accountName", "the account to block is missing"))
}

fn host(b: &ServerBody) -> Result<&str, ApiError> {
    b.host.as_deref().ok_or_else(|| ApiError::invalid("host", "the server to block is missing"))
}

/// `GET /api/v1/users/me/blocklist/accounts`
pub async fn my_accounts(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocklist::list_accounts(&app, Scope::Mine(&who), page(q.start, q.count)).await?))
}

/// `POST /api/v1/users/me/blocklist/accounts` — `{"accountName": "name@host"}`
pub async fn mute_account(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<AccountBody>,
) -> Result<StatusCode, ApiError> {
    blocklist::block_account(&app, Scope::Mine(&who), account_name(&b)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/me/blocklist/accounts/{accountName}`
pub async fn unmute_account(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocklist::unblock_account(&app, Scope::Mine(&who), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users/me/blocklist/servers`
pub async fn my_servers(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocklist::list_servers(&app, Scope::Mine(&who), page(q.start, q.count)).await?))
}

/// `POST /api/v1/users/me/blocklist/servers` — `{"host": "example.org"}`
pub async fn mute_server(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<ServerBody>,
) -> Result<StatusCode, ApiError> {
    blocklist::block_server(&app, Scope::Mine(&who), host(&b)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/me/blocklist/servers/{host}`
pub async fn unmute_server(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(h): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocklist::unblock_server(&app, Scope::Mine(&who), &h).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/server/blocklist/accounts`
pub async fn server_accounts(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocklist::list_accounts(&app, Scope::Server(&who), page(q.start, q.count)).await?))
}

/// `POST /api/v1/server/blocklist/accounts`
pub async fn block_account(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<AccountBody>,
) -> Result<StatusCode, ApiError> {
    blocklist::block_account(&app, Scope::Server(&who), account_name(&b)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/server/blocklist/accounts/{accountName}`
pub async fn unblock_account(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocklist::unblock_account(&app, Scope::Server(&who), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/server/blocklist/servers`
pub async fn server_servers(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocklist::list_servers(&app, Scope::Server(&who), page(q.start, q.count)).await?))
}

/// `POST /api/v1/server/blocklist/servers`
pub async fn block_server(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<ServerBody>,
) -> Result<StatusCode, ApiError> {
    blocklist::block_server(&app, Scope::Server(&who), host(&b)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/server/blocklist/servers/{host}`
pub async fn unblock_server(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(h): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocklist::unblock_server(&app, Scope::Server(&who), &h).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/server/blocklist/servers/export`: `text/csv`, Mastodon's domain-block columns.
pub async fn export_servers(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Response, ApiError> {
    let csv = blocklist::export_servers(&app, &who).await?;
    let mut resp = csv.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"domain_blocks.csv\""));
    Ok(resp)
}

/// `POST /api/v1/server/blocklist/servers/import`: the body is the CSV (at most 1 MB).
pub async fn import_servers(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    // A body over the limit answers as every other error does (RFC 7807), not axum's plain text.
    let body = body.map_err(|e| rejection(e.status(), e.body_text()))?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::invalid("file", "the list must be UTF-8 text"))?;
    Ok(Json(blocklist::import_servers(&app, &who, text).await?))
}

/// `GET /api/v1/blocklist/status?accounts=…&hosts=…` (each repeated, or `accounts[]=`).
pub async fn status(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
    let take = |k: &str| -> Vec<String> {
        pairs.iter().filter(|(n, _)| n == k || n.strip_suffix("[]") == Some(k)).map(|(_, v)| v.clone()).collect()
    };
    Ok(Json(blocklist::status(&app, who.as_ref(), &take("accounts"), &take("hosts")).await?))
}
