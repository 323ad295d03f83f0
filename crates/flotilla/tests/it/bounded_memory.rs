//! Memory that clients choose the keys of stays bounded when they choose many: views from
//! thousands of addresses fill the view de-duplication only up to its cap (and it still
//! de-duplicates), invented methods and paths add no metrics series, and the inbox's table of
//! applied activity ids forgets those past its window. The million-key checks of each structure
//! are unit tests beside it; these go through HTTP and the database.

use flotilla_app::federation::inbox::{SEEN_WINDOW_MS, prune_seen};
use flotilla_db::follows::first_time_seen;
use flotilla_domain::time::now_ms;
use flotilla_testkit::reqwest::{Method, StatusCode, multipart};
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};

db_tests!(
    views_from_thousands_of_addresses_fill_the_memory_only_to_its_cap,
    inbox_seen_forgets_activities_past_its_window
);

/// A published 144p video of a new user; its UUID.
async fn published_video(t: &TestInstance) -> String {
    let token = t.user("vera").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let file = clip(t.dir.path(), "v.mp4", 256, 144, 1);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", "Watched a lot")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("v.mp4"));
    let (status, up) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    t.run_jobs().await;
    up["video"]["uuid"].as_str().unwrap().to_string()
}

async fn view_from(t: &TestInstance, uuid: &str, n: u32) -> StatusCode {
    let [_, _, hi, lo] = n.to_be_bytes();
    let req = t
        .api
        .request(Method::POST, &format!("/api/v1/videos/{uuid}/views"), None)
        .header("x-forwarded-for", format!("10.9.{hi}.{lo}"))
        .json(&json!({ "currentTime": 3 }));
    t.api.send(req).await.0
}

async fn views_from_thousands_of_addresses_fill_the_memory_only_to_its_cap(backend: Backend) {
    const CAP: usize = 500;
    const VIEWERS: u32 = 3000;
    let t = TestInstance::start_with(backend, |c| {
        c.http.trust_proxy = true;
        c.transcoding.resolutions = vec![144];
    })
    .await;
    let uuid = published_video(&t).await;
    let seen = &t.instance.app.views_seen;
    // The cap in production is 100,000 (a unit test fills it with a million); a small one here
    // lets a few thousand requests reach it.
    seen.set_capacity(CAP);
    for n in 0..VIEWERS {
        assert_eq!(view_from(&t, &uuid, n).await, StatusCode::NO_CONTENT);
        assert!(seen.len() <= CAP);
    }
    assert_eq!(seen.len(), CAP, "full, and no further");
    let views = |t: &TestInstance| {
        let (api, uuid) = (t.api.clone(), uuid.clone());
        async move { api.get(&format!("/api/v1/videos/{uuid}"), None).await.1["views"].as_i64().unwrap() }
    };
    assert_eq!(views(&t).await, i64::from(VIEWERS), "every distinct viewer counted once");
    // At the cap it still de-duplicates: the latest viewers are remembered...
    for n in (VIEWERS - 100)..VIEWERS {
        assert_eq!(view_from(&t, &uuid, n).await, StatusCode::NO_CONTENT);
    }
    assert_eq!(views(&t).await, i64::from(VIEWERS), "a second view within the hour does not count");
    // ...and the oldest were forgotten to make room: the price of the cap is a recount.
    assert_eq!(view_from(&t, &uuid, 0).await, StatusCode::NO_CONTENT);
    assert_eq!(views(&t).await, i64::from(VIEWERS) + 1);
    assert_eq!(seen.len(), CAP);
    t.stop().await;
}

async fn inbox_seen_forgets_activities_past_its_window(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let db = &t.instance.app.db;
    // A month ahead: the instance's own hourly housekeeping (which prunes at the real time) cannot
    // touch these rows while the test runs.
    let now = now_ms() + 30 * 24 * 3600 * 1000;
    let old = now - SEEN_WINDOW_MS - 1;
    for i in 0..100 {
        assert!(first_time_seen(db, &format!("https://a.example/activities/old-{i}"), old).await.unwrap());
    }
    let recent = "https://a.example/activities/recent";
    assert!(first_time_seen(db, recent, now - SEEN_WINDOW_MS + 60_000).await.unwrap());

    assert_eq!(prune_seen(&t.instance.app, now).await.unwrap(), 100, "only those past the window");
    assert!(
        first_time_seen(db, "https://a.example/activities/old-0", now).await.unwrap(),
        "forgotten: the same id would be looked at again"
    );
    assert!(!first_time_seen(db, recent, now).await.unwrap(), "within the window: still a duplicate");
    assert_eq!(prune_seen(&t.instance.app, now).await.unwrap(), 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_and_paths_add_no_metrics_series() {
    let t = TestInstance::start(Backend::Sqlite).await;
    let series = |text: &str| text.lines().filter(|l| l.starts_with("flotilla_http_requests_total{")).count();
    let metrics = || async { t.api.http.get(t.api.url("/metrics")).send().await.unwrap().text().await.unwrap() };
    // One of each kind first, so the series they land in exist before counting.
    let kinds = |n: u32| {
        [
            (Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap(), format!("/api/v1/videos/{n}")),
            (Method::GET, format!("/api/v1/no-such-thing-{n}")),
            (Method::GET, format!("/static/nothing-{n}/x")),
            (Method::DELETE, format!("/nothing-{n}")),
            (Method::from_bytes(format!("X-{n}").as_bytes()).unwrap(), format!("/zz-{n}")),
        ]
    };
    for (method, path) in kinds(0) {
        t.api.http.request(method, t.api.url(&path)).send().await.unwrap();
    }
    // `/metrics` counts itself once read.
    metrics().await;
    let before = series(&metrics().await);
    for n in 1..200 {
        for (method, path) in kinds(n) {
            t.api.http.request(method, t.api.url(&path)).send().await.unwrap();
        }
    }
    let text = metrics().await;
    assert_eq!(series(&text), before, "{text}");
    assert!(!text.contains("BREW") && !text.contains("X-1") && !text.contains("nothing-1"), "{text}");
    assert!(text.contains("method=\"OTHER\""), "{text}");
    t.stop().await;
}
