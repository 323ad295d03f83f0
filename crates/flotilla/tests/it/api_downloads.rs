//! Web videos, downloads and torrents with the real ffmpeg: every file listed in `files[]` and
//! `streamingPlaylists[].files[]` is served and downloadable with the same bytes, its torrent is
//! read by a real torrent library (Python's `torf`, installed by `make test`) whose info hash,
//! pieces and web seed match the file, its magnet points at real URLs; downloads follow
//! `downloadEnabled` and the video's privacy; the `Video` object carries PeerTube's links; hostile
//! names and ids are refused.

use std::process::Command;

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(
    web_videos_downloads_and_torrents_match_the_files,
    downloads_follow_download_enabled_and_privacy,
    without_web_videos_the_hls_files_still_have_torrents,
    the_upload_is_listed_to_its_owner_until_transcoded,
    hostile_download_requests_are_refused,
    videos_transcoded_before_get_their_web_videos_and_torrents,
);

const READ_TORRENT: &str = r#"
import sys, json
try:
    import torf
except ImportError:
    sys.exit("torf is missing: run 'python3 -m pip install torf' (make test installs it)")
t = torf.Torrent.read(sys.argv[1])
ok = t.verify(sys.argv[2]) if len(sys.argv) > 2 else None
print(json.dumps({"infohash": t.infohash, "name": t.name, "size": t.size, "piece_size": t.piece_size,
                  "webseeds": list(t.webseeds), "trackers": [list(x) for x in t.trackers], "verified": ok}))
"#;

/// Reads a torrent with torf; with `file`, also checks every piece against that file's bytes.
fn read_torrent(dir: &std::path::Path, torrent: &[u8], file: Option<&[u8]>) -> Value {
    let tpath = dir.join("t.torrent");
    std::fs::write(&tpath, torrent).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(READ_TORRENT).arg(&tpath);
    if let Some(bytes) = file {
        let fpath = dir.join("content.bin");
        std::fs::write(&fpath, bytes).unwrap();
        cmd.arg(&fpath);
    }
    let out = cmd.output().expect("python3 runs");
    assert!(out.status.success(), "torf: {}", String::from_utf8_lossy(&out.stderr));
    flotilla_testkit::serde_json::from_slice(&out.stdout).unwrap()
}

