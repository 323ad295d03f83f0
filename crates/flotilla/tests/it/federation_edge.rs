//! The federated edge cache between real instances: B follows A and serves A's video to its own
//! viewers from its own URLs, fetching each piece from A once, checked against A's segment
//! hashes; a segment that does not match is never kept nor served; the cache keeps to its budget,
//! survives a restart and keeps playing what it holds while A is down; only public remote videos
//! go through it.

use std::collections::BTreeMap;

use flotilla_testkit::reqwest::{self, StatusCode, header, multipart};
use flotilla_testkit::serde_json::Value;
use flotilla_testkit::{Backend, TestInstance, clip, db_tests, settle};

db_tests!(
    five_viewers_on_b_cost_a_about_one_copy,
    a_segment_that_does_not_match_its_published_hash_is_never_served,
    the_cache_keeps_to_its_budget_survives_a_restart_and_plays_through_an_outage,
    only_what_the_origins_files_name_is_served_and_never_a_local_or_private_video,
);

/// A ten-second clip (three segments) published on `a` at 144p; its UUID.
async fn publish(a: &TestInstance, token: &str, name: &str, privacy: &str) -> String {
    let (_, me) = a.api.get("/api/v1/users/me", Some(token)).await;
    let file = clip(a.dir.path(), "f.mp4", 256, 144, 10);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", name.to_string())
        .text("privacy", privacy.to_string())
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("f.mp4"));
    let (status, body) =
        a.api.send(a.api.http.post(a.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    a.run_jobs().await;
    body["video"]["uuid"].as_str().unwrap().to_string()
}

/// A (one 144p rendition) with a published video, and B following A.
async fn pair(backend: Backend) -> (TestInstance, TestInstance, String) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let token = a.user("mara").await;
    let uuid = publish(&a, &token, "Harbour at dawn", "1").await;
    settle(&[&a, &b]).await;
    (a, b, uuid)
}

/// The streaming playlist B's API gives its viewers for `uuid`.
async fn playlist_on(b: &TestInstance, uuid: &str) -> Value {
    let (status, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["streamingPlaylists"][0].clone()
}

/// One request for a piece of a video: a file and, for segments, a byte range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Piece {
    name: String,
    range: Option<(u64, u64)>,
}

fn attribute<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!("{name}=\""))? + name.len() + 2;
    line[at..].split('"').next()
}

/// What a player fetches after the master playlist: each media playlist, then each init section
/// and segment by the byte ranges the playlists give (read here with a parser of the test's own).
fn pieces_of(master: &str, playlists: &BTreeMap<String, String>) -> Vec<Piece> {
    let mut out: Vec<Piece> = master
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Piece { name: l.to_string(), range: None })
        .collect();
    for text in playlists.values() {
        let mut pending = None;
        for line in text.lines() {
            if line.starts_with("#EXT-X-MAP:") {
                let (len, off) = attribute(line, "BYTERANGE").unwrap().split_once('@').unwrap();
                let (len, off): (u64, u64) = (len.parse().unwrap(), off.parse().unwrap());
                out.push(Piece { name: attribute(line, "URI").unwrap().into(), range: Some((off, off + len - 1)) });
            } else if let Some(spec) = line.strip_prefix("#EXT-X-BYTERANGE:") {
                let (len, off) = spec.split_once('@').unwrap();
                let (len, off): (u64, u64) = (len.parse().unwrap(), off.parse().unwrap());
                pending = Some((off, off + len - 1));
            } else if !line.starts_with('#') && !line.is_empty() {
                out.push(Piece { name: line.to_string(), range: pending.take() });
            }
        }
    }
    out
}

