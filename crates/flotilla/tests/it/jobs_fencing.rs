//! The job workers under faults: a job whose lease is taken stops (its ffmpeg with it) and leaves
//! the new owner's row alone; a job that panics is retried, then failed with the reason shown to
//! the video's owner, and the pool of workers keeps its size; a job that keeps killing its worker
//! stops after its attempts; a job committed while an idle worker looks for work wakes it.

use std::time::Duration;

use flotilla_db::jobs;
use flotilla_domain::time::now_ms;
use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Api, Backend, TestInstance, clip, db_tests};

db_tests!(
    a_job_whose_lease_is_taken_stops_its_ffmpeg_and_leaves_the_new_owners_row_alone,
    a_panicking_job_is_retried_then_failed_and_the_workers_stay,
    a_job_that_keeps_killing_its_worker_is_failed_after_its_attempts,
    a_wake_between_a_workers_look_and_its_wait_is_not_lost,
);

async fn upload(t: &TestInstance, token: &str, name: &str, secs: u32) -> Value {
    let (_, me) = t.api.get("/api/v1/users/me", Some(token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let file = clip(t.dir.path(), &format!("{name}.mp4"), 640, 360, secs);
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", name.to_string())
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("c.mp4"));
    let (status, body) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["video"].clone()
}

/// Waits (polling, with a generous bound as a safety net) until `check` holds.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// ffmpeg processes started by this (test) process.
fn our_ffmpegs() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid …
            let (comm, rest) = match (stat.find('('), stat.rfind(')')) {
                (Some(a), Some(b)) => (&stat[a + 1..b], &stat[b + 1..]),
                _ => return false,
            };
            comm == "ffmpeg" && rest.split_whitespace().nth(1) == Some(me.as_str())
        })
        .count()
}

async fn transcode_job(t: &TestInstance) -> Option<jobs::Job> {
    let (rows, _) = jobs::list(&t.instance.app.db, None, Some("transcode"), flotilla_db::Page { start: 0, count: 1 })
        .await
        .unwrap();
    rows.into_iter().next()
}

async fn video_state(api: &Api, token: &str, uuid: &str) -> Value {
    api.get(&format!("/api/v1/videos/{uuid}"), Some(token)).await.1
}

async fn a_job_whose_lease_is_taken_stops_its_ffmpeg_and_leaves_the_new_owners_row_alone(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![240, 360];
        c.jobs.lease_secs = 2;
    })
    .await;
    let token = t.user("lena").await;
    let video = upload(&t, &token, "Stolen lease", 12).await;
    let uuid = video["uuid"].as_str().unwrap().to_string();
    until("ffmpeg transcodes", || async { our_ffmpegs() > 0 }).await;
    // Another worker takes the job over (as if this one had stalled past its lease): its lease
    // and heartbeat, far in the future so the sweeper leaves it be.
    let job = transcode_job(&t).await.unwrap();
    let db = &t.instance.app.db;
    let future = now_ms() + 3_600_000;
    flotilla_db::run!(db, |x| sqlx::query(
        "UPDATE jobs SET locked_by = 'thief', lease = 'thief-lease', heartbeat_at = $2 WHERE id = $1"
    )
    .bind(job.id)
    .bind(future)
    .execute(x)
    .await
    .map(|_| ()))
    .unwrap();
    // The worker notices at its next heartbeat and stops: its ffmpeg is killed.
    until("the old owner's ffmpeg is gone", || async { our_ffmpegs() == 0 }).await;
    let row = jobs::get(db, job.id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.locked_by.as_deref(), row.lease.as_deref(), row.heartbeat_at),
        ("running", Some("thief"), Some("thief-lease"), Some(future)),
        "the new owner's row is untouched"
    );
    // The new owner gives it back; it runs again and finishes.
    assert!(jobs::requeue(db, &row.lease(), now_ms(), now_ms()).await.unwrap());
    t.instance.app.wake_jobs();
    until("the video is published with both renditions", || async {
        let v = video_state(&t.api, &token, &uuid).await;
        v["state"]["id"] == 1 && v["streamingPlaylists"][0]["files"].as_array().is_some_and(|f| f.len() == 2)
    })
    .await;
    t.stop().await;
}

