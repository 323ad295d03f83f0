//! `/tracker/socket`: the WebSocket transport of `flotilla_tracker`. One task per connection reads
//! frames (at most 64 KiB, closed after an idle spell) into the tracker and writes what the tracker
//! queued for it; a connection the tracker drops (too slow, or refused) is closed after the
//! failure frame is flushed.

use std::sync::Arc;

use futures_util::SinkExt;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use flotilla_app::App;
use flotilla_tracker::{IDLE_TIMEOUT, MAX_MESSAGE_BYTES, Outgoing, Tracker};

use crate::error::ApiError;
use crate::extract::ClientIp;

/// The tracker, with the admission of this instance's videos, and its expiry task.
pub fn start(app: &Arc<App>) -> Arc<Tracker> {
    let for_admit = Arc::downgrade(app);
    let tracker = Tracker::new(Arc::new(move |ih: String| {
        let app = for_admit.upgrade();
        Box::pin(async move {
            match app {
                Some(app) => flotilla_app::video::p2p_video_of(&app, &ih).await,
                None => Err(()),
            }
        })
    }));
    let weak = Arc::downgrade(&tracker);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            let Some(t) = weak.upgrade() else { break };
            t.expire(flotilla_tracker::PEER_TTL);
        }
    });
    tracker
}

/// `GET /tracker/socket` (WebSocket upgrade).
pub async fn socket(
    State(app): State<Arc<App>>,
    Extension(tracker): Extension<Arc<Tracker>>,
    ClientIp(ip): ClientIp,
    ws: WebSocketUpgrade,
) -> Response {
    if !app.config.p2p.enabled {
        return ApiError::not_found("P2P is turned off on this instance").into_response();
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        // Small buffers: thousands of idle viewers must stay cheap.
        .read_buffer_size(4096)
        // Frames are written when a batch is flushed or passes 4 KiB (what stays allocated).
        .write_buffer_size(4096)
        .on_upgrade(move |socket| async move {
            match tracker.connect(ip) {
                Ok((conn, out)) => serve(&tracker, conn, out, socket).await,
                Err(why) => close(socket, why).await,
            }
        })
}

async fn close(mut socket: WebSocket, reason: &str) {
    let frame = CloseFrame { code: 1008, reason: reason.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Writes `first` and whatever else is queued behind it, then flushes once: a peer that is sent
/// several frames at once (the answers to its offers) costs one write, not one each.
async fn write_queued(socket: &mut WebSocket, out: &mut Outgoing, first: Option<String>) -> bool {
    let mut next = first;
    loop {
        let f = match next.take() {
            Some(f) => f,
            None => match out.rx.try_recv() {
                Ok(f) => f,
                Err(_) => break,
            },
        };
        out.sent(f.len());
        if socket.feed(Message::Text(f.into())).await.is_err() {
            return false;
        }
    }
    socket.flush().await.is_ok()
}

async fn serve(tracker: &Tracker, conn: u64, mut out: Outgoing, mut socket: WebSocket) {
    // One timer per connection, moved forward only when it fires: re-arming it on every frame
    // would cost a timer-wheel update per message.
    let mut last_frame = tokio::time::Instant::now();
    let idle = tokio::time::sleep(IDLE_TIMEOUT);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    last_frame = tokio::time::Instant::now();
                    if let Err(why) = tracker.message(conn, text.as_str()).await {
                        write_queued(&mut socket, &mut out, None).await;
                        tracker.disconnect(conn);
                        close(socket, &format!("{why:?}")).await;
                        return;
                    }
                    // The response to an announce is queued by now: written without another turn.
                    if !out.rx.is_empty() && !write_queued(&mut socket, &mut out, None).await {
                        break;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    tracker.disconnect(conn);
                    close(socket, "text frames only").await;
                    return;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
            frame = out.rx.recv() => match frame {
                Some(f) => {
                    if !write_queued(&mut socket, &mut out, Some(f)).await {
                        break;
                    }
                }
                // The tracker let this connection go (it read too slowly).
                None => {
                    close(socket, "too slow").await;
                    return;
                }
            },
            _ = &mut idle => {
                let deadline = last_frame + IDLE_TIMEOUT;
                if deadline > tokio::time::Instant::now() {
                    idle.as_mut().reset(deadline);
                    continue;
                }
                tracker.disconnect(conn);
                close(socket, "idle").await;
                return;
            }
        }
    }
    tracker.disconnect(conn);
}

/// The tracker's lines for `/metrics`.
pub fn prometheus(t: &Tracker) -> String {
    let s = t.stats();
    format!(
        "# HELP flotilla_tracker_connections Open tracker WebSocket connections.\n\
         # TYPE flotilla_tracker_connections gauge\nflotilla_tracker_connections {}\n\
         # HELP flotilla_tracker_swarms Swarms (video renditions) with peers.\n\
         # TYPE flotilla_tracker_swarms gauge\nflotilla_tracker_swarms {}\n\
         # HELP flotilla_tracker_peers Peers in all swarms.\n\
         # TYPE flotilla_tracker_peers gauge\nflotilla_tracker_peers {}\n\
         # HELP flotilla_tracker_messages_total Frames received by the tracker.\n\
         # TYPE flotilla_tracker_messages_total counter\nflotilla_tracker_messages_total {}\n\
         # HELP flotilla_tracker_relayed_total Offers and answers relayed between peers.\n\
         # TYPE flotilla_tracker_relayed_total counter\nflotilla_tracker_relayed_total {}\n\
         # HELP flotilla_tracker_refused_total Frames refused (unknown info hash, malformed, over a limit).\n\
         # TYPE flotilla_tracker_refused_total counter\nflotilla_tracker_refused_total {}\n",
        s.connections, s.swarms, s.peers, s.messages, s.relayed, s.refused
    )
}
