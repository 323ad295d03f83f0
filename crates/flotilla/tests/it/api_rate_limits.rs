//! Rate limits (security-case 27) and what they protect: a burst past each limit is answered 429
//! with `Retry-After` and changes nothing; password hashing queues instead of taking memory per
//! request; failed logins are counted before they fail; the inbox writes nothing for a signature
//! that does not verify, and limits each remote server.

use flotilla_testkit::reqwest::{Method, StatusCode};
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{Api, Backend, FakeServer, RssGrowth, TestInstance, db_tests};

db_tests!(
    bursts_past_each_limit_are_refused_with_429_and_change_nothing,
    the_api_as_a_whole_is_limited_per_address,
    concurrent_logins_queue_for_hashing_and_failures_count_before_they_fail,
    a_badly_signed_inbox_post_stores_nothing_and_each_server_is_limited,
);

fn retry_after(resp: &flotilla_testkit::reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header")
}

/// Sends `req` and asserts a 429 with a Retry-After and our error code.
async fn assert_limited(req: flotilla_testkit::reqwest::RequestBuilder, what: &str) {
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
    assert!(retry_after(&resp) >= 1, "{what}");
    let body: flotilla_testkit::serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "too_many_requests", "{what}: {body}");
}

async fn token_status(api: &Api, user: &str, password: &str) -> StatusCode {
    api.token(user, password).await.0
}

