//! Lives (`app::live`): `POST /videos/live` (multipart as PeerTube's client sends it, or JSON),
//! `GET`/`PUT /videos/live/{id}`, `GET /videos/live/{id}/sessions`,
//! `GET /videos/{id}/live-session`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Path, State};
use axum::http::StatusCode;
use flotilla_app::App;
use flotilla_app::limits::Kind;
use flotilla_app::live::{self, CreateLive, LiveSettings};
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Auth, Body, ClientIp, MaybeAuth};
use crate::rest::form::Form;
use crate::rest::videos::header_str;

/// `POST /api/v1/videos/live` — the upload's metadata (`channelId`, `name`…), `saveReplay`,
/// `replaySettings`, `permanentLive`, `latencyMode`, and optional `thumbnailfile`/`previewfile`.
pub async fn create(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    req: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    app.limits.check_ip(Kind::Upload, ip)?;
    let multipart = header_str(req.headers(), "content-type").is_some_and(|c| c.starts_with("multipart/form-data"));
    let (request, thumb, preview) = if multipart {
        let mut form = Form::from_request(req, &app).await?;
        let mut r = CreateLive::default();
        let (mut thumb, mut preview) = (None, None);
        while let Some(mut part) = form.next().await? {
            let name = part.name.clone();
            match name.as_str() {
                "thumbnailfile" | "previewfile" => {
                    let slot = if name == "thumbnailfile" { &mut thumb } else { &mut preview };
                    if slot.is_some() {
                        return Err(ApiError::invalid(&name, format!("send one {name} at most")));
                    }
                    *slot = Some(part.bytes(app.config.http.max_image_bytes, "the image").await?);
                }
                _ => {
                    let text = part.text().await?;
                    if !r.settings.set(&name, &text)? {
                        r.meta
                            .set(&name, text)
                            .map_err(|f| ApiError::from(flotilla_app::Error::Validation(vec![f])))?;
                    }
                }
            }
        }
        (r, thumb, preview)
    } else {
        let Body(j) = Body::<CreateLive>::from_request(req, &app).await?;
        (j, None, None)
    };
    let has_images = thumb.is_some() || preview.is_some();
    let images = flotilla_app::video::edit::encode_images(thumb, preview).await?;
    let out = live::create(&app, &who, request).await?;
    if has_images && let Some(uuid) = out["video"]["uuid"].as_str() {
        let v = flotilla_app::video::edit::editable(&app, &who, uuid).await?;
        flotilla_app::video::edit::set_images(&app, &v, images).await?;
    }
    Ok(Json(out))
}

/// `GET /api/v1/videos/live/{id}`
pub async fn get(
    State(app): State<Arc<App>>,
    MaybeAuth(who): MaybeAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(live::get(&app, who.as_ref(), &id).await?))
}

/// `PUT /api/v1/videos/live/{id}`
pub async fn update(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Body(s): Body<LiveSettings>,
) -> Result<StatusCode, ApiError> {
    live::update(&app, &who, &id, s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/videos/live/{id}/sessions`
pub async fn sessions(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(live::sessions(&app, &who, &id).await?))
}

/// `GET /api/v1/videos/{id}/live-session`
pub async fn live_session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(live::live_session(&app, &id).await?))
}
