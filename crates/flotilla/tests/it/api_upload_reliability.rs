//! Uploads that nothing loses and nothing doubles: a resumable upload whose bytes are all stored is
//! finalised by the client's next request, once; a passing failure at the end keeps the upload;
//! open uploads and parallel ones cannot pass the quota; leftovers in quarantine are swept.

use std::path::Path;

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Api, Backend, TestInstance, clip, db_tests};

db_tests!(
    an_upload_stored_whole_but_not_finalised_is_finalised_by_the_next_request_once,
    a_passing_failure_at_finalisation_keeps_the_file_and_the_session,
    open_uploads_are_capped_and_their_announced_sizes_count_against_the_quota,
    parallel_uploads_cannot_pass_the_quota_together,
    leftovers_in_quarantine_are_swept_and_files_in_use_are_kept,
);

async fn channel_id(api: &Api, token: &str) -> i64 {
    let (_, me) = api.get("/api/v1/users/me", Some(token)).await;
    me["videoChannels"][0]["id"].as_i64().unwrap()
}

/// Starts a resumable upload of `size` bytes; its `upload_id`, or the refusal.
async fn init(api: &Api, token: &str, channel: i64, size: u64) -> Result<String, (StatusCode, Value)> {
    let resp = api
        .http
        .post(api.url("/api/v1/videos/upload-resumable"))
        .bearer_auth(token)
        .header("X-Upload-Content-Length", size.to_string())
        .header("X-Upload-Content-Type", "video/mp4")
        .json(&json!({ "channelId": channel, "name": "Reliable" }))
        .send()
        .await
        .unwrap();
    if resp.status() != StatusCode::CREATED {
        return Err((resp.status(), resp.json().await.unwrap_or(Value::Null)));
    }
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    Ok(location.split("upload_id=").nth(1).unwrap().to_string())
}

async fn put(api: &Api, token: &str, id: &str, range: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let req = api
        .http
        .put(api.url(&format!("/api/v1/videos/upload-resumable?upload_id={id}")))
        .bearer_auth(token)
        .header("Content-Range", range)
        .body(bytes);
    api.send(req).await
}

async fn my_videos(api: &Api, token: &str) -> i64 {
    api.get("/api/v1/users/me/videos", Some(token)).await.1["total"].as_i64().unwrap()
}