async fn get_bytes(t: &TestInstance, url: &str, token: Option<&str>) -> (StatusCode, Vec<u8>, String) {
    let mut req = t.api.http.get(url);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let disposition =
        resp.headers().get("content-disposition").map(|v| v.to_str().unwrap_or("").to_string()).unwrap_or_default();
    (status, resp.bytes().await.unwrap().to_vec(), disposition)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The query parameters of a magnet URI, decoded.
fn magnet_params(m: &str) -> Vec<(String, String)> {
    let q = m.strip_prefix("magnet:?").expect("a magnet URI");
    q.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(&v.replace('+', " "))))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn web_videos_downloads_and_torrents_match_the_files(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240, 360]).await;
    let token = t.user("dora").await;
    let uuid = t.publish(&token, "Downloads: a clip", &[]).await;
    t.run_jobs().await;
    let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["transcoding"]["web_videos"]["enabled"], true);

    // The clip is 256×144: one rendition (144p, its own) in each kind.
    let web = v["files"].as_array().unwrap().clone();
    let hls = v["streamingPlaylists"][0]["files"].as_array().unwrap().clone();
    assert!(!web.is_empty() && web.len() == hls.len(), "a web video per rendition: {web:?} / {hls:?}");
    assert_eq!(v["trackerUrls"][0].as_str().unwrap(), format!("ws://{}/tracker/socket", t.instance.addr));
    let mut ids = Vec::new();
    for f in web.iter().chain(hls.iter()) {
        ids.push(f["id"].as_i64().unwrap());
        let file_url = f["fileUrl"].as_str().unwrap();
        let (status, bytes, _) = get_bytes(&t, file_url, None).await;
        assert_eq!(status, StatusCode::OK, "{file_url}");
        assert_eq!(bytes.len() as i64, f["size"].as_i64().unwrap(), "size of {file_url}");
        let (status, dl, disposition) = get_bytes(&t, f["fileDownloadUrl"].as_str().unwrap(), None).await;
        assert_eq!(status, StatusCode::OK, "{}", f["fileDownloadUrl"]);
        assert_eq!(dl, bytes, "the download is the file");
        assert!(disposition.starts_with("attachment;") && disposition.contains("Downloads: a clip-"), "{disposition}");

        // Its torrent, read by a real torrent library: pieces match the file, web seed is the file.
        let (status, torrent, _) = get_bytes(&t, f["torrentUrl"].as_str().unwrap(), None).await;
        assert_eq!(status, StatusCode::OK);
        let parsed = read_torrent(t.dir.path(), &torrent, Some(&bytes));
        assert_eq!(parsed["verified"], true, "{parsed}");
        assert_eq!(parsed["size"].as_i64(), f["size"].as_i64());
        assert_eq!(parsed["webseeds"], json!([file_url]));
        assert_eq!(parsed["trackers"][0][0].as_str().unwrap(), format!("ws://{}/tracker/socket", t.instance.addr));
        let (status, dl_torrent, disposition) = get_bytes(&t, f["torrentDownloadUrl"].as_str().unwrap(), None).await;
        assert_eq!((status, dl_torrent == torrent), (StatusCode::OK, true));
        assert!(disposition.contains(".torrent"), "{disposition}");

        // The magnet: its hash is the torrent's, its xs and ws answer.
        let params = magnet_params(f["magnetUri"].as_str().unwrap());
        let get = |k: &str| params.iter().filter(|(key, _)| key == k).map(|(_, v)| v.clone()).collect::<Vec<_>>();
        assert_eq!(get("xt"), vec![format!("urn:btih:{}", parsed["infohash"].as_str().unwrap())]);
        assert_eq!(get("dn"), vec!["Downloads: a clip".to_string()]);
        assert_eq!(get("xs"), vec![f["torrentUrl"].as_str().unwrap().to_string()]);
        assert_eq!(get("ws"), vec![file_url.to_string()]);
        for u in get("xs").iter().chain(get("ws").iter()) {
            assert_eq!(get_bytes(&t, u, None).await.0, StatusCode::OK, "{u}");
        }

        // What ffprobe reads in it, without the server's path.
        let (status, meta) =
            t.api.get(f["metadataUrl"].as_str().unwrap().split(&t.api.base).nth(1).unwrap(), None).await;
        assert_eq!(status, StatusCode::OK, "{meta}");
        assert!(meta["streams"].as_array().is_some_and(|s| s.len() == 2), "{meta}");
        assert!(meta["format"]["filename"].is_null(), "{meta}");
    }
    // A web video is a plain MP4 whose index comes first (plays and seeks while downloading).
    let (_, bytes, _) = get_bytes(&t, web[0]["fileUrl"].as_str().unwrap(), None).await;
    let (moov, mdat) = (find(&bytes, b"moov").unwrap(), find(&bytes, b"mdat").unwrap());
    assert!(moov < mdat, "faststart: moov at {moov}, mdat at {mdat}");
    assert!(find(&bytes, b"moof").is_none(), "not fragmented");

    // PeerTube's generated download: the file with the most pixels among those asked, the web one.
    let (status, generated, _) = get_bytes(
        &t,
        &t.api.url(&format!(
            "/download/videos/generate/{uuid}?videoFileIds={}&videoFileIds={}",
            ids[0],
            ids[ids.len() - 1]
        )),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(generated, bytes);

    // The `Video` object: web videos at the top with metadata, torrent and magnet; the HLS files'
    // torrents and magnets in the playlist's tags (PeerTube's sample).
    let resp = t
        .api
        .http
        .get(format!("{}/videos/watch/{uuid}", t.api.base))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    let object: Value = resp.json().await.unwrap();
    let urls = object["url"].as_array().unwrap();
    let types: Vec<&str> = urls.iter().filter_map(|u| u["mediaType"].as_str()).collect();
    assert_eq!(
        &types[..5],
        [
            "text/html",
            "video/mp4",
            "application/json",
            "application/x-bittorrent",
            "application/x-bittorrent;x-scheme-handler/magnet"
        ]
    );
    assert_eq!(urls[1]["href"], web[0]["fileUrl"]);
    assert_eq!(urls[1]["attachment"][2]["value"], "web-video");
    let hls_link = urls.iter().find(|u| u["mediaType"] == "application/x-mpegURL").unwrap();
    let torrents: Vec<&Value> =
        hls_link["tag"].as_array().unwrap().iter().filter(|x| x["mediaType"] == "application/x-bittorrent").collect();
    assert_eq!(torrents.len(), hls.len());
    assert_eq!(torrents[0]["href"], hls[0]["torrentUrl"]);
    t.stop().await;
}

