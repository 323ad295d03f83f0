//! ActivityPub and discovery routes: WebFinger, host-meta, NodeInfo, actors, videos and their
//! collections. Actor and video paths answer `application/activity+json` to servers that ask for
//! it, and the web client's page (with its metadata) to browsers.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flotilla_app::{App, ap};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::web::{self, Web};

/// The media type of our ActivityPub documents.
const AP_TYPE: &str = "application/activity+json; charset=utf-8";

/// Whether the client asked for ActivityPub (`application/activity+json` or ActivityStreams JSON-LD).
pub fn wants_ap(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/activity+json") || a.contains("application/ld+json"))
}

fn ap_response(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(AP_TYPE));
    r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// `GET /accounts/{name}` — a `Person`, or the instance actor (`peertube`, an `Application`).
pub async fn get_account_actor(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Extension(web): Extension<Web>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    if !wants_ap(&headers) {
        return Ok(web::page(&app, &web, uri.path()).await);
    }
    if name == ap::INSTANCE_ACTOR {
        return Ok(ap_response(ap::instance_to_ap(&app).await?));
    }
    let acc = flotilla_app::account::get_local(&app, &name).await?;
    Ok(ap_response(ap::account_to_ap(&app, &acc).await?))
}

/// `GET /video-channels/{name}` — a `Group`.
pub async fn get_channel_actor(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Extension(web): Extension<Web>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    if !wants_ap(&headers) {
        return Ok(web::page(&app, &web, uri.path()).await);
    }
    let c = flotilla_app::channel::get_by_handle(&app, &name).await?;
    if !c.host.is_empty() {
        return Err(ApiError::not_found("no such channel here"));
    }
    Ok(ap_response(ap::channel_to_ap(&app, &c).await?))
}

/// `GET /videos/watch/{uuid}` — a `Video`; private, internal and unpublished videos are 404.
pub async fn get_video_object(
    State(app): State<Arc<App>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    Extension(web): Extension<Web>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    if !wants_ap(&headers) {
        return Ok(web::page(&app, &web, uri.path()).await);
    }
    match flotilla_app::video::get_federated(&app, &uuid).await {
        Ok(v) => Ok(ap_response(ap::video_to_ap(&app, &v).await?)),
        Err(e) => match flotilla_app::federation::videos::tombstone(&app, &uuid).await? {
            Some(t) => {
                let mut resp = ap_response(t);
                *resp.status_mut() = axum::http::StatusCode::GONE;
                Ok(resp)
            }
            None => Err(e.into()),
        },
    }
}

/// `GET /videos/watch/{uuid}/{likes,dislikes,announces,comments}` — the collections a `Video`
/// names, as PeerTube answers them (ActivityPub only: there is no page for them).
pub async fn get_video_collection(
    State(app): State<Arc<App>>,
    Path((uuid, which)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    if which == "chapters" {
        // PeerTube's `Chapters` document, named by the `Video`'s `hasParts`.
        let v = flotilla_app::video::get_federated(&app, &uuid).await?;
        return Ok(ap_response(flotilla_app::video::chapters::document(&app, &v).await?));
    }
    let which = ap::VideoCollection::parse(&which).ok_or_else(|| ApiError::not_found("collection not found"))?;
    let v = flotilla_app::video::get_federated(&app, &uuid).await?;
    Ok(ap_response(ap::video_collection(&app, &v, which, q.page).await?))
}

/// `GET /videos/watch/{uuid}/comments/{id}` — a local comment's `Note` (or `Tombstone` once
/// deleted) to ActivityPub clients; the web client's page to browsers.
pub async fn get_comment_object(
    State(app): State<Arc<App>>,
    Path((uuid, id)): Path<(String, String)>,
    headers: HeaderMap,
    Extension(web): Extension<Web>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    if !wants_ap(&headers) {
        return Ok(web::page(&app, &web, uri.path()).await);
    }
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("comment not found"))?;
    Ok(ap_response(flotilla_app::federation::comments::note_document(&app, &uuid, id).await?))
}

