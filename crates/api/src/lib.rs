//! HTTP: the axum router with PeerTube's REST API (`rest/`), static files, metrics, and the
//! cross-cutting layers (body limits, panics answered as JSON 500, CORS, request logs). Turns
//! `app` errors into PeerTube's error bodies (`error`). Depends on `app`, never on `db` directly.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flotilla_app::App;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any as CorsAny, CorsLayer};

pub mod ap;
pub mod compress;
pub mod downloads;
pub mod error;
pub mod extract;
pub mod feeds;
pub mod files;
pub mod metrics;
pub mod rest;
pub mod tracker;
pub mod web;

pub use error::ApiError;
pub use metrics::Metrics;

/// The whole HTTP surface of an instance.
pub fn router(app: Arc<App>, metrics: Arc<Metrics>) -> Router {
    router_with(app, metrics, Router::new())
}

/// [`router`] plus `extra` routes under the same layers (tests use it to reach a panicking handler).
pub fn router_with(app: Arc<App>, metrics: Arc<Metrics>, extra: Router<Arc<App>>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(CorsAny)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::RANGE])
        .max_age(Duration::from_secs(3600));
    let api = rest::router(&app)
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(ServiceBuilder::new().layer(cors).layer(middleware::from_fn_with_state(app.clone(), limit_api)));
    let tracker = tracker::start(&app);
    let tracker_for_metrics = tracker.clone();
    let metrics_for_route = metrics.clone();
    let app_for_metrics = app.clone();
    let metrics_for_playback = metrics.clone();
    let web = match web::WebClient::load(&app.config.http.web_dir) {
        Ok(client) => web::Web(client.map(Arc::new)),
        Err(e) => {
            tracing::error!("{e}: serving the API without the web client");
            web::Web(None)
        }
    };
    let web_for_fallback = web.clone();
    let fallback = move |State(app): State<Arc<App>>, req: Request| async move {
        web::fallback(&app, &web_for_fallback, req).await
    };
    // A process without the web role answers only its tracker (and /metrics); without the tracker
    // role, /tracker/socket is left to the process that has it.
    let (has_web, has_tracker) = (app.config.has_role("web"), app.config.has_role("tracker"));
    let metrics_route = get(move || async move {
        let extra = tracker::prometheus(&tracker_for_metrics) + &flotilla_app::edge::prometheus(&app_for_metrics.edge);
        prometheus(&metrics_for_route, &extra)
    });
    let mut router = Router::new().route("/metrics", metrics_route);
    if has_tracker {
        router = router.route("/tracker/socket", get(tracker::socket));
    }
    if !has_web {
        return router
            .fallback(api_not_found)
            .layer(
                ServiceBuilder::new()
                    .layer(middleware::from_fn_with_state(metrics, outer))
                    .layer(CatchPanicLayer::custom(panic_response))
                    .layer(axum::Extension(tracker)),
            )
            .with_state(app);
    }
    router
        .nest("/api/v1", api)
        .route("/lazy-static/avatars/{file}", get(get_image))
        .route("/lazy-static/banners/{file}", get(get_image))
        .route("/lazy-static/thumbnails/{file}", get(get_video_image))
        .route("/lazy-static/previews/{file}", get(get_video_image))
        .route("/download/user-exports/{file}", get(get_user_export))
        .route("/static/web-videos/{file}", get(downloads::get_web_video))
        .route("/lazy-static/torrents/{file}", get(downloads::get_torrent))
        .route("/lazy-static/video-captions/{file}", get(downloads::get_caption))
        .route("/lazy-static/storyboards/{file}", get(downloads::get_storyboard))
        .route("/download/torrents/{file}", get(downloads::download_torrent))
        .route("/download/web-videos/{file}", get(downloads::download_file::<true>))
        .route("/download/streaming-playlists/hls/videos/{file}", get(downloads::download_file::<false>))
        .route("/download/videos/generate/{id}", get(downloads::download_generate))
        .route("/download/original-video-files/{uuid}", get(downloads::download_source))
        .route("/static/streaming-playlists/hls/{uuid}/{file}", get(get_hls_file))
        .route("/static/edge/hls/{uuid}/{file}", get(get_edge_file))
        .route("/static/redundancy/hls/{uuid}/{file}", get(get_mirror_file))
        .route("/.well-known/webfinger", get(ap::webfinger))
        .route("/.well-known/host-meta", get(ap::host_meta))
        .route("/.well-known/nodeinfo", get(ap::nodeinfo_links))
        .route("/nodeinfo/2.0.json", get(ap::nodeinfo))
        .route("/accounts/{name}", get(ap::get_account_actor))
        .route("/accounts/{name}/outbox", get(ap::get_account_outbox))
        .route("/accounts/{name}/followers", get(ap::get_follow_collection))
        .route("/accounts/{name}/following", get(ap::get_follow_collection))
        .route("/accounts/{name}/playlists", get(ap::get_playlists_collection))
        .route("/video-channels/{name}/playlists", get(ap::get_playlists_collection))
        .route("/video-playlists/{uuid}", get(ap::get_playlist_object))
        .route("/feeds/{file}", get(feeds::get_feed))
        .route("/feeds/podcast/videos.xml", get(feeds::get_podcast))
        .route("/video-playlists/{uuid}/videos/{element}", get(ap::get_playlist_element))
        .route("/video-channels/{name}", get(ap::get_channel_actor))
        .route("/video-channels/{name}/outbox", get(ap::get_channel_outbox))
        .route("/video-channels/{name}/followers", get(ap::get_follow_collection))
        .route("/video-channels/{name}/following", get(ap::get_follow_collection))
        .route("/videos/watch/{uuid}", get(ap::get_video_object))
        .route("/videos/watch/{uuid}/{collection}", get(ap::get_video_collection))
        .route("/videos/watch/{uuid}/comments/{id}", get(ap::get_comment_object))
        .route("/videos/watch/{uuid}/comments/{id}/approve-reply", get(ap::get_comment_approval))
        .route("/redundancy/streaming-playlists/hls/{uuid}", get(ap::get_cache_file))
        .route("/accounts/{name}/{kind}/{uuid}", get(ap::get_rate))
        .route("/inbox", axum::routing::post(ap::post_inbox))
        .route("/accounts/{name}/inbox", axum::routing::post(ap::post_inbox))
        .route("/video-channels/{name}/inbox", axum::routing::post(ap::post_inbox))
        .route("/services/oembed", get(web::oembed))
        .merge(extra)
        .fallback(fallback)
        // One stack, added at once (outermost first): each `Router::layer` call boxes every route
        // again, and a `from_fn` layer clones the whole boxed chain below it on every request
        // (an allocation per box). Added as one, the chain is boxed once, which took about a
        // fifth of the CPU time of a cached playlist's answer.
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(metrics, outer))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(DefaultBodyLimit::max(app.config.http.max_body_bytes))
                .layer(axum::Extension(metrics_for_playback))
                .layer(axum::Extension(tracker))
                .layer(axum::Extension(web)),
        )
        .with_state(app)
}

