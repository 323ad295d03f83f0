//! A crash between a change and the work it causes loses nothing: the server is killed (a
//! failpoint aborts it, as `kill -9` would) right after a video's first publication is committed,
//! before any delivery was queued, and after a restart its followers still get the `Create` —
//! once.

use std::path::Path;
use std::time::{Duration, Instant};

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{ADMIN_PASSWORD, Backend, FakeServer, Process, clip, database_url, db_tests};

const BIN: &str = env!("CARGO_BIN_EXE_flotilla");

db_tests!(followers_get_the_create_of_a_video_published_just_before_a_crash);

fn count(server: &FakeServer, kind: &str, object_id: &str) -> usize {
    server
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == kind && a["object"]["id"].as_str().or(a["object"].as_str()) == Some(object_id))
        .count()
}

async fn followers_get_the_create_of_a_video_published_just_before_a_crash(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database_url(backend, dir.path()).await;
    let vars = vec![
        ("FLOTILLA_DATA_DIR", dir.path().join("data").display().to_string()),
        ("FLOTILLA_DATABASE_URL", db),
        ("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ("FLOTILLA_TRANSCODING_RESOLUTIONS", "240".to_string()),
        ("FLOTILLA_FEDERATION_ALLOW_PRIVATE", "true".to_string()),
        ("FLOTILLA_JOBS_LEASE_SECS", "2".to_string()),
    ];
    let mut armed = vars.clone();
    armed.push(("FLOTILLA_FAILPOINTS", "video.published=abort".to_string()));
    let mut p = Process::spawn(Path::new(BIN), dir.path(), &armed).await;

    // A Mastodon user follows root's channel.
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let channel = format!("{}/video-channels/root_channel", p.api.base);
    let follow =
        json!({ "type": "Follow", "id": format!("{}/follows/1", masto.base), "actor": zoe, "object": channel });
    assert_eq!(masto.send(&format!("{channel}/inbox"), &zoe, &follow).await, StatusCode::ACCEPTED);

    let admin = p.api.login("root", ADMIN_PASSWORD).await;
    let (_, me) = p.api.get("/api/v1/users/me", Some(&admin)).await;
    let file = clip(dir.path(), "crash.mp4", 320, 240, 2);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", "Published, then a crash")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("crash.mp4"));
    let (status, body) =
        p.api.send(p.api.http.post(p.api.url("/api/v1/videos/upload")).bearer_auth(&admin).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    let video_url = format!("{}/videos/watch/{uuid}", p.api.base);

    // The publication commits, and the process dies on the spot.
    let start = Instant::now();
    let exit = loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the failpoint never fired:\n{}", p.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!exit.success(), "it crashed");
    assert!(p.log_text().contains("failpoint: aborting"), "{}", p.log_text());
    assert_eq!(count(&masto, "Create", &video_url), 0, "nothing was sent before the crash");

    // Back up (same port, data and database), without the failpoint.
    let port = p.api.base.rsplit(':').next().unwrap().parse().unwrap();
    let p = Process::spawn_on(Path::new(BIN), dir.path(), port, &vars).await;
    let start = Instant::now();
    while count(&masto, "Create", &video_url) == 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "the Create never came:\n{}", p.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The transcode runs again after the restart (its worker died with the process), finds its
    // rendition done and writes a new master playlist: followers get an Update. By then anything
    // the restart could have sent twice has been sent.
    let start = Instant::now();
    while count(&masto, "Update", &video_url) == 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "the rerun's Update never came:\n{}", p.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&masto, "Create", &video_url), 1, "one Create, not two");
    let (_, v) = p.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 1);
}
