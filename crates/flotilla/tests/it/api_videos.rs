//! Videos with the real ffmpeg: upload, transcoding to HLS, what the API and the static files
//! answer, and the bad inputs that must be refused without harm.

use std::path::Path;

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Api, Backend, TestInstance, clip, db_tests};
use sha2::{Digest, Sha256};

db_tests!(
    an_uploaded_clip_is_published_as_hls_with_segment_hashes,
    a_vertical_clip_keeps_its_aspect,
    an_audio_file_gets_an_audio_rendition_and_a_still_image,
    files_that_are_not_media_are_refused_and_the_instance_keeps_working,
    quotas_and_ownership_are_enforced,
    private_videos_and_path_tricks_are_refused,
    a_resumable_upload_in_chunks_survives_a_restart_and_is_published,
    resumable_uploads_refuse_early_and_can_be_cancelled,
    owners_edit_their_videos_and_pick_their_own_images,
    lists_filter_sort_and_search_and_views_count_once_per_viewer,
    likes_and_dislikes_count_once_per_user,
    every_user_supplied_file_is_served_unsniffed_and_sandboxed,
    who_may_see_change_and_delete_a_video_by_its_privacy,
    a_ladder_made_in_one_ffmpeg_keeps_every_renditions_properties,
    deep_pages_read_from_bookmarks_are_the_offset_pages,
    a_tags_list_follows_publication_and_counts_a_video_once,
);

async fn channel_id(api: &Api, token: &str) -> i64 {
    let (_, me) = api.get("/api/v1/users/me", Some(token)).await;
    me["videoChannels"][0]["id"].as_i64().unwrap()
}

async fn upload(api: &Api, token: &str, file: &Path, fields: &[(&str, String)]) -> (StatusCode, Value) {
    let bytes = std::fs::read(file).unwrap();
    let mut form = multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
    }
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    form = form.part("videofile", multipart::Part::bytes(bytes).file_name(name));
    api.send(api.http.post(api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await
}

async fn fetch(api: &Api, url: &str) -> (StatusCode, Vec<u8>) {
    let resp = api.http.get(url).send().await.unwrap();
    let status = resp.status();
    (status, resp.bytes().await.unwrap().to_vec())
}

async fn an_uploaded_clip_is_published_as_hls_with_segment_hashes(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240, 360]).await;
    let token = t.user("vera").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "clip.mp4", 640, 360, 6);
    let fields = [
        ("channelId", channel.to_string()),
        ("name", "Test pattern".to_string()),
        ("description", "A *generated* clip".to_string()),
        ("tags[]", "test".to_string()),
        ("tags[]", "pattern".to_string()),
        ("category", "15".to_string()),
    ];
    let (status, body) = upload(&t.api, &token, &file, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    assert_eq!(body["video"]["shortUUID"].as_str().unwrap().len(), 22);

    // Before transcoding, only the owner sees it, in state 2.
    let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["state"]["id"] == 2 || v["state"]["id"] == 1, "{v}");
    if v["state"]["id"] == 2 {
        assert_eq!(v["publishedAt"], v["createdAt"], "until it is published, the upload's time (as PeerTube)");
    }
    t.run_jobs().await;

    // Published: anyone sees it, by id, UUID or short UUID.
    let (status, v) =
        t.api.get(&format!("/api/v1/videos/{}", body["video"]["shortUUID"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["state"], json!({ "id": 1, "label": "Published" }));
    assert_eq!(v["uuid"], uuid);
    assert_eq!(v["duration"], 6);
    assert_eq!(v["tags"], json!(["pattern", "test"]));
    assert_eq!(v["category"]["label"], "Science & Technology");
    assert_eq!(v["channel"]["name"], "vera_channel");
    assert!(v["publishedAt"].is_string());
    let playlist = &v["streamingPlaylists"][0];
    let resolutions: Vec<i64> =
        playlist["files"].as_array().unwrap().iter().map(|f| f["resolution"]["id"].as_i64().unwrap()).collect();
    assert_eq!(resolutions, [360, 240]);
    assert_eq!(
        (playlist["files"][1]["width"].as_i64(), playlist["files"][1]["height"].as_i64()),
        (Some(426), Some(240))
    );

    // The master playlist, read by ffprobe as a player would, over HTTP.
    let master_url = playlist["playlistUrl"].as_str().unwrap().to_string();
    let (status, master) = fetch(&t.api, &master_url).await;
    assert_eq!(status, StatusCode::OK);
    let master = String::from_utf8(master).unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 2, "{master}");
    assert!(master.contains("RESOLUTION=426x240") && master.contains("mp4a.40.2"), "{master}");
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", &master_url])
        .output()
        .unwrap();
    let duration: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| {
        panic!("ffprobe could not read the master playlist: {}", String::from_utf8_lossy(&out.stderr))
    });
    assert!((duration - 6.0).abs() < 0.5, "duration {duration}");

    // Every segment's SHA-256 is published, keyed by file and inclusive byte range; check one
    // through a range request, as the P2P player does.
    let (status, sha) = fetch(&t.api, playlist["segmentsSha256Url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let sha: Value = serde_json::from_slice(&sha).unwrap();
    let fragment_url = playlist["files"][0]["fileUrl"].as_str().unwrap();
    let fragment_name = fragment_url.rsplit('/').next().unwrap();
    let ranges = sha[fragment_name].as_object().unwrap_or_else(|| panic!("no hashes for {fragment_name}: {sha}"));
    assert!(ranges.len() >= 2, "6 s in 4 s segments: {ranges:?}");
    let (range, hash) = ranges.iter().next().unwrap();
    let resp = t.api.http.get(fragment_url).header("Range", format!("bytes={range}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(resp.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&hex::encode(Sha256::digest(&bytes)), hash.as_str().unwrap());
    let resp = t.api.http.get(fragment_url).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = t.api.http.get(fragment_url).header("Range", "bytes=999999999-").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // Thumbnail and preview at PeerTube's sizes.
    for (path, size) in [(&v["thumbnailPath"], (280, 157)), (&v["previewPath"], (850, 480))] {
        let (status, bytes) = fetch(&t.api, &t.api.url(path.as_str().unwrap())).await;
        assert_eq!(status, StatusCode::OK);
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), size);
    }

    let (_, list) = t.api.get("/api/v1/videos", None).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["uuid"], uuid);
    let (_, quota) = t.api.get("/api/v1/users/me/video-quota-used", Some(&token)).await;
    assert_eq!(quota["videoQuotaUsed"].as_u64().unwrap(), std::fs::metadata(&file).unwrap().len());

    // The admin sees the finished job in PeerTube's shape.
    let admin = t.admin_token().await;
    let (_, jobs) = t.api.get("/api/v1/jobs/completed", Some(&admin)).await;
    let transcode = jobs["data"].as_array().unwrap().iter().find(|j| j["type"] == "video-transcoding");
    assert_eq!(transcode.unwrap()["data"]["video_id"], json!(body["video"]["id"]), "{jobs}");
    let (status, _) = t.api.get("/api/v1/jobs/completed", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Deleting removes the files and frees the quota.
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = fetch(&t.api, &master_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!t.config.data_dir.join("streaming-playlists/hls").join(&uuid).exists());
    let (_, quota) = t.api.get("/api/v1/users/me/video-quota-used", Some(&token)).await;
    assert_eq!(quota["videoQuotaUsed"], 0);
    t.stop().await;
}

async fn a_vertical_clip_keeps_its_aspect(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240, 720]).await;
    let token = t.user("walt").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "vertical.mp4", 360, 640, 2);
    let (status, body) =
        upload(&t.api, &token, &file, &[("channelId", channel.to_string()), ("name", "Vertical".into())]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{}", body["video"]["id"]), None).await;
    let files: Vec<(i64, i64, i64)> = v["streamingPlaylists"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["resolution"]["id"].as_i64().unwrap(), f["width"].as_i64().unwrap(), f["height"].as_i64().unwrap()))
        .collect();
    // 240 from the list, and the source's own 360 (no upscaling to 720).
    assert_eq!(files, [(360, 360, 640), (240, 240, 426)]);
    assert!((v["aspectRatio"].as_f64().unwrap() - 0.5625).abs() < 0.001);
    t.stop().await;
}