async fn bursts_past_each_limit_are_refused_with_429_and_change_nothing(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.rate_limits.enabled = true;
        c.rate_limits.login = "3/1m".into();
        c.rate_limits.registration = "2/1m".into();
        c.rate_limits.password = "2/1m".into();
        c.rate_limits.upload = "2/1m".into();
        c.rate_limits.search = "3/1m".into();
    })
    .await;
    let api = &t.api;
    let register = |name: &str| {
        api.http
            .post(api.url("/api/v1/users/register"))
            .json(&json!({ "username": name, "password": "password-123", "email": format!("{name}@example.org") }))
    };

    // Registrations: two, then refused; the refused one never became a user.
    for name in ["ada", "bob"] {
        assert_eq!(register(name).send().await.unwrap().status(), StatusCode::NO_CONTENT, "{name}");
    }
    assert_limited(register("cyd"), "third registration").await;

    // Logins: three (the admin's first), then refused, even with the right password.
    let token = t.admin_token().await;
    for _ in 0..2 {
        assert_eq!(token_status(api, "ada", "password-123").await, StatusCode::OK);
    }
    let (id, secret) = api.client().await;
    let form = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "password"),
        ("username", "cyd"),
        ("password", "password-123"),
    ];
    assert_limited(api.http.post(api.url("/api/v1/users/token")).form(&form), "fourth login").await;

    // Password changes: two, then refused; the refused change did not happen.
    let me =
        json!({ "currentPassword": flotilla_testkit::ADMIN_PASSWORD, "password": flotilla_testkit::ADMIN_PASSWORD });
    for _ in 0..2 {
        let (status, body) = api.put("/api/v1/users/me", Some(&token), me.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let change = json!({ "currentPassword": flotilla_testkit::ADMIN_PASSWORD, "password": "a-new-password-1" });
    assert_limited(api.request(Method::PUT, "/api/v1/users/me", Some(&token)).json(&change), "third change").await;
    let user = t.instance.app.db.clone();
    let root = flotilla_db::users::get_by_username(&user, "root").await.unwrap().unwrap();
    assert!(
        t.instance.app.passwords.verify(flotilla_testkit::ADMIN_PASSWORD, &root.password_hash).await,
        "the password is unchanged"
    );

    // Uploads started: two resumable sessions, then refused without a session or a file.
    let (_, me) = api.get("/api/v1/users/me", Some(&token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let init = || {
        api.request(Method::POST, "/api/v1/videos/upload-resumable", Some(&token))
            .header("X-Upload-Content-Length", "1000")
            .header("X-Upload-Content-Type", "video/mp4")
            .json(&json!({ "channelId": channel, "name": "Limited" }))
    };
    for _ in 0..2 {
        assert_eq!(init().send().await.unwrap().status(), StatusCode::CREATED);
    }
    assert_limited(init(), "third upload").await;
    let files = std::fs::read_dir(t.config.data_dir.join("tmp/uploads")).unwrap().count();
    assert_eq!(files, 2, "no file for the refused upload");

    // Searches: three, then refused.
    for _ in 0..3 {
        assert_eq!(api.get("/api/v1/search/videos?search=cats", None).await.0, StatusCode::OK);
    }
    assert_limited(api.request(Method::GET, "/api/v1/search/video-channels?search=cats", None), "fourth search").await;
    t.stop().await;
}

async fn the_api_as_a_whole_is_limited_per_address(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.rate_limits.enabled = true;
        c.rate_limits.api = "20/1m".into();
        c.http.trust_proxy = true;
    })
    .await;
    let api = &t.api;
    for _ in 0..20 {
        assert_eq!(api.get("/api/v1/config", None).await.0, StatusCode::OK);
    }
    assert_limited(api.request(Method::GET, "/api/v1/videos", None), "21st API request").await;
    // Another address (behind the trusted proxy) has its own bucket; what is not the API is not
    // counted (segments and pages are served however many a viewer needs).
    let other = api.request(Method::GET, "/api/v1/config", None).header("X-Forwarded-For", "198.51.100.7");
    assert_eq!(other.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(api.get("/.well-known/nodeinfo", None).await.0, StatusCode::OK);
    t.stop().await;
}

async fn concurrent_logins_queue_for_hashing_and_failures_count_before_they_fail(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.auth.max_login_failures = 1000).await;
    t.user("hera").await;
    // Fifty wrong passwords at once: each verification takes 19 MiB while it runs, so they wait
    // their turn (two at a time, 38 MiB) instead of taking a gigabyte together. Measured as the
    // burst's own growth: the test binary and the instance's start-up hold 50–65 MiB before it,
    // depending on the build.
    let growth = RssGrowth::start();
    let tries = (0..50).map(|_| {
        let api = t.api.clone();
        async move { token_status(&api, "hera", "wrong-password").await }
    });
    for status in futures_util::future::join_all(tries).await {
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let grown = growth.grown_kib();
    eprintln!("fifty logins at once: resident memory grew {} MiB at most", grown / 1024);
    assert!(grown < 64 * 1024, "resident memory grew {} MiB during the burst", grown / 1024);
    t.stop().await;

    // Twenty guesses at once against a limit of five failures: five are checked, fifteen refused,
    // although none had failed yet when they all arrived.
    let t = TestInstance::start_with(backend, |c| c.auth.max_login_failures = 5).await;
    t.user("iris").await;
    let tries = (0..20).map(|_| {
        let api = t.api.clone();
        async move { token_status(&api, "iris", "wrong-password").await }
    });
    let statuses = futures_util::future::join_all(tries).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
    t.stop().await;
}

async fn a_badly_signed_inbox_post_stores_nothing_and_each_server_is_limited(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.rate_limits.enabled = true;
        c.rate_limits.inbox = "3/1m".into();
    })
    .await;
    let app = &t.instance.app;
    let jobs = || async {
        flotilla_db::jobs::list(&app.db, None, None, flotilla_db::Page { start: 0, count: 1 }).await.unwrap().1
    };
    let jobs_before = jobs().await;
    let mut remote = FakeServer::start().await;
    let old_key = remote.private_pem.clone();
    remote.rotate_key();
    let eve = remote.actor("Person", "eve", json!({}));
    let root = format!("{}/accounts/root", t.api.base);
    let follow = |n: u32| json!({ "id": format!("{}/follows/{n}", remote.base), "type": "Follow", "actor": eve, "object": root });

    // Signed with a key the actor's document does not have: refused, and nothing of the signer is
    // kept (its document was fetched to try its key, and dropped).
    let (status, body) = remote.send_signed_with(&format!("{root}/inbox"), &eve, &follow(1), &old_key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(flotilla_db::actors::get_by_url(&app.db, &eve).await.unwrap().is_none(), "no actor stored");
    assert_eq!(jobs().await, jobs_before, "no job queued");
    let followers = |api: Api| async move { api.get("/api/v1/accounts/root", None).await.1["followersCount"].clone() };
    assert_eq!(followers(t.api.clone()).await, 0);

    // Two more from that server (three in all) are looked at; the fourth is refused before any
    // work, and changes nothing.
    assert_eq!(remote.send(&format!("{root}/inbox"), &eve, &follow(2)).await, StatusCode::ACCEPTED);
    assert_eq!(followers(t.api.clone()).await, 1);
    let undo = json!({ "id": format!("{}/undo/1", remote.base), "type": "Undo", "actor": eve, "object": follow(2) });
    assert_eq!(remote.send(&format!("{root}/inbox"), &eve, &undo).await, StatusCode::ACCEPTED);
    assert_eq!(followers(t.api.clone()).await, 0);
    let (status, body) = remote.send_full(&format!("{root}/inbox"), &eve, &follow(3)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(followers(t.api.clone()).await, 0, "the refused Follow was not applied");
    t.stop().await;
}
