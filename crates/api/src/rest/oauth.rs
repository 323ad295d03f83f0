//! Login, PeerTube's OAuth2 password grant.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
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

/// `POST /api/v1/users/token` — `grant_type=password` or `refresh_token`, form-encoded as PeerTube
/// clients send it (JSON works too).
pub async fn create_token(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    Body(req): Body<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    let client_id = required(req.client_id, "client_id")?;
    let client_secret = required(req.client_secret, "client_secret")?;
    let tokens = match req.grant_type.as_deref() {
        Some("password") => {
            let username = required(req.username, "username")?;
            let password = required(req.password, "password")?;
            auth::login(&app, ip, &client_id, &client_secret, &username, &password).await?
        }
        Some("refresh_token") => {
            let refresh = required(req.refresh_token, "refresh_token")?;
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
    Ok(Json(json!({
        "token_type": "Bearer",
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": tokens.expires_in,
        "refresh_token_expires_in": tokens.refresh_token_expires_in,
    })))
}

/// `POST /api/v1/users/revoke-token`
pub async fn revoke_token(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<Json<Value>, ApiError> {
    auth::revoke(&app, &who).await?;
    Ok(Json(json!({})))
}
