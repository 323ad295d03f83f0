//! Remote runners (PeerTube's runner protocol): two `flotilla runner` processes (the real binary)
//! share a server's transcoding; one killed while it holds a job, the job stalls and finishes on
//! the other; a runner's corrupt or wrong result is refused (and counted as the job's failure);
//! a runner stopped by SIGTERM gives its job back; a deleted registration token stops its runner
//! and gives its job back. Lives: a runner plays the session's relay and sends its segments; one
//! that dies ends the session with its error; hostile chunks are refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use flotilla_media::hls;
use flotilla_testkit::reqwest::{self, StatusCode};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};
use sha2::{Digest, Sha256};

db_tests!(
    two_runners_share_the_work_and_a_killed_ones_job_goes_to_the_other,
    a_corrupt_or_wrong_result_is_refused_and_a_good_one_published,
    a_deleted_registration_token_stops_its_runner,
    a_live_is_transcoded_by_a_runner,
    a_live_whose_runner_dies_ends_with_its_error,
    a_live_runners_hostile_chunks_are_refused,
    a_runner_transcoded_lives_replay_becomes_the_video,
);

const BIN: &str = env!("CARGO_BIN_EXE_flotilla");

/// A `flotilla runner` process, killed on drop.
struct RunnerProcess {
    child: Child,
    log: PathBuf,
}

