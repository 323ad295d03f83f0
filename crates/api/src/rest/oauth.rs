//! Login, PeerTube's OAuth2 password grant.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::{App, auth};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{Auth, Body, ClientIp};

/// `GET /api/v1/oauth-clients/local`
pub async fn get_local_client(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let (id, secret) = auth::local_client(&app).await?;
    Ok(Json(json!({ "client_id": id, "client_secret": secret })))
}

#[derive(Deserialize)]
pub struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

fn required(v: Option<String>, field: &str) -> Result<String, ApiError> {
    v.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))
}

/// The cookie that keeps the web client's refresh token out of reach of page scripts.
const REFRESH_COOKIE: &str = "flotilla_rt";

/// The web client asks for its refresh token in an `HttpOnly` cookie instead of the body.
fn wants_cookie(headers: &HeaderMap) -> bool {
    headers.get("x-token-cookie").and_then(|v| v.to_str().ok()) == Some("1")
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn refresh_cookie(app: &App, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.public.base().starts_with("https://") { "; Secure" } else { "" };
    let c =
        format!("{REFRESH_COOKIE}={value}; Path=/api/v1/users; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&c).expect("token and attributes are ASCII")
}

/// `POST /api/v1/users/token` — `grant_type=password` or `refresh_token`, form-encoded as PeerTube
/// clients send it (JSON works too). With `X-Token-Cookie: 1` the refresh token travels in an
/// `HttpOnly` cookie instead: set by the answer, read when the request names none.
pub async fn create_token(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Body(req): Body<TokenRequest>,
) -> Result<Response, ApiError> {
    let client_id = required(req.client_id, "client_id")?;
    let client_secret = required(req.client_secret, "client_secret")?;
    let cookie = wants_cookie(&headers);
    let tokens = match req.grant_type.as_deref() {
        Some("password") => {
            let username = required(req.username, "username")?;
            let password = required(req.password, "password")?;
            let otp = headers.get("x-peertube-otp").and_then(|v| v.to_str().ok());
            auth::login(&app, ip, (&client_id, &client_secret), &username, &password, otp).await?
        }
        Some("refresh_token") => {
            let given = req.refresh_token.filter(|s| !s.is_empty());
            let from_cookie = if cookie { cookie_value(&headers, REFRESH_COOKIE) } else { None };
            let refresh = required(given.or(from_cookie), "refresh_token")?;
            auth::refresh(&app, &client_id, &client_secret, &refresh).await?
        }
        _ => {
            return Err(flotilla_app::Error::bad_request(
                "unsupported_grant_type",
                "Unsupported grant type: grant_type must be password or refresh_token",
            )
            .into());
        }
    };
    let mut body = json!({
        "token_type": "Bearer",
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": tokens.expires_in,
        "refresh_token_expires_in": tokens.refresh_token_expires_in,
    });
    if !cookie {
        return Ok(Json(body).into_response());
    }
    body.as_object_mut().expect("an object").remove("refresh_token");
    let mut resp = Json(body).into_response();
    let c = refresh_cookie(&app, &tokens.refresh_token, tokens.refresh_token_expires_in);
    resp.headers_mut().insert(header::SET_COOKIE, c);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `POST /api/v1/users/revoke-token` (also clears the web client's refresh cookie).
pub async fn revoke_token(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Response, ApiError> {
    auth::revoke(&app, &who).await?;
    let mut resp = Json(json!({})).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, refresh_cookie(&app, "", 0));
    Ok(resp)
}
