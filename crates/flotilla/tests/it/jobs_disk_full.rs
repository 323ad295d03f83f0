//! A full disk is the machine's fault, not the video's. During a transcode the job is retried
//! (never "transcoding failed"), its half-written files are removed, and it succeeds once space is
//! back; during an upload the client is told so (507 `insufficient_storage`, `Retry-After`), the
//! resumable upload keeps exactly its whole chunks and finishes once space is back. The data directory is a small tmpfs of the test's own, so the disk really fills: the test
//! needs root to mount it (as the suite runs in CI), and says so otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};

db_tests!(
    a_transcode_that_fills_the_disk_is_retried_and_succeeds_when_space_is_back,
    an_upload_on_a_full_disk_is_answered_507_and_resumes_when_space_is_back
);

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("the mount command (util-linux)");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill the disk for real, which needs root (make test runs as \
             root in CI; or run it with sudo): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with one file, then gives back `leave` bytes of it.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.flush();
    let len = std::fs::metadata(&filler).unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
    filler
}

async fn a_transcode_that_fills_the_disk_is_retried_and_succeeds_when_space_is_back(backend: Backend) {
    let mut mounted = None;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![240, 360];
        mounted = Some(Tmpfs::mount(&c.data_dir, "48m"));
    })
    .await;
    let _mounted = mounted.unwrap();
    let token = t.user("dora").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let file = clip(t.dir.path(), "full.mp4", 640, 360, 8);
    let size = std::fs::metadata(&file).unwrap().len();
    // Room for the upload itself and a little more: not for its renditions and images.
    let filler = fill(&t.config.data_dir, size + 64 * 1024);
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Disk full")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("full.mp4"));
    let (status, body) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();

    let app = t.instance.app.clone();
    let job = || async {
        let page = flotilla_db::Page { start: 0, count: 1 };
        flotilla_db::jobs::list(&app.db, None, Some("transcode"), page).await.unwrap().0.into_iter().next()
    };
    // The first attempt hits the full disk and is queued again, not failed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let retried = loop {
        if let Some(j) = job().await
            && j.state != "running"
            && j.attempts >= 1
        {
            break j;
        }
        assert!(tokio::time::Instant::now() < deadline, "the first attempt never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(retried.state, "queued", "a full disk is worth another try: {retried:?}");
    let why = retried.last_error.clone().unwrap_or_default();
    assert!(why.contains("No space left on device") || why.contains("disk is full"), "{why}");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(v["state"]["id"], 2, "the video waits, it did not fail: {v}");
    assert!(!t.config.data_dir.join("tmp/transcode").join(&uuid).exists(), "the half-written files are gone");

    // Space is back: the retry (made due now) publishes the video.
    std::fs::remove_file(&filler).unwrap();
    flotilla_db::run!(&app.db, |x| sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
        .execute(x)
        .await
        .map(|_| ()))
    .unwrap();
    app.wake_jobs();
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    assert_eq!(v["streamingPlaylists"][0]["files"].as_array().unwrap().len(), 2, "{v}");
    let done = job().await.unwrap();
    assert!(done.attempts >= 2, "{done:?}");
    t.stop().await;
}

async fn an_upload_on_a_full_disk_is_answered_507_and_resumes_when_space_is_back(backend: Backend) {
    let mut mounted = None;
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![240];
        mounted = Some(Tmpfs::mount(&c.data_dir, "48m"));
    })
    .await;
    let _mounted = mounted.unwrap();
    let token = t.user("fran").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let bytes = std::fs::read(clip(t.dir.path(), "resume.mp4", 320, 240, 4)).unwrap();
    let total = bytes.len();
    let half = total / 2;
    let http = &t.api.http;
    let resp = http
        .post(t.api.url("/api/v1/videos/upload-resumable"))
        .bearer_auth(&token)
        .header("X-Upload-Content-Length", total.to_string())
        .header("X-Upload-Content-Type", "video/mp4")
        .json(&flotilla_testkit::serde_json::json!({ "channelId": channel, "name": "Full disk" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let id = location.split("upload_id=").nth(1).unwrap().to_string();
    let url = t.api.url(&format!("/api/v1/videos/upload-resumable?upload_id={id}"));
    let chunk = |from: usize, to: usize| {
        http.put(&url)
            .bearer_auth(&token)
            .header("Content-Range", format!("bytes {from}-{}/{total}", to - 1))
            .body(bytes[from..to].to_vec())
            .send()
    };
    assert_eq!(chunk(0, half).await.unwrap().status(), StatusCode::PERMANENT_REDIRECT);

    // The disk fills: room for a few KiB, not for the second half.
    let filler = fill(&t.config.data_dir, 8 * 1024);
    let resp = chunk(half, total).await.unwrap();
    assert_eq!(resp.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert!(resp.headers().contains_key("retry-after"), "{:?}", resp.headers());
    let body: flotilla_testkit::serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "insufficient_storage", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("disk is full"), "{body}");
    // What is stored is exactly the first half: the bytes of the failed chunk were cut back.
    let asked = http
        .put(&url)
        .bearer_auth(&token)
        .header("Content-Range", format!("bytes */{total}"))
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(asked.headers()["range"].to_str().unwrap(), format!("bytes=0-{}", half - 1));

    // A multipart upload meets the same full disk, and is told the same.
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Full disk too")
        .part("videofile", multipart::Part::bytes(bytes.clone()).file_name("full.mp4"));
    let (status, body) =
        t.api.send(http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert_eq!(body["code"], "insufficient_storage", "{body}");

    // Space is back: the client sends the second half again and the video is made.
    std::fs::remove_file(&filler).unwrap();
    let resp = chunk(half, total).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    t.run_jobs().await;
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&token)).await;
    assert_eq!(mine["total"], 1, "one video, from the resumed upload: {mine}");
    assert_eq!(mine["data"][0]["state"]["id"], 1, "{mine}");
    t.stop().await;
}
