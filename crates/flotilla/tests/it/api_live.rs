//! Lives (PeerTube's live streaming): ffmpeg pushes a test pattern with sound over RTMP with the
//! live's stream key; the live is published, its live HLS ladder is served and read by ffprobe,
//! its segment hashes match the segments; when the stream ends the live ends (or waits again,
//! when permanent). Unknown keys, a second push, garbage on the RTMP port, the limits (lives per
//! user, duration, bitrate) are refused or end the session; a stopped instance ends its lives, a
//! crashed one ends them at its next start. A saved replay becomes a video: the live itself for a
//! normal live, a new video of the channel for a permanent one. Lives federate as PeerTube's do
//! (`isLiveBroadcast`, their state changes as `Update`s), to Flotilla and to a PeerTube-shaped
//! stand-in, and PeerTube's lives are shown here. An ended live's files stay a while (playlists
//! closed) for viewers behind its edge, then go, sparing a replay's and a next session's files.
//! A live's audience (`viewers`) is counted across servers with PeerTube's viewer `View`s. An
//! audio-only live streams its sound alone.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{
    ADMIN_PASSWORD, Api, Backend, FakeServer, Process, TestInstance, database_url, db_tests, settle,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_flotilla");

db_tests!(
    a_stream_pushed_with_its_key_goes_live_and_ends,
    unknown_keys_second_pushes_and_garbage_are_refused,
    a_permanent_live_streams_twice_and_keeps_its_url,
    limits_refuse_lives_and_end_sessions,
    a_stopped_instance_ends_its_lives_and_a_crash_is_recovered,
    saved_replays_become_videos,
    lives_federate_both_ways,
    rtmps_takes_a_stream_inside_tls,
    an_encoder_that_sends_nothing_leaves_no_trace,
    an_ended_lives_files_stay_a_while_for_viewers_behind_it,
    live_audiences_are_counted_across_servers,
    an_audio_only_live_streams_its_sound,
);

/// Instances for these tests: a light ladder (the machine encodes several lives at once).
async fn instance(backend: Backend, tweak: impl FnOnce(&mut flotilla_app::Config)) -> TestInstance {
    TestInstance::start_with(backend, |c| {
        c.live.resolutions = vec![360, 240];
        c.live.threads = 1;
        tweak(c);
    })
    .await
}

pub(crate) async fn channel_id(api: &Api, token: &str) -> i64 {
    api.get("/api/v1/users/me", Some(token)).await.1["videoChannels"][0]["id"].as_i64().unwrap()
}

/// Creates a live; returns `(id, uuid)`.
pub(crate) async fn create_live(api: &Api, token: &str, extra: Value) -> (i64, String) {
    let mut body = json!({ "channelId": channel_id(api, token).await, "name": "Harbour live", "privacy": 1 });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, out) = api.post("/api/v1/videos/live", Some(token), body).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    (out["video"]["id"].as_i64().unwrap(), out["video"]["uuid"].as_str().unwrap().to_string())
}