/// The API as a whole, per client address (`rate_limits.api`): 429 with `Retry-After` past it.
async fn limit_api(State(app): State<Arc<App>>, req: Request, next: middleware::Next) -> Response {
    let ip = extract::client_ip(req.headers(), req.extensions(), &app);
    match app.limits.check_ip(flotilla_app::limits::Kind::Api, ip) {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn prometheus(m: &Metrics, extra: &str) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], m.render() + extra).into_response()
}

async fn api_not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = %msg, "a request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal server error").into_response()
}

/// Remote fetches one request may cause, all told (an inbox activity, a search, following a list of
/// instances): documents pointing at documents cannot keep us fetching.
const FETCHES_PER_REQUEST: u32 = 64;

/// The outermost layer, one middleware for what every request gets (each `from_fn` layer costs a
/// clone of the service below it and a boxed future per request): its count and time in the
/// metrics, its budget of remote fetches, gzip for text built per request (`compress`), its log
/// line, and `Connection: close` on an error answered before a body was read — an upload over
/// quota, a bad token on a big PUT leaves unread bytes on the connection, which the client must
/// not reuse. Outside the panic layer: a panic is counted and logged as the 500 it became.
async fn outer(State(metrics): State<Arc<Metrics>>, req: Request, next: middleware::Next) -> Response {
    let track = metrics::Track::begin(&req);
    let has_body = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|v| v != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let gzip = compress::wanted(&req);
    // Shared bytes: cloning the method and URI allocates nothing.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let resp = flotilla_app::federation::with_fetch_budget(FETCHES_PER_REQUEST, next.run(req)).await;
    let mut resp = compress::gzip(gzip, resp).await;
    let status = resp.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let ms = track.end(&metrics, &resp) * 1000.0;
    let (status, path) = (status.as_u16(), uri.path());
    if status >= 500 {
        tracing::warn!(%method, %path, status, ms, "request failed");
    } else {
        tracing::debug!(%method, %path, status, ms, "request");
    }
    resp
}

