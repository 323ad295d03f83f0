//! Imports by URL (`app::video::import`): `POST /videos/imports` (multipart as PeerTube's client
//! sends it, or JSON), `GET /users/me/videos/imports`, `POST /videos/imports/{id}/cancel`,
//! `POST /videos/imports/{id}/retry`, `DELETE /videos/imports/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Path, Query, State};
use axum::http::StatusCode;
use flotilla_app::App;
use flotilla_app::limits::Kind;
use flotilla_app::video::import::{self, ImportRequest};
use flotilla_app::video::upload::UploadMeta;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Auth, Body, ClientIp};
use crate::rest::form::Form;
use crate::rest::videos::header_str;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportJson {
    target_url: Option<String>,
    magnet_uri: Option<String>,
    #[serde(flatten)]
    meta: UploadMeta,
}

/// `POST /api/v1/videos/imports` — `targetUrl` and the upload's metadata (`channelId`, `name`
/// optional: the page's title is taken), and optional `thumbnailfile`/`previewfile`.
pub async fn create(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    req: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    // An import starts a download and a transcoding: it counts as an upload.
    app.limits.check_ip(Kind::Upload, ip)?;
    let multipart = header_str(req.headers(), "content-type").is_some_and(|c| c.starts_with("multipart/form-data"));
    let (request, thumb, preview) = if multipart {
        let mut form = Form::from_request(req, &app).await?;
        let mut r = ImportRequest::default();
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
                "torrentfile" => {
                    // Not read: it is refused whatever it holds.
                    r.torrent_file = true;
                    form.drain().await;
                    break;
                }
                "targetUrl" => r.target_url = Some(part.text().await?),
                "magnetUri" => r.magnet_uri = Some(part.text().await?),
                _ => {
                    let text = part.text().await?;
                    r.meta.set(&name, text).map_err(|f| ApiError::from(flotilla_app::Error::Validation(vec![f])))?;
                }
            }
        }
        (r, thumb, preview)
    } else {
        let Body(j) = Body::<ImportJson>::from_request(req, &app).await?;
        (
            ImportRequest { target_url: j.target_url, magnet_uri: j.magnet_uri, torrent_file: false, meta: j.meta },
            None,
            None,
        )
    };
    // Images that are no pictures refuse the import before a video exists.
    let has_images = thumb.is_some() || preview.is_some();
    let images = flotilla_app::video::edit::encode_images(thumb, preview).await?;
    let out = import::create(&app, &who, request).await?;
    if has_images && let Some(uuid) = out["video"]["uuid"].as_str() {
        let v = flotilla_app::video::edit::editable(&app, &who, uuid).await?;
        flotilla_app::video::edit::set_images(&app, &v, images).await?;
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportList {
    start: Option<i64>,
    count: Option<i64>,
    sort: Option<String>,
    target_url: Option<String>,
}

/// `GET /api/v1/users/me/videos/imports`
pub async fn list_mine(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<ImportList>,
) -> Result<Json<Value>, ApiError> {
    let page = flotilla_app::page(q.start, q.count);
    Ok(Json(import::list_mine(&app, &who, page, q.sort.as_deref(), q.target_url.as_deref()).await?))
}

/// `POST /api/v1/videos/imports/{id}/cancel`
pub async fn cancel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    import::cancel(&app, &who, crate::extract::id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/videos/imports/{id}/retry`
pub async fn retry(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    import::retry(&app, &who, crate::extract::id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/videos/imports/{id}`
pub async fn delete(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    import::delete(&app, &who, crate::extract::id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