async fn an_audio_file_gets_an_audio_rendition_and_a_still_image(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("xena").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "song.m4a", 0, 0, 3);
    let (status, body) =
        upload(&t.api, &token, &file, &[("channelId", channel.to_string()), ("name", "A tone".into())]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{}", body["video"]["uuid"].as_str().unwrap()), None).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    let f = &v["streamingPlaylists"][0]["files"][0];
    assert_eq!(f["resolution"], json!({ "id": 0, "label": "Audio" }));
    let (_, master) = fetch(&t.api, v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap()).await;
    let master = String::from_utf8(master).unwrap();
    assert!(master.contains("CODECS=\"mp4a.40.2\"") && !master.contains("RESOLUTION"), "{master}");
    let (status, bytes) = fetch(&t.api, &t.api.url(v["thumbnailPath"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(image::load_from_memory(&bytes).is_ok());
    t.stop().await;
}

async fn files_that_are_not_media_are_refused_and_the_instance_keeps_working(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("yann").await;
    let channel = channel_id(&t.api, &token).await;
    let fields = [("channelId", channel.to_string()), ("name", "Not a video".to_string())];

    let random = t.dir.path().join("random.mp4");
    std::fs::write(&random, (0..200_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    let (status, body) = upload(&t.api, &token, &random, &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_media");
    let text = t.dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is text").unwrap();
    let (status, body) = upload(&t.api, &token, &text, &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A truncated MP4 is refused at upload, or fails in transcoding with the reason shown to its
    // owner; either way it is never published.
    let good = clip(t.dir.path(), "good.mp4", 320, 240, 4);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = t.dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (status, body) = upload(&t.api, &token, &truncated, &fields).await;
    if status == StatusCode::OK {
        t.run_jobs().await;
        let id = body["video"]["id"].as_i64().unwrap();
        let (_, v) = t.api.get(&format!("/api/v1/videos/{id}"), Some(&token)).await;
        assert_ne!(v["state"]["id"], 1, "a truncated file must not be published: {v}");
        let (status, _) = t.api.get(&format!("/api/v1/videos/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    } else {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }

    // Missing fields are named.
    let (status, body) = upload(&t.api, &token, &good, &[("name", "x".into())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["invalid-params"]["channelId"].is_object() && body["invalid-params"]["name"].is_object(), "{body}");
    // Nothing was left in quarantine.
    let left: Vec<_> = std::fs::read_dir(t.config.data_dir.join("tmp/uploads")).unwrap().collect();
    assert!(left.is_empty() || status == StatusCode::OK, "quarantine not cleaned: {left:?}");

    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn quotas_and_ownership_are_enforced(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.upload.max_file_size = 2_000_000).await;
    let token = t.user("zoe").await;
    let channel = channel_id(&t.api, &token).await;
    let admin = t.admin_token().await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let (status, _) =
        t.api.put(&format!("/api/v1/users/{}", me["id"]), Some(&admin), json!({ "videoQuota": 10_000 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let file = clip(t.dir.path(), "c.mp4", 320, 240, 2);
    let fields = [("channelId", channel.to_string()), ("name", "Over quota".to_string())];
    let (status, body) = upload(&t.api, &token, &file, &fields).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "quota_reached");

    let (status, _) =
        t.api.put(&format!("/api/v1/users/{}", me["id"]), Some(&admin), json!({ "videoQuota": -1 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let big = t.dir.path().join("big.mp4");
    std::fs::write(&big, vec![0u8; 2_500_000]).unwrap();
    let (status, body) = upload(&t.api, &token, &big, &fields).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "max_file_size_reached");

    // Someone else's channel is refused.
    let other = t.user("zack").await;
    let (status, _) = upload(&t.api, &other, &file, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    t.stop().await;
}

async fn private_videos_and_path_tricks_are_refused(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("quentin").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "p.mp4", 320, 240, 2);
    let fields =
        [("channelId", channel.to_string()), ("name", "Private one".to_string()), ("privacy", "3".to_string())];
    let (status, body) = upload(&t.api, &token, &file, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    let uuid = body["video"]["uuid"].as_str().unwrap();
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a private video is invisible to others");
    let other = t.user("olga").await;
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(v["privacy"]["id"], 3);
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
    let (status, _) = fetch(&t.api, master).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "its files are not reachable by a static path");
    let resp = t.api.http.get(master).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the owner can fetch them");
    // A player gets a short-lived video-file token and fetches with it, without the bearer token.
    let (status, issued) = t.api.post(&format!("/api/v1/videos/{uuid}/token"), Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let file_token = issued["files"]["token"].as_str().unwrap();
    assert!(issued["files"]["expires"].is_string());
    let (status, _) = fetch(&t.api, &format!("{master}?videoFileToken={file_token}")).await;
    assert_eq!(status, StatusCode::OK);
    // Change the last hex digit of the signature (to another digit, whatever it was).
    let last = if file_token.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &file_token[..file_token.len() - 1]);
    let (status, _) = fetch(&t.api, &format!("{master}?videoFileToken={tampered}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a tampered token opens nothing");
    let (status, _) = t.api.post(&format!("/api/v1/videos/{uuid}/token"), Some(&other), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no token for those who may not watch");
    let (status, _) = t.api.post(&format!("/api/v1/videos/{uuid}/token"), None, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = t.api.get("/api/v1/videos", None).await;
    assert_eq!(list["total"], 0);

    for path in [
        format!("/static/streaming-playlists/hls/{uuid}/..%2F..%2F..%2Fflotilla.db"),
        format!("/static/streaming-playlists/hls/{uuid}/%2e%2e%2fflotilla.db"),
        "/static/streaming-playlists/hls/..%2F..%2Fflotilla.db/x.m3u8".to_string(),
        format!("/static/streaming-playlists/hls/{uuid}/.x.m3u8.tmp"),
        "/lazy-static/thumbnails/..%2F..%2Fflotilla.db".to_string(),
    ] {
        let (status, _) = t.api.get(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    t.stop().await;
}

async fn init_resumable(
    api: &Api,
    token: &str,
    meta: Value,
    size: u64,
    mime: &str,
) -> flotilla_testkit::reqwest::Response {
    api.http
        .post(api.url("/api/v1/videos/upload-resumable"))
        .bearer_auth(token)
        .header("X-Upload-Content-Length", size.to_string())
        .header("X-Upload-Content-Type", mime)
        .json(&meta)
        .send()
        .await
        .unwrap()
}

/// Sends bytes `start..start+chunk.len()` of a `total`-byte upload.
async fn put_chunk(
    api: &Api,
    token: &str,
    upload_id: &str,
    chunk: &[u8],
    start: u64,
    total: u64,
) -> flotilla_testkit::reqwest::Response {
    let range = if chunk.is_empty() {
        format!("bytes */{total}")
    } else {
        format!("bytes {start}-{}/{total}", start + chunk.len() as u64 - 1)
    };
    api.http
        .put(api.url(&format!("/api/v1/videos/upload-resumable?upload_id={upload_id}")))
        .bearer_auth(token)
        .header("Content-Range", range)
        .header("Content-Type", "application/octet-stream")
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap()
}

async fn a_resumable_upload_in_chunks_survives_a_restart_and_is_published(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("rita").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "r.mp4", 320, 240, 3);
    let bytes = std::fs::read(&file).unwrap();
    let total = bytes.len() as u64;
    let meta =
        json!({ "channelId": channel, "name": "Chunked", "filename": "r.mp4", "privacy": 1, "tags": ["chunks"] });
    let resp = init_resumable(&t.api, &token, meta, total, "video/mp4").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("//") && location.contains("/api/v1/videos/upload-resumable?upload_id="),
        "{location}"
    );
    let upload_id = location.rsplit("upload_id=").next().unwrap().to_string();

    let chunk = 64 * 1024;
    let half = (bytes.len() / 2 / chunk) * chunk;
    let mut sent = 0;
    while sent < half {
        let resp = put_chunk(&t.api, &token, &upload_id, &bytes[sent..sent + chunk], sent as u64, total).await;
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
        sent += chunk;
        assert_eq!(resp.headers()["range"], format!("bytes=0-{}", sent - 1));
    }

    // A chunk that does not continue what is stored is refused, saying where to resume.
    let resp =
        put_chunk(&t.api, &token, &upload_id, &bytes[sent + chunk..sent + 2 * chunk], (sent + chunk) as u64, total)
            .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(resp.headers()["range"], format!("bytes=0-{}", sent - 1));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "upload_range_mismatch");
    // Someone else cannot touch it.
    let other = t.user("rob").await;
    let resp = put_chunk(&t.api, &other, &upload_id, &bytes[sent..sent + chunk], sent as u64, total).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // The server restarts; the client asks where it stands and carries on.
    let t = t.restart().await;
    let token = t.api.login("rita", "password-123").await;
    let resp = put_chunk(&t.api, &token, &upload_id, &[], 0, total).await;
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(resp.headers()["range"], format!("bytes=0-{}", sent - 1));
    let mut last = None;
    while sent < bytes.len() {
        let end = (sent + chunk).min(bytes.len());
        let resp = put_chunk(&t.api, &token, &upload_id, &bytes[sent..end], sent as u64, total).await;
        sent = end;
        if sent < bytes.len() {
            assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
        } else {
            assert_eq!(resp.status(), StatusCode::OK);
            last = Some(resp.json::<Value>().await.unwrap());
        }
    }
    let created = last.unwrap();
    let uuid = created["video"]["uuid"].as_str().unwrap().to_string();
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    assert_eq!(v["name"], "Chunked");
    assert_eq!(v["tags"], json!(["chunks"]));
    assert_eq!(v["duration"], 3);
    // The session is over: asking again (an answer lost on the way) gets the same video.
    let resp = put_chunk(&t.api, &token, &upload_id, &[], 0, total).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["video"]["uuid"], uuid.as_str());
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&token)).await;
    assert_eq!(mine["total"], 1);
    t.stop().await;
}

async fn resumable_uploads_refuse_early_and_can_be_cancelled(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.upload.max_file_size = 50_000_000).await;
    let token = t.user("sam").await;
    let channel = channel_id(&t.api, &token).await;
    let meta = json!({ "channelId": channel, "name": "Refused", "filename": "x.mp4" });

    let resp = init_resumable(&t.api, &token, meta.clone(), 60_000_000, "video/mp4").await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "max_file_size_reached");
    let resp = init_resumable(&t.api, &token, meta.clone(), 1000, "text/html").await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = init_resumable(&t.api, &token, json!({ "channelId": channel }), 1000, "video/mp4").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = t
        .api
        .http
        .post(t.api.url("/api/v1/videos/upload-resumable"))
        .bearer_auth(&token)
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "the size header is required");

    let admin = t.admin_token().await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    t.api.put(&format!("/api/v1/users/{}", me["id"]), Some(&admin), json!({ "videoQuota": 5000 })).await;
    let resp = init_resumable(&t.api, &token, meta.clone(), 6000, "video/mp4").await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "quota_reached");

    let resp = init_resumable(&t.api, &token, meta.clone(), 4000, "video/mp4").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let upload_id = resp.headers()["location"].to_str().unwrap().rsplit("upload_id=").next().unwrap().to_string();
    let resp = put_chunk(&t.api, &token, &upload_id, &[1u8; 1000], 0, 4000).await;
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    // A chunk claiming more bytes than it carries is refused and nothing of it is kept.
    let resp = t
        .api
        .http
        .put(t.api.url(&format!("/api/v1/videos/upload-resumable?upload_id={upload_id}")))
        .bearer_auth(&token)
        .header("Content-Range", "bytes 1000-2999/4000")
        .body(vec![2u8; 500])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(resp.headers()["range"], "bytes=0-999");
    let uploads_dir = t.config.data_dir.join("tmp/uploads");
    assert_eq!(std::fs::read_dir(&uploads_dir).unwrap().count(), 1);
    let resp = t
        .api
        .http
        .delete(t.api.url(&format!("/api/v1/videos/upload-resumable?upload_id={upload_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(std::fs::read_dir(&uploads_dir).unwrap().count(), 0, "cancel frees the space");
    let resp = put_chunk(&t.api, &token, &upload_id, &[1u8; 10], 1000, 4000).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Random bytes uploaded in full are refused at the end with 400, and the space is freed.
    t.api.put(&format!("/api/v1/users/{}", me["id"]), Some(&admin), json!({ "videoQuota": -1 })).await;
    let junk: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
    let resp = init_resumable(&t.api, &token, meta, junk.len() as u64, "video/mp4").await;
    let upload_id = resp.headers()["location"].to_str().unwrap().rsplit("upload_id=").next().unwrap().to_string();
    let resp = put_chunk(&t.api, &token, &upload_id, &junk, 0, junk.len() as u64).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "invalid_media");
    assert_eq!(std::fs::read_dir(&uploads_dir).unwrap().count(), 0);
    t.stop().await;
}

fn solid_png(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(640, 360, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn center_pixel(api: &Api, path: &str) -> [u8; 3] {
    let (status, bytes) = fetch(api, &api.url(path)).await;
    assert_eq!(status, StatusCode::OK, "{path}");
    let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
    img.get_pixel(img.width() / 2, img.height() / 2).0
}

async fn owners_edit_their_videos_and_pick_their_own_images(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("uma").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "e.mp4", 320, 240, 2);
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Before")
        .part("thumbnailfile", multipart::Part::bytes(solid_png([220, 20, 20])).file_name("t.png"))
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("e.mp4"));
    let (status, body) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let [r, g, b] = center_pixel(&t.api, v["thumbnailPath"].as_str().unwrap()).await;
    assert!(r > 180 && g < 60 && b < 60, "the uploaded thumbnail is kept over the generated one: {r},{g},{b}");

    let (status, body) = t
        .api
        .put(
            &format!("/api/v1/videos/{uuid}"),
            Some(&token),
            json!({ "name": "After", "description": "Now with *emphasis* <script>x()</script>", "tags": ["edited", "twice"],
                    "category": 4, "nsfw": true, "commentsEnabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "After");
    assert_eq!(v["tags"], json!(["edited", "twice"]));
    assert_eq!(v["category"]["label"], "Art");
    let (_, langs) = t.api.get("/api/v1/videos/languages", None).await;
    assert_eq!(langs["fr"], "French");
    let (status, _) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "language": "fr" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v2) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v2["language"], json!({ "id": "fr", "label": "French" }));
    let (status, _) =
        t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "language": "klingon" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, cats) = t.api.get("/api/v1/videos/categories", None).await;
    assert_eq!(cats["4"], "Art");
    assert_eq!(v["nsfw"], true);
    assert_eq!(v["commentsEnabled"], false);
    assert_eq!(v["description"], "Now with *emphasis* <script>x()</script>");
    let html = v["descriptionHtml"].as_str().unwrap();
    assert!(html.contains("<em>emphasis</em>") && !html.contains("<script"), "{html}");
    assert_eq!(v["truncatedDescription"], v["description"], "short: whole");
    // PeerTube's truncatedDescription: the first 250 characters (not bytes) of a longer one.
    let long = "é".repeat(249) + "€ñ and more";
    let (status, _) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "description": long })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["truncatedDescription"], "é".repeat(249) + "€");

    // A multipart update with a new preview, as PeerTube's web client sends it.
    let form = multipart::Form::new()
        .text("name", "After again")
        .part("previewfile", multipart::Part::bytes(solid_png([20, 20, 220])).file_name("p.png"));
    let (status, body) = t
        .api
        .send(t.api.http.put(t.api.url(&format!("/api/v1/videos/{uuid}"))).bearer_auth(&token).multipart(form))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "After again");
    let [r, g, b] = center_pixel(&t.api, v["previewPath"].as_str().unwrap()).await;
    assert!(b > 180 && r < 60 && g < 60, "{r},{g},{b}");

    let (status, body) =
        t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "privacy": 9, "name": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["invalid-params"]["privacy"].is_object() && body["invalid-params"]["name"].is_object(), "{body}");
    let other = t.user("ugo").await;
    let (status, _) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&other), json!({ "name": "Stolen" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Fetched while public (the server remembers it may serve these files)…
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    let segment = v["streamingPlaylists"][0]["files"][0]["fileUrl"].as_str().unwrap().to_string();
    for _ in 0..2 {
        assert_eq!(fetch(&t.api, &master).await.0, StatusCode::OK);
        let resp = t.api.http.get(&segment).header("Range", "bytes=0-99").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
        assert!(
            resp.headers()["cache-control"].to_str().unwrap().starts_with("public"),
            "anybody's: shared caches too"
        );
        assert_eq!(resp.bytes().await.unwrap().len(), 100);
    }
    let (status, _) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "now private");
    // …and stops the moment it turns private.
    assert_eq!(fetch(&t.api, &master).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&t.api, &segment).await.0, StatusCode::NOT_FOUND);
    // Its owner still gets them, for their browser only (no shared cache keeps a private file).
    let resp = t.api.http.get(&segment).bearer_auth(&token).header("Range", "bytes=0-99").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cache.starts_with("private"), "{cache}");

    // Deleting the user removes their videos' files too.
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let admin = t.admin_token().await;
    let (status, _) = t.api.delete(&format!("/api/v1/users/{}", me["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!t.config.data_dir.join("streaming-playlists/hls").join(&uuid).exists());
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.stop().await;
}

async fn lists_filter_sort_and_search_and_views_count_once_per_viewer(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = t.user("lina").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "l.mp4", 256, 144, 1);
    let uploads = [
        ("Whales of the deep", "Filmed in the *ocean*", "16", "animals", "false", "1"),
        ("Alpine climbing", "Mountains and snow", "5", "sport", "false", "1"),
        ("Night life", "Not for everyone", "10", "party", "true", "1"),
        ("My private notes", "Ocean of thoughts", "13", "notes", "false", "3"),
    ];
    let mut ids = Vec::new();
    for (name, description, category, tag, nsfw, privacy) in uploads {
        let fields = [
            ("channelId", channel.to_string()),
            ("name", name.to_string()),
            ("description", description.to_string()),
            ("category", category.to_string()),
            ("tags[]", tag.to_string()),
            ("nsfw", nsfw.to_string()),
            ("privacy", privacy.to_string()),
        ];
        let (status, body) = upload(&t.api, &token, &file, &fields).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["video"]["uuid"].as_str().unwrap().to_string());
    }
    t.run_jobs().await;
    let names = |v: &Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()).collect()
    };

    // Anonymous visitors: public only, NSFW hidden by the instance's default policy.
    let (_, all) = t.api.get("/api/v1/videos?sort=name", None).await;
    assert_eq!(names(&all), ["Alpine climbing", "Whales of the deep"]);
    assert_eq!(all["total"], 2);
    let (_, all) = t.api.get("/api/v1/videos?nsfw=both&sort=name", None).await;
    assert_eq!(names(&all), ["Alpine climbing", "Night life", "Whales of the deep"]);
    let (_, one) = t.api.get("/api/v1/videos?categoryOneOf=16&categoryOneOf=5&sort=-name", None).await;
    assert_eq!(names(&one), ["Whales of the deep", "Alpine climbing"]);
    let (_, one) = t.api.get("/api/v1/videos?tagsOneOf[]=sport", None).await;
    assert_eq!(names(&one), ["Alpine climbing"]);
    let (_, page) = t.api.get("/api/v1/videos?count=1&start=1&sort=name", None).await;
    assert_eq!(names(&page), ["Whales of the deep"]);
    assert_eq!(page["total"], 2);

    // Search: words in name, description or tags, prefixes too; never the private video.
    let (_, found) = t.api.get("/api/v1/search/videos?search=ocean", None).await;
    assert_eq!(names(&found), ["Whales of the deep"]);
    let (_, found) = t.api.get("/api/v1/search/videos?search=mount", None).await;
    assert_eq!(names(&found), ["Alpine climbing"]);
    let (_, found) = t.api.get("/api/v1/search/videos?search=animals", None).await;
    assert_eq!(names(&found), ["Whales of the deep"]);
    let (_, found) = t.api.get("/api/v1/search/videos?search=submarine", None).await;
    assert_eq!(found["total"], 0);
    for odd in ["%22*%3A(", "NEAR(a b)", "a OR b", "%27%3B DROP TABLE videos"] {
        let (status, _) = t.api.get(&format!("/api/v1/search/videos?search={odd}"), None).await;
        assert_eq!(status, StatusCode::OK, "{odd}");
    }
    // An edit is searchable at once.
    t.api.put(&format!("/api/v1/videos/{}", ids[1]), Some(&token), json!({ "description": "Glaciers" })).await;
    let (_, found) = t.api.get("/api/v1/search/videos?search=glacier", None).await;
    assert_eq!(names(&found), ["Alpine climbing"]);

    // Several matches: the most relevant first, pages that add up to the list, other sorts, and
    // the owner's own search (private videos too). A page's rows are read after its matches are
    // sorted, so a page must be the same rows in the same order as the whole list has them.
    t.api
        .put(
            &format!("/api/v1/videos/{}", ids[1]),
            Some(&token),
            json!({ "description": "Ocean cliffs, ocean wind, ocean spray" }),
        )
        .await;
    t.api.put(&format!("/api/v1/videos/{}", ids[2]), Some(&token), json!({ "description": "An ocean party" })).await;
    let (_, found) = t.api.get("/api/v1/search/videos?search=ocean&nsfw=both", None).await;
    let relevant = names(&found);
    assert_eq!(found["total"], 3);
    assert_eq!(relevant.len(), 3, "{relevant:?}");
    assert_eq!(relevant[0], "Alpine climbing", "the video naming the word three times comes first: {relevant:?}");
    let mut paged = Vec::new();
    for start in 0..3 {
        let (_, page) =
            t.api.get(&format!("/api/v1/search/videos?search=ocean&nsfw=both&count=1&start={start}"), None).await;
        assert_eq!(page["total"], 3);
        paged.extend(names(&page));
    }
    assert_eq!(paged, relevant, "pages of one result each add up to the list");
    let (_, by_name) = t.api.get("/api/v1/search/videos?search=ocean&nsfw=both&sort=-name", None).await;
    assert_eq!(names(&by_name), ["Whales of the deep", "Night life", "Alpine climbing"]);
    let (_, by_name) = t.api.get("/api/v1/search/videos?search=ocean&nsfw=both&sort=name&count=2&start=1", None).await;
    assert_eq!(names(&by_name), ["Night life", "Whales of the deep"]);
    let (_, mine) = t.api.get("/api/v1/users/me/videos?search=ocean&sort=name", Some(&token)).await;
    assert_eq!(names(&mine), ["Alpine climbing", "My private notes", "Night life", "Whales of the deep"]);
    assert_eq!(mine["total"], 4);
    t.api.put(&format!("/api/v1/videos/{}", ids[2]), Some(&token), json!({ "description": "Not for everyone" })).await;

    let (_, mine) = t.api.get("/api/v1/users/me/videos?sort=name", Some(&token)).await;
    assert_eq!(mine["total"], 4, "the owner sees every video, private too");
    let (_, chan) = t.api.get("/api/v1/video-channels/lina_channel/videos", None).await;
    assert_eq!(chan["total"], 2);
    let (_, acc) = t.api.get("/api/v1/accounts/lina/videos?nsfw=both", None).await;
    assert_eq!(acc["total"], 3);
    let (status, _) = t.api.get("/api/v1/videos?privacyOneOf=3", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = t.admin_token().await;
    let (_, private) = t.api.get("/api/v1/videos?privacyOneOf=3", Some(&admin)).await;
    assert_eq!(names(&private), ["My private notes"]);

    // Views: once per viewer per hour.
    let whales = &ids[0];
    for _ in 0..3 {
        let (status, _) =
            t.api.post(&format!("/api/v1/videos/{whales}/views"), None, json!({ "currentTime": 4 })).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _) =
        t.api.post(&format!("/api/v1/videos/{whales}/views"), Some(&token), json!({ "currentTime": 1 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = t.api.post(&format!("/api/v1/videos/{whales}/views"), None, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = t.api.post(&format!("/api/v1/videos/{}/views", ids[3]), None, json!({ "currentTime": 1 })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no views on a private video by strangers");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{whales}"), None).await;
    assert_eq!(v["views"], 2);
    let (_, top) = t.api.get("/api/v1/videos?sort=-views", None).await;
    assert_eq!(names(&top)[0], "Whales of the deep");
    t.stop().await;
}

async fn likes_and_dislikes_count_once_per_user(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = t.user("rita").await;
    let fan = t.user("fan").await;
    let channel = channel_id(&t.api, &owner).await;
    let file = clip(t.dir.path(), "c.mp4", 256, 144, 1);
    let (status, up) =
        upload(&t.api, &owner, &file, &[("channelId", channel.to_string()), ("name", "Rated".into())]).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    t.run_jobs().await;
    let id = up["video"]["shortUUID"].as_str().unwrap().to_string();
    let counts = |v: &Value| (v["likes"].as_i64().unwrap(), v["dislikes"].as_i64().unwrap());
    let rate = |token: String, rating: &'static str| {
        let (api, id) = (&t.api, id.clone());
        async move { api.put(&format!("/api/v1/videos/{id}/rate"), Some(&token), json!({ "rating": rating })).await.0 }
    };

    assert_eq!(rate(fan.clone(), "like").await, StatusCode::NO_CONTENT);
    assert_eq!(rate(fan.clone(), "like").await, StatusCode::NO_CONTENT, "twice is still one like");
    assert_eq!(rate(owner.clone(), "dislike").await, StatusCode::NO_CONTENT);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{id}"), None).await;
    assert_eq!(counts(&v), (1, 1));
    let (_, r) = t.api.get(&format!("/api/v1/users/me/videos/{id}/rating"), Some(&fan)).await;
    assert_eq!(r["rating"], "like");
    assert_eq!(r["videoId"], v["id"]);
    // A change of mind moves both counts; none removes it.
    assert_eq!(rate(fan.clone(), "dislike").await, StatusCode::NO_CONTENT);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{id}"), None).await;
    assert_eq!(counts(&v), (0, 2));
    assert_eq!(rate(fan.clone(), "none").await, StatusCode::NO_CONTENT);
    let (_, r) = t.api.get(&format!("/api/v1/users/me/videos/{id}/rating"), Some(&fan)).await;
    assert_eq!(r["rating"], "none");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{id}"), None).await;
    assert_eq!(counts(&v), (0, 1));

    // Bad values, anonymous raters, unknown and hidden videos.
    assert_eq!(rate(fan.clone(), "love").await, StatusCode::BAD_REQUEST);
    let (status, _) = t.api.put(&format!("/api/v1/videos/{id}/rate"), None, json!({ "rating": "like" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t.api.put("/api/v1/videos/nope/rate", Some(&fan), json!({ "rating": "like" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.api.put(&format!("/api/v1/videos/{id}"), Some(&owner), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(rate(fan.clone(), "like").await, StatusCode::NOT_FOUND, "a private video is not there for others");
    t.stop().await;
}

/// Every file users put on the instance (avatars, banners, thumbnails, previews, playlists, segment
/// hashes, video files) is served with `nosniff` and a sandboxing CSP, whatever the answer (whole,
/// range, from the cache, 304, 416): opened in a browser, none can run script on our origin
/// (PeerTube CVE-2021-3780).
async fn every_user_supplied_file_is_served_unsniffed_and_sandboxed(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("sandy").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "c.mp4", 426, 240, 2);
    let (status, body) =
        upload(&t.api, &token, &file, &[("channelId", channel.to_string()), ("name", "Files".into())]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    let pick = |path: &'static str, field: &'static str, png: Vec<u8>| {
        let form = multipart::Form::new().part(field, multipart::Part::bytes(png).file_name("i.png"));
        t.api.send(t.api.http.post(t.api.url(path)).bearer_auth(&token).multipart(form))
    };
    let (status, avatar) = pick("/api/v1/users/me/avatar/pick", "avatarfile", flotilla_testkit::png(64, 64)).await;
    assert_eq!(status, StatusCode::OK, "{avatar}");
    let (status, banner) =
        pick("/api/v1/video-channels/sandy_channel/banner/pick", "bannerfile", flotilla_testkit::png(1200, 200)).await;
    assert_eq!(status, StatusCode::OK, "{banner}");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{}", body["video"]["uuid"].as_str().unwrap()), None).await;
    let playlist = &v["streamingPlaylists"][0];
    let absolute = |p: &Value| t.api.url(p.as_str().unwrap_or_else(|| panic!("no path: {v}")));
    // Each with the one type its kind has, decided by the server and never by the file.
    let urls = [
        (absolute(&avatar["avatars"][0]["path"]), "image/jpeg"),
        (absolute(&banner["banners"][0]["path"]), "image/jpeg"),
        (absolute(&v["thumbnailPath"]), "image/jpeg"),
        (absolute(&v["previewPath"]), "image/jpeg"),
        (playlist["playlistUrl"].as_str().unwrap().to_string(), "application/vnd.apple.mpegurl"),
        (playlist["files"][0]["playlistUrl"].as_str().unwrap().to_string(), "application/vnd.apple.mpegurl"),
        (playlist["segmentsSha256Url"].as_str().unwrap().to_string(), "application/json"),
        (playlist["files"][0]["fileUrl"].as_str().unwrap().to_string(), "video/mp4"),
    ];
    for (url, content_type) in &urls {
        let first = t.api.http.get(url).send().await.unwrap();
        let etag = first.headers().get("etag").cloned();
        let mut answers = vec![first];
        // Again (from the media cache), a range, a range past the end and a revalidation.
        answers.push(t.api.http.get(url).send().await.unwrap());
        answers.push(t.api.http.get(url).header("Range", "bytes=0-9").send().await.unwrap());
        answers.push(t.api.http.get(url).header("Range", "bytes=999999999-").send().await.unwrap());
        if let Some(etag) = etag {
            answers.push(t.api.http.get(url).header("If-None-Match", etag).send().await.unwrap());
        }
        for resp in answers {
            let status = resp.status();
            assert!(
                status.is_success() || status.is_redirection() || status == StatusCode::RANGE_NOT_SATISFIABLE,
                "{url}: {status}"
            );
            let h = resp.headers();
            assert_eq!(
                h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
                Some("nosniff"),
                "{url} ({status})"
            );
            assert_eq!(
                h.get("content-security-policy").map(|v| v.to_str().unwrap()),
                Some("default-src 'none'; sandbox"),
                "{url} ({status})"
            );
            let given = h.get("content-type").map(|v| v.to_str().unwrap());
            if status.is_success() {
                assert_eq!(given, Some(*content_type), "{url} ({status})");
            } else {
                // A 304 or 416 may leave the type out, but never names another.
                assert!(given.is_none_or(|g| g == *content_type), "{url} ({status}): {given:?}");
            }
        }
    }
    t.stop().await;
}

/// The access-control matrix of a video (security-cases 23), in our conventions
/// (docs/API-CONVENTIONS.md): what a caller may not see answers 404, as if it did not exist; what
/// they may see but not change answers 403; and a refusal changes nothing.
/// - internal (4): 404 for anonymous callers on the API, the files and the file token; 200 for any
///   logged-in user;
/// - unlisted (2): 200 by its uuid to anyone, but absent from the list and from search;
/// - private (3): a moderator reads it; another user's PUT and DELETE answer 404;
/// - public (1): another user's PUT and DELETE answer 403;
/// - someone else's resumable upload session: PUT and DELETE answer 404 and the session goes on.
async fn who_may_see_change_and_delete_a_video_by_its_privacy(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let owner = t.user("owen").await;
    let other = t.user("otto").await;
    let moderator = t.user("mona").await;
    let admin = t.admin_token().await;
    let (_, mona) = t.api.get("/api/v1/users/me", Some(&moderator)).await;
    let (status, _) = t.api.put(&format!("/api/v1/users/{}", mona["id"]), Some(&admin), json!({ "role": 1 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let channel = channel_id(&t.api, &owner).await;
    let file = clip(t.dir.path(), "m.mp4", 320, 240, 2);
    let mut uuids = std::collections::HashMap::new();
    for (privacy, name) in [(1, "Public zebra"), (2, "Unlisted zebra"), (3, "Private zebra"), (4, "Internal zebra")] {
        let fields = [("channelId", channel.to_string()), ("name", name.to_string()), ("privacy", privacy.to_string())];
        let (status, body) = upload(&t.api, &owner, &file, &fields).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        uuids.insert(privacy, body["video"]["uuid"].as_str().unwrap().to_string());
    }
    t.run_jobs().await;
    let video = |p: i64| format!("/api/v1/videos/{}", uuids[&p]);

    // Internal: not there for anonymous callers, anywhere; there for any logged-in user.
    let (status, _) = t.api.get(&video(4), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "internal video, anonymous");
    let (status, _) = t.api.post(&format!("{}/token", video(4)), None, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "internal video's file token, anonymous");
    let (status, v) = t.api.get(&video(4), Some(&other)).await;
    assert_eq!(status, StatusCode::OK, "internal video, another logged-in user: {v}");
    assert_eq!(v["privacy"]["id"], 4);
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    let segment = v["streamingPlaylists"][0]["files"][0]["fileUrl"].as_str().unwrap().to_string();
    for url in [&master, &segment] {
        assert_eq!(fetch(&t.api, url).await.0, StatusCode::NOT_FOUND, "{url}, anonymous");
        let resp = t.api.http.get(url).bearer_auth(&other).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}, a logged-in user");
    }
    let (status, issued) = t.api.post(&format!("{}/token", video(4)), Some(&other), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{issued}");

    // Unlisted: by its uuid only.
    let (status, _) = t.api.get(&video(2), None).await;
    assert_eq!(status, StatusCode::OK, "unlisted by uuid");
    for caller in [None, Some(other.as_str())] {
        let (_, list) = t.api.get("/api/v1/videos?count=100", caller).await;
        let names: Vec<&str> = list["data"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"Public zebra"), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("Unlisted") || n.starts_with("Private")), "listed: {names:?}");
        if caller.is_none() {
            assert!(!names.contains(&"Internal zebra"), "internal listed for anonymous: {names:?}");
        }
        let (_, found) = t.api.get("/api/v1/search/videos?search=zebra", caller).await;
        let names: Vec<&str> = found["data"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"Public zebra"), "search works: {names:?}");
        assert!(!names.iter().any(|n| n.starts_with("Unlisted") || n.starts_with("Private")), "found: {names:?}");
        if caller.is_none() {
            assert!(!names.contains(&"Internal zebra"), "internal found by anonymous: {names:?}");
        }
    }

    // Private: a moderator reads it; another user learns nothing and changes nothing.
    let (status, v) = t.api.get(&video(3), Some(&moderator)).await;
    assert_eq!((status, v["name"].as_str()), (StatusCode::OK, Some("Private zebra")));
    for (privacy, expected) in [(3, StatusCode::NOT_FOUND), (1, StatusCode::FORBIDDEN)] {
        let (status, body) = t.api.put(&video(privacy), Some(&other), json!({ "name": "Taken over" })).await;
        assert_eq!(status, expected, "another user's PUT on privacy {privacy}: {body}");
        let form = multipart::Form::new().text("name", "Taken over");
        let (status, body) =
            t.api.send(t.api.http.put(t.api.url(&video(privacy))).bearer_auth(&other).multipart(form)).await;
        assert_eq!(status, expected, "another user's multipart PUT on privacy {privacy}: {body}");
        let (status, body) = t.api.delete(&video(privacy), Some(&other)).await;
        assert_eq!(status, expected, "another user's DELETE on privacy {privacy}: {body}");
        if expected == StatusCode::NOT_FOUND {
            assert_eq!(body["code"], "not_found", "{body}");
            assert!(!body.to_string().contains("not yours"), "the 404 does not tell it exists: {body}");
        }
        let (status, v) = t.api.get(&video(privacy), Some(&owner)).await;
        assert_eq!(status, StatusCode::OK, "still there");
        assert!(v["name"].as_str().unwrap().ends_with("zebra"), "unchanged: {}", v["name"]);
    }

    // Someone else's resumable upload session.
    let bytes = std::fs::read(&file).unwrap();
    let total = bytes.len() as u64;
    let resp =
        init_resumable(&t.api, &owner, json!({ "channelId": channel, "name": "Resumed zebra" }), total, "video/mp4")
            .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let upload_id = resp.headers()["location"].to_str().unwrap().rsplit("upload_id=").next().unwrap().to_string();
    let half = bytes.len() / 2;
    let resp = put_chunk(&t.api, &owner, &upload_id, &bytes[..half], 0, total).await;
    assert_eq!(resp.status().as_u16(), 308);
    let session = flotilla_db::uploads::get(&t.instance.app.db, &upload_id).await.unwrap().expect("the session");
    let resp = put_chunk(&t.api, &other, &upload_id, &bytes[half..], half as u64, total).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "another user's PUT on the session");
    let resp = t
        .api
        .http
        .delete(t.api.url(&format!("/api/v1/videos/upload-resumable?upload_id={upload_id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "another user's DELETE on the session");
    let after = flotilla_db::uploads::get(&t.instance.app.db, &upload_id).await.unwrap().expect("the session is kept");
    assert_eq!((after.user_id, after.video_id, &after.path), (session.user_id, session.video_id, &session.path));
    assert_eq!(std::fs::metadata(&after.path).unwrap().len(), half as u64, "its file is untouched");
    let resp = put_chunk(&t.api, &owner, &upload_id, &bytes[half..], half as u64, total).await;
    assert_eq!(resp.status(), StatusCode::OK, "the owner finishes it");
    t.stop().await;
}

/// Keyframe times of a file's video stream (ffprobe, keyframes only).
fn keyframes(path: &Path) -> Vec<f64> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().trim_end_matches(',').parse().ok()).collect()
}

/// After the first rendition, the others are made together in one ffmpeg (split, one encoder
/// each): each keeps its size, its bit rate cap, the 4 s keyframe grid shared by all, its audio,
/// and its segments' published hashes.
async fn a_ladder_made_in_one_ffmpeg_keeps_every_renditions_properties(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144, 240, 360];
        c.transcoding.threads = 2;
    })
    .await;
    let token = t.user("lara").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "ladder.mp4", 640, 360, 9);
    let (status, body) =
        upload(&t.api, &token, &file, &[("channelId", channel.to_string()), ("name", "Ladder".into())]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let playlist = &v["streamingPlaylists"][0];
    let files = playlist["files"].as_array().unwrap();
    let mut sizes: Vec<(i64, i64, i64)> = files
        .iter()
        .map(|f| (f["resolution"]["id"].as_i64().unwrap(), f["width"].as_i64().unwrap(), f["height"].as_i64().unwrap()))
        .collect();
    sizes.sort();
    assert_eq!(sizes, [(144, 256, 144), (240, 426, 240), (360, 640, 360)], "{v}");
    let (_, sha) = fetch(&t.api, playlist["segmentsSha256Url"].as_str().unwrap()).await;
    let sha: Value = serde_json::from_slice(&sha).unwrap();
    let dir = t.config.data_dir.join("streaming-playlists/hls").join(&uuid);
    let mut starts = Vec::new();
    for f in files {
        let name = f["fileUrl"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        let path = dir.join(&name);
        // Every 4 s from the first frame (whose time is the container's start, the same in all).
        let frames = keyframes(&path);
        assert_eq!(frames.len(), 3, "{name}: keyframes at 0, 4 and 8 s: {frames:?}");
        starts.push(frames[0]);
        for (k, at) in frames.iter().enumerate() {
            assert!((at - frames[0] - 4.0 * k as f64).abs() < 0.05, "{name}: keyframe {k} at {at}: {frames:?}");
        }
        let bytes = std::fs::read(&path).unwrap();
        let ranges = sha[&name].as_object().unwrap_or_else(|| panic!("no hashes for {name}"));
        assert_eq!(ranges.len(), 3, "{name}: 9 s in 4 s segments");
        for (range, hash) in ranges {
            let (a, b) = range.split_once('-').unwrap();
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            assert_eq!(hex::encode(Sha256::digest(&bytes[a..=b])), hash.as_str().unwrap(), "{name} {range}");
        }
        // Its peak bit rate stays under its cap (PeerTube's ladder; x264's VBV keeps to it).
        let height = f["height"].as_f64().unwrap();
        let width = f["width"].as_f64().unwrap();
        let bpp = match height as i64 {
            0..=144 => 0.19,
            145..=240 => 0.17,
            _ => 0.15,
        };
        let cap = width * height * 25.0 * bpp;
        let video_bits = (f["size"].as_f64().unwrap() - 9.0 * 16_000.0) * 8.0;
        assert!(video_bits / 9.0 < cap * 1.1, "{name}: {} bit/s over a cap of {cap}", video_bits / 9.0);
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0"])
            .arg(&path)
            .output()
            .unwrap();
        let codecs = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(codecs.contains("h264") && codecs.contains("aac"), "{name}: {codecs}");
    }
    assert!(starts.iter().all(|s| (s - starts[0]).abs() < 0.01), "one grid for all renditions: {starts:?}");
    t.stop().await;
}

/// Pages at start >= 1,000 of public lists sorted by a column are read from a remembered bookmark
/// (the sort value and id of the row at each thousandth place): they must be exactly the pages an
/// offset gives, with ties on the sort value broken by id, in both directions, at and between
/// bookmarks, for the first request (which takes the bookmark) and the next (which reuses it).
async fn deep_pages_read_from_bookmarks_are_the_offset_pages(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("dora").await;
    let channel = channel_id(&t.api, &token).await;
    let db = &t.instance.app.db;
    let now = flotilla_domain::time::now_ms();
    // 2,600 published public videos; three share each publication time, views and likes repeat.
    let inserted = insert_videos(&t, channel, now, 2600, "deep", 3, ["1", "i % 7", "i % 17", "i % 5"]).await;
    assert_eq!(inserted, 2600);
    // What an offset page holds, sorted here (not by the database): every row with its values.
    type Row = (i64, String, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = flotilla_db::run!(db, |x| sqlx::query_as(
        "SELECT id, uuid, published_at, created_at, views, likes, duration FROM videos WHERE uuid LIKE 'deep-%'"
    )
    .fetch_all(x)
    .await)
    .unwrap();
    type Key = fn(&Row) -> i64;
    let sorts: [(&str, Key); 5] = [
        ("-publishedAt", |r| r.2),
        ("-createdAt", |r| r.3),
        ("-views", |r| r.4),
        ("likes", |r| r.5),
        ("duration", |r| r.6),
    ];
    for (sort, key) in sorts {
        let desc = sort.starts_with('-');
        let mut expected = rows.clone();
        expected.sort_by(|a, b| {
            let by_key = if desc { key(b).cmp(&key(a)) } else { key(a).cmp(&key(b)) };
            by_key.then(b.0.cmp(&a.0))
        });
        for start in [999, 1000, 1001, 1999, 2000, 2590, 2600] {
            let want: Vec<&str> = expected.iter().skip(start).take(25).map(|r| r.1.as_str()).collect();
            for round in ["takes the bookmark", "reuses it"] {
                let (status, page) =
                    t.api.get(&format!("/api/v1/videos?sort={sort}&start={start}&count=25"), None).await;
                assert_eq!(status, StatusCode::OK, "{page}");
                let got: Vec<&str> =
                    page["data"].as_array().unwrap().iter().map(|v| v["uuid"].as_str().unwrap()).collect();
                assert_eq!(got, want, "sort {sort}, start {start}: the request that {round}");
                assert_eq!(page["total"], 2600, "the total counts the whole list, not what follows the bookmark");
            }
        }
    }
    // The pages came from bookmarks: one per list at 1,000 and at 2,000.
    assert_eq!(t.instance.app.list_bookmarks.len(), sorts.len() * 2);

    // A remembered total that the page contradicts is counted again: a video published since
    // (the oldest, so it ends the list) shows on the last page, and the total says so.
    let last = "/api/v1/videos?sort=-publishedAt&start=2599&count=25";
    let (_, page) = t.api.get(last, None).await;
    assert_eq!((page["total"].as_i64(), page["data"].as_array().unwrap().len()), (Some(2600), 1));
    flotilla_db::run!(db, |x| sqlx::query(
        "INSERT INTO videos (uuid, short_uuid, channel_id, name, privacy, state, duration, width, height, fps, \
         has_audio, has_video, input_size, created_at, updated_at, published_at) \
         VALUES ('deep-late', 'deeplate', $1, 'Late', 1, 1, 1, 640, 360, 30.0, TRUE, TRUE, 1000, $2, $2, 1)"
    )
    .bind(channel)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    let (_, page) = t.api.get(last, None).await;
    let uuids: Vec<&str> = page["data"].as_array().unwrap().iter().map(|v| v["uuid"].as_str().unwrap()).collect();
    assert_eq!(uuids.last(), Some(&"deep-late"));
    assert_eq!((page["total"].as_i64(), uuids.len()), (Some(2601), 2), "the total is not the one remembered");
    t.stop().await;
}

/// `tagsOneOf` with one tag, newest first, walks that tag's rows in publication order (each row
/// carries its video's `published_at`, kept by triggers): the pages must be those of the whole
/// list filtered, with a tag written in two cases counted once, a publication date changed or a
/// tag added later followed at once, and the same as the general path (two tags, another sort).
async fn a_tags_list_follows_publication_and_counts_a_video_once(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("tess").await;
    let channel = channel_id(&t.api, &token).await;
    let db = &t.instance.app.db;
    let now = flotilla_domain::time::now_ms();
    let sql = |q: &'static str| async move {
        flotilla_db::run!(db, |x| sqlx::query(q).execute(x).await.map(|r| r.rows_affected())).unwrap()
    };
    // One in ten unlisted; two share each publication time.
    let privacy = "CASE WHEN i % 10 = 0 THEN 2 ELSE 1 END";
    assert_eq!(insert_videos(&t, channel, now, 90, "tag", 2, [privacy, "1", "i % 4", "0"]).await, 90);
    // "Sea" on two videos in three, "sea" as well on one in five of them, "land" on the others.
    sql("INSERT INTO video_tags (video_id, tag) SELECT id, 'Sea' FROM videos WHERE uuid LIKE 'tag-%' AND id % 3 <> 0")
        .await;
    sql("INSERT INTO video_tags (video_id, tag) SELECT id, 'sea' FROM videos WHERE uuid LIKE 'tag-%' AND id % 3 <> 0 AND id % 5 = 0").await;
    sql("INSERT INTO video_tags (video_id, tag) SELECT id, 'land' FROM videos WHERE uuid LIKE 'tag-%' AND id % 3 = 0")
        .await;

    // The pages of `path`, whole, against the public videos with one of `tags`, sorted here.
    let check = |path: &'static str, tags: &'static [&'static str], by_views: bool| {
        let t = &t;
        async move {
            type Row = (i64, String, i64, i64, i64);
            let rows: Vec<Row> = flotilla_db::run!(db, |x| sqlx::query_as(
                "SELECT id, uuid, published_at, views, privacy FROM videos WHERE uuid LIKE 'tag-%'"
            )
            .fetch_all(x)
            .await)
            .unwrap();
            let tagged: Vec<(i64, String)> =
                flotilla_db::run!(db, |x| sqlx::query_as("SELECT video_id, tag FROM video_tags").fetch_all(x).await)
                    .unwrap();
            let mut want: Vec<Row> = rows
                .into_iter()
                .filter(|r| {
                    r.4 == 1 && tagged.iter().any(|(v, tag)| *v == r.0 && tags.contains(&tag.to_lowercase().as_str()))
                })
                .collect();
            want.sort_by(|a, b| if by_views { b.3.cmp(&a.3) } else { b.2.cmp(&a.2) }.then(b.0.cmp(&a.0)));
            let want: Vec<String> = want.into_iter().map(|r| r.1).collect();
            let mut got = Vec::new();
            for start in [0, 25, 50, 75] {
                let (status, page) = t.api.get(&format!("{path}&start={start}&count=25"), None).await;
                assert_eq!(status, StatusCode::OK, "{page}");
                assert_eq!(page["total"].as_u64(), Some(want.len() as u64), "{path}: the total");
                got.extend(page["data"].as_array().unwrap().iter().map(|v| v["uuid"].as_str().unwrap().to_string()));
            }
            assert_eq!(got, want, "{path}");
        }
    };
    check("/api/v1/videos?tagsOneOf=SEA", &["sea"], false).await;
    check("/api/v1/videos?tagsOneOf=sea&sort=-views", &["sea"], true).await;
    check("/api/v1/videos?tagsOneOf=sea&tagsOneOf=land", &["sea", "land"], false).await;

    // A video published again later moves to the top of its tag's list; a tag added afterwards
    // takes its video's date. (Within the few seconds a total is remembered: the pages say so.)
    sql("UPDATE videos SET published_at = published_at + 1000000 WHERE uuid = 'tag-89'").await;
    sql("INSERT INTO video_tags (video_id, tag) SELECT id, 'sea' FROM videos WHERE uuid = 'tag-3'").await;
    let (_, page) = t.api.get("/api/v1/videos?tagsOneOf=sea&count=3", None).await;
    let first: Vec<&str> = page["data"].as_array().unwrap().iter().map(|v| v["uuid"].as_str().unwrap()).collect();
    // tag-3 was published with tag-2 (i / 2) and has the larger id; without its date it would
    // come last (SQLite) or first (PostgreSQL).
    assert_eq!(first, ["tag-89", "tag-1", "tag-3"], "tag-89 first now, tag-3's new tag has its date");
    t.stop().await;
}

/// Inserts `n` published videos of `channel` as bare rows (no files: lists read only rows), with
/// uuids `{prefix}-{i}` for i in 1..=n, created i seconds before `now` and published i / `ties`
/// seconds before it; `exprs` are SQL expressions of `i` for privacy, duration, views and likes.
async fn insert_videos(
    t: &TestInstance,
    channel: i64,
    now: i64,
    n: i64,
    prefix: &str,
    ties: i64,
    exprs: [&str; 4],
) -> u64 {
    let [privacy, duration, views, likes] = exprs;
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         INSERT INTO videos (uuid, short_uuid, channel_id, name, privacy, state, duration, width, height, fps, \
         has_audio, has_video, input_size, created_at, updated_at, published_at, views, likes) \
         SELECT '{prefix}-' || i, '{prefix}' || i, $1, 'Video ' || i, {privacy}, 1, {duration}, 640, 360, 30.0, \
         TRUE, TRUE, 1000, $2 - i * 1000, $2 - i * 1000, $2 - (i / {ties}) * 1000, {views}, {likes} FROM n"
    );
    flotilla_db::run!(&t.instance.app.db, |x| sqlx::query(&sql)
        .bind(channel)
        .bind(now)
        .execute(x)
        .await
        .map(|r| r.rows_affected()))
    .unwrap()
}
