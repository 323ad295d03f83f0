//! Imports by URL (PeerTube's `POST /videos/imports`): yt-dlp downloads from a local HTTP server
//! (a video file, a page with a `<video>` and OpenGraph tags) through the SSRF guard's proxy,
//! then the video is transcoded as an upload; private addresses, torrents and files over the cap
//! are refused; imports are listed, cancelled, retried and deleted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, clip, db_tests, require_yt_dlp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

db_tests!(
    videos_are_imported_from_a_file_and_from_a_page,
    imports_refuse_private_addresses_torrents_and_files_over_the_cap,
    imports_are_cancelled_retried_and_deleted,
    what_the_owner_sets_during_the_download_is_kept,
);

async fn channel_id(t: &TestInstance, token: &str) -> i64 {
    t.api.get("/api/v1/users/me", Some(token)).await.1["videoChannels"][0]["id"].as_i64().unwrap()
}

async fn import(t: &TestInstance, token: &str, body: Value) -> (StatusCode, Value) {
    t.api.post("/api/v1/videos/imports", Some(token), body).await
}

async fn my_imports(t: &TestInstance, token: &str) -> Value {
    let (status, body) = t.api.get("/api/v1/users/me/videos/imports", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn imported(t: &TestInstance, token: &str, id: i64) -> Value {
    let list = my_imports(t, token).await;
    list["data"].as_array().unwrap().iter().find(|i| i["id"] == id).cloned().expect("listed")
}

async fn videos_are_imported_from_a_file_and_from_a_page(backend: Backend) {
    require_yt_dlp();
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let site = FakeServer::start().await;
    let mp4 = std::fs::read(clip(t.dir.path(), "source.mp4", 320, 180, 2)).unwrap();
    site.serve_typed("/files/harbour.mp4", "video/mp4", mp4.clone());
    site.serve_typed("/media/film.mp4", "video/mp4", mp4.clone());
    let page = "<!doctype html><html><head><title>Film night</title>\
        <meta property=\"og:title\" content=\"Film night at the harbour\">\
        <meta property=\"og:description\" content=\"Boats and lights.\">\
        <meta property=\"og:video\" content=\"/media/film.mp4\">\
        <meta property=\"og:video:type\" content=\"video/mp4\"></head>\
        <body><video src=\"/media/film.mp4\" controls></video></body></html>";
    site.serve_typed("/watch/film", "text/html; charset=utf-8", page.as_bytes().to_vec());
    let token = t.user("ines").await;
    let channel = channel_id(&t, &token).await;

    // A direct file, named by the importer.
    let file_url = format!("{}/files/harbour.mp4", site.base);
    let (status, body) =
        import(&t, &token, json!({ "targetUrl": file_url, "channelId": channel, "name": "Harbour", "privacy": 1 }))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], json!({ "id": 1, "label": "Pending" }), "{body}");
    assert_eq!(body["targetUrl"], file_url);
    assert_eq!(body["video"]["state"], json!({ "id": 3, "label": "To import" }), "{body}");
    let first = body["id"].as_i64().unwrap();
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not shown to others before it is published");

    // A page: yt-dlp's generic extractor finds the video; its title names the video.
    let page_url = format!("{}/watch/film", site.base);
    let (status, body) = import(&t, &token, json!({ "targetUrl": page_url, "channelId": channel })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["id"].as_i64().unwrap();
    let page_uuid = body["video"]["uuid"].as_str().unwrap().to_string();

    t.run_jobs().await;
    t.run_jobs().await;
    for (id, uuid) in [(first, &uuid), (second, &page_uuid)] {
        let i = imported(&t, &token, id).await;
        assert_eq!(i["state"], json!({ "id": 2, "label": "Success" }), "{i}");
        assert_eq!(i["error"], Value::Null);
        let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["state"]["id"], 1, "transcoded and published: {v}");
        assert_eq!(v["duration"], 2);
        assert!(!v["streamingPlaylists"][0]["files"].as_array().unwrap().is_empty(), "{v}");
    }
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "Harbour", "the importer's name is kept");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{page_uuid}"), None).await;
    assert!(v["name"].as_str().unwrap().starts_with("Film night"), "the page's title: {v}");
    assert_eq!(v["description"], "Boats and lights.", "{v}");
    // The files were fetched, through the proxy (the page, then what it points at).
    let gets = site.gets.lock().unwrap().clone();
    assert!(gets.iter().any(|p| p == "/files/harbour.mp4"), "{gets:?}");
    assert!(gets.iter().any(|p| p == "/watch/film") && gets.iter().any(|p| p == "/media/film.mp4"), "{gets:?}");
    let list = my_imports(&t, &token).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["data"][0]["id"], second, "newest first");
    let leftovers: Vec<_> =
        std::fs::read_dir(t.config.data_dir.join("tmp/imports")).map(|d| d.collect::<Vec<_>>()).unwrap_or_default();
    assert!(leftovers.is_empty(), "no download left behind: {leftovers:?}");
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["import"]["videos"]["http"]["enabled"], true);
    t.stop().await;
}

