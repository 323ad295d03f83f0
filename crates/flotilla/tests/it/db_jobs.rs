//! The job queue's repository on both databases: claims under a lease, retries with a due time,
//! permanent failures, the admin's retry, and the sweep of jobs whose worker died. A kind of its
//! own keeps the instance's transcoding workers out of the way.

use flotilla_db::jobs;
use flotilla_domain::time::now_ms;
use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(
    jobs_are_claimed_once_retried_when_due_and_swept_when_their_worker_dies,
    a_worker_whose_lease_was_taken_changes_nothing,
    two_workers_racing_for_one_job_run_it_once,
    abandoned_resumable_uploads_are_swept,
    finished_jobs_are_forgotten_after_their_keeping_time,
    two_transactions_queueing_one_key_at_once_both_succeed
);

const KIND: &str = "test-only";

async fn jobs_are_claimed_once_retried_when_due_and_swept_when_their_worker_dies(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let db = &t.instance.app.db;
    let now = now_ms();
    let a = jobs::enqueue(db, KIND, r#"{"n":1}"#, Some("only-once"), 3, now).await.unwrap();
    let again = jobs::enqueue(db, KIND, r#"{"n":1}"#, Some("only-once"), 3, now).await.unwrap();
    assert_eq!(a, again, "a unique key is not queued twice");
    let b = jobs::enqueue(db, KIND, r#"{"n":2}"#, None, 3, now + 1).await.unwrap();

    let first = jobs::claim(db, KIND, "w1", "l1", now + 10).await.unwrap().unwrap();
    assert_eq!(first.id, a);
    assert_eq!(first.attempts, 1);
    let second = jobs::claim(db, KIND, "w2", "l2", now + 10).await.unwrap().unwrap();
    assert_eq!(second.id, b, "a claimed job is not handed out twice");
    assert!(jobs::claim(db, KIND, "w3", "l3", now + 10).await.unwrap().is_none());

    // A retry is not due before its time.
    assert!(jobs::fail(db, &first.lease(), "try later", Some(now + 60_000), now + 20).await.unwrap());
    assert!(jobs::claim(db, KIND, "w1", "l4", now + 30).await.unwrap().is_none());
    let retried = jobs::claim(db, KIND, "w1", "l5", now + 60_001).await.unwrap().unwrap();
    assert_eq!((retried.id, retried.attempts), (a, 2));
    assert!(jobs::heartbeat(db, &retried.lease(), Some(50), now + 60_002).await.unwrap());
    let mut other = retried.lease();
    other.worker = "someone-else".into();
    assert!(!jobs::heartbeat(db, &other, None, now + 60_002).await.unwrap());
    let mut old_claim = retried.lease();
    old_claim.token = "l1".into();
    assert!(!jobs::heartbeat(db, &old_claim, None, now + 60_002).await.unwrap(), "an earlier claim's lease is over");

    // w2 died holding b: the sweep's query finds it; w1 is alive and keeps a.
    let stale = jobs::stale(db, now + 30_000).await.unwrap();
    assert_eq!(stale.iter().map(|j| j.id).collect::<Vec<_>>(), [b]);
    assert!(jobs::requeue(db, &stale[0].lease(), now + 60_003, now + 60_003).await.unwrap());
    let back = jobs::claim(db, KIND, "w4", "l6", now + 60_004).await.unwrap().unwrap();
    assert_eq!((back.id, back.attempts), (b, 2), "the dead worker's attempt counted");

    assert!(jobs::fail(db, &retried.lease(), "broken for good", None, now + 60_005).await.unwrap());
    assert!(jobs::complete(db, &back.lease(), now + 60_006).await.unwrap());
    let failed = jobs::get(db, a).await.unwrap().unwrap();
    assert_eq!((failed.state.as_str(), failed.last_error.as_deref()), ("failed", Some("broken for good")));
    // The key is free again once the job is over.
    let c = jobs::enqueue(db, KIND, r#"{"n":1}"#, Some("only-once"), 3, now).await.unwrap();
    assert_ne!(c, a);

    // Admins see failed jobs and put them back in the queue.
    let admin = t.admin_token().await;
    let (_, list) = t.api.get("/api/v1/jobs/failed?jobType=test-only", Some(&admin)).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["data"][0]["error"], "broken for good");
    let user = t.user("jon").await;
    let (status, _) = t.api.post(&format!("/api/v1/jobs/{a}/retry"), Some(&user), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.api.post(&format!("/api/v1/jobs/{a}/retry"), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.post(&format!("/api/v1/jobs/{a}/retry"), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "only failed jobs are retried");
    let (status, _) = t.api.get("/api/v1/jobs/sideways", Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let requeued = jobs::get(db, a).await.unwrap().unwrap();
    assert_eq!((requeued.state.as_str(), requeued.attempts), ("queued", 0));
    t.stop().await;
}

async fn a_worker_whose_lease_was_taken_changes_nothing(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let db = &t.instance.app.db;
    let now = now_ms();
    let id = jobs::enqueue(db, KIND, "{}", None, 5, now).await.unwrap();
    // Worker A claims it, then stalls past its lease; the sweep hands it to worker B.
    let a = jobs::claim(db, KIND, "worker-a", "lease-a", now).await.unwrap().unwrap();
    assert!(jobs::requeue(db, &a.lease(), now, now).await.unwrap());
    let b = jobs::claim(db, KIND, "worker-b", "lease-b", now + 1).await.unwrap().unwrap();
    assert_eq!(b.id, id);
    // A wakes up and tries to record every possible end: none lands.
    assert!(!jobs::heartbeat(db, &a.lease(), Some(99), now + 2).await.unwrap());
    assert!(!jobs::complete(db, &a.lease(), now + 2).await.unwrap());
    assert!(!jobs::fail(db, &a.lease(), "A's failure", None, now + 2).await.unwrap());
    assert!(!jobs::fail(db, &a.lease(), "A's retry", Some(now + 10), now + 2).await.unwrap());
    assert!(!jobs::defer(db, &a.lease(), now + 10, now + 2).await.unwrap());
    assert!(!jobs::requeue(db, &a.lease(), now + 10, now + 2).await.unwrap());
    let row = jobs::get(db, id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.locked_by.as_deref(), row.lease.as_deref(), row.last_error.as_deref()),
        ("running", Some("worker-b"), Some("lease-b"), Some("its worker stopped (the process was killed or crashed)")),
        "B still owns it, and nothing A said was written"
    );
    // B's own end lands.
    assert!(jobs::complete(db, &b.lease(), now + 3).await.unwrap());
    assert_eq!(jobs::get(db, id).await.unwrap().unwrap().state, "done");
    // The same worker claiming a job again holds a new lease: its old one stays dead.
    let id2 = jobs::enqueue(db, KIND, "{}", None, 5, now).await.unwrap();
    let first = jobs::claim(db, KIND, "worker-a", "lease-1", now).await.unwrap().unwrap();
    assert!(jobs::requeue(db, &first.lease(), now, now).await.unwrap());
    let again = jobs::claim(db, KIND, "worker-a", "lease-2", now).await.unwrap().unwrap();
    assert_eq!(again.id, id2);
    assert!(!jobs::complete(db, &first.lease(), now + 1).await.unwrap());
    assert!(jobs::complete(db, &again.lease(), now + 1).await.unwrap());
    t.stop().await;
}

async fn two_workers_racing_for_one_job_run_it_once(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let db = t.instance.app.db.clone();
    let now = now_ms();
    for round in 0..20 {
        let id = jobs::enqueue(&db, KIND, "{}", None, 5, now).await.unwrap();
        let claims = (0..8).map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                jobs::claim(&db, KIND, &format!("w{w}"), &format!("l{round}-{w}"), now).await.unwrap()
            })
        });
        let won: Vec<_> = futures_util::future::join_all(claims).await.into_iter().filter_map(|r| r.unwrap()).collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one worker got the job");
        assert_eq!(won[0].id, id);
        assert!(jobs::complete(&db, &won[0].lease(), now).await.unwrap());
    }
    t.stop().await;
}

async fn abandoned_resumable_uploads_are_swept(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("abe").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let resp = t
        .api
        .http
        .post(t.api.url("/api/v1/videos/upload-resumable"))
        .bearer_auth(&token)
        .header("X-Upload-Content-Length", "1000")
        .header("X-Upload-Content-Type", "video/mp4")
        .json(&json!({ "channelId": me["videoChannels"][0]["id"], "name": "Forgotten" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let uploads = t.config.data_dir.join("tmp/uploads");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 1);
    let app = &t.instance.app;
    assert_eq!(flotilla_app::video::resumable::sweep(app).await.unwrap(), 0, "a fresh session stays");
    // Two days pass.
    let db = &app.db;
    flotilla_db::run!(db, |x| sqlx::query("UPDATE upload_sessions SET updated_at = updated_at - 172800000")
        .execute(x)
        .await
        .map(|_| ()))
    .unwrap();
    assert_eq!(flotilla_app::video::resumable::sweep(app).await.unwrap(), 1);
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0, "its bytes are gone too");
    t.stop().await;
}

/// Done jobs are kept a week and failed ones a month, then forgotten by the hourly sweep; queued
/// and running ones, however old, never.
async fn finished_jobs_are_forgotten_after_their_keeping_time(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let app = &t.instance.app;
    let db = &app.db;
    let day = 24 * 3600 * 1000;
    let now = now_ms();
    let old = now - 40 * day;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(jobs::enqueue(db, KIND, &format!(r#"{{"n":{n}}}"#), None, 1, old).await.unwrap());
    }
    // 0: done 8 days ago; 1: done 6 days ago; 2: failed 31 days ago; 3: failed 29 days ago;
    // 4: still queued since 40 days.
    let finish = |n: usize, failed: bool, at: i64| {
        let id = ids[n];
        async move {
            // Claimed now (a claim dated in the past would look stale to the instance's sweeper),
            // finished at `at`.
            let j = jobs::claim(db, KIND, "w", &format!("l{n}"), now).await.unwrap().unwrap();
            assert_eq!(j.id, id);
            if failed {
                assert!(jobs::fail(db, &j.lease(), "broken", None, at).await.unwrap());
            } else {
                assert!(jobs::complete(db, &j.lease(), at).await.unwrap());
            }
        }
    };
    finish(0, false, now - 8 * day).await;
    finish(1, false, now - 6 * day).await;
    finish(2, true, now - 31 * day).await;
    finish(3, true, now - 29 * day).await;
    // The instance's own hourly sweep (its first round runs at start) may get there first: what
    // is left is the same either way.
    flotilla_app::jobs::prune_finished(app, now).await.unwrap();
    assert_eq!(flotilla_app::jobs::prune_finished(app, now).await.unwrap(), 0);
    let left: Vec<bool> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(jobs::get(db, *id).await.unwrap().is_some());
        }
        v
    };
    assert_eq!(left, [false, true, false, true, true]);
    t.stop().await;
}

/// Two transactions queue a job with the same key at once (a local like and a remote one asking
/// for a video's counts): the second gets the first one's job, not a unique-key error that would
/// undo its change.
async fn two_transactions_queueing_one_key_at_once_both_succeed(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let db = t.instance.app.db.clone();
    let now = now_ms();
    let mut first = db.begin().await.unwrap();
    let id = jobs::enqueue(&mut first, KIND, "{}", Some("shared-key"), 3, now).await.unwrap();
    // The second starts while the first holds its uncommitted row (PostgreSQL makes it wait on
    // the key; SQLite for the writer's one connection).
    let db2 = db.clone();
    let second = tokio::spawn(async move {
        let mut tx = db2.begin().await.unwrap();
        let id = jobs::enqueue(&mut tx, KIND, "{}", Some("shared-key"), 3, now).await;
        tx.commit().await.unwrap();
        id
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap().expect("the second enqueue succeeds"), id);
    t.stop().await;
}
