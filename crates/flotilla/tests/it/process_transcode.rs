//! `kill -9` of `serve` in the middle of a transcode: after a restart the job runs again, the
//! video is published with every rendition, and no viewer ever saw a half-written file.

use std::path::Path;
use std::time::{Duration, Instant};

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::Value;
use flotilla_testkit::{ADMIN_PASSWORD, Backend, Process, clip, database_url, db_tests};

const BIN: &str = env!("CARGO_BIN_EXE_flotilla");

db_tests!(a_transcode_killed_midway_runs_again_after_restart);

async fn a_transcode_killed_midway_runs_again_after_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database_url(backend, dir.path()).await;
    let vars = vec![
        ("FLOTILLA_DATA_DIR", dir.path().join("data").display().to_string()),
        ("FLOTILLA_DATABASE_URL", db),
        ("FLOTILLA_SIGNUP", "open".to_string()),
        ("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ("FLOTILLA_TRANSCODING_RESOLUTIONS", "240,360,480,720".to_string()),
        // A short lease, so the restarted instance takes the dead worker's job back quickly.
        ("FLOTILLA_JOBS_LEASE_SECS", "2".to_string()),
    ];
    let mut p = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let admin = p.api.login("root", ADMIN_PASSWORD).await;
    let (_, me) = p.api.get("/api/v1/users/me", Some(&admin)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let file = clip(dir.path(), "long.mp4", 1280, 720, 12);
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Crash test")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("long.mp4"));
    let (status, body) =
        p.api.send(p.api.http.post(p.api.url("/api/v1/videos/upload")).bearer_auth(&admin).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();

    // Wait until ffmpeg is at work, then kill the server without warning.
    let start = Instant::now();
    loop {
        let (_, jobs) = p.api.get("/api/v1/jobs/active", Some(&admin)).await;
        if jobs["total"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the transcode never started:\n{}", p.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = p.signal_and_wait("KILL");
    assert!(!status.success());

    let p2 = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let start = Instant::now();
    let video: Value = loop {
        let (status, v) = p2.api.get(&format!("/api/v1/videos/{uuid}"), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK);
        // Whatever is published at any moment is complete: every listed file can be fetched (its
        // first byte, as a player starts).
        for f in v["streamingPlaylists"][0]["files"].as_array().into_iter().flatten() {
            let resp =
                p2.api.http.get(f["fileUrl"].as_str().unwrap()).header("Range", "bytes=0-0").send().await.unwrap();
            let status = resp.status();
            assert!(status == StatusCode::PARTIAL_CONTENT || status == StatusCode::OK, "{status} for {f}");
            let body = resp.bytes().await.unwrap();
            assert!(!body.is_empty(), "an empty answer for {f}");
        }
        if v["state"]["id"] == 1 && v["transcodingProgress"] == 100 {
            break v;
        }
        assert_ne!(v["state"]["id"], 7, "the transcode failed: {v}\n{}", p2.log_text());
        assert!(start.elapsed() < Duration::from_secs(240), "not published after restart: {v}\n{}", p2.log_text());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let resolutions: Vec<i64> = video["streamingPlaylists"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resolution"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(resolutions, [720, 480, 360, 240]);
    let master_url = video["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
    let master = p2.api.http.get(master_url).send().await.unwrap().text().await.unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 4, "{master}");
    // The job ran more than once, and the staging area and the upload are gone.
    let (_, jobs) = p2.api.get("/api/v1/jobs/completed", Some(&admin)).await;
    let transcode = jobs["data"].as_array().unwrap().iter().find(|j| j["type"] == "video-transcoding").unwrap();
    assert!(transcode["attempts"].as_i64().unwrap() >= 2, "{jobs}");
    assert!(!dir.path().join("data/tmp/transcode").join(&uuid).exists());
    assert_eq!(std::fs::read_dir(dir.path().join("data/tmp/uploads")).unwrap().count(), 0);
}