/// A server that sends a video file without end (no `Content-Length`), counting what it sent.
async fn endless_server() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nConnection: close\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![0u8; 64 * 1024];
                // At most 1 GB, in case nothing cuts it.
                for _ in 0..16_384 {
                    if s.write_all(&chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (base, sent)
}

async fn imports_refuse_private_addresses_torrents_and_files_over_the_cap(backend: Backend) {
    require_yt_dlp();
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.import.max_size = 100_000;
    })
    .await;
    let token = t.user("rafa").await;
    let channel = channel_id(&t, &token).await;

    // Refused at once, nothing made: private and reserved addresses, other schemes, credentials.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/video.mp4",
        "http://[fd00::1]/video.mp4",
        "ftp://example.org/video.mp4",
        "file:///etc/passwd",
        "http://user:secret@127.0.0.1/video.mp4",
        "not a url",
    ] {
        let (status, body) = import(&t, &token, json!({ "targetUrl": url, "channelId": channel })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(body["invalid-params"]["targetUrl"].is_object(), "{url}: {body}");
    }
    let (status, body) = import(&t, &token, json!({ "channelId": channel })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567";
    let (status, body) = import(&t, &token, json!({ "magnetUri": magnet, "channelId": channel })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "torrent_import_unsupported");
    let form = flotilla_testkit::reqwest::multipart::Form::new().text("channelId", channel.to_string()).part(
        "torrentfile",
        flotilla_testkit::reqwest::multipart::Part::bytes(b"d4:infoe".to_vec()).file_name("a.torrent"),
    );
    let req = t.api.http.post(t.api.url("/api/v1/videos/imports")).bearer_auth(&token).multipart(form);
    let (status, body) = t.api.send(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "torrent_import_unsupported");
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&token)).await;
    assert_eq!(mine["data"], json!([]), "no video made");

    // A page on an allowed server that points yt-dlp at a private address: the proxy refuses the
    // connection, and the import fails saying so.
    let site = FakeServer::start().await;
    let page = "<html><head><title>Trap</title></head><body>\
        <video src=\"http://10.255.255.1/secret.mp4\"></video></body></html>";
    site.serve_typed("/trap", "text/html", page.as_bytes().to_vec());
    let (status, body) =
        import(&t, &token, json!({ "targetUrl": format!("{}/trap", site.base), "channelId": channel })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let trap = body["id"].as_i64().unwrap();
    t.run_jobs().await;
    let i = imported(&t, &token, trap).await;
    assert_eq!(i["state"]["id"], 3, "{i}");
    let error = i["error"].as_str().unwrap();
    assert!(error.contains("10.255.255.1") && error.contains("private"), "{error}");
    assert_eq!(i["video"]["state"]["id"], 3, "its video never got a file: {i}");

    // A file larger than the cap, sent without its length: cut off mid-way.
    let (endless, sent) = endless_server().await;
    let (status, body) =
        import(&t, &token, json!({ "targetUrl": format!("{endless}/big.mp4"), "channelId": channel })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let big = body["id"].as_i64().unwrap();
    t.run_jobs().await;
    let i = imported(&t, &token, big).await;
    assert_eq!(i["state"]["id"], 3, "{i}");
    assert!(i["error"].as_str().unwrap().contains("larger than"), "{i}");
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent > 0 && sent < 40 * 1024 * 1024, "the transfer was cut short: {sent} bytes sent");
    let leftovers: Vec<_> =
        std::fs::read_dir(t.config.data_dir.join("tmp/imports")).map(|d| d.collect::<Vec<_>>()).unwrap_or_default();
    assert!(leftovers.is_empty(), "nothing left behind: {leftovers:?}");

    // Not a video at all: the upload's probe refuses it.
    site.serve_typed("/notes.mp4", "video/mp4", b"these are not frames".repeat(100));
    let (_, body) =
        import(&t, &token, json!({ "targetUrl": format!("{}/notes.mp4", site.base), "channelId": channel })).await;
    let notes = body["id"].as_i64().unwrap();
    t.run_jobs().await;
    let i = imported(&t, &token, notes).await;
    assert_eq!(i["state"]["id"], 3, "{i}");
    assert!(i["error"].as_str().unwrap().contains("not a video"), "{i}");
    assert_eq!(t.api.get("/api/v1/config", None).await.0, StatusCode::OK, "still up");
    t.stop().await;
}

