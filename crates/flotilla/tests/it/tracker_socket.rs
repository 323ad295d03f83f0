//! The tracker at `/tracker/socket`, spoken to by real WebSocket clients: info hashes published in
//! the API and the ActivityPub object, offers and answers relayed, unknown swarms and bad frames
//! refused with the socket closed, metrics, and P2P turned off by the admin.

use std::time::Duration;

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

db_tests!(peers_of_a_video_find_each_other_and_strangers_are_refused, p2p_can_be_turned_off);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.unwrap_or_else(|e| panic!("connect {url}: {e}")).0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON frame, or `None` when the socket closes (or nothing comes within 5 s).
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// The close frame the server sends next (its code and reason); fails on a frame, a timeout, or a
/// connection dropped without one.
async fn close_frame(ws: &mut Ws) -> (u16, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a close frame within 5 s") {
            Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn published_video(t: &TestInstance) -> Value {
    let token = t.user("pia").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let file = clip(t.dir.path(), "c.mp4", 256, 144, 1);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", "Shared")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("c.mp4"));
    let (status, up) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{}", up["video"]["uuid"].as_str().unwrap()), None).await;
    v
}

fn peer(n: u8) -> String {
    format!("-PM0203-{n:0>12}")
}

async fn peers_of_a_video_find_each_other_and_strangers_are_refused(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let v = published_video(&t).await;
    let tracker = v["trackerUrls"][0].as_str().unwrap().to_string();
    assert_eq!(tracker, format!("ws://{}/tracker/socket", t.instance.addr));
    let hashes: Vec<String> = v["streamingPlaylists"][0]["p2pMediaLoaderInfohashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    assert_eq!(hashes.len(), 1, "one per rendition: {v}");
    assert_eq!(hashes[0].len(), 20);
    // The same swarms and tracker in the ActivityPub object, as PeerTube publishes them.
    let resp =
        t.api.http.get(v["url"].as_str().unwrap()).header("accept", "application/activity+json").send().await.unwrap();
    let ap: Value = resp.json().await.unwrap();
    let urls = ap["url"].as_array().unwrap();
    let hls = urls.iter().find(|u| u["mediaType"] == "application/x-mpegURL").unwrap();
    let tags: Vec<&str> = hls["tag"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "Infohash")
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tags, hashes.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(urls.iter().any(|u| u["name"] == "tracker-websocket" && u["href"] == tracker.as_str()), "{urls:?}");

    // Two viewers: the second's offer reaches the first, whose answer reaches the second.
    let ih = hashes[0].clone();
    let mut a = connect(&tracker).await;
    let mut b = connect(&tracker).await;
    let offers = |who: u8| {
        (0..5)
            .map(|i| json!({ "offer": { "type": "offer", "sdp": format!("v=0 from {who} #{i}") }, "offer_id": format!("\u{8f}\u{dd}{who}{i:0>17}") }))
            .collect::<Vec<_>>()
    };
    send(
        &mut a,
        json!({ "action": "announce", "info_hash": ih, "peer_id": peer(1), "numwant": 5, "event": "started",
                          "uploaded": 0, "downloaded": 0, "offers": offers(1) }),
    )
    .await;
    let r = next(&mut a).await.unwrap();
    assert_eq!(r, json!({ "action": "announce", "interval": 120, "info_hash": ih, "complete": 0, "incomplete": 1 }));
    send(
        &mut b,
        json!({ "action": "announce", "info_hash": ih, "peer_id": peer(2), "numwant": 5, "event": "started",
                          "offers": offers(2) }),
    )
    .await;
    assert_eq!(next(&mut b).await.unwrap()["incomplete"], 2);
    let offer = next(&mut a).await.unwrap();
    assert_eq!(offer["peer_id"], peer(2));
    assert!(offer["offer"]["sdp"].as_str().unwrap().starts_with("v=0 from 2"));
    assert!(offer["offer_id"].as_str().unwrap().starts_with("\u{8f}\u{dd}"), "binary-string ids survive: {offer}");
    send(
        &mut a,
        json!({ "action": "announce", "info_hash": ih, "peer_id": peer(1), "to_peer_id": peer(2),
                          "answer": { "type": "answer", "sdp": "v=0 answer" }, "offer_id": offer["offer_id"] }),
    )
    .await;
    let answer = next(&mut b).await.unwrap();
    assert_eq!(
        (answer["peer_id"].as_str(), answer["answer"]["sdp"].as_str()),
        (Some(peer(1).as_str()), Some("v=0 answer"))
    );
    // Scrape.
    send(&mut a, json!({ "action": "scrape", "info_hash": ih })).await;
    let s = next(&mut a).await.unwrap();
    assert_eq!(s["files"][&ih]["incomplete"], 2);

    // The metrics see them.
    let metrics = t.api.http.get(t.api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flotilla_tracker_connections 2"), "{metrics}");
    assert!(metrics.contains("flotilla_tracker_peers 2"), "{metrics}");

    // Strangers: an info hash of no video here, malformed JSON, an oversized frame: a failure
    // frame where the client can use one, and the socket closed. The instance keeps working.
    let mut c = connect(&tracker).await;
    send(&mut c, json!({ "action": "announce", "info_hash": "AAAAAAAAAAAAAAAAAAAA", "peer_id": peer(3) })).await;
    let f = next(&mut c).await.unwrap();
    assert!(f["failure reason"].as_str().unwrap().contains("unknown info_hash"), "{f}");
    // The failure frame first, then the close frame with the reason (1008: policy violation).
    let (code, reason) = close_frame(&mut c).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("unknown info_hash"), "{reason}");
    let mut c = connect(&tracker).await;
    c.send(Message::Text("{not json".into())).await.unwrap();
    assert!(next(&mut c).await.unwrap()["failure reason"].is_string());
    assert_eq!(close_frame(&mut c).await.0, 1008);
    // A binary frame: no failure frame (clients would not read it), the close frame says why.
    let mut c = connect(&tracker).await;
    c.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(close_frame(&mut c).await, (1008, "text frames only".to_string()));
    let mut c = connect(&tracker).await;
    let _ = c.send(Message::Text("x".repeat(70 * 1024).into())).await;
    assert_eq!(next(&mut c).await, None, "over 64 KiB: closed");
    // The two viewers are still served; a closed viewer leaves the swarm.
    drop(a);
    send(&mut b, json!({ "action": "announce", "info_hash": ih, "peer_id": peer(2) })).await;
    let mut r = next(&mut b).await.unwrap();
    for _ in 0..20 {
        if r["incomplete"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        send(&mut b, json!({ "action": "announce", "info_hash": ih, "peer_id": peer(2) })).await;
        r = next(&mut b).await.unwrap();
    }
    assert_eq!(r["incomplete"], 1, "{r}");
    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);

    // Players report what they took from peers and over HTTP; /metrics adds it up.
    let report = json!({ "playerMode": "p2p-media-loader", "resolution": 144, "fps": 25, "p2pEnabled": true,
                         "p2pPeers": 2, "resolutionChanges": 1, "errors": 0, "downloadedBytesP2P": 700_000,
                         "downloadedBytesHTTP": 300_000, "uploadedBytesP2P": 500_000, "videoId": v["id"] });
    for _ in 0..2 {
        let (status, body) = t.api.post("/api/v1/metrics/playback", None, report.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    for bad in [
        json!({ "downloadedBytesP2P": 1 }),
        json!({ "videoId": 1, "downloadedBytesHTTP": -5 }),
        json!({ "videoId": 1, "playerMode": "flash" }),
    ] {
        let (status, body) = t.api.post("/api/v1/metrics/playback", None, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    // The origin counts what it answered itself: a 1000-byte piece of a segment file, a 416 not.
    let playlist = v["streamingPlaylists"][0]["files"][0]["fileUrl"].as_str().unwrap().to_string();
    let resp = t.api.http.get(&playlist).header("Range", "bytes=0-999").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap().len(), 1000);
    let resp = t.api.http.get(&playlist).header("Range", "bytes=999999999-").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let metrics = t.api.http.get(t.api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flotilla_hls_served_bytes_total{kind=\"segment\"} 1000\n"), "{metrics}");
    assert!(metrics.contains("flotilla_playback_reports_total 2"), "{metrics}");
    assert!(metrics.contains("flotilla_playback_downloaded_bytes_total{source=\"p2p\"} 1400000"), "{metrics}");
    assert!(metrics.contains("flotilla_playback_downloaded_bytes_total{source=\"http\"} 600000"), "{metrics}");
    assert!(metrics.contains("flotilla_playback_uploaded_bytes_total 1000000"), "{metrics}");
    t.stop().await;
}

async fn p2p_can_be_turned_off(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.p2p.enabled = false;
    })
    .await;
    let v = published_video(&t).await;
    assert_eq!(v["trackerUrls"], json!([]));
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["tracker"]["enabled"], false);
    assert_eq!(config["defaults"]["p2p"]["webapp"]["enabled"], false);
    let url = format!("ws://{}/tracker/socket", t.instance.addr);
    assert!(tokio_tungstenite::connect_async(&url).await.is_err(), "no tracker");
    t.stop().await;
}