/// `GET /videos/watch/{uuid}/comments/{id}/approve-reply` — PeerTube's `ApproveReply` of a comment
/// under one of our videos (what a `Note`'s `replyApproval` names).
pub async fn get_comment_approval(
    State(app): State<Arc<App>>,
    Path((uuid, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("approval not found"))?;
    Ok(ap_response(flotilla_app::federation::comments::approval_document(&app, &uuid, id).await?))
}

/// `GET /redundancy/streaming-playlists/hls/{uuid}` — our `CacheFile` of a video we mirror.
pub async fn get_cache_file(State(app): State<Arc<App>>, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    Ok(ap_response(flotilla_app::redundancy::document(&app, &uuid).await?))
}

/// `GET /accounts/{name}/{likes,dislikes}/{uuid}` — the `Like` or `Dislike` a local account gave
/// a video (the ids listed in the video's `likes` and `dislikes`).
pub async fn get_rate(
    State(app): State<Arc<App>>,
    Path((name, kind, uuid)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let rating = match kind.as_str() {
        "likes" => "like",
        "dislikes" => "dislike",
        _ => return Err(ApiError::not_found("not found")),
    };
    let account = flotilla_app::account::get_local(&app, &name).await?;
    let v = flotilla_app::video::get_federated(&app, &uuid).await?;
    let activity =
        ap::rate_activity(&app, &account, &v, rating).await?.ok_or_else(|| ApiError::not_found("rating not found"))?;
    Ok(ap_response(activity))
}

/// `GET /accounts/{name}/outbox`
pub async fn get_account_outbox(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let id = format!("{}/outbox", flotilla_app::uris::account(&app, &name));
    if name == ap::INSTANCE_ACTOR {
        return Ok(ap_response(ap::instance_outbox(&app, &id, q.page).await?));
    }
    let acc = flotilla_app::account::get_local(&app, &name).await?;
    Ok(ap_response(ap::outbox(&app, Some(acc.id), None, &id, q.page).await?))
}

/// `GET /video-channels/{name}/outbox`
pub async fn get_channel_outbox(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let c = flotilla_app::channel::get_by_handle(&app, &name).await?;
    if !c.host.is_empty() {
        return Err(ApiError::not_found("no such channel here"));
    }
    let id = format!("{}/outbox", flotilla_app::uris::channel(&app, &c.name));
    Ok(ap_response(ap::outbox(&app, None, Some(c.id), &id, q.page).await?))
}

/// `GET /video-playlists/{uuid}` — a `Playlist` (`?page=N`: a page of its elements) to
/// ActivityPub clients, the web client's page to browsers. Private playlists are 404.
pub async fn get_playlist_object(
    State(app): State<Arc<App>>,
    Path(uuid): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Extension(web): Extension<Web>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    if !wants_ap(&headers) {
        return Ok(web::page(&app, &web, uri.path()).await);
    }
    let p = flotilla_app::playlist::get_federated(&app, &uuid).await?;
    Ok(ap_response(flotilla_app::playlist::to_ap(&app, &p, q.page).await?))
}

/// `GET /video-playlists/{uuid}/videos/{element}` — a `PlaylistElement`.
pub async fn get_playlist_element(
    State(app): State<Arc<App>>,
    Path((uuid, element)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let p = flotilla_app::playlist::get_federated(&app, &uuid).await?;
    Ok(ap_response(flotilla_app::playlist::element_to_ap(&app, &p, element).await?))
}

/// `GET /accounts/{name}/playlists` and `/video-channels/{name}/playlists`: the actor's public
/// playlists (an `OrderedCollection` of their ids).
pub async fn get_playlists_collection(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let path = uri.path();
    let name = path
        .strip_prefix("/accounts/")
        .or_else(|| path.strip_prefix("/video-channels/"))
        .and_then(|r| r.strip_suffix("/playlists"))
        .ok_or_else(|| ApiError::not_found("collection not found"))?;
    let id = format!("{}{path}", app.public.base());
    let (account, channel) = if path.starts_with("/accounts/") {
        (Some(flotilla_app::account::get_local(&app, name).await?.id), None)
    } else {
        let c = flotilla_app::channel::get_by_handle(&app, name).await?;
        if !c.host.is_empty() {
            return Err(ApiError::not_found("no such channel here"));
        }
        (None, Some(c.id))
    };
    Ok(ap_response(flotilla_app::playlist::collection(&app, account, channel, &id, q.page).await?))
}

/// `GET /accounts/{name}/{followers,following}` and the same for channels.
pub async fn get_follow_collection(
    State(app): State<Arc<App>>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let path = uri.path();
    let (prefix, rest) = if let Some(r) = path.strip_prefix("/accounts/") {
        ("accounts", r)
    } else if let Some(r) = path.strip_prefix("/video-channels/") {
        ("video-channels", r)
    } else {
        return Err(ApiError::not_found("collection not found"));
    };
    let (name, which) = rest.split_once('/').ok_or_else(|| ApiError::not_found("collection not found"))?;
    let url = format!("{}/{prefix}/{name}", app.public.base());
    let actor = flotilla_app::federation::local_actor_by_url(&app, &url)
        .await?
        .ok_or_else(|| ApiError::not_found("actor not found"))?;
    let id = format!("{url}/{which}");
    Ok(ap_response(flotilla_app::ap::follow_collection(&app, actor, which == "followers", &id, q.page).await?))
}

#[derive(Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

/// `GET /.well-known/webfinger?resource=acct:name@host`
pub async fn webfinger(State(app): State<Arc<App>>, Query(q): Query<WebfingerQuery>) -> Result<Response, ApiError> {
    let resource = q
        .resource
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::invalid("resource", "the resource parameter is required"))?;
    let jrd = ap::webfinger(&app, &resource).await?;
    let mut r = Json(jrd).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jrd+json; charset=utf-8"));
    r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(r)
}

/// `GET /.well-known/host-meta`
pub async fn host_meta(State(app): State<Arc<App>>) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" type=\"application/xrd+xml\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
        app.public.base()
    );
    ([(header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8")], body).into_response()
}

/// `GET /.well-known/nodeinfo`
pub async fn nodeinfo_links(State(app): State<Arc<App>>) -> Json<Value> {
    Json(ap::nodeinfo_links(&app))
}

/// `GET /nodeinfo/2.0.json`
pub async fn nodeinfo(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let mut r = Json(ap::nodeinfo(&app).await?).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.0#\""),
    );
    r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(r)
}

/// `POST /inbox`, `/accounts/{name}/inbox`, `/video-channels/{name}/inbox`: a signed activity.
pub async fn post_inbox(
    State(app): State<Arc<App>>,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::http::StatusCode, ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| uri.path().to_string());
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let req =
        flotilla_app::federation::inbox::Incoming { ip, method: "POST", path: &path, header: &lookup, body: &body };
    flotilla_app::federation::inbox::receive(&app, req).await?;
    Ok(axum::http::StatusCode::ACCEPTED)
}