impl RunnerProcess {
    fn start(dir: &Path, url: &str, token: &str, name: &str) -> RunnerProcess {
        let log = dir.join(format!("runner-{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args(["runner", "--url", url, "--registration-token", token, "--name", name])
            .args(["--data", &dir.join(format!("runner-{name}")).display().to_string()])
            .args(["--poll-secs", "0.2", "--update-secs", "0.5", "--threads", "1"])
            .env("RUST_LOG", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn flotilla runner");
        RunnerProcess { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn until<T>(what: &str, secs: u64, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..secs * 10 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {secs} s");
}

async fn start(backend: Backend, resolutions: Vec<u32>) -> TestInstance {
    TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = resolutions;
        c.transcoding.remote_runners = true;
        c.transcoding.runner_stalled_after_secs = 3;
    })
    .await
}

/// A new registration token, made by the admin.
async fn registration_token(t: &TestInstance, admin: &str) -> (i64, String) {
    let (status, body) = t.api.post("/api/v1/runners/registration-tokens/generate", Some(admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, list) = t.api.get("/api/v1/runners/registration-tokens", Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let t0 = &list["data"][0];
    (t0["id"].as_i64().unwrap(), t0["registrationToken"].as_str().unwrap().to_string())
}

async fn jobs(t: &TestInstance, admin: &str) -> Vec<Value> {
    let (status, list) = t.api.get("/api/v1/runners/jobs?count=100", Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().unwrap().clone()
}

/// Uploads `file` to the user's channel; its UUID.
async fn upload(t: &TestInstance, token: &str, file: &Path, name: &str) -> String {
    let (_, me) = t.api.get("/api/v1/users/me", Some(token)).await;
    let form = reqwest::multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", name.to_string())
        // Published only with its last rendition: the test sees the end of the transcoding.
        .text("waitTranscoding", "true")
        .part("videofile", reqwest::multipart::Part::bytes(std::fs::read(file).unwrap()).file_name("v.mp4"));
    let req = t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form);
    let (status, body) = t.api.send(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["video"]["uuid"].as_str().unwrap().to_string()
}

/// Checks a published video: every rendition in its master playlist, and each segment's bytes
/// hashing to what `segments-sha256.json` says (hashes we computed from the runner's file).
async fn check_published(t: &TestInstance, uuid: &str, resolutions: &[i64]) {
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    let files = v["streamingPlaylists"][0]["files"].as_array().unwrap();
    let mut got: Vec<i64> = files.iter().map(|f| f["resolution"]["id"].as_i64().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, resolutions, "{v}");
    let master_url = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
    let master = t.api.http.get(master_url).send().await.unwrap().text().await.unwrap();
    let sha_url = v["streamingPlaylists"][0]["segmentsSha256Url"].as_str().unwrap();
    let sha: Value = t.api.http.get(sha_url).send().await.unwrap().json().await.unwrap();
    let base = master_url.rsplit_once('/').unwrap().0;
    let mut checked = 0;
    for line in master.lines().filter(|l| l.ends_with(".m3u8")) {
        let media = t.api.http.get(format!("{base}/{line}")).send().await.unwrap().text().await.unwrap();
        for (file, off, len) in hls::segment_ranges(&media) {
            let bytes = t
                .api
                .http
                .get(format!("{base}/{file}"))
                .header("Range", format!("bytes={off}-{}", off + len - 1))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(bytes.len() as u64, len);
            let want = sha[&file][format!("{off}-{}", off + len - 1)].as_str().unwrap_or_default();
            assert_eq!(hex::encode(Sha256::digest(&bytes)), want, "{file} {off}+{len}");
            checked += 1;
        }
    }
    assert!(checked >= resolutions.len(), "segments checked: {checked}");
}

async fn two_runners_share_the_work_and_a_killed_ones_job_goes_to_the_other(backend: Backend) {
    let t = start(backend, vec![144, 240, 360]).await;
    let admin = t.admin_token().await;
    let (_, token) = registration_token(&t, &admin).await;
    let owner = t.user("rui").await;
    let file = clip(t.dir.path(), "long.mp4", 640, 360, 20);
    let uuid = upload(&t, &owner, &file, "Made elsewhere").await;
    // The transcode job hands the three renditions to runners; nothing is transcoded here.
    until("three runner jobs pending", 30, async || {
        let j = jobs(&t, &admin).await;
        (j.len() == 3 && j.iter().all(|j| j["state"]["id"] == 1)).then_some(())
    })
    .await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
    assert_ne!(v["state"]["id"], 1, "published before any runner worked: {v}");

    let mut a = RunnerProcess::start(t.dir.path(), &t.api.url(""), &token, "alpha");
    let b = RunnerProcess::start(t.dir.path(), &t.api.url(""), &token, "beta");
    // As soon as alpha holds a job, it is killed (no abort, no goodbye).
    let held = until("alpha holds a job", 60, async || {
        jobs(&t, &admin).await.into_iter().find(|j| j["state"]["id"] == 2 && j["runner"]["name"] == "alpha")
    })
    .await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let held_uuid = held["uuid"].as_str().unwrap().to_string();

    // The job stalls (3 s without news), goes back to pending, and beta does it.
    let done = until("every runner job completed", 120, async || {
        let j = jobs(&t, &admin).await;
        j.iter().all(|j| j["state"]["id"] == 3).then_some(j)
    })
    .await;
    let job = done.iter().find(|j| j["uuid"] == held_uuid.as_str()).unwrap();
    assert_eq!(job["runner"]["name"], "beta", "{job}\nalpha: {}\nbeta: {}", a.log(), b.log());
    assert_eq!(job["failures"], 1, "{job}");
    assert!(job["error"].as_str().unwrap().contains("no news"), "{job}");
    assert_eq!(job["progress"], 100);
    assert!(done.iter().any(|j| j["runner"]["name"] == "beta"));

    until("the video is published with every rendition", 60, async || {
        let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        (v["state"]["id"] == 1 && v["streamingPlaylists"][0]["files"].as_array().is_some_and(|f| f.len() == 3))
            .then_some(())
    })
    .await;
    check_published(&t, &uuid, &[144, 240, 360]).await;
    // Each result's directory goes once it is stored.
    let results = t.dir.path().join("data/tmp/runner-results");
    until("no result left behind", 20, async || {
        std::fs::read_dir(&results).map_or(true, |mut d| d.next().is_none()).then_some(())
    })
    .await;
    // Both runners are listed, with their last contact.
    let (_, runners) = t.api.get("/api/v1/runners", Some(&admin)).await;
    let names: Vec<&str> = runners["data"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"alpha") && names.contains(&"beta"), "{runners}");
    assert!(runners["data"][0]["lastContact"].is_string());
}

/// A runner by hand: registered, holding `job` (accepted), with what it downloaded.
struct Hand {
    runner: String,
    job: String,
    job_token: String,
    payload: Value,
}

async fn take(t: &TestInstance, runner: &str, resolution: u64) -> Hand {
    let (status, offered) = t.api.post("/api/v1/runners/jobs/request", None, json!({ "runnerToken": runner })).await;
    assert_eq!(status, StatusCode::OK, "{offered}");
    let job = offered["availableJobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["payload"]["output"]["resolution"] == resolution)
        .unwrap_or_else(|| panic!("no pending {resolution}p job: {offered}"))
        .clone();
    let uuid = job["uuid"].as_str().unwrap().to_string();
    let (status, accepted) =
        t.api.post(&format!("/api/v1/runners/jobs/{uuid}/accept"), None, json!({ "runnerToken": runner })).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["job"]["state"]["id"], 2);
    Hand {
        runner: runner.to_string(),
        job: uuid,
        job_token: accepted["job"]["jobToken"].as_str().unwrap().to_string(),
        payload: accepted["job"]["payload"].clone(),
    }
}

/// Downloads the job's input and makes `resolution` of it with ffmpeg, the way a runner does.
async fn make(t: &TestInstance, h: &Hand, resolution: u32, dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let url = h.payload["input"]["videoFileUrl"].as_str().unwrap();
    let body = json!({ "runnerToken": h.runner, "jobToken": h.job_token });
    let resp = t.api.http.post(url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let input = dir.join("input.mp4");
    std::fs::write(&input, resp.bytes().await.unwrap()).unwrap();
    let (probe, _) = flotilla_media::probe::probe(&input).await.unwrap();
    let r = hls::plan(&probe, &[resolution]).into_iter().find(|r| r.resolution == resolution).unwrap();
    let (fragment, playlist) = hls::names("out", resolution);
    let args =
        hls::ladder_args(&input, &probe, &[hls::Output { rendition: &r, fragment: &fragment, playlist: &playlist }], 1);
    hls::run_ffmpeg(dir, &args, Duration::from_secs(300), |_| {}).await.unwrap();
    (dir.join(fragment), dir.join(playlist))
}

/// Posts a result as a runner does (tokens first unless `files_first`).
async fn post_result(
    t: &TestInstance,
    h: &Hand,
    video: Vec<u8>,
    playlist: Vec<u8>,
    files_first: bool,
) -> (StatusCode, Value) {
    let files = |f: reqwest::multipart::Form| {
        f.part("payload[videoFile]", reqwest::multipart::Part::bytes(video.clone()).file_name("v.mp4")).part(
            "payload[resolutionPlaylistFile]",
            reqwest::multipart::Part::bytes(playlist.clone()).file_name("v.m3u8"),
        )
    };
    let tokens =
        |f: reqwest::multipart::Form| f.text("runnerToken", h.runner.clone()).text("jobToken", h.job_token.clone());
    let form = if files_first {
        tokens(files(reqwest::multipart::Form::new()))
    } else {
        files(tokens(reqwest::multipart::Form::new()))
    };
    let req = t.api.http.post(t.api.url(&format!("/api/v1/runners/jobs/{}/success", h.job))).multipart(form);
    t.api.send(req).await
}

async fn job_state(t: &TestInstance, admin: &str, uuid: &str) -> Value {
    jobs(t, admin).await.into_iter().find(|j| j["uuid"] == uuid).unwrap()
}

async fn a_corrupt_or_wrong_result_is_refused_and_a_good_one_published(backend: Backend) {
    let t = start(backend, vec![144, 240]).await;
    let admin = t.admin_token().await;
    let (_, token) = registration_token(&t, &admin).await;
    let owner = t.user("iva").await;
    let file = clip(t.dir.path(), "src.mp4", 426, 240, 6);
    let uuid = upload(&t, &owner, &file, "Checked results").await;
    t.run_jobs().await;

    // Registration: an unknown token is refused; a name is unique.
    let (status, body) =
        t.api.post("/api/v1/runners/register", None, json!({ "registrationToken": "ptrrt-nope", "name": "x" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, reg) =
        t.api.post("/api/v1/runners/register", None, json!({ "registrationToken": token, "name": "hand" })).await;
    assert_eq!(status, StatusCode::OK, "{reg}");
    let runner = reg["runnerToken"].as_str().unwrap().to_string();
    let (status, _) =
        t.api.post("/api/v1/runners/register", None, json!({ "registrationToken": token, "name": "hand" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = t.api.post("/api/v1/runners/jobs/request", None, json!({ "runnerToken": "ptrt-nope" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let h = take(&t, &runner, 240).await;
    // The input is the upload, byte for byte; only with the job's token.
    let url = h.payload["input"]["videoFileUrl"].as_str().unwrap().to_string();
    let resp =
        t.api.http.post(&url).json(&json!({ "runnerToken": runner, "jobToken": "ptrjt-nope" })).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let work = t.dir.path().join("hand");
    let (good_video, good_playlist) = make(&t, &h, 240, &work.join("240")).await;
    assert_eq!(
        std::fs::read(work.join("240/input.mp4")).unwrap(),
        std::fs::read(&file).unwrap(),
        "the runner gets the upload"
    );
    let video = std::fs::read(&good_video).unwrap();
    let playlist = std::fs::read(&good_playlist).unwrap();

    // Files before the tokens: refused before anything is read (no failure counted).
    let (status, body) = post_result(&t, &h, video.clone(), playlist.clone(), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(job_state(&t, &admin, &h.job).await["failures"], 0);

    // A playlist whose byte ranges run past the file: refused, counted, the job pending again.
    let cut = video[..video.len() - 1000].to_vec();
    let (status, body) = post_result(&t, &h, cut, playlist.clone(), false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_runner_result", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("past the end"), "{body}");
    let j = job_state(&t, &admin, &h.job).await;
    assert_eq!((j["state"]["id"].as_i64(), j["failures"].as_i64()), (Some(1), Some(1)), "{j}");
    assert!(j["runner"].is_null());
    // Its old job token is worth nothing now.
    let (status, _) = t
        .api
        .post(
            &format!("/api/v1/runners/jobs/{}/update", h.job),
            None,
            json!({ "runnerToken": runner, "jobToken": h.job_token, "progress": 50 }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Bytes that are no video, under a playlist that fits them: refused.
    let h = take(&t, &runner, 240).await;
    let mut garbage = vec![0u8; video.len()];
    garbage.iter_mut().enumerate().for_each(|(i, b)| *b = (i * 7 % 251) as u8);
    let (status, body) = post_result(&t, &h, garbage, playlist.clone(), false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("cannot be read as a video"), "{body}");

    // A good file of the wrong size (144p for the 240p job): refused.
    let h = take(&t, &runner, 240).await;
    let (small_video, small_playlist) = make(&t, &h, 144, &work.join("144-as-240")).await;
    let (status, body) =
        post_result(&t, &h, std::fs::read(small_video).unwrap(), std::fs::read(small_playlist).unwrap(), false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("was asked"), "{body}");
    let j = job_state(&t, &admin, &h.job).await;
    assert_eq!(j["failures"], 3, "{j}");
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
    assert_ne!(v["state"]["id"], 1, "nothing refused was published: {v}");

    // A playlist over its bound: 413, nothing kept.
    let h = take(&t, &runner, 240).await;
    let (status, body) = post_result(&t, &h, video.clone(), vec![b'#'; 3 * 1024 * 1024], false).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(job_state(&t, &admin, &h.job).await["state"]["id"], 2, "still the runner's");

    // The good result: accepted (progress first), stored, published once the other is done too.
    let (status, body) = t
        .api
        .post(
            &format!("/api/v1/runners/jobs/{}/update", h.job),
            None,
            json!({ "runnerToken": runner, "jobToken": h.job_token, "progress": 42 }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(job_state(&t, &admin, &h.job).await["progress"], 42);
    // Its owner follows it on the video: the mean of its renditions' jobs (42 and 0).
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
    assert_eq!(v["transcodingProgress"], 21, "{v}");
    let (status, body) = post_result(&t, &h, video, playlist, false).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Both results may be stored in one batch: the last of it publishes the video.
    let h144 = take(&t, &runner, 144).await;
    let (v144, p144) = make(&t, &h144, 144, &work.join("144")).await;
    let (status, body) =
        post_result(&t, &h144, std::fs::read(v144).unwrap(), std::fs::read(p144).unwrap(), false).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    check_published(&t, &uuid, &[144, 240]).await;
    let all = jobs(&t, &admin).await;
    assert!(all.iter().all(|j| j["state"]["id"] == 3), "{all:?}");
    // A completed job's tokens are worth nothing.
    let (status, _) = post_result(&t, &h144, vec![1], vec![b'#'], false).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Transcoded again by an admin: new jobs for the whole ladder, the finished ones forgotten.
    let (status, body) = t
        .api
        .post(&format!("/api/v1/videos/{uuid}/transcoding"), Some(&admin), json!({ "transcodingType": "hls" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    let again = jobs(&t, &admin).await;
    assert_eq!(again.len(), 2, "{again:?}");
    assert!(again.iter().all(|j| j["state"]["id"] == 1 && j["failures"] == 0), "{again:?}");
    assert!(again.iter().all(|j| all.iter().all(|o| o["uuid"] != j["uuid"])), "new jobs");
}

async fn a_deleted_registration_token_stops_its_runner(backend: Backend) {
    let t = start(backend, vec![144, 240]).await;
    let admin = t.admin_token().await;
    let (token_id, token) = registration_token(&t, &admin).await;
    // Admins only.
    let user = t.user("ola").await;
    for path in ["/api/v1/runners", "/api/v1/runners/jobs", "/api/v1/runners/registration-tokens"] {
        let (status, _) = t.api.get(path, Some(&user)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let file = clip(t.dir.path(), "long.mp4", 640, 360, 30);
    upload(&t, &user, &file, "Revoked midway").await;
    // Stopped with SIGTERM while it works, a runner gives its job back at once (no failure).
    let mut delta = RunnerProcess::start(t.dir.path(), &t.api.url(""), &token, "delta");
    let held = until("delta holds a job", 60, async || {
        jobs(&t, &admin).await.into_iter().find(|j| j["state"]["id"] == 2 && j["runner"]["name"] == "delta")
    })
    .await;
    let status = Command::new("kill").args(["-TERM", &delta.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let status = until("delta stops", 30, async || delta.child.try_wait().unwrap()).await;
    assert_eq!(status.code(), Some(0), "{}", delta.log());
    let j = job_state(&t, &admin, held["uuid"].as_str().unwrap()).await;
    assert_eq!((j["state"]["id"].as_i64(), j["failures"].as_i64()), (Some(1), Some(0)), "{j}");
    let mut runner = RunnerProcess::start(t.dir.path(), &t.api.url(""), &token, "gamma");
    let held = until("gamma holds a job", 60, async || {
        jobs(&t, &admin).await.into_iter().find(|j| j["state"]["id"] == 2 && j["runner"]["name"] == "gamma")
    })
    .await;
    let (_, tokens) = t.api.get("/api/v1/runners/registration-tokens", Some(&admin)).await;
    assert_eq!(tokens["data"][0]["registeredRunnersCount"], 2, "{tokens}");

    let (status, body) = t.api.delete(&format!("/api/v1/runners/registration-tokens/{token_id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Its runner is gone, its job pending again (not its failure), and the process stops.
    let (_, runners) = t.api.get("/api/v1/runners", Some(&admin)).await;
    assert_eq!(runners["total"], 0, "{runners}");
    let j = job_state(&t, &admin, held["uuid"].as_str().unwrap()).await;
    assert_eq!((j["state"]["id"].as_i64(), j["failures"].as_i64()), (Some(1), Some(0)), "{j}");
    let status = until("the runner stops", 30, async || runner.child.try_wait().unwrap()).await;
    assert_eq!(status.code(), Some(3), "{}", runner.log());
    assert!(runner.log().contains("registration token"), "{}", runner.log());
    // Its token opens nothing, and it cannot register again with the deleted token.
    let (status, _) =
        t.api.post("/api/v1/runners/register", None, json!({ "registrationToken": token, "name": "gamma" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---- lives on runners ----

use crate::api_live::{create_live, get_text, push, pushed, sessions, stream_address, wait_state};

async fn live_instance(backend: Backend) -> TestInstance {
    TestInstance::start_with(backend, |c| {
        c.live.resolutions = vec![360, 240];
        c.live.threads = 1;
        c.live.remote_runners = true;
        c.transcoding.runner_stalled_after_secs = 3;
    })
    .await
}

/// A live: the server relays the stream to a `flotilla runner`, which makes the ladder and uploads
/// its segments; viewers get the master playlist and segments whose hashes we computed; the
/// stream's end ends the live and the runner's job.
async fn a_live_is_transcoded_by_a_runner(backend: Backend) {
    let t = live_instance(backend).await;
    let admin = t.admin_token().await;
    let (_, reg) = registration_token(&t, &admin).await;
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["live"]["transcoding"]["remoteRunners"]["enabled"], true, "{}", config["live"]);
    let runner = RunnerProcess::start(t.dir.path(), &t.api.url(""), &reg, "studio");
    let owner = t.user("lina").await;
    let (id, uuid) = create_live(&t.api, &owner, json!({})).await;
    let (rtmp, key) = stream_address(&t.api, &owner, id).await;
    let mut ffmpeg = push(&rtmp, &key, 16);

    // The session's job goes to the runner, which plays the stream and sends segments back.
    wait_state(&t.api, &uuid, 1, std::time::Duration::from_secs(60)).await;
    let job = until("the runner holds the live's job", 20, async || {
        jobs(&t, &admin).await.into_iter().find(|j| j["type"] == "live-rtmp-hls-transcoding" && j["state"]["id"] == 2)
    })
    .await;
    assert_eq!(job["runner"]["name"], "studio", "{job}");
    let rtmp_url = job["payload"]["input"]["rtmpUrl"].as_str().unwrap();
    assert!(rtmp_url.starts_with(&format!("{rtmp}/")) && !rtmp_url.contains(&key), "a key of its own: {rtmp_url}");
    let resolutions: Vec<i64> = job["payload"]["output"]["toTranscode"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resolution"].as_i64().unwrap())
        .collect();
    assert_eq!(resolutions, [360, 240], "{job}");

    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let playlist = v["streamingPlaylists"][0]["playlistUrl"].as_str().expect("a live playlist").to_string();
    let sha_url = v["streamingPlaylists"][0]["segmentsSha256Url"].as_str().unwrap().to_string();
    let master = until("the master playlist lists the ladder", 20, async || {
        let (status, text) = get_text(&t.api, &playlist).await;
        (status == StatusCode::OK && text.matches("#EXT-X-STREAM-INF").count() == 2).then_some(text)
    })
    .await;
    assert!(master.contains("RESOLUTION=640x360") && master.contains("RESOLUTION=426x240"), "{master}");
    let base = playlist.trim_end_matches("master.m3u8").to_string();
    let hashes = until("segment hashes", 30, async || {
        let r = t.api.http.get(&sha_url).send().await.ok()?;
        let j: Value = r.json().await.ok()?;
        j.as_object().is_some_and(|o| o.len() >= 4).then_some(j)
    })
    .await;
    for (name, sha) in hashes.as_object().unwrap() {
        let r = t.api.http.get(format!("{base}{name}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(sha.as_str().unwrap(), hex::encode(Sha256::digest(&bytes)), "{name}");
    }
    // ffprobe reads the runner's rendition through us.
    let probe = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,height", "-of", "json", &format!("{base}0.m3u8")])
        .output()
        .await
        .expect("ffprobe");
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap_or_default();
    assert!(probe["streams"].as_array().is_some_and(|s| s.iter().any(|s| s["height"] == 360)), "{probe}");
    // Only the job's own key plays the stream: not the publisher's key, not a made-up one.
    for k in [key.as_str(), "0123456789abcdef0123456789abcdef"] {
        let played = tokio::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-rw_timeout", "5000000"])
            .args(["-i", &format!("{rtmp}/{k}"), "-t", "1", "-f", "null", "-"])
            .output()
            .await
            .expect("ffmpeg");
        assert!(!played.status.success(), "played with {k}");
    }

    // The stream ends: the live ends as it should, the runner's job completes.
    assert!(pushed(&mut ffmpeg, std::time::Duration::from_secs(60)).await, "the push succeeds");
    wait_state(&t.api, &uuid, 5, std::time::Duration::from_secs(30)).await;
    let s = sessions(&t.api, &owner, id).await;
    assert_eq!(s["data"][0]["error"], Value::Null, "{s}");
    let uuid_job = job["uuid"].as_str().unwrap().to_string();
    until("the live's job completed", 30, async || {
        let j = jobs(&t, &admin).await.into_iter().find(|j| j["uuid"] == uuid_job.as_str())?;
        (j["state"]["id"] == 3).then_some(())
    })
    .await;
    assert!(runner.log().contains("live ended"), "{}", runner.log());
}

/// A runner killed mid-live: its job stalls and errors (a live's job is not given to another),
/// the session ends with PeerTube's runner error (6).
async fn a_live_whose_runner_dies_ends_with_its_error(backend: Backend) {
    let t = live_instance(backend).await;
    let admin = t.admin_token().await;
    let (_, reg) = registration_token(&t, &admin).await;
    let mut runner = RunnerProcess::start(t.dir.path(), &t.api.url(""), &reg, "fragile");
    let owner = t.user("noor").await;
    let (id, uuid) = create_live(&t.api, &owner, json!({})).await;
    let (rtmp, key) = stream_address(&t.api, &owner, id).await;
    let mut ffmpeg = push(&rtmp, &key, 60);
    wait_state(&t.api, &uuid, 1, std::time::Duration::from_secs(60)).await;
    runner.child.kill().unwrap();
    runner.child.wait().unwrap();

    let job = until("the live's job errored", 30, async || {
        jobs(&t, &admin).await.into_iter().find(|j| j["type"] == "live-rtmp-hls-transcoding" && j["state"]["id"] == 4)
    })
    .await;
    assert!(job["error"].as_str().unwrap().contains("no news"), "{job}");
    wait_state(&t.api, &uuid, 5, std::time::Duration::from_secs(20)).await;
    let s = sessions(&t.api, &owner, id).await;
    assert_eq!(s["data"][0]["error"], 6, "{s}");
    // The publisher is let go.
    assert!(tokio::time::timeout(std::time::Duration::from_secs(20), ffmpeg.wait()).await.is_ok());
}

/// A runner by hand holding a live's job: names outside the live, playlists naming other files
/// or servers, files before tokens and another runner's tokens are refused, nothing written; a
/// good chunk lands in the live's directory.
async fn a_live_runners_hostile_chunks_are_refused(backend: Backend) {
    let t = live_instance(backend).await;
    let admin = t.admin_token().await;
    let (_, reg) = registration_token(&t, &admin).await;
    let register = |name: &'static str| {
        let api = &t.api;
        let reg = reg.clone();
        async move {
            let (status, r) =
                api.post("/api/v1/runners/register", None, json!({ "registrationToken": reg, "name": name })).await;
            assert_eq!(status, StatusCode::OK, "{r}");
            r["runnerToken"].as_str().unwrap().to_string()
        }
    };
    let mallory = register("mallory").await;
    let other = register("other").await;
    let owner = t.user("ossian").await;
    let (id, uuid) = create_live(&t.api, &owner, json!({})).await;
    let (rtmp, key) = stream_address(&t.api, &owner, id).await;
    let _ffmpeg = push(&rtmp, &key, 40);
    let job = until("the live's job is pending", 30, async || {
        jobs(&t, &admin).await.into_iter().find(|j| j["type"] == "live-rtmp-hls-transcoding")
    })
    .await;
    let job_uuid = job["uuid"].as_str().unwrap().to_string();
    let (status, accepted) =
        t.api.post(&format!("/api/v1/runners/jobs/{job_uuid}/accept"), None, json!({ "runnerToken": mallory })).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    let job_token = accepted["job"]["jobToken"].as_str().unwrap().to_string();
    let dir = t.config.data_dir.join("streaming-playlists/hls").join(&uuid);

    let media =
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\n0-000000.ts\n";
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n0.m3u8\n";
    let send = |fields: Vec<(&'static str, String)>, files: Vec<(&'static str, Vec<u8>)>, tokens_first: bool| {
        let (mallory, job_token) = (mallory.clone(), job_token.clone());
        let job_uuid = job_uuid.clone();
        let api = &t.api;
        async move {
            let mut form = reqwest::multipart::Form::new();
            if tokens_first {
                form = form.text("runnerToken", mallory.clone()).text("jobToken", job_token.clone());
            }
            for (k, v) in fields {
                form = form.text(k, v);
            }
            for (k, v) in files {
                form = form.part(k, reqwest::multipart::Part::bytes(v).file_name("f"));
            }
            if !tokens_first {
                form = form.text("runnerToken", mallory).text("jobToken", job_token);
            }
            let req = api.http.post(api.url(&format!("/api/v1/runners/jobs/{job_uuid}/update"))).multipart(form);
            api.send(req).await
        }
    };
    let chunk = |name: &str, playlist: &str, master: Option<&str>| {
        let fields = vec![
            ("payload[type]", "add-chunk".to_string()),
            ("payload[videoChunkFilename]", name.to_string()),
            ("payload[resolutionPlaylistFilename]", "0.m3u8".to_string()),
        ];
        let mut files = vec![
            ("payload[videoChunkFile]", vec![0x47u8; 188 * 4]),
            ("payload[resolutionPlaylistFile]", playlist.as_bytes().to_vec()),
        ];
        if let Some(m) = master {
            files.push(("payload[masterPlaylistFile]", m.as_bytes().to_vec()));
        }
        (fields, files)
    };
    let refused = [
        ("a name outside the live", chunk("../../escape.ts", media, None)),
        (
            "a playlist naming a server",
            chunk("0-000000.ts", "#EXTM3U\n#EXTINF:4,\nhttp://169.254.169.254/latest.ts\n", None),
        ),
        (
            "a playlist with a key",
            chunk("0-000000.ts", "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"file:///etc/passwd\"\n", None),
        ),
        (
            "a master naming another file",
            chunk("0-000000.ts", media, Some("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../../x.m3u8\n")),
        ),
    ];
    for (why, (fields, files)) in refused {
        let (status, body) = send(fields, files, true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
        assert_eq!(body["code"], "invalid_runner_result", "{why}: {body}");
    }
    assert!(!t.config.data_dir.join("streaming-playlists/escape.ts").exists());
    assert!(!dir.join("0-000000.ts").exists(), "nothing written");
    // Files before the tokens: not read.
    let (fields, files) = chunk("0-000000.ts", media, Some(master));
    let (status, body) = send(fields, files, false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let why = body["invalid-params"]["runnerToken"]["msg"].as_str().unwrap_or_default();
    assert!(why.contains("before the files"), "{body}");
    // Another runner: not its job.
    let form = reqwest::multipart::Form::new()
        .text("runnerToken", other.clone())
        .text("jobToken", job_token.clone())
        .text("payload[type]", "remove-chunk")
        .text("payload[videoChunkFilename]", "0-000000.ts");
    let req = t.api.http.post(t.api.url(&format!("/api/v1/runners/jobs/{job_uuid}/update"))).multipart(form);
    let (status, body) = t.api.send(req).await;
    assert!(status == StatusCode::NOT_FOUND || status == StatusCode::CONFLICT, "{status} {body}");

    // A good chunk: in the live's directory, with its playlist and the master.
    let (fields, files) = chunk("0-000000.ts", media, Some(master));
    let (status, body) = send(fields, files, true).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(std::fs::read(dir.join("0-000000.ts")).unwrap().len(), 188 * 4);
    assert_eq!(std::fs::read_to_string(dir.join("0.m3u8")).unwrap(), media);
    assert_eq!(std::fs::read_to_string(dir.join("master.m3u8")).unwrap(), master);
    // The session's watcher sees it: the live airs.
    wait_state(&t.api, &uuid, 1, std::time::Duration::from_secs(20)).await;
    // Removed: gone.
    let fields =
        vec![("payload[type]", "remove-chunk".to_string()), ("payload[videoChunkFilename]", "0-000000.ts".to_string())];
    let (status, body) = send(fields, vec![], true).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!dir.join("0-000000.ts").exists());

    // An admin cancels the job: the session ends with PeerTube's "runner job cancelled" (7) and
    // the runner's next update is refused.
    let (status, body) = t.api.post(&format!("/api/v1/runners/jobs/{job_uuid}/cancel"), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    until("the session ended", 20, async || {
        let s = sessions(&t.api, &owner, id).await;
        s["data"][0]["endDate"].is_string().then_some(s)
    })
    .await;
    assert_eq!(sessions(&t.api, &owner, id).await["data"][0]["error"], 7);
    let fields =
        vec![("payload[type]", "remove-chunk".to_string()), ("payload[videoChunkFilename]", "0-000000.ts".to_string())];
    let (status, body) = send(fields, vec![], true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// The replay of a live transcoded by a runner: made from the runner's segments, as with a local
/// ffmpeg.
async fn a_runner_transcoded_lives_replay_becomes_the_video(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.live.resolutions = vec![240];
        c.live.threads = 1;
        c.live.remote_runners = true;
        c.transcoding.resolutions = vec![144];
    })
    .await;
    let admin = t.admin_token().await;
    let (_, reg) = registration_token(&t, &admin).await;
    let _runner = RunnerProcess::start(t.dir.path(), &t.api.url(""), &reg, "keeper");
    let owner = t.user("ivo").await;
    let (id, uuid) =
        create_live(&t.api, &owner, json!({ "saveReplay": true, "replaySettings": { "privacy": 2 } })).await;
    let (rtmp, key) = stream_address(&t.api, &owner, id).await;
    let mut ffmpeg = push(&rtmp, &key, 10);
    wait_state(&t.api, &uuid, 1, std::time::Duration::from_secs(60)).await;
    assert!(pushed(&mut ffmpeg, std::time::Duration::from_secs(60)).await);
    until("the live became its replay", 30, async || {
        let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&owner)).await;
        (v["isLive"] == false).then_some(())
    })
    .await;
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["state"]["id"], 1, "{v}");
    let duration = v["duration"].as_i64().unwrap();
    // The runner's last segment (sent after the stream ended) is in it too.
    assert!((9..=12).contains(&duration), "the replay holds the whole stream: {duration} s");
    assert!(!v["streamingPlaylists"][0]["files"].as_array().unwrap().is_empty(), "{v}");
}
