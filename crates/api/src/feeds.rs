//! `/feeds/…`: RSS, Atom and JSON feeds of videos, subscriptions and comments, and a channel's
//! podcast (`flotilla_app::feed` writes them).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::App;
use flotilla_app::feed::{self, FeedQuery, Format};

use crate::error::ApiError;

/// The feed parameters, refused with a JSON error when one does not parse.
fn query(raw: Option<String>) -> Result<FeedQuery, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| crate::error::rejection(axum::http::StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))
}

fn answer(content_type: &'static str, body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Readers and proxies may keep it as long as we do.
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}

/// `GET /feeds/{videos,subscriptions,video-comments}.{xml,rss,atom,json}` (or `?format=`).
pub async fn get_feed(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = query(raw)?;
    let (name, ext) = file.rsplit_once('.').ok_or_else(|| ApiError::not_found("no such feed"))?;
    let fmt = match q.format.as_deref() {
        Some(f) => Format::parse(f).ok_or_else(|| ApiError::invalid("format", "format must be rss, atom or json"))?,
        None => Format::parse(ext).ok_or_else(|| ApiError::not_found("no such feed"))?,
    };
    let path = format!("/feeds/{file}");
    let body = match name {
        "videos" => feed::videos(&app, fmt, &q, &path, false).await?,
        "subscriptions" => feed::videos(&app, fmt, &q, &path, true).await?,
        "video-comments" => feed::comments(&app, fmt, &q, &path).await?,
        _ => return Err(ApiError::not_found("no such feed")),
    };
    Ok(answer(fmt.content_type(), body))
}

/// `GET /feeds/podcast/videos.xml?videoChannelId=`
pub async fn get_podcast(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = query(raw)?;
    let body = feed::podcast(&app, &q, "/feeds/podcast/videos.xml").await?;
    Ok(answer("application/rss+xml; charset=utf-8", body))
}
