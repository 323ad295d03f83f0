//! The HTTP server's accept loop: what `axum::serve` does (HTTP/1.1 with upgrades for the
//! tracker's WebSockets, the peer address as `ConnectInfo`, graceful shutdown), plus the limits it
//! cannot set, so that slow or idle clients cannot hold the server:
//!
//! - a header read timeout (hyper's, on tokio's timer): a client that has not sent a whole request
//!   head in time is disconnected; between requests the same clock closes idle keep-alive
//!   connections;
//! - an inactivity timeout on request bodies: a body that sends nothing for that long ends its
//!   request with 408 and the connection. It counts between reads, never in total, so uploads of
//!   any size work while bytes flow;
//! - a cap on open connections. Past it a new connection is answered 503 and closed at once: a
//!   client learns the server is full instead of waiting unanswered in the kernel's queue, and the
//!   accept loop never stops, so the server keeps taking connections as soon as one closes.
//!
//! Owns connections; the router (`flotilla_api`) owns requests.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;
use tower_http::timeout::{TimeoutBody, TimeoutError};

/// The limits of [`serve`], from `[http]`.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn of(http: &flotilla_app::config::HttpConfig) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(http.header_read_timeout_secs),
            body_idle_timeout: Duration::from_secs(http.body_idle_timeout_secs),
            max_connections: http.max_connections,
        }
    }
}

/// What a connection past the cap is told before it is closed. Written with one non-blocking
/// write on a fresh socket (whose send buffer is empty), so refusing costs no task and no wait.
const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\
Content-Type: text/plain\r\nContent-Length: 43\r\n\r\nThis server has too many connections open.\n";

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets requests in
/// flight finish (idle connections, and those still sending a first request's head, close at once)
/// and returns when every connection has ended.
/// Upgraded connections (WebSockets) are not waited for: they belong to their handlers then.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    // `true` once shutdown begins: each connection then finishes its request and closes.
    let (stopping_tx, stopping_rx) = watch::channel(false);
    // Every connection task holds a receiver; the sender sees them all gone when they have ended.
    let (ended_tx, ended_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    // Whether the last connection was refused: one warning per spell of refusals, not one each.
    let mut full = false;
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !full {
                tracing::warn!(
                    max = limits.max_connections,
                    "too many connections open: refusing new ones (http.max_connections)"
                );
                full = true;
            }
            let _ = tcp.try_write(FULL);
            continue;
        };
        full = false;
        // TCP_NODELAY: small API responses and playlists must not wait on Nagle (DESIGN §2).
        let _ = tcp.set_nodelay(true);
        let io = TokioIo::new(Counted { slot: Some(slot), tcp });
        let started = Arc::new(AtomicBool::new(false));
        let service = request_service(router.clone(), remote, limits.body_idle_timeout, started.clone());
        let conn = http.serve_connection(io, hyper::service::service_fn(service)).with_upgrades();
        let mut stopping = stopping_rx.clone();
        let ended = ended_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = async { stopping.wait_for(|s| *s).await.map(|_| ()) } => {
                    // hyper closes idle connections at once but waits for a first request whose
                    // head is still coming: a slowloris would hold the stop for the whole header
                    // timeout. With no request begun there is nothing in flight to finish.
                    if !started.load(Ordering::Acquire) {
                        return;
                    }
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts, resets and clients that hang up: routine, and the client's to fix.
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
            drop(ended);
        });
    }
    // No more connections: the port is free from here on.
    drop(listener);
    let _ = stopping_tx.send(true);
    drop(ended_rx);
    ended_tx.closed().await;
    Ok(())
}

/// A request's response, as hyper's `service_fn` wants it.
type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The per-request half of a connection: the peer address for `ConnectInfo`, the body behind the
/// inactivity timeout, and 408 for a request whose body stalled. `started` records that the
/// connection has begun a request.
fn request_service(
    router: axum::Router,
    remote: SocketAddr,
    body_idle: Duration,
    started: Arc<AtomicBool>,
) -> impl Fn(Request<Incoming>) -> Answer + Clone {
    move |req: Request<Incoming>| {
        started.store(true, Ordering::Release);
        let router = router.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            parts.extensions.insert(ConnectInfo(remote));
            // A request without a body (most GETs: every segment and playlist) has nothing to
            // time out: no timer, no flag.
            let stalled = (!hyper::body::Body::is_end_stream(&body)).then(|| Arc::new(AtomicBool::new(false)));
            let body = match &stalled {
                None => axum::body::Body::new(body),
                Some(stalled) => {
                    let flag = stalled.clone();
                    // tower-http's timer starts when the body is polled and restarts with every
                    // frame: it measures the client's silence, not the handler's own pace.
                    axum::body::Body::new(TimeoutBody::new(body_idle, body).map_err(move |e| {
                        if e.is::<TimeoutError>() {
                            flag.store(true, Ordering::Relaxed);
                        }
                        e
                    }))
                }
            };
            let req = Request::from_parts(parts, body);
            let resp = router.oneshot(req).await.unwrap_or_else(|never| match never {});
            if stalled.is_some_and(|s| s.load(Ordering::Relaxed)) {
                // Whatever the handler answered was built on part of a body: say what happened.
                return Ok(body_stalled(body_idle));
            }
            Ok(resp)
        })
    }
}

fn body_stalled(after: Duration) -> Response {
    let mut resp = flotilla_api::ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!("the request body sent nothing for {} s", after.as_secs()),
    )
    .into_response();
    // The rest of the body may still come; the connection cannot be reused.
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// `accept` failed. Errors of one connection (reset before it was accepted) are skipped; others
/// (out of file descriptors) are logged and retried after a pause, as `axum::serve` does, rather
/// than spinning.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection (out of file descriptors? raise the open-file limit)");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A connection holding one of the capped slots. The slot is given back when the server shuts
/// its side down or drops the socket, whichever comes first — before the client sees the close,
/// so a client that saw its connection end can count on the slot being free. (The field order
/// matters: fields drop in order, the slot before the socket.)
struct Counted {
    slot: Option<OwnedSemaphorePermit>,
    tcp: TcpStream,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.slot.take();
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Raises the soft open-file limit to the hard one (as Go's runtime does: the soft limit of a
/// login shell, 1024, is far below what a server with thousands of viewers needs, while the hard
/// limit is usually much higher), then warns when it is still too low for `max_connections`
/// sockets: past the limit, `accept` fails before the cap is reached. Returns the soft limit now
/// in force, if known.
pub fn check_open_file_limit(max_connections: usize) -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => limit = getrlimit(Resource::Nofile),
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit to its maximum"),
        }
    }
    // The database, data files, ffmpeg's pipes and outgoing requests need descriptors too.
    const SPARE: u64 = 256;
    if let Some(soft) = limit.current
        && soft < max_connections as u64 + SPARE
    {
        tracing::warn!(
            open_file_limit = soft,
            max_connections,
            "the open-file limit is below http.max_connections plus {SPARE}: raise it (systemd: LimitNOFILE) or \
             lower http.max_connections"
        );
    }
    limit.current
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_is_a_whole_http_response() {
        let text = std::str::from_utf8(super::FULL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        let len = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), body.len());
    }
}