/// An image that is no longer on the disk but in the object store's images bucket: a redirect
/// there (`image_storage`). Cached for an hour only: a move back to the disk removes the object.
async fn stored_image(app: &App, dir: &str, file: &str) -> Result<Response, ApiError> {
    match flotilla_app::image_storage::redirect(app, dir, file).await? {
        Some(url) => {
            let location = HeaderValue::from_str(&url)
                .map_err(|_| flotilla_app::Error::Internal(format!("unusable image URL {url}")))?;
            Ok((
                StatusCode::FOUND,
                [
                    (header::LOCATION, location),
                    (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
                    (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
                ],
            )
                .into_response())
        }
        None => Err(ApiError::not_found("image not found")),
    }
}

/// `GET /lazy-static/{avatars,banners}/{file}`: stored images, with long cache headers (names
/// change whenever the image does), and the headers of every user-supplied file: never sniffed as
/// another type, sandboxed if opened as a page.
async fn get_image(State(app): State<Arc<App>>, Path(file): Path<String>) -> Result<Response, ApiError> {
    let path = flotilla_app::image::file_path(&app, &file).ok_or_else(|| ApiError::not_found("image not found"))?;
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(files::USER_FILE_CSP)),
            ],
            bytes,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => stored_image(&app, "images", &file).await,
        Err(e) => Err(flotilla_app::Error::Internal(format!("cannot read {}: {e}", path.display())).into()),
    }
}

/// `GET /lazy-static/{thumbnails,previews}/{file}`
async fn get_video_image(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    Path(file): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if !file.ends_with(".jpg") || !files::safe_name(&file) {
        return Err(ApiError::not_found("image not found"));
    }
    let dir = if uri.path().starts_with("/lazy-static/previews/") { "previews" } else { "thumbnails" };
    let path = app.data_path(dir).join(&file);
    if app.object_storage.is_some() && !tokio::fs::try_exists(&path).await.unwrap_or(true) {
        return stored_image(&app, dir, &file).await;
    }
    files::serve(&app.media_cache, &path, &headers, "image/jpeg", "public, max-age=31536000, immutable").await
}

/// `GET /download/user-exports/{file}`: a finished user archive; its random name is the secret
/// (the link `GET /api/v1/users/:id/exports` gives its owner), until it expires.
async fn get_user_export(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (place, name) = flotilla_app::archive::download(&app, &file).await?;
    let mut resp = files::serve_place(&app, place, &headers, "application/zip", "private, no-store", false).await?;
    let disposition = axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("attachment"));
    resp.headers_mut().insert(axum::http::header::CONTENT_DISPOSITION, disposition);
    Ok(resp)
}

