//! Delivery health: at most two deliveries to one host at once, a score per host, and a host that
//! has failed for over a day left alone until it talks to us again; what a new video sends, and
//! to whom.

use std::sync::atomic::Ordering;
use std::time::Duration;

use flotilla_db::{Page, hosts, jobs};
use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, clip, db_tests};

db_tests!(
    deliveries_to_a_host_are_bounded_scored_and_stop_when_it_is_dead,
    a_new_video_is_created_by_its_account_and_announced_by_its_channel_and_the_instance,
    an_activity_that_cannot_be_ld_signed_still_goes_unsigned,
);

async fn rename(a: &TestInstance, token: &str, name: &str) {
    let (status, body) =
        a.api.put("/api/v1/video-channels/ida_channel", Some(token), json!({ "displayName": name })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn received_names(masto: &FakeServer) -> Vec<String> {
    masto
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "Update")
        .filter_map(|v| v["object"]["name"].as_str().map(str::to_string))
        .collect()
}

async fn wait_for(masto: &FakeServer, name: &str) {
    for _ in 0..300 {
        if received_names(masto).await.iter().any(|n| n == name) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never delivered; got {:?}", received_names(masto).await);
}

async fn queued_deliveries(a: &TestInstance) -> i64 {
    jobs::list(&a.instance.app.db, Some("queued"), Some("deliver"), Page { start: 0, count: 100 }).await.unwrap().1
}

/// A change's deliveries are queued by its event's job, a moment after the request: a test that
/// reads the queue waits until no event is left to run.
async fn events_done(a: &TestInstance) {
    for _ in 0..100 {
        let mut left = 0;
        for state in ["queued", "running"] {
            left += jobs::list(&a.instance.app.db, Some(state), Some("event"), Page { start: 0, count: 1 })
                .await
                .unwrap()
                .1;
        }
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("events still waiting after 5 s");
}

/// The fake inbox has the activity before our worker has the answer and records the outcome, so a
/// test reading scores or queues first waits for the workers to finish what they hold.
async fn settle(a: &TestInstance) {
    for _ in 0..100 {
        let running = jobs::list(&a.instance.app.db, Some("running"), Some("deliver"), Page { start: 0, count: 1 })
            .await
            .unwrap()
            .1;
        if running == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries still running after 5 s");
}

async fn deliveries_to_a_host_are_bounded_scored_and_stop_when_it_is_dead(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let token = a.user("ida").await;
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let channel = format!("{}/video-channels/ida_channel", a.api.base);
    let follow =
        json!({ "type": "Follow", "id": format!("{}/follows/1", masto.base), "actor": zoe, "object": channel });
    assert_eq!(masto.send(&format!("{channel}/inbox"), &zoe, &follow).await, StatusCode::ACCEPTED);
    a.run_jobs().await;
    let db = &a.instance.app.db;
    let start_score = hosts::get(db, &masto.host).await.unwrap().expect("known after the Accept").score;

    // A slow host: six updates, delivered by the workers, never more than two at once. (Each
    // carries the profile as it is when its event runs: the last name reaches the follower.)
    masto.inbox.delay_ms.store(300, Ordering::SeqCst);
    for n in 1..=6 {
        rename(&a, &token, &format!("Name {n}")).await;
    }
    wait_for(&masto, "Name 6").await;
    for _ in 0..300 {
        if received_names(&masto).await.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received_names(&masto).await.len(), 6, "one Update per change");
    assert_eq!(masto.inbox.peak.load(Ordering::SeqCst), 2, "two at once, no more");
    settle(&a).await;
    let h = hosts::get(db, &masto.host).await.unwrap().unwrap();
    assert_eq!(h.score, start_score + 60);
    assert!(h.failing_since.is_none());

    // It goes down: the delivery fails, will be retried, and the host's score drops.
    masto.inbox.delay_ms.store(0, Ordering::SeqCst);
    masto.inbox.status.store(503, Ordering::SeqCst);
    rename(&a, &token, "While down").await;
    let mut h = hosts::get(db, &masto.host).await.unwrap().unwrap();
    for _ in 0..100 {
        if h.failing_since.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        h = hosts::get(db, &masto.host).await.unwrap().unwrap();
    }
    assert!(h.failing_since.is_some(), "{h:?}");
    settle(&a).await;
    assert_eq!(h.score, start_score + 50);
    assert!(h.last_error.as_deref().unwrap_or_default().contains("503"), "{h:?}");
    assert_eq!(queued_deliveries(&a).await, 1, "the failed delivery waits for its retry");

    // A day later it is dead: new activities are not queued for it.
    let day_ago = flotilla_domain::time::now_ms() - 25 * 3600 * 1000;
    hosts::succeeded(db, &masto.host, day_ago).await.unwrap();
    hosts::failed(db, &masto.host, "down", day_ago).await.unwrap();
    rename(&a, &token, "Nobody hears this").await;
    events_done(&a).await;
    assert_eq!(queued_deliveries(&a).await, 1, "nothing new queued for a dead host");

    // It talks to us again (any valid signed activity): deliveries resume.
    masto.inbox.status.store(202, Ordering::SeqCst);
    let like = json!({ "type": "Like", "id": format!("{}/likes/1", masto.base), "actor": zoe, "object": channel });
    assert_eq!(masto.send(&format!("{}/inbox", a.api.base), &zoe, &like).await, StatusCode::ACCEPTED);
    assert!(hosts::get(db, &masto.host).await.unwrap().unwrap().failing_since.is_none());
    rename(&a, &token, "Back again").await;
    wait_for(&masto, "Back again").await;
    assert!(!received_names(&masto).await.iter().any(|n| n == "Nobody hears this"));
    a.stop().await;
}

async fn a_new_video_is_created_by_its_account_and_announced_by_its_channel_and_the_instance(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = a.user("ugo").await;
    let base = a.api.base.clone();
    let channel = format!("{base}/video-channels/ugo_channel");
    let instance = format!("{base}/accounts/peertube");
    // A Mastodon user follows the channel; a PeerTube instance follows ours.
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let f = json!({ "type": "Follow", "id": format!("{}/f/1", masto.base), "actor": zoe, "object": channel });
    assert_eq!(masto.send(&format!("{base}/inbox"), &zoe, &f).await, StatusCode::ACCEPTED);
    let pt = FakeServer::start().await;
    let server = pt.actor("Application", "peertube", json!({}));
    let f = json!({ "type": "Follow", "id": format!("{}/f/2", pt.base), "actor": server, "object": instance });
    assert_eq!(pt.send(&format!("{base}/inbox"), &server, &f).await, StatusCode::ACCEPTED);
    a.run_jobs().await;

    let (_, me) = a.api.get("/api/v1/users/me", Some(&token)).await;
    let file = clip(a.dir.path(), "f.mp4", 256, 144, 1);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", "Announced")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("f.mp4"));
    let (status, up) =
        a.api.send(a.api.http.post(a.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    a.run_jobs().await;
    let video = format!("{base}/videos/watch/{}", up["video"]["uuid"].as_str().unwrap());
    let of = |s: &FakeServer, kind: &str| -> Vec<Value> {
        s.received.lock().unwrap().iter().filter(|v| v["type"] == kind).cloned().collect()
    };

    // The channel's follower: Create by the account, Announce by the channel.
    let creates = of(&masto, "Create");
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["actor"], format!("{base}/accounts/ugo"));
    assert_eq!(creates[0]["object"]["id"], video.as_str());
    let announces = of(&masto, "Announce");
    assert_eq!(announces.len(), 1, "{announces:?}");
    assert_eq!(announces[0]["actor"], channel.as_str());
    assert_eq!(announces[0]["object"], video.as_str());
    assert!(announces[0]["id"].as_str().unwrap().starts_with(&format!("{video}/announces/")));
    assert_eq!(
        announces[0]["to"],
        json!(["https://www.w3.org/ns/activitystreams#Public", format!("{channel}/followers")])
    );

    // The following instance: the instance actor's Announce, as PeerTube fills its lists.
    assert!(of(&pt, "Create").is_empty());
    let announces = of(&pt, "Announce");
    assert_eq!(announces.len(), 1, "{announces:?}");
    assert_eq!(announces[0]["actor"], instance.as_str());
    assert_eq!(announces[0]["object"], video.as_str());
    a.stop().await;
}

/// Our activities carry a Linked-Data signature; one whose JSON-LD cannot be canonicalized (here a
/// context URL we do not hold, which is never fetched) is still delivered, with its HTTP signature
/// and without the other, rather than failing.
async fn an_activity_that_cannot_be_ld_signed_still_goes_unsigned(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let masto = FakeServer::start().await;
    let inbox = format!("{}/inbox", masto.base);
    let app = &a.instance.app;
    let instance = flotilla_app::ap::ensure_instance_actor(app).await.unwrap();
    let actor = flotilla_app::uris::instance_actor(app);
    let plain = json!({ "@context": "https://www.w3.org/ns/activitystreams", "type": "Update",
                        "id": format!("{actor}/updates/1"), "actor": actor, "object": actor });
    let odd = json!({ "@context": ["https://www.w3.org/ns/activitystreams", "https://unheld.example/ns"],
                      "type": "Update", "id": format!("{actor}/updates/2"), "actor": actor, "object": actor });
    let mut tx = app.db.begin().await.unwrap();
    for activity in [&plain, &odd] {
        flotilla_app::federation::delivery::enqueue(&mut tx, instance, activity, std::slice::from_ref(&inbox))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    a.run_jobs().await;
    let got = masto.received.lock().unwrap().clone();
    let by_id = |n: u32| got.iter().find(|v| v["id"] == format!("{actor}/updates/{n}")).cloned();
    let signed = by_id(1).unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(signed["signature"]["type"], "RsaSignature2017", "{signed}");
    let unsigned = by_id(2).unwrap_or_else(|| panic!("the odd one was not delivered: {got:?}"));
    assert!(unsigned.get("signature").is_none(), "{unsigned}");
    a.stop().await;
}