async fn downloads_follow_download_enabled_and_privacy(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let owner = t.user("olga").await;
    let other = t.user("oscar").await;
    let uuid = t.publish(&owner, "No downloads", &[("downloadEnabled", "false")]).await;
    let private = t.publish(&owner, "Private one", &[("privacy", "3")]).await;
    t.run_jobs().await;

    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["downloadEnabled"], false);
    let f = &v["files"][0];
    // Watching still works (the player reads the file); downloading does not, but for its owner.
    assert_eq!(get_bytes(&t, f["fileUrl"].as_str().unwrap(), None).await.0, StatusCode::OK);
    for url in [
        f["fileDownloadUrl"].as_str().unwrap(),
        v["streamingPlaylists"][0]["files"][0]["fileDownloadUrl"].as_str().unwrap(),
        f["torrentDownloadUrl"].as_str().unwrap(),
    ] {
        let resp = t.api.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "forbidden", "{body}");
        assert_eq!(get_bytes(&t, url, Some(&other)).await.0, StatusCode::FORBIDDEN);
        assert_eq!(get_bytes(&t, url, Some(&owner)).await.0, StatusCode::OK);
    }
    let generate = t.api.url(&format!("/download/videos/generate/{uuid}?videoFileIds={}", f["id"]));
    assert_eq!(get_bytes(&t, &generate, None).await.0, StatusCode::FORBIDDEN);

    // A private video's files, torrents and downloads do not exist for others.
    let (_, p) = t.api.get(&format!("/api/v1/videos/{private}"), Some(&owner)).await;
    let pf = &p["files"][0];
    for key in ["fileUrl", "fileDownloadUrl", "torrentUrl", "torrentDownloadUrl"] {
        let url = pf[key].as_str().unwrap();
        assert_eq!(get_bytes(&t, url, None).await.0, StatusCode::NOT_FOUND, "{key} anonymous");
        assert_eq!(get_bytes(&t, url, Some(&other)).await.0, StatusCode::NOT_FOUND, "{key} another user");
        assert_eq!(get_bytes(&t, url, Some(&owner)).await.0, StatusCode::OK, "{key} its owner");
    }
    let meta = pf["metadataUrl"].as_str().unwrap().split(&t.api.base).nth(1).unwrap().to_string();
    assert_eq!(t.api.get(&meta, Some(&other)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(t.api.get(&meta, Some(&owner)).await.0, StatusCode::OK);
    // A file token (PeerTube's videoFileToken) opens them, as it opens the HLS files.
    let (_, tok) = t.api.post(&format!("/api/v1/videos/{private}/token"), Some(&owner), json!({})).await;
    let with_token = format!(
        "{}?videoFileToken={}",
        pf["fileDownloadUrl"].as_str().unwrap(),
        tok["files"]["token"].as_str().unwrap()
    );
    assert_eq!(get_bytes(&t, &with_token, None).await.0, StatusCode::OK);

    // Deleting the video removes its web videos and torrents from the disk.
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{private}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;
    let left = walk(&t.instance.app.config.data_dir.join("web-videos"));
    assert!(!left.is_empty() && !left.iter().any(|p| p.contains(&private)), "{left:?}");
    assert!(!walk(&t.instance.app.config.data_dir.join("torrents")).iter().any(|p| p.contains(&private)));
    t.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(e.path().display().to_string());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

async fn without_web_videos_the_hls_files_still_have_torrents(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![240];
        c.transcoding.web_videos = false;
    })
    .await;
    let token = t.user("hana").await;
    let uuid = t.publish(&token, "HLS only", &[]).await;
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["files"], json!([]));
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["transcoding"]["web_videos"]["enabled"], false);
    let f = &v["streamingPlaylists"][0]["files"][0];
    let (_, bytes, _) = get_bytes(&t, f["fileUrl"].as_str().unwrap(), None).await;
    let (status, torrent, _) = get_bytes(&t, f["torrentUrl"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read_torrent(t.dir.path(), &torrent, Some(&bytes))["verified"], true);
    assert!(walk(&t.instance.app.config.data_dir.join("web-videos")).is_empty());
    t.stop().await;
}

