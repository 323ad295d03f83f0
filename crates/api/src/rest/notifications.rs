//! A user's notifications (PeerTube's `/users/me/notifications…`, `/users/me/notification-settings`)
//! and our live stream of them, `GET /users/me/notifications/stream` (server-sent events).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use flotilla_app::{App, notification};
use futures_util::Stream;
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

/// `GET /api/v1/users/me/notifications/stream` — server-sent events: `unread` first (`{"unread": n}`),
/// then each new `notification` as the list shows it; `lagged` when some were missed (the client
/// reloads its list). Ends when the server stops.
pub async fn stream(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let user = who.user.id;
    let unread = notification::unread_count(&app, user).await?;
    let first = Event::default().event("unread").data(json!({ "unread": unread }).to_string());
    let rx = app.notifications.subscribe();
    let stopping = app.stopping.subscribe();
    let state = (app, rx, stopping, Some(first));
    let events = futures_util::stream::unfold(state, move |(app, mut rx, mut stopping, first)| async move {
        if let Some(f) = first {
            return Some((Ok(f), (app, rx, stopping, None)));
        }
        loop {
            let next = tokio::select! {
                n = rx.recv() => n,
                _ = stopping.wait_for(|s| *s) => return None,
            };
            let event = match next {
                Ok((u, id)) if u == user => match notification::for_stream(&app, user, id).await {
                    Ok(Some(n)) => Event::default().event("notification").data(n.to_string()),
                    _ => continue,
                },
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Event::default().event("lagged").data("{}"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), (app, rx, stopping, None)));
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
