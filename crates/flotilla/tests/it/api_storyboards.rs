//! Storyboards with the real ffmpeg: a sprite sheet in PeerTube 6.3's geometry, listed by
//! `/videos/{id}/storyboards`, served as a JPEG of the announced size, described in the `Video`'s
//! `preview` as PeerTube's sample does; none for a clip under 3 s; private ones for their owner;
//! carried to a following Flotilla, which fetches and re-encodes its copy.

use std::process::Command;

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, clip, db_tests, settle};

db_tests!(a_storyboard_is_drawn_in_peertubes_geometry, storyboards_reach_a_following_server);

/// Uploads a 6-second 640×360 clip; returns its UUID (transcoding left to the caller).
async fn six_seconds(t: &TestInstance, token: &str, name: &str, privacy: &str) -> String {
    let (_, me) = t.api.get("/api/v1/users/me", Some(token)).await;
    let file = clip(t.dir.path(), "six.mp4", 640, 360, 6);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", name.to_string())
        .text("privacy", privacy.to_string())
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("six.mp4"));
    let (status, body) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["video"]["uuid"].as_str().unwrap().to_string()
}

/// The width and height ffprobe reads in a JPEG.
fn jpeg_size(t: &TestInstance, bytes: &[u8]) -> (i64, i64) {
    let path = t.dir.path().join("sheet.jpg");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=width,height,codec_name", "-of", "json"])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    let v: Value = flotilla_testkit::serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["streams"][0]["codec_name"], "mjpeg", "{v}");
    (v["streams"][0]["width"].as_i64().unwrap(), v["streams"][0]["height"].as_i64().unwrap())
}

async fn get(t: &TestInstance, url: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = t.api.http.get(url);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

async fn a_storyboard_is_drawn_in_peertubes_geometry(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let owner = t.user("sid").await;
    let other = t.user("sue").await;
    let uuid = six_seconds(&t, &owner, "Six seconds", "1").await;
    let private = six_seconds(&t, &owner, "Private six", "3").await;
    let short = t.publish(&owner, "One second", &[]).await;
    t.run_jobs().await;

    let (status, body) = t.api.get(&format!("/api/v1/videos/{uuid}/storyboards"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = &body["storyboards"][0];
    // PeerTube's sample (ap-video.json): a 6 s 16:9 clip, six 192×108 sprites of a second.
    assert_eq!(
        (
            s["totalWidth"].clone(),
            s["totalHeight"].clone(),
            s["spriteWidth"].clone(),
            s["spriteHeight"].clone(),
            s["spriteDuration"].clone()
        ),
        (json!(1152), json!(108), json!(192), json!(108), json!(1))
    );
    let path = s["storyboardPath"].as_str().unwrap();
    assert!(path.starts_with("/lazy-static/storyboards/") && path.ends_with(".jpg"), "{path}");
    let (status, jpeg) = get(&t, &t.api.url(path), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jpeg_size(&t, &jpeg), (1152, 108));

    // The `Video` object's preview, in the sample's shape.
    let resp =
        t.api.http.get(t.api.url(&format!("/videos/watch/{uuid}"))).header("accept", "application/activity+json");
    let object: Value = resp.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        object["preview"],
        json!([{ "type": "Image", "rel": ["storyboard"], "url": [{
            "mediaType": "image/jpeg", "href": t.api.url(path), "width": 1152, "height": 108,
            "tileWidth": 192, "tileHeight": 108, "tileDuration": "PT1S" }] }])
    );

    // Under 3 s: none, as PeerTube.
    let (_, body) = t.api.get(&format!("/api/v1/videos/{short}/storyboards"), None).await;
    assert_eq!(body["storyboards"], json!([]));

    // A private video's storyboard is its owner's.
    let (status, _) = t.api.get(&format!("/api/v1/videos/{private}/storyboards"), Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = t.api.get(&format!("/api/v1/videos/{private}/storyboards"), Some(&owner)).await;
    let url = t.api.url(body["storyboards"][0]["storyboardPath"].as_str().unwrap());
    assert_eq!(get(&t, &url, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&t, &url, Some(&other)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&t, &url, Some(&owner)).await.0, StatusCode::OK);
    for p in ["/lazy-static/storyboards/..%2F..%2Fdb.jpg", "/lazy-static/storyboards/nope.jpg"] {
        assert_eq!(get(&t, &t.api.url(p), None).await.0, StatusCode::NOT_FOUND, "{p}");
    }

    // Deleting the video removes its sheet.
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{private}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!t.instance.app.config.data_dir.join("storyboards").join(&private).exists());
    t.stop().await;
}

async fn storyboards_reach_a_following_server(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ada = a.user("ada").await;
    let uuid = six_seconds(&a, &ada, "Travelling storyboard", "1").await;
    a.run_jobs().await;
    settle(&[&a, &b]).await;
    let (status, body) = b.api.get(&format!("/api/v1/videos/{uuid}/storyboards"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = &body["storyboards"][0];
    assert_eq!((s["totalWidth"].clone(), s["spriteDuration"].clone()), (json!(1152), json!(1)), "{body}");
    let path = s["storyboardPath"].as_str().unwrap();
    let (status, jpeg) = get(&b, &b.api.url(path), None).await;
    assert_eq!(status, StatusCode::OK, "B serves its copy");
    assert_eq!(jpeg_size(&b, &jpeg), (1152, 108));
    a.stop().await;
    b.stop().await;
}