async fn get(http: &reqwest::Client, url: &str, range: Option<(u64, u64)>) -> (StatusCode, Vec<u8>) {
    let mut req = http.get(url);
    if let Some((s, e)) = range {
        req = req.header(header::RANGE, format!("bytes={s}-{e}"));
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

/// Everything a viewer fetches of the video whose master playlist is at `master_url`: every
/// piece's bytes, by piece, each answer checked to be a success.
async fn watch(master_url: &str) -> BTreeMap<Piece, Vec<u8>> {
    let http = reqwest::Client::new();
    let base = &master_url[..master_url.rfind('/').unwrap() + 1];
    let (status, master) = get(&http, master_url, None).await;
    assert_eq!(status, StatusCode::OK, "{master_url}");
    let master = String::from_utf8(master).unwrap();
    let mut playlists = BTreeMap::new();
    for line in master.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (status, text) = get(&http, &format!("{base}{line}"), None).await;
        assert_eq!(status, StatusCode::OK, "{line}");
        playlists.insert(line.to_string(), String::from_utf8(text).unwrap());
    }
    let mut out = BTreeMap::new();
    out.insert(Piece { name: "master".into(), range: None }, master.clone().into_bytes());
    for piece in pieces_of(&master, &playlists) {
        let (status, bytes) = get(&http, &format!("{base}{}", piece.name), piece.range).await;
        let want = if piece.range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
        assert_eq!(status, want, "{piece:?}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]));
        out.insert(piece, bytes);
    }
    out
}

/// A counter of `/metrics` (the whole line's name with labels).
async fn metric(t: &TestInstance, line: &str) -> u64 {
    let text = reqwest::get(t.api.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {line} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

/// Files the edge cache of `t` holds on disk for `uuid`.
fn edge_files(t: &TestInstance, uuid: &str) -> Vec<String> {
    let dir = t.config.data_dir.join("edge-cache").join(uuid);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|f| f.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

async fn five_viewers_on_b_cost_a_about_one_copy(backend: Backend) {
    let (a, b, uuid) = pair(backend).await;
    let playlist = playlist_on(&b, &uuid).await;
    let on_b = playlist["playlistUrl"].as_str().unwrap().to_string();
    let origin = playlist["originPlaylistUrl"].as_str().unwrap().to_string();
    assert!(on_b.starts_with(&format!("{}/static/edge/hls/{uuid}/", b.api.base)), "{on_b}");
    assert!(origin.starts_with(&format!("{}/static/streaming-playlists/hls/{uuid}/", a.api.base)), "{origin}");
    let sha = playlist["segmentsSha256Url"].as_str().unwrap();
    assert!(sha.starts_with(&format!("{}/static/edge/hls/{uuid}/", b.api.base)), "{sha}");
    // The P2P swarm stays the origin's: its info hashes are A's.
    let (_, on_a) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(playlist["p2pMediaLoaderInfohashes"], on_a["streamingPlaylists"][0]["p2pMediaLoaderInfohashes"]);
    assert_eq!(origin, on_a["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap());

    let before = metric(&a, "flotilla_hls_served_bytes_total{kind=\"segment\"}").await;
    assert_eq!(before, 0, "nobody fetched A's segments yet");
    let viewers: Vec<_> = (0..5).map(|_| tokio::spawn(watch_owned(on_b.clone()))).collect();
    let mut seen = Vec::new();
    for v in viewers {
        seen.push(v.await.unwrap());
    }
    let served_by_a = metric(&a, "flotilla_hls_served_bytes_total{kind=\"segment\"}").await;

    // One copy: what one viewer fetches of A's video straight from A.
    let direct = watch(&origin).await;
    let one_copy: u64 = direct.iter().filter(|(p, _)| p.range.is_some()).map(|(_, b)| b.len() as u64).sum();
    assert!(one_copy > 10_000, "the video has segments worth measuring: {one_copy}");
    assert!(
        served_by_a <= one_copy * 11 / 10,
        "five viewers on B cost A {served_by_a} segment bytes, more than one copy ({one_copy})"
    );
    assert!(served_by_a >= one_copy, "B fetched every segment once: {served_by_a} < {one_copy}");
    for (i, got) in seen.iter().enumerate() {
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            direct.keys().collect::<Vec<_>>(),
            "viewer {i} fetched the same pieces"
        );
        for (piece, bytes) in got {
            assert!(bytes == &direct[piece], "viewer {i}: {piece:?} differs from A's");
        }
    }
    assert_eq!(metric(&b, "flotilla_edge_hash_mismatches_total").await, 0);
    assert!(metric(&b, "flotilla_edge_requests_total{result=\"hit\"}").await > 0);
    let fetched = metric(&b, "flotilla_edge_origin_bytes_total").await;
    assert!(fetched >= one_copy && fetched <= one_copy * 11 / 10 + 1_000_000, "{fetched} vs {one_copy}");
    assert!(metric(&b, "flotilla_edge_served_bytes_total").await >= 5 * one_copy);
    // The admins' view of the same (the admin page's figures).
    let (status, stats) = b.api.get("/api/v1/server/edge-cache", Some(&b.admin_token().await)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["originBytes"], fetched);
    assert!(stats["hits"].as_u64().unwrap() > 0 && stats["hitRatio"].as_f64().unwrap() > 0.5, "{stats}");
    assert_eq!(stats["capacityBytes"], 4u64 << 30);
    assert!(stats["files"].as_u64().unwrap() >= 3, "{stats}");
    let (status, _) = b.api.get("/api/v1/server/edge-cache", Some(&b.user("ines").await)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A player resuming a cut download asks for the rest of a segment: served from the piece.
    let (piece, bytes) = direct.iter().filter(|(p, _)| p.range.is_some()).nth(2).unwrap();
    let (s, e) = piece.range.unwrap();
    let url = format!("{}{}", &on_b[..on_b.rfind('/').unwrap() + 1], piece.name);
    let resp = b.api.http.get(&url).header(header::RANGE, format!("bytes={}-", s + 10)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    let range = resp.headers()[header::CONTENT_RANGE].to_str().unwrap().to_string();
    assert!(range.starts_with(&format!("bytes {}-{e}/", s + 10)), "{range}");
    let etag = resp.headers()[header::ETAG].clone();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &bytes[10..]);
    // ETags as for our own files.
    let again =
        b.api.http.get(&url).header(header::RANGE, format!("bytes={s}-{e}")).header(header::IF_NONE_MATCH, etag);
    assert_eq!(again.send().await.unwrap().status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        metric(&a, "flotilla_hls_served_bytes_total{kind=\"segment\"}").await,
        served_by_a + one_copy,
        "no new fetch"
    );
}

async fn watch_owned(url: String) -> BTreeMap<Piece, Vec<u8>> {
    watch(&url).await
}

/// The file on A's disk that holds `piece`, found by name under A's HLS directory.
fn origin_file(a: &TestInstance, uuid: &str, name: &str) -> std::path::PathBuf {
    a.config.data_dir.join("streaming-playlists/hls").join(uuid).join(name)
}

async fn a_segment_that_does_not_match_its_published_hash_is_never_served(backend: Backend) {
    let (a, b, uuid) = pair(backend).await;
    let on_b = playlist_on(&b, &uuid).await["playlistUrl"].as_str().unwrap().to_string();
    let (_, on_a) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let origin = on_a["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    // A turns hostile: the bytes of its second segment change on its disk (before anyone fetched
    // them, so A serves what is there), while its published hashes stay.
    let http = reqwest::Client::new();
    let master = String::from_utf8(get(&http, &origin, None).await.1).unwrap();
    let base = &origin[..origin.rfind('/').unwrap() + 1];
    let mut playlists = BTreeMap::new();
    for l in master.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        playlists.insert(l.to_string(), String::from_utf8(get(&http, &format!("{base}{l}"), None).await.1).unwrap());
    }
    let segments: Vec<Piece> = pieces_of(&master, &playlists).into_iter().filter(|p| p.range.is_some()).collect();
    let bad = segments[2].clone(); // [0] is the init section, [1] the first segment
    let (s, e) = bad.range.unwrap();
    let path = origin_file(&a, &uuid, &bad.name);
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[s as usize + 100..s as usize + 110] {
        *b ^= 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();

    let edge_base = &on_b[..on_b.rfind('/').unwrap() + 1];
    for attempt in 0..2 {
        let resp = b.api.http.get(format!("{edge_base}{}", bad.name)).header(header::RANGE, format!("bytes={s}-{e}"));
        let resp = resp.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "attempt {attempt}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "edge_origin_mismatch", "{body}");
    }
    assert_eq!(metric(&b, "flotilla_edge_hash_mismatches_total").await, 2, "not kept: fetched and refused again");
    assert!(
        !edge_files(&b, &uuid).iter().any(|f| f.ends_with(&format!(".{s}-{e}"))),
        "the bad segment is not on B's disk: {:?}",
        edge_files(&b, &uuid)
    );
    // The segments that match still play.
    let good = &segments[1];
    let (gs, ge) = good.range.unwrap();
    let (status, got) = get(&http, &format!("{edge_base}{}", good.name), good.range).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(got, bytes[gs as usize..=ge as usize]);
}

async fn the_cache_keeps_to_its_budget_survives_a_restart_and_plays_through_an_outage(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = a.user("mara").await;
    let uuid = publish(&a, &token, "Harbour at dawn", "1").await;
    let (_, on_a) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let direct = watch(on_a["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap()).await;
    let pieces: Vec<usize> = direct.iter().filter(|(p, _)| p.range.is_some()).map(|(_, b)| b.len()).collect();
    // Room for the playlists and hashes (4 KiB each at least) and about half of the pieces.
    let budget = (3 * 4096 + pieces.iter().sum::<usize>() / 2) as u64;
    let b = TestInstance::start_with(backend, |c| c.federation.edge_cache_bytes = budget).await;
    b.follow_instance(&a).await; // the follow brings A's video
    settle(&[&a, &b]).await;
    let on_b = playlist_on(&b, &uuid).await["playlistUrl"].as_str().unwrap().to_string();
    assert!(on_b.contains("/static/edge/hls/"), "{on_b}");
    let seen = watch(&on_b).await;
    assert_eq!(seen, direct, "B served A's bytes");
    assert!(metric(&b, "flotilla_edge_evictions_total").await > 0, "files were evicted: {pieces:?}, budget {budget}");
    let used = metric(&b, "flotilla_edge_cache_bytes{of=\"used\"}").await;
    assert!(used <= budget, "{used} > {budget}");
    let on_disk: u64 = edge_files(&b, &uuid)
        .iter()
        .map(|f| std::fs::metadata(b.config.data_dir.join("edge-cache").join(&uuid).join(f)).unwrap().len())
        .sum();
    assert!(on_disk <= budget, "{on_disk} bytes on disk, budget {budget}");
    let kept = edge_files(&b, &uuid);

    // A goes down, B restarts: what B kept still plays, from B's disk; the rest is a clear 502.
    a.stop().await;
    let b = b.stop_keep().await.start().await;
    assert_eq!(edge_files(&b, &uuid), kept, "the restart kept the files");
    assert_eq!(metric(&b, "flotilla_edge_cache_files").await, kept.len() as u64, "and indexed them again");
    let edge_base = &on_b[..on_b.rfind('/').unwrap() + 1];
    let (mut played, mut failed) = (0, 0);
    for (piece, bytes) in direct.iter().filter(|(p, _)| p.range.is_some()) {
        let (s, e) = piece.range.unwrap();
        let cached = kept.contains(&format!("{}.{s}-{e}", piece.name));
        let resp = b.api.http.get(format!("{edge_base}{}", piece.name)).header(header::RANGE, format!("bytes={s}-{e}"));
        let resp = resp.send().await.unwrap();
        if cached {
            assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{piece:?} was kept: {kept:?}");
            assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());
            played += 1;
        } else {
            assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "{piece:?}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "edge_origin_unavailable", "{body}");
            failed += 1;
        }
    }
    assert!(played > 0 && failed > 0, "played {played}, failed {failed}");
}

async fn only_what_the_origins_files_name_is_served_and_never_a_local_or_private_video(backend: Backend) {
    let (a, b, uuid) = pair(backend).await;
    let on_b = playlist_on(&b, &uuid).await["playlistUrl"].as_str().unwrap().to_string();
    let edge_base = on_b[..on_b.rfind('/').unwrap() + 1].to_string();
    let http = reqwest::Client::new();
    let seen = watch(&on_b).await;
    let segment = seen.keys().find(|p| p.range.is_some()).unwrap().clone();
    let status = |url: String, range: Option<&'static str>| {
        let http = http.clone();
        async move {
            let mut req = http.get(url);
            if let Some(r) = range {
                req = req.header(header::RANGE, r);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, body["code"].as_str().unwrap_or_default().to_string())
        }
    };
    let before = metric(&b, "flotilla_edge_requests_total{result=\"miss\"}").await;
    // Names the origin's playlists do not name, ranges no segment holds, a whole segment file.
    for (url, range, want) in [
        (format!("{edge_base}x-720.m3u8"), None, StatusCode::NOT_FOUND),
        (format!("{edge_base}x-720-fragmented.mp4"), Some("bytes=0-99"), StatusCode::NOT_FOUND),
        (format!("{edge_base}{}", segment.name), Some("bytes=99999999-100000000"), StatusCode::NOT_FOUND),
        (format!("{edge_base}{}", segment.name), None, StatusCode::BAD_REQUEST),
        (format!("{edge_base}..%2Fsecret.json"), None, StatusCode::NOT_FOUND),
        (format!("{edge_base}flotilla.db"), None, StatusCode::NOT_FOUND),
        (format!("{}/static/edge/hls/not-a-uuid/x.m3u8", b.api.base), None, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(status(url.clone(), range).await.0, want, "{url} {range:?}");
    }
    assert_eq!(metric(&b, "flotilla_edge_requests_total{result=\"miss\"}").await, before, "nothing was fetched");

    // B's own videos, public or private, never go through the edge cache.
    let token = b.user("ines").await;
    for privacy in ["1", "3"] {
        let local = publish(&b, &token, "Mine", privacy).await;
        let (_, v) = b.api.get(&format!("/api/v1/videos/{local}"), Some(&token)).await;
        let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
        assert!(master.contains("/static/streaming-playlists/hls/"), "{master}");
        assert!(v["streamingPlaylists"][0].get("originPlaylistUrl").is_none());
        let name = master.rsplit('/').next().unwrap();
        let edge = format!("{}/static/edge/hls/{local}/{name}", b.api.base);
        assert_eq!(status(edge, None).await.0, StatusCode::NOT_FOUND, "privacy {privacy}");
        assert!(edge_files(&b, &local).is_empty());
    }

    // A's video goes private: B forgets it, and the edge cache with it.
    assert!(!edge_files(&b, &uuid).is_empty());
    let a_token = a.api.login("mara", "password-123").await;
    let (status_code, body) = a
        .api
        .put(&format!("/api/v1/videos/{uuid}"), Some(&a_token), flotilla_testkit::serde_json::json!({ "privacy": 3 }))
        .await;
    assert_eq!(status_code, StatusCode::NO_CONTENT, "{body}");
    settle(&[&a, &b]).await;
    assert_eq!(status(on_b.clone(), None).await.0, StatusCode::NOT_FOUND, "gone with the video");
    assert!(edge_files(&b, &uuid).is_empty(), "its files too: {:?}", edge_files(&b, &uuid));
}