/// `(rtmpUrl, streamKey)` as the owner sees them.
pub(crate) async fn stream_address(api: &Api, token: &str, id: i64) -> (String, String) {
    let (status, live) = api.get(&format!("/api/v1/videos/live/{id}"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{live}");
    (live["rtmpUrl"].as_str().unwrap().to_string(), live["streamKey"].as_str().unwrap().to_string())
}

/// ffmpeg as a creator's encoder: `secs` of a 640×360 test pattern with a tone, in real time.
pub(crate) fn push(rtmp_url: &str, key: &str, secs: u32) -> tokio::process::Child {
    tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &secs.to_string()])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-b:a", "64k", "-f", "flv"])
        .arg(format!("{rtmp_url}/{key}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg (apt-get install ffmpeg)")
}

pub(crate) async fn state(api: &Api, uuid: &str) -> i64 {
    let (status, v) = api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["state"]["id"].as_i64().unwrap()
}

pub(crate) async fn wait_state(api: &Api, uuid: &str, want: i64, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let s = state(api, uuid).await;
        if s == want {
            return;
        }
        assert!(Instant::now() < until, "the live {uuid} is in state {s}, not {want}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for a push to end by itself; returns whether ffmpeg succeeded.
pub(crate) async fn pushed(child: &mut tokio::process::Child, within: Duration) -> bool {
    tokio::time::timeout(within, child.wait()).await.expect("the push ended in time").expect("wait").success()
}

pub(crate) async fn sessions(api: &Api, token: &str, id: i64) -> Value {
    let (status, s) = api.get(&format!("/api/v1/videos/live/{id}/sessions"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s
}

pub(crate) async fn get_text(api: &Api, url: &str) -> (StatusCode, String) {
    let r = api.http.get(url).send().await.expect("request");
    (r.status(), r.text().await.unwrap_or_default())
}

async fn a_stream_pushed_with_its_key_goes_live_and_ends(backend: Backend) {
    let t = instance(backend, |_| {}).await;
    let token = t.user("marin").await;
    let (id, uuid) = create_live(&t.api, &token, json!({ "latencyMode": 3 })).await;

    // Waiting: seen by all, listed nowhere, no playlist yet.
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 4, "{v}");
    assert_eq!(v["state"]["label"], "Waiting for livestream");
    assert_eq!(v["isLive"], true);
    assert_eq!(v["streamingPlaylists"], json!([]));
    let (_, lives) = t.api.get("/api/v1/videos?isLive=true", None).await;
    assert_eq!(lives["data"], json!([]));

    // The key and the address for the owner; the settings for anyone.
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    assert!(rtmp.starts_with("rtmp://127.0.0.1:") && rtmp.ends_with("/live"), "{rtmp}");
    let (status, public) = t.api.get(&format!("/api/v1/videos/live/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert_eq!(public["latencyMode"], 3);
    assert_eq!(public["permanentLive"], false);
    assert!(public.get("streamKey").is_none() && public.get("rtmpUrl").is_none(), "{public}");

    // A subscriber of the channel hears when it airs.
    let fan = t.user("yann").await;
    let host = t.instance.addr.to_string();
    let sub = json!({ "uri": format!("marin_channel@{host}") });
    let (status, body) = t.api.post("/api/v1/users/me/subscriptions", Some(&fan), sub).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Nothing to download or transcode on a live.
    let (status, _) = t.api.get(&format!("/api/v1/videos/{uuid}/source"), Some(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(mine["transcodingProgress"], Value::Null, "{mine}");

    let mut ffmpeg = push(&rtmp, &key, 12);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    t.run_jobs().await;
    let (_, notes) = t.api.get("/api/v1/users/me/notifications?count=10", Some(&fan)).await;
    let aired: Vec<&Value> = notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == 1 && n["video"]["uuid"] == uuid.as_str())
        .collect();
    assert_eq!(aired.len(), 1, "one notification for the subscriber: {notes}");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let playlist = v["streamingPlaylists"][0]["playlistUrl"].as_str().expect("a live playlist").to_string();
    assert!(playlist.ends_with(&format!("/static/streaming-playlists/hls/{uuid}/master.m3u8")), "{playlist}");
    assert_eq!(v["streamingPlaylists"][0]["files"], json!([]));
    let sha_url = v["streamingPlaylists"][0]["segmentsSha256Url"].as_str().unwrap().to_string();
    let (_, lives) = t.api.get("/api/v1/videos?isLive=true", None).await;
    assert_eq!(lives["data"][0]["uuid"], uuid.as_str(), "{lives}");
    // Its audience: each viewer that reported within the minute, once.
    for who in [None, None, Some(token.as_str())] {
        let (status, body) =
            t.api.post(&format!("/api/v1/videos/{uuid}/views"), who, json!({ "currentTime": 1 })).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["viewers"], 2, "an anonymous viewer and a user: {v}");

    // The master playlist lists the ladder (never above the stream's 360p).
    let base = playlist.trim_end_matches("master.m3u8").to_string();
    let until = Instant::now() + Duration::from_secs(20);
    let master = loop {
        let (status, text) = get_text(&t.api, &playlist).await;
        if status == StatusCode::OK && text.matches("#EXT-X-STREAM-INF").count() == 2 {
            break text;
        }
        assert!(Instant::now() < until, "no master playlist: {status} {text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(master.contains("RESOLUTION=640x360") && master.contains("RESOLUTION=426x240"), "{master}");
    assert!(!master.contains("1280x720"), "{master}");
    let r = t.api.http.get(&playlist).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache");

    // ffprobe reads the live playlist while it streams (2 s segments: small latency).
    let media = format!("{base}0.m3u8");
    let (_, text) = get_text(&t.api, &media).await;
    assert!(text.contains("#EXT-X-TARGETDURATION:2") && text.contains("#EXT-X-PROGRAM-DATE-TIME"), "{text}");
    let probe = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,height", "-of", "json", &media])
        .output()
        .await
        .expect("ffprobe");
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap_or_default();
    let kinds: Vec<&str> =
        probe["streams"].as_array().unwrap().iter().filter_map(|s| s["codec_type"].as_str()).collect();
    assert!(kinds.contains(&"video") && kinds.contains(&"audio"), "{probe}");
    assert!(probe["streams"].as_array().unwrap().iter().any(|s| s["height"] == 360), "{probe}");

    // Every segment listed in the hashes is the segment served.
    let until = Instant::now() + Duration::from_secs(20);
    let hashes = loop {
        let r = t.api.http.get(&sha_url).send().await.unwrap();
        if r.status() == StatusCode::OK {
            let j: Value = r.json().await.unwrap();
            if j.as_object().is_some_and(|o| o.len() >= 4) {
                break j;
            }
        }
        assert!(Instant::now() < until, "no segment hashes");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for (name, sha) in hashes.as_object().unwrap() {
        let r = t.api.http.get(format!("{base}{name}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(r.headers()["content-type"], "video/mp2t");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(sha.as_str().unwrap(), hex::encode(Sha256::digest(&bytes)), "{name}");
    }

    // The stream ends: the live is ended, its files gone, its session recorded.
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await, "the push succeeds");
    wait_state(&t.api, &uuid, 5, Duration::from_secs(20)).await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["label"], "Livestream ended");
    assert_eq!(v["streamingPlaylists"], json!([]));
    assert_eq!(get_text(&t.api, &playlist).await.0, StatusCode::NOT_FOUND);
    assert!(!t.config.data_dir.join("streaming-playlists/hls").join(&uuid).exists());
    let s = sessions(&t.api, &token, id).await;
    assert_eq!(s["total"], 1, "{s}");
    assert!(s["data"][0]["endDate"].is_string(), "{s}");
    assert_eq!(s["data"][0]["error"], Value::Null);
    assert_eq!(s["data"][0]["saveReplay"], false);

    // An ended live does not stream again.
    let mut again = push(&rtmp, &key, 5);
    assert!(!pushed(&mut again, Duration::from_secs(20)).await, "an ended live refuses a stream");
    assert_eq!(sessions(&t.api, &token, id).await["total"], 1);
    // Not the owner: no sessions.
    let other = t.user("oskar").await;
    let (status, _) = t.api.get(&format!("/api/v1/videos/live/{id}/sessions"), Some(&other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn unknown_keys_second_pushes_and_garbage_are_refused(backend: Backend) {
    let t = instance(backend, |_| {}).await;
    let token = t.user("nadia").await;
    let (id, uuid) = create_live(&t.api, &token, json!({})).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;

    // An unknown key: refused at once, nothing starts.
    let started = Instant::now();
    let mut wrong = push(&rtmp, "00000000-0000-4000-8000-000000000000", 10);
    assert!(!pushed(&mut wrong, Duration::from_secs(20)).await, "an unknown key is refused");
    assert!(started.elapsed() < Duration::from_secs(8), "refused before the stream would have ended");
    assert_eq!(state(&t.api, &uuid).await, 4);
    assert_eq!(sessions(&t.api, &token, id).await["total"], 0);

    // Garbage and an endless handshake on the RTMP port: the connection is closed, the server lives.
    let port: u16 = rtmp.trim_start_matches("rtmp://127.0.0.1:").trim_end_matches("/live").parse().unwrap();
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let junk = vec![3u8; 256 * 1024];
    // Refused part way (the server closed) or taken whole: either way the server must close.
    let _ = tokio::time::timeout(Duration::from_secs(15), sock.write_all(&junk)).await;
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        use tokio::io::AsyncReadExt;
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closes a connection that sends garbage");

    // A second push to a streaming live is refused; the first goes on.
    let mut first = push(&rtmp, &key, 40);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    let mut second = push(&rtmp, &key, 10);
    assert!(!pushed(&mut second, Duration::from_secs(20)).await, "a second push is refused");
    assert_eq!(state(&t.api, &uuid).await, 1);
    assert!(first.try_wait().unwrap().is_none(), "the first push streams on");
    assert_eq!(sessions(&t.api, &token, id).await["total"], 1);

    // The creator's encoder is killed: the session ends cleanly.
    first.start_kill().unwrap();
    let _ = first.wait().await;
    wait_state(&t.api, &uuid, 5, Duration::from_secs(30)).await;
    let s = sessions(&t.api, &token, id).await;
    assert!(s["data"][0]["endDate"].is_string(), "{s}");
    assert!(!t.config.data_dir.join("streaming-playlists/hls").join(&uuid).exists());

    // Hostile settings are refused and make nothing.
    let channel = channel_id(&t.api, &token).await;
    for bad in [
        json!({ "channelId": channel, "name": "Bad latency", "latencyMode": 7 }),
        json!({ "channelId": channel, "name": "Bad replay", "saveReplay": true, "replaySettings": { "privacy": 5 } }),
        json!({ "channelId": channel, "name": "x" }),
    ] {
        let (status, body) = t.api.post("/api/v1/videos/live", Some(&token), bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&token)).await;
    assert_eq!(mine["total"], 1, "{mine}");
    // Not a live, not the owner.
    let (status, _) = t.api.get("/api/v1/videos/live/999999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = t.user("pavel").await;
    let (status, _) = t.api.put(&format!("/api/v1/videos/live/{id}"), Some(&other), json!({ "latencyMode": 2 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn a_permanent_live_streams_twice_and_keeps_its_url(backend: Backend) {
    let t = instance(backend, |_| {}).await;
    let token = t.user("ilse").await;
    let (id, uuid) = create_live(&t.api, &token, json!({ "permanentLive": true })).await;
    // Settings change while it waits.
    let (status, body) =
        t.api.put(&format!("/api/v1/videos/live/{id}"), Some(&token), json!({ "latencyMode": 2 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    let mut urls = Vec::new();
    for round in 0..2 {
        let mut ffmpeg = push(&rtmp, &key, 6);
        wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
        let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        urls.push(v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string());
        if round == 0 {
            // Not while it streams.
            let (status, body) =
                t.api.put(&format!("/api/v1/videos/live/{id}"), Some(&token), json!({ "latencyMode": 1 })).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }
        assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await);
        wait_state(&t.api, &uuid, 4, Duration::from_secs(20)).await;
    }
    assert_eq!(urls[0], urls[1]);
    assert_eq!(stream_address(&t.api, &token, id).await.1, key, "the key stays");
    let s = sessions(&t.api, &token, id).await;
    assert_eq!(s["total"], 2, "{s}");
    assert!(s["data"].as_array().unwrap().iter().all(|x| x["endDate"].is_string() && x["error"].is_null()), "{s}");
    let (_, live) = t.api.get(&format!("/api/v1/videos/live/{id}"), None).await;
    assert_eq!(live["latencyMode"], 2);
}

async fn limits_refuse_lives_and_end_sessions(backend: Backend) {
    let short = instance(backend, |c| {
        // Long enough to air (the first segment is out after 4 s), then cut.
        c.live.max_duration_secs = 8;
        c.live.max_user_lives = 1;
        c.live.allow_replay = false;
    })
    .await;
    let slow = instance(backend, |c| c.live.max_bitrate_kbps = 40).await;
    let token = short.user("lena").await;
    let channel = channel_id(&short.api, &token).await;
    let (status, body) = short
        .api
        .post(
            "/api/v1/videos/live",
            Some(&token),
            json!({ "channelId": channel, "name": "Replay", "saveReplay": true }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "live_not_allowing_replay");
    let (id, uuid) = create_live(&short.api, &token, json!({})).await;
    let (status, body) =
        short.api.post("/api/v1/videos/live", Some(&token), json!({ "channelId": channel, "name": "Second" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "max_user_lives_limit_reached");

    let slow_token = slow.user("tomas").await;
    let (slow_id, slow_uuid) = create_live(&slow.api, &slow_token, json!({})).await;

    // Over the duration and over the bitrate: the sessions end with PeerTube's error (and ours).
    let (rtmp, key) = stream_address(&short.api, &token, id).await;
    let (slow_rtmp, slow_key) = stream_address(&slow.api, &slow_token, slow_id).await;
    let mut long = push(&rtmp, &key, 40);
    let mut heavy = push(&slow_rtmp, &slow_key, 40);
    wait_state(&short.api, &uuid, 5, Duration::from_secs(30)).await;
    assert_eq!(sessions(&short.api, &token, id).await["data"][0]["error"], 2);
    wait_state(&slow.api, &slow_uuid, 5, Duration::from_secs(40)).await;
    assert_eq!(sessions(&slow.api, &slow_token, slow_id).await["data"][0]["error"], 101);
    // Both encoders were cut off long before their 40 s; nothing of either session is left.
    assert!(!pushed(&mut long, Duration::from_secs(20)).await);
    assert!(!pushed(&mut heavy, Duration::from_secs(20)).await);
    assert!(!short.config.data_dir.join("streaming-playlists/hls").join(&uuid).exists());
    assert!(!slow.config.data_dir.join("streaming-playlists/hls").join(&slow_uuid).exists());
    assert_eq!(short.instance.app.lives.streaming_count() + slow.instance.app.lives.streaming_count(), 0);
}

async fn a_stopped_instance_ends_its_lives_and_a_crash_is_recovered(backend: Backend) {
    // A graceful stop ends the session as the creator stopping would.
    let t = instance(backend, |_| {}).await;
    let token = t.user("rosa").await;
    let (id, uuid) = create_live(&t.api, &token, json!({})).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    let mut ffmpeg = push(&rtmp, &key, 60);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    let stopped = t.stop_keep().await;
    assert!(!pushed(&mut ffmpeg, Duration::from_secs(20)).await, "the encoder is disconnected");
    let t = stopped.start().await;
    assert_eq!(state(&t.api, &uuid).await, 5);
    let token = t.api.login("rosa", "password-123").await;
    assert!(sessions(&t.api, &token, id).await["data"][0]["endDate"].is_string());
    assert!(!t.config.data_dir.join("streaming-playlists/hls").join(&uuid).exists());
    t.stop().await;

    // kill -9 during a permanent live: the next start ends the session, the live waits again,
    // its files are gone.
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        ("FLOTILLA_DATA_DIR", dir.path().join("data").display().to_string()),
        ("FLOTILLA_DATABASE_URL", database_url(backend, dir.path()).await),
        ("FLOTILLA_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ("FLOTILLA_LIVE_RESOLUTIONS", "240".to_string()),
    ];
    let mut p = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let admin = p.api.login("root", ADMIN_PASSWORD).await;
    let (id, uuid) = create_live(&p.api, &admin, json!({ "permanentLive": true })).await;
    let (rtmp, key) = stream_address(&p.api, &admin, id).await;
    let mut ffmpeg = push(&rtmp, &key, 60);
    wait_state(&p.api, &uuid, 1, Duration::from_secs(30)).await;
    let live_dir = dir.path().join("data/streaming-playlists/hls").join(&uuid);
    let until = Instant::now() + Duration::from_secs(20);
    while !live_dir.join("master.m3u8").exists() {
        assert!(Instant::now() < until, "the live's files are written");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    p.signal_and_wait("KILL");
    assert!(!pushed(&mut ffmpeg, Duration::from_secs(30)).await, "the encoder loses its server");
    let p = Process::spawn(Path::new(BIN), dir.path(), &vars).await;
    let admin = p.api.login("root", ADMIN_PASSWORD).await;
    wait_state(&p.api, &uuid, 4, Duration::from_secs(10)).await;
    let s = sessions(&p.api, &admin, id).await;
    assert_eq!(s["total"], 1, "{s}");
    assert!(s["data"][0]["endDate"].is_string(), "{s}");
    assert!(!live_dir.exists(), "the live's files are removed");
    // And it streams again.
    let (rtmp, _) = stream_address(&p.api, &admin, id).await;
    let mut again = push(&rtmp, &key, 8);
    wait_state(&p.api, &uuid, 1, Duration::from_secs(30)).await;
    assert!(pushed(&mut again, Duration::from_secs(40)).await);
    wait_state(&p.api, &uuid, 4, Duration::from_secs(20)).await;
}

async fn saved_replays_become_videos(backend: Backend) {
    let t = instance(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = t.user("vera").await;

    // A normal live saving its replay (unlisted) becomes that replay.
    let (id, uuid) =
        create_live(&t.api, &token, json!({ "saveReplay": true, "replaySettings": { "privacy": 2 } })).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    let mut ffmpeg = push(&rtmp, &key, 10);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
        if v["isLive"] == false {
            break;
        }
        assert!(Instant::now() < until, "the live did not become its replay: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    assert_eq!(v["isLive"], false);
    assert_eq!(v["privacy"]["id"], 2, "the replay's privacy");
    let duration = v["duration"].as_i64().unwrap();
    assert!((6..=12).contains(&duration), "the replay holds the stream: {duration} s");
    assert!(!v["streamingPlaylists"][0]["files"].as_array().unwrap().is_empty(), "{v}");
    let (status, _) = t.api.get(&format!("/api/v1/videos/live/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer a live");
    let (status, s) = t.api.get(&format!("/api/v1/videos/{uuid}/live-session"), None).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["replayVideo"]["uuid"], uuid.as_str());
    assert_eq!(s["saveReplay"], true);
    assert_eq!(s["endingProcessed"], true);
    let left = std::fs::read_dir(t.config.data_dir.join("live-replays")).unwrap().count();
    assert_eq!(left, 0, "the replay file was taken");

    // A permanent live's replay is a new video; the live waits for its next stream.
    let (id, uuid) = create_live(
        &t.api,
        &token,
        json!({ "permanentLive": true, "saveReplay": true, "replaySettings": { "privacy": 1 }, "name": "Night watch" }),
    )
    .await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    let mut ffmpeg = push(&rtmp, &key, 8);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await);
    wait_state(&t.api, &uuid, 4, Duration::from_secs(20)).await;
    t.run_jobs().await;
    let s = sessions(&t.api, &token, id).await;
    let replay = s["data"][0]["replayVideo"]["uuid"].as_str().expect("a replay video").to_string();
    assert_ne!(replay, uuid);
    let (_, r) = t.api.get(&format!("/api/v1/videos/{replay}"), None).await;
    assert_eq!(r["state"]["id"], 1, "{r}");
    assert_eq!(r["isLive"], false);
    assert!(r["name"].as_str().unwrap().starts_with("Night watch - "), "{r}");
    let (_, live) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(live["isLive"], true);
}

/// The activities of `kind` about `video_url` a stand-in received, in order.
fn received(server: &FakeServer, kind: &str, video_url: &str) -> Vec<Value> {
    let got = server.received.lock().unwrap();
    got.iter().filter(|a| a["type"] == kind && a["object"]["id"] == video_url).cloned().collect()
}

async fn lives_federate_both_ways(backend: Backend) {
    let a = instance(backend, |_| {}).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let token = a.user("quentin").await;
    // A PeerTube-shaped server follows the creator's channel.
    let pt = FakeServer::start().await;
    let fan = pt.actor("Person", "fan", json!({}));
    let channel = format!("{}/video-channels/quentin_channel", a.api.base);
    let follow = json!({ "type": "Follow", "id": format!("{}/follows/1", pt.base), "actor": fan, "object": channel });
    assert_eq!(pt.send(&format!("{channel}/inbox"), &fan, &follow).await, StatusCode::ACCEPTED);
    a.run_jobs().await;

    // Created: followers get it while it waits.
    let (id, uuid) = create_live(&a.api, &token, json!({ "permanentLive": false, "latencyMode": 2 })).await;
    settle(&[&a, &b]).await;
    let url = format!("{}/videos/watch/{uuid}", a.api.base);
    let create = received(&pt, "Create", &url);
    assert_eq!(create.len(), 1, "one Create");
    let o = &create[0]["object"];
    assert_eq!((o["isLiveBroadcast"].clone(), o["state"].clone()), (json!(true), json!(4)), "{o}");
    assert_eq!(
        (o["permanentLive"].clone(), o["latencyMode"].clone(), o["duration"].clone()),
        (json!(false), json!(2), json!("PT0S"))
    );
    let (status, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["isLive"].clone(), v["state"]["id"].clone(), v["isLocal"].clone()),
        (json!(true), json!(4), json!(false))
    );

    // Streaming: an Update once segments are out, with the live playlist and its swarms.
    let (rtmp, key) = stream_address(&a.api, &token, id).await;
    let mut ffmpeg = push(&rtmp, &key, 14);
    wait_state(&a.api, &uuid, 1, Duration::from_secs(30)).await;
    let master = format!("{}/static/streaming-playlists/hls/{uuid}/master.m3u8", a.api.base);
    let until = Instant::now() + Duration::from_secs(30);
    let on_b = loop {
        settle(&[&a, &b]).await;
        let (_, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        if v["state"]["id"] == 1 {
            break v;
        }
        assert!(Instant::now() < until, "the follower never saw the live start: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // Played through the follower's edge cache, in the origin's swarm.
    let edge = format!("{}/static/edge/hls/{uuid}/", b.api.base);
    assert_eq!(on_b["streamingPlaylists"][0]["playlistUrl"], format!("{edge}master.m3u8"));
    assert_eq!(on_b["streamingPlaylists"][0]["segmentsSha256Url"], format!("{edge}segments-sha256.json"));
    assert_eq!(on_b["streamingPlaylists"][0]["originPlaylistUrl"], master.as_str(), "the swarm's name, and a fallback");
    let (_, on_a) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let hashes = on_a["streamingPlaylists"][0]["p2pMediaLoaderInfohashes"].clone();
    assert_eq!(hashes.as_array().map(Vec::len), Some(2), "a swarm per variant: {on_a}");
    assert_eq!(on_b["streamingPlaylists"][0]["p2pMediaLoaderInfohashes"], hashes);
    let updates = received(&pt, "Update", &url);
    let live = updates.iter().find(|u| u["object"]["state"] == 1).expect("an Update: streaming");
    let hls =
        live["object"]["url"].as_array().unwrap().iter().find(|u| u["mediaType"] == "application/x-mpegURL").cloned();
    assert_eq!(hls.as_ref().map(|h| h["href"].clone()), Some(json!(master)), "{live}");

    // The follower's edge gives the live's files as its origin has them: its playlists a moment
    // old at most (no-cache), each segment fetched once for all its viewers, checked against the
    // origin's hashes, held for the window.
    let (status, text) = get_text(&b.api, &format!("{edge}master.m3u8")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, get_text(&a.api, &master).await.1);
    let r = b.api.http.get(format!("{edge}0.m3u8")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let playlist = r.text().await.unwrap();
    let last = playlist.lines().rfind(|l| l.ends_with(".ts")).expect("segments listed").to_string();
    let served_by_a = || async {
        let (_, m) = get_text(&a.api, &format!("{}/metrics", a.api.base)).await;
        let line =
            m.lines().find(|l| l.starts_with("flotilla_hls_served_bytes_total{kind=\"segment\"}")).unwrap().to_string();
        line.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
    };
    let before = served_by_a().await;
    let gets: Vec<_> = (0..5)
        .map(|_| {
            let (http, url) = (b.api.http.clone(), format!("{edge}{last}"));
            tokio::spawn(async move {
                let r = http.get(url).send().await.unwrap();
                (r.status(), r.headers()["cache-control"].to_str().unwrap().to_string(), r.bytes().await.unwrap())
            })
        })
        .collect();
    let (_, hashes) = a.api.get(&format!("/static/streaming-playlists/hls/{uuid}/segments-sha256.json"), None).await;
    let mut size = 0;
    for g in gets {
        let (status, cache, bytes) = g.await.unwrap();
        assert_eq!((status, cache.as_str()), (StatusCode::OK, "public, max-age=30"));
        assert_eq!(hashes[&last], hex::encode(Sha256::digest(&bytes)), "{last}");
        size = bytes.len() as u64;
    }
    assert_eq!(served_by_a().await - before, size, "five viewers on the follower cost the origin one copy");
    // Only what the live's hashes list: no other name is fetched (nor any other path).
    let (status, _) = get_text(&b.api, &format!("{edge}0-999999.ts")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_text(&b.api, &format!("{edge}..%2F..%2Fconfig")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(served_by_a().await - before, size);
    // The origin turns hostile: a segment's bytes change on its disk, its published hash stays.
    // The follower never serves it (and never keeps it: asked again, it fetches and refuses again).
    let until = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let (_, listed) =
            a.api.get(&format!("/static/streaming-playlists/hls/{uuid}/segments-sha256.json"), None).await;
        if let Some(name) =
            listed.as_object().and_then(|o| o.keys().find(|k| k.starts_with("0-") && **k > last).cloned())
        {
            break name;
        }
        assert!(Instant::now() < until, "no newer segment on the origin");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let on_disk = a.config.data_dir.join("streaming-playlists/hls").join(&uuid).join(&first);
    let mut bytes = std::fs::read(&on_disk).expect("the segment is still in the window");
    for x in &mut bytes[200..210] {
        *x ^= 0xff;
    }
    std::fs::write(&on_disk, &bytes).unwrap();
    for attempt in 0..2 {
        let r = b.api.http.get(format!("{edge}{first}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "attempt {attempt}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "edge_origin_mismatch", "{body}");
    }

    // Ended: an Update again, and the follower shows it ended.
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await);
    wait_state(&a.api, &uuid, 5, Duration::from_secs(20)).await;
    settle(&[&a, &b]).await;
    let (_, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 5, "{v}");
    assert_eq!(v["streamingPlaylists"], json!([]));
    assert!(received(&pt, "Update", &url).iter().any(|u| u["object"]["state"] == 5));

    // A PeerTube live, waiting, then streaming, then ended.
    let account = pt.actor("Person", "bob", json!({}));
    let group = pt.actor("Group", "bob_channel", json!({ "attributedTo": [{ "type": "Person", "id": account }] }));
    let pt_uuid = "6bce8e02-cd9f-4e0a-a071-8c9d0e1f2a3b";
    let pt_url = format!("{}/videos/watch/{pt_uuid}", pt.base);
    let hls = format!("{}/static/streaming-playlists/hls/{pt_uuid}", pt.base);
    let object = |state: i64, updated: &str| {
        let mut urls = vec![json!({ "type": "Link", "mediaType": "text/html", "href": pt_url })];
        if state == 1 {
            urls.push(json!({ "type": "Link", "mediaType": "application/x-mpegURL", "href": format!("{hls}/master.m3u8"), "tag": [
                { "type": "Infohash", "name": "a1ea7666c254b8a2dd2f273cdac9a3027218bcab" },
                { "type": "Link", "name": "sha256", "mediaType": "application/json", "href": format!("{hls}/segments-sha256.json") }
            ]}));
        }
        json!({
            "type": "Video", "id": pt_url, "name": "Bob streams", "duration": "PT0S", "uuid": pt_uuid,
            "attributedTo": [{ "type": "Person", "id": account }, { "type": "Group", "id": group }],
            "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [format!("{account}/followers")],
            "state": state, "published": "2026-12-01T10:00:00.000Z", "updated": updated,
            "isLiveBroadcast": true, "liveSaveReplay": false, "permanentLive": true, "latencyMode": 1,
            "url": urls,
        })
    };
    let inbox = format!("{}/inbox", a.api.base);
    let send = |kind: &'static str, n: u32, obj: Value| json!({ "type": kind, "id": format!("{pt_url}/activity/{n}"), "actor": account, "to": obj["to"], "cc": obj["cc"], "object": obj });
    assert_eq!(
        pt.send(&inbox, &account, &send("Create", 1, object(4, "2026-12-01T10:00:00.000Z"))).await,
        StatusCode::ACCEPTED
    );
    let (_, v) = a.api.get(&format!("/api/v1/videos/{pt_uuid}"), None).await;
    assert_eq!((v["isLive"].clone(), v["state"]["id"].clone()), (json!(true), json!(4)), "{v}");
    assert_eq!(v["streamingPlaylists"], json!([]));
    assert_eq!(
        pt.send(&inbox, &account, &send("Update", 2, object(1, "2026-12-01T10:05:00.000Z"))).await,
        StatusCode::ACCEPTED
    );
    let (_, v) = a.api.get(&format!("/api/v1/videos/{pt_uuid}"), None).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    assert_eq!(v["streamingPlaylists"][0]["originPlaylistUrl"], format!("{hls}/master.m3u8"), "its origin's");
    let (_, lives) = a.api.get("/api/v1/videos?isLive=true&isLocal=false", None).await;
    assert_eq!(lives["data"][0]["uuid"], pt_uuid, "{lives}");
    assert_eq!(
        pt.send(&inbox, &account, &send("Update", 3, object(4, "2026-12-01T11:00:00.000Z"))).await,
        StatusCode::ACCEPTED
    );
    let (_, v) = a.api.get(&format!("/api/v1/videos/{pt_uuid}"), None).await;
    assert_eq!(v["state"]["id"], 4, "a permanent live waits again: {v}");
}

async fn rtmps_takes_a_stream_inside_tls(backend: Backend) {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let t = instance(backend, |c| {
        c.live.rtmps_listen = "127.0.0.1:0".into();
        c.live.rtmps_cert_file = cert.display().to_string();
        c.live.rtmps_key_file = key.display().to_string();
    })
    .await;
    let token = t.user("sami").await;
    let (id, uuid) = create_live(&t.api, &token, json!({})).await;
    let (_, live) = t.api.get(&format!("/api/v1/videos/live/{id}"), Some(&token)).await;
    let rtmps = live["rtmpsUrl"].as_str().expect("an RTMPS URL").to_string();
    assert!(rtmps.starts_with("rtmps://127.0.0.1:") && rtmps.ends_with("/live"), "{rtmps}");
    let key = live["streamKey"].as_str().unwrap().to_string();

    // Plain RTMP to the TLS port: no TLS handshake, refused.
    let plain = rtmps.replacen("rtmps://", "rtmp://", 1);
    let mut wrong = push(&plain, &key, 5);
    assert!(!pushed(&mut wrong, Duration::from_secs(30)).await, "RTMP without TLS is refused on the RTMPS port");
    assert_eq!(state(&t.api, &uuid).await, 4);

    let mut ffmpeg = push(&rtmps, &key, 6);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await, "the stream inside TLS succeeds");
    wait_state(&t.api, &uuid, 5, Duration::from_secs(20)).await;
    assert_eq!(sessions(&t.api, &token, id).await["total"], 1);
}

/// An RTMP publisher (rml_rtmp's client) that connects and publishes with `key`, sends no media;
/// `Ok(socket)` once the server accepted the publish, `Err` with the server's refusal.
async fn publish_only(rtmp_url: &str, key: &str) -> Result<tokio::net::TcpStream, String> {
    use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
    use rml_rtmp::sessions::{
        ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
    };
    use tokio::io::AsyncReadExt;
    let addr = rtmp_url.trim_start_matches("rtmp://").trim_end_matches("/live").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    let mut hs = Handshake::new(PeerType::Client);
    sock.write_all(&hs.generate_outbound_p0_and_p1().unwrap()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let rest = loop {
        let n = sock.read(&mut buf).await.map_err(|e| e.to_string())?;
        assert!(n > 0, "the server closed during the handshake");
        match hs.process_bytes(&buf[..n]).unwrap() {
            HandshakeProcessResult::InProgress { response_bytes } => sock.write_all(&response_bytes).await.unwrap(),
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                sock.write_all(&response_bytes).await.unwrap();
                break remaining_bytes;
            }
        }
    };
    let (mut client, first) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    let mut pending: Vec<ClientSessionResult> = first;
    pending.push(client.request_connection("live".into()).unwrap());
    pending.extend(client.handle_input(&rest).unwrap());
    loop {
        let mut next = Vec::new();
        for r in pending.drain(..) {
            match r {
                ClientSessionResult::OutboundResponse(p) => sock.write_all(&p.bytes).await.unwrap(),
                ClientSessionResult::RaisedEvent(ClientSessionEvent::ConnectionRequestAccepted) => {
                    next.push(client.request_publishing(key.into(), PublishRequestType::Live).unwrap());
                }
                ClientSessionResult::RaisedEvent(ClientSessionEvent::PublishRequestAccepted) => {
                    for r in next {
                        if let ClientSessionResult::OutboundResponse(p) = r {
                            sock.write_all(&p.bytes).await.unwrap();
                        }
                    }
                    return Ok(sock);
                }
                ClientSessionResult::RaisedEvent(ClientSessionEvent::ConnectionRequestRejected { description }) => {
                    return Err(description);
                }
                _ => {}
            }
        }
        if !next.is_empty() {
            pending = next;
            continue;
        }
        let n = sock.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        pending = client.handle_input(&buf[..n]).map_err(|e| format!("{e:?}"))?;
    }
}

async fn an_encoder_that_sends_nothing_leaves_no_trace(backend: Backend) {
    let t = instance(backend, |_| {}).await;
    let token = t.user("uma").await;
    let (id, uuid) = create_live(&t.api, &token, json!({})).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;

    // Published, then dropped before any media: the live still waits, no session is kept.
    let sock = publish_only(&rtmp, &key).await.expect("the publish is accepted");
    let until = Instant::now() + Duration::from_secs(5);
    while t.instance.app.lives.streaming_count() == 0 {
        assert!(Instant::now() < until, "the session starts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state(&t.api, &uuid).await, 4, "not published before it airs");
    drop(sock);
    let until = Instant::now() + Duration::from_secs(10);
    while t.instance.app.lives.streaming_count() > 0 {
        assert!(Instant::now() < until, "the dropped connection ends the session");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state(&t.api, &uuid).await, 4, "a normal live that never aired may still stream");
    assert_eq!(sessions(&t.api, &token, id).await["total"], 0);

    // A publisher that goes silent is cut after 10 s, the same way.
    let silent = publish_only(&rtmp, &key).await.expect("the publish is accepted");
    let until = Instant::now() + Duration::from_secs(25);
    tokio::time::sleep(Duration::from_millis(500)).await;
    while t.instance.app.lives.streaming_count() > 0 {
        assert!(Instant::now() < until, "a silent publisher is cut");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(silent);
    assert_eq!(sessions(&t.api, &token, id).await["total"], 0);

    // A real stream still goes live afterwards; moderators blocking it end it (PeerTube's error 5).
    let mut ffmpeg = push(&rtmp, &key, 40);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    let admin = t.admin_token().await;
    let (status, body) = t.api.post(&format!("/api/v1/videos/{uuid}/blacklist"), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!pushed(&mut ffmpeg, Duration::from_secs(20)).await, "the encoder is cut off");
    let s = sessions(&t.api, &token, id).await;
    assert_eq!((s["total"].clone(), s["data"][0]["error"].clone()), (json!(1), json!(5)), "{s}");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(v["state"]["id"], 5, "{v}");
}

/// The live's files, for anyone who may watch it, while it streams and `cleanup_delay_secs` after.
fn live_files_left(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.retain(|n| flotilla_app::live::is_live_file(n));
    names.sort();
    names
}

async fn an_ended_lives_files_stay_a_while_for_viewers_behind_it(backend: Backend) {
    // Long enough for the checks after a stream's end to fit in it with other tests running (3 s
    // did not, at four tests at a time on a busy machine).
    const GRACE: Duration = Duration::from_secs(8);
    let t = instance(backend, |c| {
        c.live.cleanup_delay_secs = GRACE.as_secs();
        c.transcoding.resolutions = vec![144];
    })
    .await;
    let token = t.user("nils").await;
    let hls = t.config.data_dir.join("streaming-playlists/hls");

    // A normal live saving its replay: once its stream stops, a viewer behind the edge still
    // gets the end of it, the playlist closed there.
    let (id, uuid) =
        create_live(&t.api, &token, json!({ "saveReplay": true, "replaySettings": { "privacy": 1 } })).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    let mut ffmpeg = push(&rtmp, &key, 9);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let base = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().trim_end_matches("master.m3u8").to_string();
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await);
    let ended_at = Instant::now();
    let until = Instant::now() + Duration::from_secs(20);
    while t.instance.app.lives.streaming_count() > 0 {
        assert!(Instant::now() < until, "the session did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(v["isLive"], false, "the live became its replay: {v}");
    let r = t.api.http.get(format!("{base}0.m3u8")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "an anonymous viewer behind the edge reads the playlist");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let playlist = r.text().await.unwrap();
    assert!(
        playlist.trim_end().ends_with("#EXT-X-ENDLIST"),
        "the playlist is closed where the stream stopped: {playlist}"
    );
    let last = playlist.lines().rfind(|l| l.ends_with(".ts")).expect("segments listed").to_string();
    let r = t.api.http.get(format!("{base}{last}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the last segment");
    assert!(!r.bytes().await.unwrap().is_empty());
    assert_eq!(get_text(&t.api, &format!("{base}master.m3u8")).await.0, StatusCode::OK);
    assert!(ended_at.elapsed() < GRACE, "the checks above took longer than the grace period");

    // The grace over, the live's files go; the replay's renditions (the same directory) stay.
    tokio::time::sleep(GRACE).await;
    t.run_jobs().await;
    assert_eq!(get_text(&t.api, &format!("{base}0.m3u8")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(live_files_left(&hls.join(&uuid)), Vec::<String>::new());
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 1, "the replay is published: {v}");
    let replay = v["streamingPlaylists"][0]["playlistUrl"].as_str().expect("the replay's playlist").to_string();
    let (status, text) = get_text(&t.api, &replay).await;
    assert_eq!(status, StatusCode::OK, "the replay plays: {text}");

    // A permanent live streaming again within the grace: the first session's clean-up spares the
    // second session's files.
    let (id, uuid) = create_live(&t.api, &token, json!({ "permanentLive": true })).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    let mut first = push(&rtmp, &key, 6);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    assert!(pushed(&mut first, Duration::from_secs(60)).await);
    wait_state(&t.api, &uuid, 4, Duration::from_secs(20)).await;
    // Streaming until well after the first session's grace: going live, the grace, the checks.
    let mut second = push(&rtmp, &key, GRACE.as_secs() as u32 + 12);
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    tokio::time::sleep(GRACE).await;
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    assert_eq!(get_text(&t.api, &master).await.0, StatusCode::OK, "the second session's files were removed");
    assert!(live_files_left(&hls.join(&uuid)).iter().any(|n| n.ends_with(".ts")));
    assert!(pushed(&mut second, Duration::from_secs(60)).await);
    wait_state(&t.api, &uuid, 4, Duration::from_secs(20)).await;
    // Its own clean-up, in turn.
    tokio::time::sleep(GRACE).await;
    t.run_jobs().await;
    assert_eq!(live_files_left(&hls.join(&uuid)), Vec::<String>::new());
    assert!(!hls.join(&uuid).exists(), "an emptied live directory goes too");
    assert_eq!(get_text(&t.api, &master).await.0, StatusCode::NOT_FOUND);

    // A private live's kept files are its owner's alone, as while it streamed.
    let (id, uuid) = create_live(&t.api, &token, json!({ "privacy": 3 })).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    let mut ffmpeg = push(&rtmp, &key, 6);
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
        if v["state"]["id"] == 5 {
            break;
        }
        assert!(Instant::now() < until, "the private live did not end: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let playlist = format!("{}/static/streaming-playlists/hls/{uuid}/0.m3u8", t.api.base);
    assert_eq!(get_text(&t.api, &playlist).await.0, StatusCode::NOT_FOUND, "a stranger reads a private live");
    let r = t.api.http.get(&playlist).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "its owner reads it");
}

async fn viewers_of(api: &Api, uuid: &str) -> i64 {
    let (status, v) = api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["viewers"].as_i64().unwrap()
}

async fn live_audiences_are_counted_across_servers(backend: Backend) {
    let a = instance(backend, |_| {}).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let token = a.user("yara").await;
    let pt = FakeServer::start().await;
    let fan = pt.actor("Person", "fan", json!({}));
    let channel = format!("{}/video-channels/yara_channel", a.api.base);
    let follow = json!({ "type": "Follow", "id": format!("{}/follows/1", pt.base), "actor": fan, "object": channel });
    assert_eq!(pt.send(&format!("{channel}/inbox"), &fan, &follow).await, StatusCode::ACCEPTED);
    a.run_jobs().await;

    let (id, uuid) = create_live(&a.api, &token, json!({})).await;
    let (rtmp, key) = stream_address(&a.api, &token, id).await;
    let _ffmpeg = push(&rtmp, &key, 40);
    wait_state(&a.api, &uuid, 1, Duration::from_secs(30)).await;
    let until = Instant::now() + Duration::from_secs(30);
    while state(&b.api, &uuid).await != 1 {
        assert!(Instant::now() < until, "the follower never saw the live start");
        settle(&[&a, &b]).await;
    }

    // Two viewers on the follower (a user and a visitor), one on the origin: the follower tells
    // the origin of its own, one `View` each.
    let zeno = b.user("zeno").await;
    for (api, who) in [(&b.api, None), (&b.api, Some(zeno.as_str())), (&a.api, None)] {
        let (status, body) = api.post(&format!("/api/v1/videos/{uuid}/views"), who, json!({ "currentTime": 1 })).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    settle(&[&b, &a]).await;
    assert_eq!(viewers_of(&a.api, &uuid).await, 3, "one here and two on the follower");
    // Reporting again within the minute tells the origin nothing more, and counts nobody twice.
    let (status, _) = b.api.post(&format!("/api/v1/videos/{uuid}/views"), None, json!({ "currentTime": 5 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&b, &a]).await;
    assert_eq!(viewers_of(&a.api, &uuid).await, 3);

    // The origin tells its followers the whole audience: PeerTube's shape, and the follower shows it.
    assert_eq!(flotilla_app::federation::views::send_totals(&a.instance.app).await.unwrap(), 1);
    settle(&[&a, &b]).await;
    let url = format!("{}/videos/watch/{uuid}", a.api.base);
    let told: Vec<Value> = pt
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == "View" && x["object"] == url.as_str())
        .cloned()
        .collect();
    let told = told.last().unwrap_or_else(|| panic!("no View for {url}"));
    let (_, on_a) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(told["actor"], format!("{}/accounts/peertube", a.api.base), "{told}");
    assert_eq!(told["id"], format!("{}/accounts/peertube/views/videos/{}/{uuid}", a.api.base, on_a["id"]), "{told}");
    assert_eq!(told["to"][0], "https://www.w3.org/ns/activitystreams#Public", "{told}");
    assert_eq!(told["cc"], json!([]));
    assert!(told["expires"].as_str().and_then(flotilla_domain::time::parse_iso8601).is_some(), "{told}");
    assert_eq!(
        told["result"],
        json!({ "interactionType": "WatchAction", "type": "InteractionCounter", "userInteractionCount": 3 })
    );
    assert_eq!(viewers_of(&b.api, &uuid).await, 3, "the follower shows the origin's count");

    // A viewer `View` from the PeerTube-shaped server for our live: one more, until it expires;
    // the same id again extends it, not doubles it.
    let inbox = format!("{}/inbox", a.api.base);
    let expires = |ms: i64| flotilla_domain::time::iso8601(flotilla_domain::time::now_ms() + ms);
    let viewer = |id: &str, object: &str, until: String, extra: Value| {
        let mut v = json!({ "type": "View", "id": format!("{}/views/videos/2/{id}", pt.base), "actor": fan,
            "to": [format!("{}/accounts/yara", a.api.base)], "cc": [], "object": object, "expires": until });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    for _ in 0..2 {
        assert_eq!(pt.send(&inbox, &fan, &viewer("s1", &url, expires(60_000), json!({}))).await, StatusCode::ACCEPTED);
    }
    assert_eq!(viewers_of(&a.api, &uuid).await, 4);
    // One whose `expires` is a second away counts a second.
    assert_eq!(pt.send(&inbox, &fan, &viewer("s2", &url, expires(1_000), json!({}))).await, StatusCode::ACCEPTED);
    assert_eq!(viewers_of(&a.api, &uuid).await, 5);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(viewers_of(&a.api, &uuid).await, 4, "an expired viewer still counted");
    // Past already, or not a date: nothing counted; the latter refused.
    assert_eq!(pt.send(&inbox, &fan, &viewer("s3", &url, expires(-1_000), json!({}))).await, StatusCode::ACCEPTED);
    assert_eq!(pt.send(&inbox, &fan, &viewer("s4", &url, "soon".into(), json!({}))).await, StatusCode::BAD_REQUEST);
    assert_eq!(viewers_of(&a.api, &uuid).await, 4);

    // A PeerTube live here: its origin's viewers (one `View` each), then its total (`result`),
    // which replaces them; another server cannot set it, and a count must be a count.
    let account = pt.actor("Person", "bob", json!({}));
    let group = pt.actor("Group", "bob_channel", json!({ "attributedTo": [{ "type": "Person", "id": account }] }));
    let pt_uuid = "0e7d2c4b-5a69-4f8e-9b1d-2c3e4f5a6b7c";
    let pt_url = format!("{}/videos/watch/{pt_uuid}", pt.base);
    let object = json!({
        "type": "Video", "id": pt_url, "name": "Bob streams", "duration": "PT0S", "uuid": pt_uuid,
        "attributedTo": [{ "type": "Person", "id": account }, { "type": "Group", "id": group }],
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [format!("{account}/followers")],
        "state": 4, "published": "2026-12-01T10:00:00.000Z", "updated": "2026-12-01T10:00:00.000Z",
        "isLiveBroadcast": true, "liveSaveReplay": false, "permanentLive": true, "latencyMode": 1,
        "url": [{ "type": "Link", "mediaType": "text/html", "href": pt_url }],
    });
    let create = json!({ "type": "Create", "id": format!("{pt_url}/activity/1"), "actor": account,
        "to": object["to"], "cc": object["cc"], "object": object });
    assert_eq!(pt.send(&inbox, &account, &create).await, StatusCode::ACCEPTED);
    assert_eq!(viewers_of(&a.api, pt_uuid).await, 0);
    // Our viewer of it is told to its origin, as PeerTube tells one: a stable id per viewer, no
    // count, `to` the video's account.
    let (status, _) = a.api.post(&format!("/api/v1/videos/{pt_uuid}/views"), None, json!({ "currentTime": 0 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    a.run_jobs().await;
    let sent: Vec<Value> = pt
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == "View" && x["object"] == pt_url.as_str())
        .cloned()
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (_, here) = a.api.get(&format!("/api/v1/videos/{pt_uuid}"), None).await;
    let prefix = format!("{}/accounts/peertube/views/videos/{}/", a.api.base, here["id"]);
    let id = sent[0]["id"].as_str().unwrap();
    assert!(id.starts_with(&prefix) && id.ends_with(&format!("-{pt_uuid}")), "{id}");
    let key = &id[prefix.len()..id.len() - pt_uuid.len() - 1];
    assert!(key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()), "the viewer is named by a hash: {id}");
    assert_eq!((sent[0]["to"].clone(), sent[0]["cc"].clone()), (json!([account]), json!([])));
    assert!(sent[0]["expires"].as_str().and_then(flotilla_domain::time::parse_iso8601).is_some());
    assert!(sent[0].get("result").is_none());
    assert_eq!(viewers_of(&a.api, pt_uuid).await, 1, "our own viewer, until its origin says more");
    for id in ["v1", "v2"] {
        assert_eq!(pt.send(&inbox, &fan, &viewer(id, &pt_url, expires(60_000), json!({}))).await, StatusCode::ACCEPTED);
    }
    assert_eq!(viewers_of(&a.api, pt_uuid).await, 2, "two of its origin's viewers (ours among them, said by it)");
    let total = |n: Value| json!({ "result": { "interactionType": "WatchAction", "type": "InteractionCounter", "userInteractionCount": n } });
    assert_eq!(
        pt.send(&inbox, &fan, &viewer("total", &pt_url, expires(60_000), total(json!(7)))).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(viewers_of(&a.api, pt_uuid).await, 7, "its origin's total replaces them");
    assert_eq!(
        pt.send(&inbox, &fan, &viewer("total", &pt_url, expires(60_000), total(json!("lots")))).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        pt.send(&inbox, &fan, &viewer("total", &pt_url, expires(60_000), total(json!(-3)))).await,
        StatusCode::BAD_REQUEST
    );
    let other = FakeServer::start().await;
    let stranger = other.actor("Application", "peertube", json!({}));
    let forged = json!({ "type": "View", "id": format!("{}/views/videos/1/x", other.base), "actor": stranger,
        "to": [account], "cc": [], "object": pt_url, "expires": expires(60_000),
        "result": { "interactionType": "WatchAction", "type": "InteractionCounter", "userInteractionCount": 1000 } });
    assert_eq!(other.send(&inbox, &stranger, &forged).await, StatusCode::ACCEPTED);
    assert_eq!(viewers_of(&a.api, pt_uuid).await, 7, "only its origin tells a video's audience");
    // A viewer `View` passed on by another server (PeerTube forwards them): accepted, not applied.
    let passed = viewer("fwd", &url, expires(60_000), json!({ "actor": stranger }));
    assert_eq!(pt.send(&inbox, &fan, &passed).await, StatusCode::ACCEPTED);
    assert_eq!(viewers_of(&a.api, &uuid).await, 4);
}

async fn an_audio_only_live_streams_its_sound(backend: Backend) {
    let t = instance(backend, |_| {}).await;
    let token = t.user("ugo").await;
    let (id, uuid) = create_live(&t.api, &token, json!({})).await;
    let (rtmp, key) = stream_address(&t.api, &token, id).await;
    // A radio show: sound only.
    let mut ffmpeg = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100", "-t", "10"])
        .args(["-c:a", "aac", "-b:a", "96k", "-f", "flv"])
        .arg(format!("{rtmp}/{key}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg (apt-get install ffmpeg)");
    wait_state(&t.api, &uuid, 1, Duration::from_secs(30)).await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let master_url = v["streamingPlaylists"][0]["playlistUrl"].as_str().expect("a live playlist").to_string();
    let (status, master) = get_text(&t.api, &master_url).await;
    assert_eq!(status, StatusCode::OK, "{master}");
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 1, "one variant: {master}");
    assert!(!master.contains("RESOLUTION="), "no picture: {master}");
    let media = master_url.replace("master.m3u8", "0.m3u8");
    let probe = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "json", &media])
        .output()
        .await
        .expect("ffprobe");
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap_or_default();
    let kinds: Vec<&str> = probe["streams"]
        .as_array()
        .map(|s| s.iter().filter_map(|x| x["codec_type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, vec!["audio"], "{probe}");
    assert!(pushed(&mut ffmpeg, Duration::from_secs(60)).await);
    wait_state(&t.api, &uuid, 5, Duration::from_secs(20)).await;
}
