//! Views between servers: views of a remote video reach its origin (PeerTube's `View`, one each),
//! which counts them and gives its followers the new total; live-viewer `View`s and views of a
//! private video change nothing; "trending" ranks by the views of the last week.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(views_reach_the_origin_and_its_total_reaches_the_followers, trending_ranks_by_the_views_of_the_last_week);

async fn views(i: &TestInstance, uuid: &str) -> i64 {
    let (status, v) = i.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["views"].as_i64().unwrap()
}

async fn views_reach_the_origin_and_its_total_reaches_the_followers(backend: Backend) {
    let quick = |c: &mut flotilla_app::config::Config| {
        c.transcoding.resolutions = vec![144];
        c.federation.views_batch_secs = 0;
    };
    let a = TestInstance::start_with(backend, quick).await;
    let b = TestInstance::start_with(backend, quick).await;
    let c = TestInstance::start_with(backend, quick).await;
    b.follow_instance(&a).await;
    c.follow_instance(&a).await;
    let ana = a.user("ana").await;
    let uuid = a.publish(&ana, "Watched from afar", &[("privacy", "1")]).await;
    settle(&[&a, &b, &c]).await;

    // Three viewers on B, one of them twice within the hour.
    for name in ["v1", "v2", "v3"] {
        let t = b.user(name).await;
        let (status, _) =
            b.api.post(&format!("/api/v1/videos/{uuid}/views"), Some(&t), json!({ "currentTime": 3 })).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        if name == "v1" {
            let (status, _) =
                b.api.post(&format!("/api/v1/videos/{uuid}/views"), Some(&t), json!({ "currentTime": 9 })).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
    }
    settle(&[&a, &b, &c]).await;
    settle(&[&a, &b, &c]).await;
    assert_eq!(views(&a, &uuid).await, 3, "the origin counted each view once");
    assert_eq!(views(&c, &uuid).await, 3, "and told its followers");
    assert_eq!(views(&b, &uuid).await, 3);

    // A live-viewer count (a View with `expires`) is not a view; a private video is not there.
    let pt = FakeServer::start().await;
    let pt_instance = pt.actor("Application", "peertube", json!({}));
    let video = format!("{}/videos/watch/{uuid}", a.api.base);
    let viewers = json!({ "type": "View", "id": format!("{pt_instance}/views/1"), "actor": pt_instance, "object": video,
                          "expires": "2030-01-01T00:00:00.000Z" });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &pt_instance, &viewers).await, StatusCode::ACCEPTED);
    let private = a.publish(&ana, "Private", &[("privacy", "3")]).await;
    a.run_jobs().await;
    let hidden = json!({ "type": "View", "id": format!("{pt_instance}/views/2"), "actor": pt_instance,
                         "object": format!("{}/videos/watch/{private}", a.api.base) });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &pt_instance, &hidden).await, StatusCode::NOT_FOUND);
    let one = json!({ "type": "View", "id": format!("{pt_instance}/views/3"), "actor": pt_instance, "object": video });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &pt_instance, &one).await, StatusCode::ACCEPTED);
    // The same View again (a retry): counted once.
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &pt_instance, &one).await, StatusCode::ACCEPTED);
    assert_eq!(views(&a, &uuid).await, 4);
    let (_, p) = a.api.get(&format!("/api/v1/videos/{private}"), Some(&ana)).await;
    assert_eq!(p["views"], 0);
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

async fn trending_ranks_by_the_views_of_the_last_week(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let t = a.user("tia").await;
    let old = a.publish(&t, "Watched long ago", &[("privacy", "1")]).await;
    let new = a.publish(&t, "Watched now", &[("privacy", "1")]).await;
    a.run_jobs().await;
    let db = &a.instance.app.db;
    let id = |uuid: String| async move { flotilla_db::videos::get_by_uuid(db, &uuid).await.unwrap().unwrap().id };
    let (old_id, new_id) = (id(old.clone()).await, id(new.clone()).await);
    let now = flotilla_domain::time::now_ms();
    let month_ago = now - 30 * 86_400_000;
    let mut tx = db.begin().await.unwrap();
    flotilla_db::videos::add_views(&mut tx, old_id, 50, month_ago, false).await.unwrap();
    flotilla_db::videos::add_views(&mut tx, new_id, 5, now, false).await.unwrap();
    tx.commit().await.unwrap();
    flotilla_app::video::views::prune(&a.instance.app, now).await.unwrap();
    let first = |sort: &'static str| {
        let a = &a;
        async move {
            let (_, list) = a.api.get(&format!("/api/v1/videos?sort={sort}"), None).await;
            list["data"][0]["uuid"].as_str().unwrap().to_string()
        }
    };
    // What the sort reads: the sum of the kept days, the pruned ones taken off.
    let recent = |vid: i64| async move {
        let n: i64 = flotilla_db::run!(db, |x| sqlx::query_scalar("SELECT recent_views FROM videos WHERE id = $1")
            .bind(vid)
            .fetch_one(x)
            .await)
        .unwrap();
        n
    };
    assert_eq!((recent(old_id).await, recent(new_id).await), (0, 5));
    assert_eq!(first("-views").await, old, "all time");
    assert_eq!(first("-trending").await, new, "this week");
    assert_eq!(first("-hot").await, new);
    a.stop().await;
}