async fn a_panicking_job_is_retried_then_failed_and_the_workers_stay(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![240]).await;
    let app = t.instance.app.clone();
    let workers = flotilla_app::jobs::worker_count(&app);
    let live = || app.live_workers.load(std::sync::atomic::Ordering::SeqCst);
    until("every worker has started", || async { live() == workers }).await;
    app.failpoints.arm("job.transcode", flotilla_app::failpoints::Action::Panic);
    let token = t.user("pan").await;
    let uuid = upload(&t, &token, "Panics", 2).await["uuid"].as_str().unwrap().to_string();
    // Each attempt panics; retries are made due at once instead of after their backoff.
    until("the job has failed for good", || async {
        let db = &app.db;
        flotilla_db::run!(db, |x| sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
            .execute(x)
            .await
            .map(|_| ()))
        .unwrap();
        app.wake_jobs();
        transcode_job(&t).await.is_some_and(|j| j.state == "failed")
    })
    .await;
    let job = transcode_job(&t).await.unwrap();
    assert_eq!(job.attempts, job.max_attempts, "every attempt was made");
    assert!(job.last_error.as_deref().unwrap().contains("the job panicked: failpoint job.transcode"), "{job:?}");
    let v = video_state(&t.api, &token, &uuid).await;
    assert_eq!(v["state"]["id"], 7, "the owner sees the failure: {v}");
    assert_eq!(live(), workers, "no worker was lost");

    // A worker whose own loop panics (outside any job) is replaced. (Counted before arming: an
    // idle worker may hit the failpoint as soon as it is armed.)
    let replaced = || app.replaced_workers.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(replaced(), 0);
    app.failpoints.arm("jobs.worker", flotilla_app::failpoints::Action::PanicOnce);
    app.wake_jobs();
    until("the panicked worker was replaced", || async { !app.failpoints.armed("jobs.worker") && replaced() == 1 })
        .await;
    until("the pool is whole again", || async { live() == workers }).await;

    // The workers run the job again once the fault is gone.
    app.failpoints.disarm("job.transcode");
    let admin = t.admin_token().await;
    let (status, _) = t.api.post(&format!("/api/v1/jobs/{}/retry", job.id), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.wake_jobs();
    until("the video is published", || async { video_state(&t.api, &token, &uuid).await["state"]["id"] == 1 }).await;
    t.stop().await;
}

async fn a_job_that_keeps_killing_its_worker_is_failed_after_its_attempts(backend: Backend) {
    // A lease of an hour: the instance's own sweeper (every half lease) mostly stays out of the
    // way; a heartbeat at 0 is stale all the same.
    let t = TestInstance::start_with(backend, |c| c.jobs.lease_secs = 3600).await;
    let app = t.instance.app.clone();
    let db = &app.db;
    // A kind of its own, so that the instance's workers leave it to this test. Each attempt, the
    // worker holding it "crashes": its row stays running and its heartbeat stops, as after kill -9.
    let id = jobs::enqueue(db, "test-only", "{}", None, 3, now_ms()).await.unwrap();
    for attempt in 1..=3 {
        let claimed = jobs::claim(db, "test-only", "crashing", &format!("c{attempt}"), now_ms()).await.unwrap();
        let claimed = claimed.unwrap_or_else(|| panic!("attempt {attempt}: the job is queued and due"));
        assert_eq!(claimed.attempts, attempt, "each crash counts");
        flotilla_db::run!(db, |x| sqlx::query("UPDATE jobs SET heartbeat_at = 0 WHERE id = $1")
            .bind(id)
            .execute(x)
            .await
            .map(|_| ()))
        .unwrap();
        // The instance's own sweeper sweeps once at start-up (then every half lease) and may
        // meet the job first: what counts is the row afterwards, swept once by one of the two.
        assert!(flotilla_app::jobs::sweep(&app).await.unwrap() <= 1);
        let row = jobs::get(db, id).await.unwrap().unwrap();
        assert_ne!(row.state, "running", "attempt {attempt}: the stale job was swept");
        if attempt < 3 {
            assert_eq!(row.state, "queued", "attempt {attempt}: back in the queue");
            // Due after a backoff; made due now for the next round.
            assert!(row.run_at > now_ms());
            flotilla_db::run!(db, |x| sqlx::query("UPDATE jobs SET run_at = 0 WHERE id = $1")
                .bind(id)
                .execute(x)
                .await
                .map(|_| ()))
            .unwrap();
        }
    }
    let row = jobs::get(db, id).await.unwrap().unwrap();
    assert_eq!(row.state, "failed", "no attempt left: failed, not queued again");
    assert!(row.last_error.as_deref().unwrap().contains("its worker stopped during each of 3 attempts"), "{row:?}");
    t.stop().await;
}

/// A worker that found nothing to do listens for wakes from before it looked: a job committed
/// (and `wake_jobs` called, as every commit of a job does) after its look found nothing, before
/// its wait began, wakes it at once. Listening only from the wait on — the order before — misses
/// that wake (`notify_waiters` keeps no permit), and only the look again, up to two seconds later,
/// ends the wait. A gate holds a real worker between its look and its wait to make that certain.
async fn a_wake_between_a_workers_look_and_its_wait_is_not_lost(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let fp = &t.instance.app.failpoints;
    // A kind with one worker and nothing queued in this test: only a wake or the look again ends
    // its wait, and no host slot (deliveries only).
    let looked = fp.arm_gate("jobs.idle", "user-import");
    let worker = looked.reached().await;
    let woke = fp.arm_gate("jobs.woke", &worker);
    // Between the worker's look and its wait, a job is committed:
    t.instance.app.wake_jobs();
    looked.open();
    assert_eq!(woke.reached().await, "Job", "woken by the job, not by the look again");
    woke.open();
    t.stop().await;
}
