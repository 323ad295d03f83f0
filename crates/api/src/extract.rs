//! Extractors that answer in our error shape: request bodies (JSON or form-encoded, as PeerTube
//! accepts both), the authenticated user, the client address, numeric path ids.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use flotilla_app::App;
use flotilla_app::auth::{self, AuthUser};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, rejection};

fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// A request body read as JSON, or as `application/x-www-form-urlencoded` when the client says so.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = is_form(&req);
        if is_form {
            match axum::Form::<T>::from_request(req, state).await {
                Ok(axum::Form(v)) => Ok(Body(v)),
                Err(r) => Err(rejection(r.status(), r.body_text())),
            }
        } else {
            match axum::Json::<T>::from_request(req, state).await {
                Ok(axum::Json(v)) => Ok(Body(v)),
                Err(r) => Err(rejection(r.status(), r.body_text())),
            }
        }
    }
}

/// The caller, from `Authorization: Bearer <access token>`. Missing or bad → 401.
pub struct Auth(pub AuthUser);

impl FromRequestParts<Arc<App>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")));
        let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "Authentication required: send Authorization: Bearer <access token>",
            ));
        };
        Ok(Auth(auth::authenticate(app, token).await?))
    }
}

/// The client's address: the socket's peer, or the last `X-Forwarded-For` hop (the one our own
/// reverse proxy added) when `http.trust_proxy` is on.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<Arc<App>> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        Ok(ClientIp(client_ip(&parts.headers, &parts.extensions, app)))
    }
}

/// The client's address (see [`ClientIp`]), from a request's headers and extensions.
pub fn client_ip(headers: &axum::http::HeaderMap, extensions: &axum::http::Extensions, app: &App) -> IpAddr {
    if app.config.http.trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    peer.unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Parses a numeric id from the path, with PeerTube's `invalid-params` answer when it is not one.
pub fn id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::invalid("id", format!("'{raw}' is not a valid id")))
}

/// Like [`Body`], but an empty body is `None` (PeerTube's accept/reject/block take an optional one).
pub struct OptionalBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = is_form(&req);
        let bytes =
            axum::body::Bytes::from_request(req, state).await.map_err(|r| rejection(r.status(), r.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        let parsed = if is_form {
            serde_urlencoded::from_bytes(&bytes).map_err(|e| e.to_string())
        } else {
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())
        };
        parsed
            .map(|v| OptionalBody(Some(v)))
            .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("Failed to parse the request body: {e}")))
    }
}

/// The caller if a bearer token is sent (and valid), `None` without one. A bad token is still 401:
/// silently treating it as anonymous would hide the client's mistake.
pub struct MaybeAuth(pub Option<AuthUser>);

impl FromRequestParts<Arc<App>> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            Ok(MaybeAuth(Some(Auth::from_request_parts(parts, app).await?.0)))
        } else {
            Ok(MaybeAuth(None))
        }
    }
}

/// What a viewer offers to open a password-protected video: PeerTube's `x-peertube-video-password`
/// header and the client's address, which wrong passwords count against. The header is read as
/// UTF-8 (what API clients send), else as Latin-1: browsers send a header's characters up to
/// U+00FF as single bytes, and PeerTube (Node) reads them so.
pub struct VideoPassword(pub flotilla_app::video::passwords::Attempt);

impl FromRequestParts<Arc<App>> for VideoPassword {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let password = parts.headers.get("x-peertube-video-password").map(|v| {
            let bytes = v.as_bytes();
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
            }
        });
        let client = client_ip(&parts.headers, &parts.extensions, app);
        Ok(VideoPassword(flotilla_app::video::passwords::Attempt { password, client }))
    }
}
