//! The HTTP server's own limits (`flotilla::serve`), spoken to over raw TCP: a client trickling
//! its headers is cut off at the header timeout while others are served, a request body that
//! stalls ends with 408 while one that keeps flowing outlives the same timeout, connections past
//! the cap (WebSockets included) are refused until one closes, and a stop lets a request in flight
//! finish. Nothing here depends on the database, so each test runs on SQLite only.
//!
//! Waiting is always for an event (a read returning, a response); the `SAFETY` timeout only stops
//! a broken server from hanging the suite, and is far longer than any limit under test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::{Backend, TestInstance};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any test waits for an event before calling the server broken.
const SAFETY: Duration = Duration::from_secs(60);

/// Reads until the server closes the connection (end of stream, or a reset); what it sent.
async fn read_to_close(s: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads a response's head (through the blank line); the connection stays open.
async fn read_head(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.expect("read");
        assert_eq!(n, 1, "the connection closed before a whole head: {}", String::from_utf8_lossy(&got));
        got.push(byte[0]);
    }
    String::from_utf8(got).expect("an ASCII head")
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: flotilla.test\r\n\r\n").into_bytes()
}

/// A connection that sent a whole GET and got the head of a 200: the server took it and is
/// keeping it open.
async fn served_connection(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&get("/api/v1/config")).await.expect("write");
    let head = tokio::time::timeout(SAFETY, read_head(&mut s)).await.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_one_header_byte_per_second_is_disconnected_at_the_header_timeout() {
    let t = TestInstance::start_with(Backend::Sqlite, |c| c.http.header_read_timeout_secs = 2).await;
    // 120 bytes at one a second would take two minutes: longer than SAFETY, so only the server
    // cutting the client off ends this test in time.
    let head = format!("GET /api/v1/config HTTP/1.1\r\nHost: flotilla.test\r\nX-Slow: {}\r\n\r\n", "a".repeat(58));
    assert_eq!(head.len(), 120);
    let (mut rd, mut wr) = TcpStream::connect(t.instance.addr).await.unwrap().into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let sent_w = sent.clone();
    let writer = tokio::spawn(async move {
        for b in head.bytes() {
            if wr.write_all(&[b]).await.is_err() {
                break;
            }
            sent_w.fetch_add(1, Ordering::SeqCst);
            // The attack's pace, not a wait for the server.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        std::future::pending::<()>().await;
    });
    let answer = tokio::time::timeout(SAFETY, read_to_close(&mut rd))
        .await
        .expect("the server should have closed a connection whose headers never end");
    let sent = sent.load(Ordering::SeqCst);
    writer.abort();
    assert!(answer.is_empty(), "nothing is answered to a request that never arrived: {answer:?}");
    assert!(sent < 120, "cut off before its headers were complete ({sent} of 120 bytes sent)");
    // The server is fine.
    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_client_is_served_while_slowloris_clients_hang() {
    // A header timeout far longer than the test: the slow clients are still connected at the end,
    // so the normal request was served while they hung, not after they were cut off.
    let t = TestInstance::start_with(Backend::Sqlite, |c| c.http.header_read_timeout_secs = 3600).await;
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(t.instance.addr).await.unwrap();
        s.write_all(format!("GET /api/v1/config HTTP/1.1\r\nHost: flotilla.test\r\nX-Slow-{i}: a").as_bytes())
            .await
            .unwrap();
        slow.push(s);
    }
    let (status, config) = tokio::time::timeout(SAFETY, t.api.get("/api/v1/config", None))
        .await
        .expect("a normal client should not wait for the slow ones");
    assert_eq!(status, StatusCode::OK, "{config}");
    for s in &slow {
        let mut buf = [0u8; 16];
        match s.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a slow client should still be waiting, unanswered: {other:?}"),
        }
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_stalls_ends_with_408_while_others_are_served() {
    let t = TestInstance::start_with(Backend::Sqlite, |c| c.http.body_idle_timeout_secs = 2).await;
    let mut s = TcpStream::connect(t.instance.addr).await.unwrap();
    // 100 bytes announced, 14 sent, then nothing (the connection stays open).
    s.write_all(
        b"POST /api/v1/metrics/playback HTTP/1.1\r\nHost: flotilla.test\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"videoId\": 1,",
    )
    .await
    .unwrap();
    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK, "others are answered meanwhile");
    let answer = tokio::time::timeout(SAFETY, read_to_close(&mut s))
        .await
        .expect("the server should have ended a request whose body stopped coming");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    let metrics = t.api.http.get(t.api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flotilla_playback_reports_total 0\n"), "the partial report was not counted");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_that_keeps_flowing_outlives_the_body_timeout() {
    let t = TestInstance::start_with(Backend::Sqlite, |c| c.http.body_idle_timeout_secs = 2).await;
    let body = br#"{"videoId":1,"playerMode":"p2p-media-loader","downloadedBytesP2P":10,"downloadedBytesHTTP":20}"#;
    let mut s = TcpStream::connect(t.instance.addr).await.unwrap();
    s.write_all(
        format!(
            "POST /api/v1/metrics/playback HTTP/1.1\r\nHost: flotilla.test\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Ten pieces half a second apart: five seconds in all, more than twice the timeout, with
    // never more than a quarter of it between two reads.
    for piece in body.chunks(body.len().div_ceil(10)) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.write_all(piece).await.unwrap();
    }
    let head = tokio::time::timeout(SAFETY, read_head(&mut s)).await.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 204 "), "{head}");
    let metrics = t.api.http.get(t.api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flotilla_playback_downloaded_bytes_total{source=\"p2p\"} 10\n"), "{metrics}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_until_one_closes_and_websockets_count() {
    let t = TestInstance::start_with(Backend::Sqlite, |c| {
        c.http.max_connections = 3;
        c.http.header_read_timeout_secs = 3600;
    })
    .await;
    let addr = t.instance.addr;
    // A tracker WebSocket (the upgrade works through the capped server) and two keep-alive
    // connections fill the three slots.
    let mut ws = TcpStream::connect(addr).await.unwrap();
    ws.write_all(
        b"GET /tracker/socket HTTP/1.1\r\nHost: flotilla.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let head = tokio::time::timeout(SAFETY, read_head(&mut ws)).await.expect("the upgrade is answered");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let mut held = vec![served_connection(addr).await, served_connection(addr).await];

    let refused = |why: &'static str| async move {
        let mut s = TcpStream::connect(addr).await.expect("the kernel still completes the handshake");
        let answer = tokio::time::timeout(SAFETY, read_to_close(&mut s)).await.expect("refused at once");
        let text = String::from_utf8_lossy(&answer).to_string();
        assert!(text.starts_with("HTTP/1.1 503 "), "{why}: {text}");
        assert!(text.contains("\r\nRetry-After: "), "{text}");
    };
    refused("a fourth connection").await;

    // One closes; once the client has seen the server's side close, its slot is free.
    let mut gone = held.pop().unwrap();
    gone.shutdown().await.unwrap();
    tokio::time::timeout(SAFETY, read_to_close(&mut gone)).await.expect("the server closes its side too");
    held.push(served_connection(addr).await);
    refused("full again").await;

    // The WebSocket holds its slot until it ends, then gives it back the same way.
    ws.shutdown().await.unwrap();
    tokio::time::timeout(SAFETY, read_to_close(&mut ws)).await.expect("the tracker ends the socket");
    held.push(served_connection(addr).await);
    refused("full once more").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_request_in_flight_finish_and_refuses_new_connections() {
    use axum::extract::State;
    use tokio::sync::Notify;

    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (e, r) = (entered.clone(), release.clone());
    let routes = axum::Router::new().route(
        "/test/in-flight",
        axum::routing::get(move |State(app): State<Arc<flotilla_app::App>>| async move {
            e.notify_one();
            r.notified().await;
            // The database is closed only after the server has finished: still usable here.
            match app.db.ping().await {
                Ok(()) => (StatusCode::OK, "finished".to_string()),
                Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
            }
        }),
    );
    let t = TestInstance::start_with_routes(Backend::Sqlite, routes).await;
    let addr = t.instance.addr;
    let (http, url) = (t.api.http.clone(), t.api.url("/test/in-flight"));
    let request = tokio::spawn(async move {
        let resp = http.get(url).send().await.expect("an answer");
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    });
    tokio::time::timeout(SAFETY, entered.notified()).await.expect("the request reached its handler");

    let TestInstance { instance, dir: _dir, .. } = t;
    let stopping = tokio::spawn(instance.stop_within(SAFETY));
    // The stop has begun once the port refuses connections.
    tokio::time::timeout(SAFETY, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the server stops accepting");
    assert!(!stopping.is_finished(), "the stop waits for the request in flight");

    release.notify_one();
    let (status, body) = tokio::time::timeout(SAFETY, request).await.expect("the request finishes").unwrap();
    assert_eq!((status, body.as_str()), (200, "finished"));
    tokio::time::timeout(SAFETY, stopping).await.expect("the stop ends once the request has").unwrap();
}