async fn imports_are_cancelled_retried_and_deleted(backend: Backend) {
    require_yt_dlp();
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let site = FakeServer::start().await;
    let token = t.user("cleo").await;
    let other = t.user("omar").await;
    let channel = channel_id(&t, &token).await;

    // A download that would never end, cancelled while it runs: the transfer stops.
    let (endless, sent) = endless_server().await;
    let (_, body) =
        import(&t, &token, json!({ "targetUrl": format!("{endless}/long.mp4"), "channelId": channel })).await;
    let long = body["id"].as_i64().unwrap();
    let waiting = body["video"]["uuid"].as_str().unwrap().to_string();
    let mut running = Value::Null;
    for _ in 0..200 {
        running = imported(&t, &token, long).await;
        if running["state"]["id"] == 6 && running["downloadedBytes"].as_i64().is_some_and(|b| b > 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(running["state"], json!({ "id": 6, "label": "Processing" }), "{running}");
    let (status, _) = t.api.delete(&format!("/api/v1/videos/imports/{long}"), Some(&token)).await;
    assert_eq!(status, StatusCode::CONFLICT, "running: cancel it first");
    let (status, _) = t.api.post(&format!("/api/v1/videos/imports/{long}/cancel"), Some(&other), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not theirs");
    let (status, _) = t.api.post(&format!("/api/v1/videos/imports/{long}/cancel"), Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(imported(&t, &token, long).await["state"], json!({ "id": 5, "label": "Cancelled" }));
    t.run_jobs().await;
    let before = sent.load(Ordering::Relaxed);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(sent.load(Ordering::Relaxed), before, "the download stopped");
    let (status, _) = t.api.post(&format!("/api/v1/videos/imports/{long}/cancel"), Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "cancelled already");
    // Deleted, the cancelled import takes its waiting video with it.
    assert_eq!(t.api.get(&format!("/api/v1/videos/{waiting}"), Some(&token)).await.0, StatusCode::OK);
    let (status, _) = t.api.delete(&format!("/api/v1/videos/imports/{long}"), Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(t.api.get(&format!("/api/v1/videos/{waiting}"), Some(&token)).await.0, StatusCode::NOT_FOUND);

    // A URL that answers 404 fails with yt-dlp's reason; once the file is there, a retry brings it.
    let url = format!("{}/later.mp4", site.base);
    let (_, body) = import(&t, &token, json!({ "targetUrl": url, "channelId": channel, "name": "Later" })).await;
    let id = body["id"].as_i64().unwrap();
    let video = body["video"]["uuid"].as_str().unwrap().to_string();
    t.run_jobs().await;
    let i = imported(&t, &token, id).await;
    assert_eq!(i["state"]["id"], 3, "{i}");
    assert!(i["error"].as_str().unwrap().contains("404"), "yt-dlp's reason: {i}");
    site.serve_typed("/later.mp4", "video/mp4", std::fs::read(clip(t.dir.path(), "c.mp4", 320, 180, 1)).unwrap());
    let (status, _) = t.api.post(&format!("/api/v1/videos/imports/{id}/retry"), Some(&other), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.api.post(&format!("/api/v1/videos/imports/{id}/retry"), Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;
    t.run_jobs().await;
    let i = imported(&t, &token, id).await;
    assert_eq!(i["state"]["id"], 2, "{i}");
    assert_eq!(i["error"], Value::Null);
    let (status, _) = t.api.post(&format!("/api/v1/videos/imports/{id}/retry"), Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "a successful import is not retried");
    let (status, v) = t.api.get(&format!("/api/v1/videos/{video}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["name"], "Later");
    // Deleting a successful import keeps its video.
    let (status, _) = t.api.delete(&format!("/api/v1/videos/imports/{id}"), Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(my_imports(&t, &token).await["total"], 0);
    assert_eq!(t.api.get(&format!("/api/v1/videos/{video}"), None).await.0, StatusCode::OK);
    t.stop().await;
}

/// A server that sends `bytes` as a video file slowly (4 KiB every 100 ms).
async fn slow_server(bytes: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bytes = Arc::new(bytes);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                );
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for chunk in bytes.chunks(4096) {
                    if s.write_all(chunk).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            });
        }
    });
    base
}

async fn what_the_owner_sets_during_the_download_is_kept(backend: Backend) {
    require_yt_dlp();
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = t.user("nora").await;
    let channel = channel_id(&t, &token).await;
    let base = slow_server(std::fs::read(clip(t.dir.path(), "slow.mp4", 320, 180, 2)).unwrap()).await;
    let (_, body) = import(&t, &token, json!({ "targetUrl": format!("{base}/slow.mp4"), "channelId": channel })).await;
    let id = body["id"].as_i64().unwrap();
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    let provisional = body["video"]["name"].as_str().unwrap().to_string();
    assert!(provisional.contains("slow.mp4"), "{provisional}");
    let (status, _) = t
        .api
        .put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "name": "My slow film", "description": "Mine" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;
    t.run_jobs().await;
    assert_eq!(imported(&t, &token, id).await["state"]["id"], 2);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(v["name"], "My slow film", "the owner's name stays: {v}");
    assert_eq!(v["description"], "Mine");
    t.stop().await;
}