/// `GET /static/streaming-playlists/hls/{uuid}/{file}`: playlists, fragmented MP4s (with byte
/// ranges) and segment hashes of videos the caller may watch. Names are random per transcode, so
/// everything is cached as immutable.
async fn get_hls_file(
    State(app): State<Arc<App>>,
    extract::MaybeAuth(who): extract::MaybeAuth,
    Path((uuid, file)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<FileTokenQuery>,
    // The request itself rather than a `HeaderMap` extractor, which would copy every header of
    // every segment request.
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers();
    let uuid_ok = uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !uuid_ok || !files::safe_name(&file) {
        return Err(ApiError::not_found("file not found"));
    }
    let token = q.video_file_token.as_deref();
    let content_type = files::content_type(&file).unwrap_or("application/octet-stream");
    if flotilla_app::live::is_live_file(&file) {
        // A live's (only a live has such names): while it streams and a while after it ended.
        // Playlists and hashes change every segment, segment names come back next session.
        let video = flotilla_app::video::get_for_live_files(&app, who.as_ref(), &uuid, token).await?;
        let path = flotilla_app::video::hls_dir(&app, &video).join(&file);
        let cache = if file.ends_with(".ts") { "public, max-age=30" } else { "no-cache" };
        return files::serve(&files::UNCACHED, &path, headers, content_type, cache).await;
    }
    let video = flotilla_app::video::get_for_files(&app, who.as_ref(), &uuid, token).await?;
    // Files anybody may fetch are cached by anyone; those opened by the caller's rights (a private,
    // internal or password-protected video, one not published yet) by the caller's browser only:
    // a shared cache in front must not keep them for others. (The access check just remembered a
    // public video; a change since then only makes this stricter.)
    let cache = if app.media_cache.public_access(&uuid) == Some(true) {
        "public, max-age=31536000, immutable"
    } else {
        "private, max-age=31536000, immutable"
    };
    // A video whose files are in the object store: players go there (a public bucket) or get them
    // through us; a video mid-transcoding is on the disk.
    if let Some(v) = flotilla_app::video::stored_elsewhere(&app, &uuid).await? {
        let place = flotilla_app::storage::place(&app, &v, flotilla_app::storage::Kind::Hls, &file);
        return files::serve_place(&app, place, headers, content_type, cache, true).await;
    }
    let path = flotilla_app::video::hls_dir(&app, &video).join(&file);
    files::serve(&app.media_cache, &path, headers, content_type, cache).await
}

/// `GET /static/edge/hls/{uuid}/{file}`: a remote video's files through the edge cache
/// (`flotilla_app::edge`), as fast as our own: the same memory cache, ranges and ETags. Any
/// failure (the origin down, a segment that does not match its hash) is a JSON error, on which
/// players fall back to the origin's URL.
async fn get_edge_file(
    State(app): State<Arc<App>>,
    Path((uuid, file)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let uuid_ok = uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let Some(content_type) = files::content_type(&file).filter(|_| uuid_ok) else {
        return Err(ApiError::not_found("file not found"));
    };
    let range = files::requested_range(&headers);
    const CACHE: &str = "public, max-age=31536000, immutable";
    let resp = match flotilla_app::edge::get(&app, &uuid, &file, range).await? {
        flotilla_app::edge::Answer::Whole(c) => files::respond_whole(&headers, content_type, CACHE, &c),
        // A live's: its playlists and hashes change every segment, its segments' names come back.
        flotilla_app::edge::Answer::Live(c) => {
            let cache = if file.ends_with(".ts") { "public, max-age=30" } else { "no-cache" };
            files::respond_whole(&headers, content_type, cache, &c)
        }
        flotilla_app::edge::Answer::Piece { piece, start } => {
            let range = range.expect("a piece is only found for a range");
            files::respond_piece(&headers, content_type, CACHE, &piece, start, range)
        }
    };
    let len = resp.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    let len: u64 = len.and_then(|v| v.parse().ok()).unwrap_or(0);
    app.edge.stats.served_bytes.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
    Ok(resp)
}

/// `GET /static/redundancy/hls/{uuid}/{file}`: our mirror of another server's video (PeerTube's
/// path), served as our own files are.
async fn get_mirror_file(
    State(app): State<Arc<App>>,
    Path((uuid, file)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let uuid_ok = uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !uuid_ok || !files::safe_name(&file) || !flotilla_app::redundancy::serves(&app, &uuid).await? {
        return Err(ApiError::not_found("file not found"));
    }
    let content_type = files::content_type(&file).unwrap_or("application/octet-stream");
    let path = flotilla_app::redundancy::mirror_dir(&app, &uuid).join(&file);
    files::serve(&app.media_cache, &path, &headers, content_type, "public, max-age=31536000, immutable").await
}

#[derive(serde::Deserialize)]
struct FileTokenQuery {
    #[serde(rename = "videoFileToken")]
    video_file_token: Option<String>,
}
