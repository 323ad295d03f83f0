//! Uploads built to hurt (security-cases 20, 22, 27): media files that make ffmpeg read other files
//! of the server, claims beyond the configured limits, forms built to exhaust memory. Each is
//! refused with a clear JSON error, nothing is stored or published, the instance keeps working.

use std::path::{Path, PathBuf};

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::Value;
use flotilla_testkit::{Api, Backend, TestInstance, clip, db_tests, peak_rss_kib, post_streamed};

db_tests!(
    uploads_that_name_other_files_are_refused_and_nothing_is_published,
    claims_beyond_the_size_duration_and_frame_rate_limits_are_refused,
    forms_built_to_exhaust_memory_are_refused_and_memory_stays_bounded,
);

async fn channel_id(api: &Api, token: &str) -> i64 {
    let (_, me) = api.get("/api/v1/users/me", Some(token)).await;
    me["videoChannels"][0]["id"].as_i64().unwrap()
}

async fn upload(api: &Api, token: &str, file: &Path, channel: i64) -> (StatusCode, Value) {
    let bytes = std::fs::read(file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Hostile upload")
        .part("videofile", multipart::Part::bytes(bytes).file_name(name));
    api.send(api.http.post(api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await
}

async fn my_video_count(api: &Api, token: &str) -> i64 {
    let (_, mine) = api.get("/api/v1/users/me/videos", Some(token)).await;
    mine["total"].as_i64().unwrap()
}

fn quarantine(t: &TestInstance) -> Vec<String> {
    std::fs::read_dir(t.config.data_dir.join("tmp/uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect()
}

async fn uploads_that_name_other_files_are_refused_and_nothing_is_published(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("mallory").await;
    let channel = channel_id(&t.api, &token).await;
    // Files the service can read: one elsewhere in its data directory (another user's video, say),
    // and another user's upload waiting in quarantine next to ours.
    let data = t.config.data_dir.clone();
    let secret = data.join("secret");
    std::fs::create_dir_all(&secret).unwrap();
    let victim = clip(&secret, "victim.mp4", 320, 240, 2);
    std::fs::copy(&victim, data.join("tmp/uploads/victim.mp4")).unwrap();
    let playlist = |entry: &str| format!("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n{entry}\n#EXT-X-ENDLIST\n");
    let cases: Vec<(&str, String)> = vec![
        ("absolute.m3u8", playlist(&victim.display().to_string())),
        ("relative.m3u8", playlist("../../secret/victim.mp4")),
        ("file-url.m3u8", playlist(&format!("file:{}", victim.display()))),
        // ffmpeg's concat demuxer, in its safe mode, still reads a plain name beside the list.
        ("list.ffconcat", "ffconcat version 1.0\nfile victim.mp4\n".to_string()),
    ];
    for (name, text) in &cases {
        let file = t.dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let (status, body) = upload(&t.api, &token, &file, channel).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_eq!(body["code"], "invalid_media", "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("not accepted"), "{name}: {body}");
        assert!(!body.to_string().contains(&data.display().to_string()), "no server path in the answer: {body}");
    }
    t.run_jobs().await;
    assert_eq!(my_video_count(&t.api, &token).await, 0, "nothing was stored");
    let (_, public) = t.api.get("/api/v1/videos", None).await;
    assert_eq!(public["total"], 0, "nothing was published");
    assert_eq!(quarantine(&t), ["victim.mp4"], "the refused uploads were deleted");
    let (_, quota) = t.api.get("/api/v1/users/me/video-quota-used", Some(&token)).await;
    assert_eq!(quota["videoQuotaUsed"], 0, "refused uploads take no quota: {quota}");
    assert!(std::fs::read_dir(data.join("streaming-playlists/hls")).unwrap().next().is_none(), "no HLS was written");
    t.stop().await;
}

/// A real 2-second clip whose `mvhd` box claims `secs` seconds.
fn clip_claiming(dir: &Path, secs: u32) -> PathBuf {
    let real = clip(dir, "short.mp4", 320, 240, 2);
    let mut bytes = std::fs::read(&real).unwrap();
    let at = bytes.windows(4).position(|w| w == b"mvhd").expect("an mvhd box");
    assert_eq!(bytes[at + 4], 0, "a version 0 mvhd");
    let timescale = u32::from_be_bytes(bytes[at + 16..at + 20].try_into().unwrap());
    bytes[at + 20..at + 24].copy_from_slice(&(secs * timescale).to_be_bytes());
    let out = dir.join(format!("claims-{secs}s.mp4"));
    std::fs::write(&out, bytes).unwrap();
    out
}

/// A one-frame raw-video AVI whose headers claim `w`×`h` pixels (and `fps` frames per second).
fn avi_claiming(dir: &Path, w: i32, h: i32, fps: u32) -> PathBuf {
    let small = dir.join("small.avi");
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=16x16:rate=1:duration=1")
        .args(["-c:v", "rawvideo", "-pix_fmt", "bgr24"])
        .arg(&small)
        .status()
        .expect("ffmpeg (apt-get install ffmpeg)");
    assert!(status.success());
    let mut bytes = std::fs::read(&small).unwrap();
    let find = |b: &[u8], tag: &[u8]| b.windows(4).position(|w| w == tag).unwrap() + 8;
    // avih: dwMicroSecPerFrame at 0, dwWidth and dwHeight at 32 and 36.
    let avih = find(&bytes, b"avih");
    bytes[avih..avih + 4].copy_from_slice(&(1_000_000 / fps).to_le_bytes());
    bytes[avih + 32..avih + 36].copy_from_slice(&(w as u32).to_le_bytes());
    bytes[avih + 36..avih + 40].copy_from_slice(&(h as u32).to_le_bytes());
    // strh: dwScale at 20, dwRate at 24 (frames per second = rate / scale).
    let strh = find(&bytes, b"strh");
    bytes[strh + 20..strh + 24].copy_from_slice(&1u32.to_le_bytes());
    bytes[strh + 24..strh + 28].copy_from_slice(&fps.to_le_bytes());
    // strf (BITMAPINFOHEADER): biWidth at 4, biHeight at 8.
    let strf = find(&bytes, b"strf");
    bytes[strf + 4..strf + 8].copy_from_slice(&w.to_le_bytes());
    bytes[strf + 8..strf + 12].copy_from_slice(&h.to_le_bytes());
    let out = dir.join(format!("claims-{w}x{h}-{fps}fps.avi"));
    std::fs::write(&out, bytes).unwrap();
    out
}

async fn claims_beyond_the_size_duration_and_frame_rate_limits_are_refused(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("claire").await;
    let channel = channel_id(&t.api, &token).await;
    let dir = t.dir.path();
    for (file, why) in [
        (clip_claiming(dir, 10 * 3600), "longer than this instance accepts"),
        (avi_claiming(dir, 16_000, 16_000, 1), "larger than this instance accepts"),
        (avi_claiming(dir, 16, 16, 1000), "frames per second"),
        // So large that ffprobe itself gives up on the picture: refused all the same.
        (avi_claiming(dir, 100_000, 100_000, 1), ""),
    ] {
        let (status, body) = upload(&t.api, &token, &file, channel).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", file.display());
        assert_eq!(body["code"], "invalid_media", "{body}");
        assert!(body["detail"].as_str().unwrap().contains(why), "{}: {body}", file.display());
    }
    assert_eq!(my_video_count(&t.api, &token).await, 0);
    assert!(quarantine(&t).is_empty());
    // The same 16×16 picture at one frame per second is accepted: the refusals were the claims.
    let (status, body) = upload(&t.api, &token, &avi_claiming(dir, 16, 16, 1), channel).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.stop().await;
}

/// One multipart part (headers and content, without the closing delimiter).
fn part(boundary: &str, name: &str, filename: Option<&str>, content: &[u8]) -> Vec<u8> {
    let file = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
    let mut out = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n").into_bytes();
    out.extend_from_slice(content);
    out.extend_from_slice(b"\r\n");
    out
}

async fn forms_built_to_exhaust_memory_are_refused_and_memory_stays_bounded(backend: Backend) {
    const MB: usize = 1024 * 1024;
    let t = TestInstance::start(backend).await;
    let token = t.user("greedy").await;
    let channel = channel_id(&t.api, &token).await;
    let b = "hostileBoundary7";
    let headers =
        [("Authorization", format!("Bearer {token}")), ("Content-Type", format!("multipart/form-data; boundary={b}"))];
    let send = |chunks: Box<dyn Iterator<Item = Vec<u8>> + Send>| {
        post_streamed(&t.api.base, "/api/v1/videos/upload", &headers, chunks)
    };
    let start = [part(b, "channelId", None, channel.to_string().as_bytes())].concat();

    // 100,000 fields (sent a thousand at a time).
    let many = std::iter::once(start.clone())
        .chain((0..100).map(move |batch| {
            (0..1000).flat_map(|i| part(b, &format!("f{}", batch * 1000 + i), None, b"x")).collect()
        }));
    let r = send(Box::new(many)).await;
    assert_eq!(r.status, 413, "100,000 fields: {r:?}");
    assert!(r.body.contains("more than 64 parts"), "{r:?}");

    // One text field of 50 MB.
    let head = format!("--{b}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n").into_bytes();
    let text = std::iter::once([start.clone(), head].concat()).chain((0..50).map(|_| vec![b'a'; MB]));
    let r = send(Box::new(text)).await;
    assert_eq!(r.status, 413, "50 MB text field: {r:?}");
    assert!(r.body.contains("the field 'description' is larger than 65536 bytes"), "{r:?}");
    assert!(r.sent < 50 * MB as u64, "answered before the client sent it all ({} bytes sent)", r.sent);

    // Fifty image parts of 1 MB each: the second thumbnail is refused.
    let images =
        std::iter::once(start.clone()).chain((0..50).map(|_| part(b, "thumbnailfile", Some("t.png"), &[7u8; MB])));
    let r = send(Box::new(images)).await;
    assert_eq!(r.status, 400, "50 image parts: {r:?}");
    assert!(r.body.contains("send one thumbnailfile at most"), "{r:?}");

    // A part whose headers never end (the parser would keep them all in memory).
    let open = format!("--{b}\r\nContent-Disposition: form-data; name=\"name\"\r\nX-Pad: ").into_bytes();
    let endless = std::iter::once([start.clone(), open].concat()).chain((0..50).map(|_| vec![b'a'; MB]));
    let r = send(Box::new(endless)).await;
    assert_eq!(r.status, 413, "endless part headers: {r:?}");
    assert!(r.body.contains("headers are too long"), "{r:?}");
    assert!(r.sent < 50 * MB as u64, "answered before the client sent it all ({} bytes sent)", r.sent);

    // Tags are counted as they arrive: the sixth is refused.
    let tags =
        std::iter::once(start).chain((0..10_000).map(move |i| part(b, "tags[]", None, format!("tag{i}").as_bytes())));
    let r = send(Box::new(tags)).await;
    assert_eq!(r.status, 400, "10,000 tags: {r:?}");
    assert!(r.body.contains("at most 5 tags"), "{r:?}");

    // Nothing was stored, the instance answers, and the process never held much.
    assert_eq!(my_video_count(&t.api, &token).await, 0);
    assert!(quarantine(&t).is_empty());
    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    let peak = peak_rss_kib();
    assert!(peak < 100 * 1024, "peak resident memory {} MiB (server and test client together)", peak / 1024);
    t.stop().await;
}
