//! An administrator's hand on a video's files (PeerTube's `DELETE /videos/:id/hls`,
//! `DELETE /videos/:id/web-videos`, `POST /videos/:id/transcoding`): one kind removed (never the
//! last one), kept away by the hourly completion, made again on request — the HLS ladder with its
//! segment hashes and torrents, from the web video that was left.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(administrators_remove_and_remake_a_videos_files,);

async fn video(t: &TestInstance, uuid: &str) -> Value {
    let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

async fn status_of(t: &TestInstance, url: &str) -> StatusCode {
    t.api.http.get(url).send().await.unwrap().status()
}

fn resolutions(files: &Value) -> Vec<i64> {
    let mut r: Vec<i64> = files.as_array().unwrap().iter().map(|f| f["resolution"]["id"].as_i64().unwrap()).collect();
    r.sort();
    r
}

async fn administrators_remove_and_remake_a_videos_files(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let admin = t.admin_token().await;
    let owner = t.user("vic").await;
    let uuid = t.publish(&owner, "Ferry crossing", &[]).await;
    t.run_jobs().await;
    let v = video(&t, &uuid).await;
    let web_url = v["files"][0]["fileUrl"].as_str().unwrap().to_string();
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    assert_eq!(status_of(&t, &web_url).await, StatusCode::OK);

    // Administrators only.
    for path in ["hls", "web-videos"] {
        let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}/{path}"), Some(&owner)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = t
        .api
        .post(&format!("/api/v1/videos/{uuid}/transcoding"), Some(&owner), json!({ "transcodingType": "hls" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Web videos removed: HLS stays, and the hourly completion does not bring them back.
    let (status, body) = t.api.delete(&format!("/api/v1/videos/{uuid}/web-videos"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let v = video(&t, &uuid).await;
    assert_eq!(v["files"], json!([]), "{v}");
    assert_eq!(resolutions(&v["streamingPlaylists"][0]["files"]), [144]);
    assert_eq!(status_of(&t, &web_url).await, StatusCode::NOT_FOUND, "its file is gone");
    flotilla_app::video::files::backfill(&t.instance.app).await.unwrap();
    t.run_jobs().await;
    assert_eq!(video(&t, &uuid).await["files"], json!([]), "not made again unasked");
    // The last kind of file stays.
    let (status, body) = t.api.delete(&format!("/api/v1/videos/{uuid}/hls"), Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "last_files");
    let (status, body) = t.api.delete(&format!("/api/v1/videos/{uuid}/web-videos"), Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "no_such_files");

    // Made again on request.
    let (status, body) = t
        .api
        .post(&format!("/api/v1/videos/{uuid}/transcoding"), Some(&admin), json!({ "transcodingType": "web-video" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    let v = video(&t, &uuid).await;
    assert_eq!(resolutions(&v["files"]), [144], "{v}");
    let web_url = v["files"][0]["fileUrl"].as_str().unwrap().to_string();
    assert_eq!(status_of(&t, &web_url).await, StatusCode::OK);

    // HLS removed: the web video still plays; the playlists and their directory's files go.
    let (status, body) = t.api.delete(&format!("/api/v1/videos/{uuid}/hls"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let v = video(&t, &uuid).await;
    assert!(
        v["streamingPlaylists"].as_array().unwrap().iter().all(|p| p["files"].as_array().unwrap().is_empty()),
        "{v}"
    );
    assert_eq!(status_of(&t, &master).await, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&t, &web_url).await, StatusCode::OK);
    let left: Vec<_> = std::fs::read_dir(t.config.data_dir.join("streaming-playlists/hls").join(&uuid))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // The ladder again (at the instance's resolutions now), from the web video.
    let (status, body) = t
        .api
        .post(&format!("/api/v1/videos/{uuid}/transcoding"), Some(&admin), json!({ "transcodingType": "bogus" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = t
        .api
        .post(&format!("/api/v1/videos/{uuid}/transcoding"), Some(&admin), json!({ "transcodingType": "hls" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    let v = video(&t, &uuid).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    let playlist = &v["streamingPlaylists"][0];
    assert_eq!(resolutions(&playlist["files"]), [144], "{v}");
    for url in [&playlist["playlistUrl"], &playlist["segmentsSha256Url"], &playlist["files"][0]["torrentUrl"]] {
        assert_eq!(status_of(&t, url.as_str().unwrap()).await, StatusCode::OK, "{url}");
    }
    assert!(!t.config.data_dir.join("tmp/uploads").read_dir().unwrap().any(|_| true), "the copy to transcode is gone");
    t.stop().await;
}
