//! Likes and dislikes between real instances: a rating of a remote video reaches its origin (and
//! its undoing, and a like given again), the origin's counts reach its followers, and a burst of
//! ratings sends followers one `Update`.

use std::time::Duration;

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(likes_reach_the_origin_and_its_counts_reach_the_followers, a_burst_of_ratings_sends_followers_one_update,);

async fn counts(i: &TestInstance, uuid: &str) -> (i64, i64) {
    let (status, v) = i.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (v["likes"].as_i64().unwrap(), v["dislikes"].as_i64().unwrap())
}

async fn rate(i: &TestInstance, token: &str, uuid: &str, rating: &str) {
    let (status, body) =
        i.api.put(&format!("/api/v1/videos/{uuid}/rate"), Some(token), json!({ "rating": rating })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn likes_reach_the_origin_and_its_counts_reach_the_followers(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.federation.counts_batch_secs = 0;
    })
    .await;
    let b = TestInstance::start(backend).await;
    let c = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    c.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uuid = a.publish(&ava, "Liked from afar", &[]).await;
    settle(&[&a, &b, &c]).await;
    assert_eq!(counts(&b, &uuid).await, (0, 0));
    let all = [&a, &b, &c];

    // A user of C likes A's video: counted on A, and the new count reaches B.
    let cid = c.user("cid").await;
    rate(&c, &cid, &uuid, "like").await;
    settle(&all).await;
    settle(&all).await;
    for (who, i) in [("A", &a), ("B", &b), ("C", &c)] {
        assert_eq!(counts(i, &uuid).await, (1, 0), "{who}");
    }
    // The rating A keeps is known by the id C gave it.
    let req = a
        .api
        .http
        .get(a.api.url(&format!("/videos/watch/{uuid}/likes?page=1")))
        .header("Accept", "application/activity+json");
    let (_, likes) = a.api.send(req).await;
    let item = likes["orderedItems"][0].as_str().unwrap_or_default().to_string();
    assert!(item.starts_with(&format!("{}/accounts/cid/likes/{uuid}#", c.api.base)), "{likes}");

    // It becomes a dislike, then nothing, then a like again (a new activity, counted again).
    rate(&c, &cid, &uuid, "dislike").await;
    settle(&all).await;
    settle(&all).await;
    for (who, i) in [("A", &a), ("B", &b), ("C", &c)] {
        assert_eq!(counts(i, &uuid).await, (0, 1), "{who}");
    }
    rate(&c, &cid, &uuid, "none").await;
    settle(&all).await;
    settle(&all).await;
    assert_eq!(counts(&a, &uuid).await, (0, 0));
    assert_eq!(counts(&b, &uuid).await, (0, 0));
    // A millisecond apart at least: the new like's id differs from the first one's.
    tokio::time::sleep(Duration::from_millis(5)).await;
    rate(&c, &cid, &uuid, "like").await;
    settle(&all).await;
    settle(&all).await;
    assert_eq!(counts(&a, &uuid).await, (1, 0), "a like given again counts again");
    assert_eq!(counts(&b, &uuid).await, (1, 0));
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

fn updates(masto: &FakeServer) -> usize {
    masto.received.lock().unwrap().iter().filter(|v| v["type"] == "Update").count()
}

/// Waits for the `n`th Update, then as long again as the batch window, and counts them.
async fn wait_for_updates(a: &TestInstance, masto: &FakeServer, n: usize) -> usize {
    for _ in 0..100 {
        if updates(masto) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything more would have come by now: the window is two seconds.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    a.run_jobs().await;
    updates(masto)
}

async fn a_burst_of_ratings_sends_followers_one_update(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.federation.counts_batch_secs = 2;
    })
    .await;
    let lia = a.user("lia").await;
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let channel = format!("{}/video-channels/lia_channel", a.api.base);
    let follow =
        json!({ "type": "Follow", "id": format!("{}/follows/1", masto.base), "actor": zoe, "object": channel });
    assert_eq!(masto.send(&format!("{channel}/inbox"), &zoe, &follow).await, StatusCode::ACCEPTED);
    let uuid = a.publish(&lia, "Popular", &[]).await;
    a.run_jobs().await;
    assert_eq!(updates(&masto), 0);

    // Three ratings within the two seconds of the batch (two local, one from another server):
    // one Update, once the window is over.
    let (u1, u2, u3) = (a.user("u1").await, a.user("u2").await, a.user("u3").await);
    rate(&a, &u1, &uuid, "like").await;
    rate(&a, &u2, &uuid, "like").await;
    let video = format!("{}/videos/watch/{uuid}", a.api.base);
    let like = json!({ "type": "Like", "id": format!("{zoe}/likes/1"), "actor": zoe, "object": video });
    assert_eq!(masto.send(&format!("{}/inbox", a.api.base), &zoe, &like).await, StatusCode::ACCEPTED);
    assert_eq!(wait_for_updates(&a, &masto, 1).await, 1, "one Update for the burst");
    let update = masto.received.lock().unwrap().iter().find(|v| v["type"] == "Update").cloned().unwrap();
    assert_eq!(update["object"]["id"], video.as_str());
    assert_eq!(update["object"]["likes"], format!("{video}/likes"));
    assert_eq!(counts(&a, &uuid).await, (3, 0));
    // Another rating later: another Update.
    rate(&a, &u3, &uuid, "dislike").await;
    assert_eq!(wait_for_updates(&a, &masto, 2).await, 2);
    assert_eq!(counts(&a, &uuid).await, (3, 1));
    a.stop().await;
}