fn quarantine(t: &TestInstance) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(t.config.data_dir.join("tmp/uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

async fn an_upload_stored_whole_but_not_finalised_is_finalised_by_the_next_request_once(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("fin").await;
    let channel = channel_id(&t.api, &token).await;
    let bytes = std::fs::read(clip(t.dir.path(), "whole.mp4", 320, 240, 2)).unwrap();
    let total = bytes.len();
    let id = init(&t.api, &token, channel, total as u64).await.unwrap();
    // Every byte reached the disk, then the server stopped before turning it into a video.
    let [file] = quarantine(&t).try_into().unwrap();
    std::fs::write(t.config.data_dir.join("tmp/uploads").join(file), &bytes).unwrap();

    // The client asks where to resume: the answer is the video.
    let (status, first) = put(&t.api, &token, &id, &format!("bytes */{total}"), Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let video = first["video"]["uuid"].as_str().unwrap();
    // The answer was lost and the client sends its last chunk again: the same video, not a second.
    let tail = bytes[total - 10..].to_vec();
    let (status, again) = put(&t.api, &token, &id, &format!("bytes {}-{}/{total}", total - 10, total - 1), tail).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["video"]["uuid"], video);
    assert_eq!(my_videos(&t.api, &token).await, 1, "one video, however many times the client asks");
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{video}"), None).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    t.stop().await;
}

async fn a_passing_failure_at_finalisation_keeps_the_file_and_the_session(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("fay").await;
    let channel = channel_id(&t.api, &token).await;
    let bytes = std::fs::read(clip(t.dir.path(), "busy.mp4", 320, 240, 2)).unwrap();
    let total = bytes.len();
    let id = init(&t.api, &token, channel, total as u64).await.unwrap();
    let app = t.instance.app.clone();
    // The database is busy (a failure that passes) just as the last chunk lands.
    app.failpoints.arm("upload.finalise", flotilla_app::failpoints::Action::Error);
    let (status, body) = put(&t.api, &token, &id, &format!("bytes 0-{}/{total}", total - 1), bytes).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(quarantine(&t).len(), 1, "the bytes are kept");
    assert!(flotilla_db::uploads::get(&app.db, &id).await.unwrap().is_some(), "and the session");
    assert_eq!(my_videos(&t.api, &token).await, 0);
    // It passes; the client's retry finishes the upload without sending the file again.
    app.failpoints.disarm("upload.finalise");
    let (status, body) = put(&t.api, &token, &id, &format!("bytes */{total}"), Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(my_videos(&t.api, &token).await, 1);
    // A refusal, on the other hand, ends the session and frees the space.
    let junk = vec![7u8; 4096];
    let id = init(&t.api, &token, channel, junk.len() as u64).await.unwrap();
    let (status, body) = put(&t.api, &token, &id, "bytes 0-4095/4096", junk).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_media");
    assert!(flotilla_db::uploads::get(&app.db, &id).await.unwrap().is_none());
    t.stop().await;
}

async fn open_uploads_are_capped_and_their_announced_sizes_count_against_the_quota(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.upload.max_open_sessions = 3).await;
    let token = t.user("ola").await;
    let channel = channel_id(&t.api, &token).await;
    let admin = t.admin_token().await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let (status, _) =
        t.api.put(&format!("/api/v1/users/{}", me["id"]), Some(&admin), json!({ "videoQuota": 10_000_000 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Two uploads of 6 MB each do not fit in 10 MB, even while neither is finished.
    let first = init(&t.api, &token, channel, 6_000_000).await.unwrap();
    let (status, body) = init(&t.api, &token, channel, 6_000_000).await.unwrap_err();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "quota_reached");
    // A multipart upload sees the room the open one holds, too.
    let file = clip(t.dir.path(), "small.mp4", 320, 240, 2);
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Too much")
        .part("videofile", multipart::Part::bytes(vec![0u8; 4_500_000]).file_name("x.mp4"));
    let (status, body) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // Cancelled, its room is free again.
    let resp = t
        .api
        .http
        .delete(t.api.url(&format!("/api/v1/videos/upload-resumable?upload_id={first}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    init(&t.api, &token, channel, 6_000_000).await.unwrap();
    // At most three in progress at once.
    init(&t.api, &token, channel, 1000).await.unwrap();
    init(&t.api, &token, channel, 1000).await.unwrap();
    let (status, body) = init(&t.api, &token, channel, 1000).await.unwrap_err();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("uploads in progress"), "{body}");
    assert_eq!(quarantine(&t).len(), 3, "no file for the refused ones");
    let _ = file;
    t.stop().await;
}

async fn parallel_uploads_cannot_pass_the_quota_together(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let token = t.user("par").await;
    let channel = channel_id(&t.api, &token).await;
    let file = clip(t.dir.path(), "par.mp4", 320, 240, 2);
    let size = std::fs::metadata(&file).unwrap().len() as i64;
    let admin = t.admin_token().await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let quota = size * 3 / 2;
    let (status, _) =
        t.api.put(&format!("/api/v1/users/{}", me["id"]), Some(&admin), json!({ "videoQuota": quota })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let bytes = std::fs::read(&file).unwrap();
    let uploads = (0..4).map(|i| {
        let (api, token, bytes) = (t.api.clone(), token.clone(), bytes.clone());
        async move {
            let form = multipart::Form::new()
                .text("channelId", channel.to_string())
                .text("name", format!("Parallel {i}"))
                .part("videofile", multipart::Part::bytes(bytes).file_name("par.mp4"));
            api.send(api.http.post(api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await
        }
    });
    let answers = futures_util::future::join_all(uploads).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let over = answers.iter().filter(|(s, b)| *s == StatusCode::PAYLOAD_TOO_LARGE && b["code"] == "quota_reached");
    assert_eq!((ok, over.count()), (1, 3), "{answers:?}");
    assert_eq!(my_videos(&t.api, &token).await, 1);
    assert!(quarantine(&t).len() <= 1, "the refused files are gone: {:?}", quarantine(&t));
    t.stop().await;
}

fn age(path: &Path) {
    let status = std::process::Command::new("touch").args(["-d", "2 hours ago"]).arg(path).status().unwrap();
    assert!(status.success());
}

async fn leftovers_in_quarantine_are_swept_and_files_in_use_are_kept(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let app = t.instance.app.clone();
    let dir = t.config.data_dir.join("tmp/uploads");
    // A multipart upload cut by a crash, long ago; one being written right now.
    let old_leftover = dir.join("cut-by-a-crash.upload");
    std::fs::write(&old_leftover, b"partial").unwrap();
    age(&old_leftover);
    let fresh = dir.join("being-written.upload");
    std::fs::write(&fresh, b"partial").unwrap();
    // An open session (its file old: the client paused), and a deleted user's session.
    let keeper = t.user("kee").await;
    let keeper_session = init(&t.api, &keeper, channel_id(&t.api, &keeper).await, 1000).await.unwrap();
    let gone = t.user("gon").await;
    init(&t.api, &gone, channel_id(&t.api, &gone).await, 1000).await.unwrap();
    let session_file = |id: &str| {
        let app = app.clone();
        let id = id.to_string();
        async move { flotilla_db::uploads::get(&app.db, &id).await.unwrap().unwrap().path }
    };
    let keeper_file = session_file(&keeper_session).await;
    let gone_file = quarantine(&t)
        .into_iter()
        .map(|n| dir.join(n).display().to_string())
        .find(|p| *p != keeper_file && !p.ends_with("crash.upload") && !p.ends_with("written.upload"))
        .unwrap();
    let admin = t.admin_token().await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&gone)).await;
    let (status, _) = t.api.delete(&format!("/api/v1/users/{}", me["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for f in [&keeper_file, &gone_file] {
        age(Path::new(f));
    }
    // (The instance's own hourly housekeeping may have swept already; this runs the same sweep.)
    flotilla_app::video::resumable::sweep(&app).await.unwrap();
    assert!(!old_leftover.exists(), "the crash's leftover is gone");
    assert!(!Path::new(&gone_file).exists(), "the deleted user's file is gone");
    assert!(fresh.exists(), "a file being written is left alone");
    assert!(Path::new(&keeper_file).exists(), "an open session's file is kept");
    t.stop().await;
}
