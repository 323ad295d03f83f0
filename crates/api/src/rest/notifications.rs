//! A user's notifications (PeerTube's `/users/me/notifications…`, `/users/me/notification-settings`)
//! and our live stream of them, `GET /users/me/notifications/stream` (server-sent events).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use flotilla_app::{App, notification};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, rejection};
use crate::extract::{Auth, Body};

/// `GET /api/v1/users/me/notifications` (`start`, `count`, `sort`, `unread`).
pub async fn list(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or_default())
        .map_err(|e| rejection(StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
    Ok(Json(notification::list(&app, &who, &pairs).await?))
}

#[derive(Deserialize)]
pub struct ReadBody {
    ids: Option<Vec<i64>>,
}

/// `POST /api/v1/users/me/notifications/read` — `{"ids": [...]}`.
pub async fn read(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(b): Body<ReadBody>,
) -> Result<StatusCode, ApiError> {
    notification::mark_read(&app, &who, b.ids.as_deref().unwrap_or_default()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/me/notifications/read-all`
pub async fn read_all(State(app): State<Arc<App>>, Auth(who): Auth) -> Result<StatusCode, ApiError> {
    notification::mark_all_read(&app, &who).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/users/me/notification-settings`
pub async fn update_settings(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Body(body): Body<Value>,
) -> Result<StatusCode, ApiError> {
    notification::update_settings(&app, &who, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How often an open stream checks that its token still holds (revoked, expired, user blocked:
/// the stream ends). It checks before each event too.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /api/v1/users/me/notifications/stream` — server-sent events: `unread` first (`{"unread": n}`)
/// and again whenever notifications are read; each new `notification` as the list shows it;
/// `lagged` when some were missed (the client reloads its list). Ends when the server stops, or
/// when the token it was opened with no longer holds.
pub async fn stream(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let user = who.user.id;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .unwrap_or_default()
        .to_string();
    let unread = notification::unread_count(&app, user).await?;
    let first = Event::default().event("unread").data(json!({ "unread": unread }).to_string());
    let rx = app.notifications.subscribe();
    let stopping = app.stopping.subscribe();
    // The next check of the token is due at `check`, whatever else wakes the stream meanwhile.
    let check = tokio::time::Instant::now() + RECHECK;
    let state = (app, rx, stopping, check, Some(first));
    let events = futures_util::stream::unfold(state, move |(app, mut rx, mut stopping, mut check, first)| {
        let bearer = bearer.clone();
        async move {
            if let Some(f) = first {
                return Some((Ok(f), (app, rx, stopping, check, None)));
            }
            let still_valid = |app: Arc<App>, bearer: String| async move {
                flotilla_app::auth::authenticate(&app, &bearer).await.is_ok_and(|w| w.user.id == user)
            };
            loop {
                let next = tokio::select! {
                    n = rx.recv() => Some(n),
                    _ = tokio::time::sleep_until(check) => None,
                    _ = stopping.wait_for(|s| *s) => return None,
                };
                // Others' news wakes every stream: only this user's (and the timer) cost a check.
                if matches!(next, Some(Ok((u, _))) if u != user) {
                    continue;
                }
                if !still_valid(app.clone(), bearer.clone()).await {
                    return None;
                }
                check = tokio::time::Instant::now() + RECHECK;
                let event = match next {
                    None => continue,
                    // Notifications were read: the new count.
                    Some(Ok((u, 0))) if u == user => match notification::unread_count(&app, user).await {
                        Ok(n) => Event::default().event("unread").data(json!({ "unread": n }).to_string()),
                        Err(_) => continue,
                    },
                    Some(Ok((u, id))) if u == user => match notification::for_stream(&app, user, id).await {
                        Ok(Some(n)) => Event::default().event("notification").data(n.to_string()),
                        _ => continue,
                    },
                    Some(Ok(_)) => continue,
                    Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                        Event::default().event("lagged").data("{}")
                    }
                    Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                };
                return Some((Ok::<_, Infallible>(event), (app, rx, stopping, check, None)));
            }
        }
    });
    // Proxies that buffer responses (nginx by default) would hold the events back.
    Ok(([("x-accel-buffering", "no")], Sse::new(events).keep_alive(KeepAlive::default())))
}
