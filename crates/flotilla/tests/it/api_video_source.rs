//! A video's source (PeerTube 6.x): what was uploaded (`GET /videos/:id/source`), kept after
//! transcoding when configured and downloadable by its managers; a video's file replaced with
//! the resumable protocol (`…/source/replace-resumable`), transcoded again under the same video;
//! a replacement that is no video refused with nothing changed.

use flotilla_testkit::reqwest::{Method, StatusCode};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};

db_tests!(a_videos_file_is_replaced_and_its_original_kept, without_keep_original_the_upload_goes,);

/// A whole file through a resumable session opened at `init_path` (metadata `meta`); the last
/// chunk's answer.
async fn resumable(t: &TestInstance, token: &str, init_path: &str, meta: Value, bytes: &[u8]) -> (StatusCode, Value) {
    let req = t
        .api
        .request(Method::POST, init_path, Some(token))
        .header("x-upload-content-length", bytes.len().to_string())
        .header("x-upload-content-type", "video/mp4")
        .json(&meta);
    let resp = req.send().await.unwrap();
    let status = resp.status();
    if status != StatusCode::CREATED {
        return (status, resp.json().await.unwrap_or(Value::Null));
    }
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let url = format!("http:{location}");
    let req = t
        .api
        .http
        .put(url)
        .bearer_auth(token)
        .header("content-range", format!("bytes 0-{}/{}", bytes.len() - 1, bytes.len()))
        .body(bytes.to_vec());
    t.api.send(req).await
}

async fn source(t: &TestInstance, token: &str, uuid: &str) -> Value {
    let (status, s) = t.api.get(&format!("/api/v1/videos/{uuid}/source"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s
}

async fn download(t: &TestInstance, url: &str, token: &str) -> (StatusCode, Vec<u8>) {
    let resp = t.api.http.get(url).bearer_auth(token).send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

fn originals(t: &TestInstance) -> usize {
    std::fs::read_dir(t.config.data_dir.join("original-video-files")).map(|d| d.count()).unwrap_or(0)
}

async fn a_videos_file_is_replaced_and_its_original_kept(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.transcoding.keep_original = true;
    })
    .await;
    let owner = t.user("ruth").await;
    let other = t.user("sam").await;
    let admin = t.admin_token().await;
    let channel = t.api.get("/api/v1/users/me", Some(&owner)).await.1["videoChannels"][0]["id"].clone();
    let first = std::fs::read(clip(t.dir.path(), "first.mp4", 256, 144, 1)).unwrap();
    let meta = json!({ "channelId": channel, "name": "Garden, before", "filename": "first.mp4" });
    let (status, body) = resumable(&t, &owner, "/api/v1/videos/upload-resumable", meta, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    let id = body["video"]["id"].clone();
    t.run_jobs().await;

    // What was uploaded, kept and downloadable by its owner only.
    let s = source(&t, &owner, &uuid).await;
    assert_eq!(s["inputFilename"], "first.mp4", "{s}");
    assert_eq!(s["size"], first.len());
    assert_eq!((s["width"].as_i64(), s["height"].as_i64()), (Some(256), Some(144)));
    let url = s["fileDownloadUrl"].as_str().expect("kept").to_string();
    assert_eq!(download(&t, &url, &owner).await, (StatusCode::OK, first.clone()));
    assert_eq!(download(&t, &url, &other).await.0, StatusCode::NOT_FOUND);
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}/source"), Some(&other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(originals(&t), 1);
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["videoFile"]["update"]["enabled"], true);

    // Someone else cannot replace it; a file that is no video is refused and changes nothing.
    let replace = format!("/api/v1/videos/{uuid}/source/replace-resumable");
    let (status, _) = resumable(&t, &other, &replace, json!({ "filename": "x.mp4" }), &first).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let junk = b"not a video at all".repeat(64);
    let (status, body) = resumable(&t, &owner, &replace, json!({ "filename": "junk.mp4" }), &junk).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_media");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["duration"], 1);
    assert!(!v["streamingPlaylists"][0]["files"].as_array().unwrap().is_empty(), "{v}");

    // Replaced: the same video, transcoded again from the new file, whose original is kept now.
    // Its quota leaves room for the new file only if the old one's share is given back.
    let second = std::fs::read(clip(t.dir.path(), "second.mp4", 320, 180, 3)).unwrap();
    assert!(first.len() > 100 && second.len() > first.len());
    let owner_id = t.api.get("/api/v1/users/me", Some(&owner)).await.1["id"].clone();
    let quota = json!({ "videoQuota": second.len() + 10 });
    let (status, body) = t.api.put(&format!("/api/v1/users/{owner_id}"), Some(&admin), quota).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let too_big = vec![0u8; second.len() + 11];
    let (status, body) = resumable(&t, &owner, &replace, json!({ "filename": "big.mp4" }), &too_big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "over the quota even with the old share back: {body}");
    let (status, body) = resumable(&t, &owner, &replace, json!({ "filename": "second.mp4" }), &second).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id);
    assert_eq!(v["name"], "Garden, before");
    assert_eq!(v["duration"], 3, "the new file's: {v}");
    assert_eq!(v["state"]["id"], 1);
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
    assert_eq!(t.api.http.get(master).send().await.unwrap().status(), StatusCode::OK);
    let s = source(&t, &owner, &uuid).await;
    assert_eq!(s["inputFilename"], "second.mp4");
    assert_eq!(s["size"], second.len());
    let url = s["fileDownloadUrl"].as_str().unwrap().to_string();
    assert_eq!(download(&t, &url, &owner).await, (StatusCode::OK, second.clone()));
    assert_eq!(originals(&t), 1, "the first original went");

    // Moderators remove a kept original.
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}/source/file"), Some(&owner)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}/source/file"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(source(&t, &owner, &uuid).await["fileDownloadUrl"], Value::Null);
    assert_eq!(download(&t, &url, &owner).await.0, StatusCode::NOT_FOUND);
    assert_eq!(originals(&t), 0);

    // A deleted video takes its kept original along.
    let third = std::fs::read(clip(t.dir.path(), "third.mp4", 256, 144, 1)).unwrap();
    let (status, body) = resumable(&t, &owner, &replace, json!({ "filename": "third.mp4" }), &third).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    assert_eq!(originals(&t), 1);
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(originals(&t), 0);
    t.stop().await;
}

async fn without_keep_original_the_upload_goes(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.upload.replace_enabled = false;
    })
    .await;
    let owner = t.user("una").await;
    let uuid = t.publish(&owner, "Brief", &[]).await;
    t.run_jobs().await;
    let s = source(&t, &owner, &uuid).await;
    assert_eq!(s["inputFilename"], "f.mp4", "the multipart part's name: {s}");
    assert_eq!(s["fileDownloadUrl"], Value::Null);
    assert_eq!(originals(&t), 0);
    let leftovers = std::fs::read_dir(t.config.data_dir.join("tmp/uploads")).unwrap().count();
    assert_eq!(leftovers, 0, "the upload was removed after transcoding");
    // Replacing is off here.
    let file = std::fs::read(clip(t.dir.path(), "n.mp4", 256, 144, 1)).unwrap();
    let replace = format!("/api/v1/videos/{uuid}/source/replace-resumable");
    let (status, body) = resumable(&t, &owner, &replace, json!({}), &file).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["videoFile"]["update"]["enabled"], false);
    t.stop().await;
}