async fn the_upload_is_listed_to_its_owner_until_transcoded(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("uma").await;
    let other = t.user("ugo").await;
    let uuid = t.publish(&token, "Still transcoding", &[]).await;
    // PeerTube's clients read `files[0]` right after uploading (its CLI waits for its torrent).
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    let source = &v["files"][0];
    assert_eq!(source["torrentUrl"], Value::Null);
    let url = source["fileDownloadUrl"].as_str().unwrap();
    let original = std::fs::read(t.dir.path().join("f.mp4")).unwrap();
    let (status, bytes, disposition) = get_bytes(&t, url, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == original, "the upload itself");
    assert!(disposition.starts_with("attachment;"));
    assert_eq!(get_bytes(&t, url, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get_bytes(&t, url, Some(&other)).await.0, StatusCode::NOT_FOUND);
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert!(v["files"][0]["torrentUrl"].is_string(), "{}", v["files"]);
    assert!(v["files"][0]["fileUrl"].as_str().unwrap().contains("/static/web-videos/"));
    assert_eq!(get_bytes(&t, url, Some(&token)).await.0, StatusCode::NOT_FOUND, "the upload is gone");
    t.stop().await;
}

async fn hostile_download_requests_are_refused(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("hugo").await;
    let uuid = t.publish(&token, "Target", &[]).await;
    let other = t.publish(&token, "Other", &[]).await;
    t.run_jobs().await;
    let (_, o) = t.api.get(&format!("/api/v1/videos/{other}"), None).await;
    let foreign = o["files"][0]["id"].as_i64().unwrap();
    for path in [
        "/static/web-videos/..%2F..%2Fetc%2Fpasswd".to_string(),
        "/static/web-videos/.hidden.mp4".to_string(),
        "/static/web-videos/nope.mp4".to_string(),
        "/lazy-static/torrents/nope.torrent".to_string(),
        "/lazy-static/torrents/..%2Fx.torrent".to_string(),
        "/download/torrents/nope.torrent".to_string(),
        format!("/download/web-videos/{uuid}-99999.mp4"),
        format!("/download/web-videos/{uuid}.mp4"),
        "/download/web-videos/..%2F..%2Fconfig-240.mp4".to_string(),
        format!("/download/streaming-playlists/hls/videos/{uuid}-x-fragmented.mp4"),
        "/download/original-video-files/not-a-uuid".to_string(),
        format!("/download/original-video-files/{uuid}"),
        format!("/api/v1/videos/{uuid}/metadata/{foreign}"),
    ] {
        let resp = t.api.http.get(t.api.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    for query in [
        format!("videoFileIds={foreign}"),
        "videoFileIds=abc".to_string(),
        String::new(),
        (0..12).map(|i| format!("videoFileIds={i}")).collect::<Vec<_>>().join("&"),
    ] {
        let resp =
            t.api.http.get(t.api.url(&format!("/download/videos/generate/{uuid}?{query}"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "invalid_params", "{body}");
    }
    // Still serving.
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn videos_transcoded_before_get_their_web_videos_and_torrents(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("vic").await;
    let uuid = t.publish(&token, "From before", &[]).await;
    t.run_jobs().await;
    // As a video transcoded by an older Flotilla: HLS only, no torrent.
    let db = &t.instance.app.db;
    for sql in ["DELETE FROM video_files WHERE kind = 'web'", "UPDATE video_files SET torrent = NULL, info_hash = NULL"]
    {
        flotilla_db::run!(db, |x| sqlx::query(sql).execute(x).await.map(|_| ())).unwrap();
    }
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["files"], json!([]));
    assert!(v["streamingPlaylists"][0]["files"][0]["torrentUrl"].is_null());

    // The housekeeping finds it (once: a second look queues nothing new), a job completes it.
    assert_eq!(flotilla_app::video::files::backfill(&t.instance.app).await.unwrap(), 1);
    t.run_jobs().await;
    assert_eq!(flotilla_app::video::files::backfill(&t.instance.app).await.unwrap(), 0);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let web = &v["files"][0];
    let hls = &v["streamingPlaylists"][0]["files"][0];
    for f in [web, hls] {
        let (_, bytes, _) = get_bytes(&t, f["fileUrl"].as_str().unwrap(), None).await;
        let (status, torrent, _) = get_bytes(&t, f["torrentUrl"].as_str().unwrap(), None).await;
        assert_eq!(status, StatusCode::OK, "{f}");
        assert_eq!(read_torrent(t.dir.path(), &torrent, Some(&bytes))["verified"], true);
    }
    t.stop().await;
}
