//! Two real instances on 127.0.0.1 follow each other through signed ActivityPub: Follow, Accept,
//! Undo; and the inbox refuses what is unsigned, tampered with or forged, changing nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(
    an_instance_follows_another_and_unfollows,
    the_inbox_refuses_unsigned_tampered_and_forged_activities,
    followers_can_wait_for_approval_and_be_followed_back,
);

/// Runs both instances' jobs until neither has anything left (deliveries bounce between them).
async fn settle(a: &TestInstance, b: &TestInstance) {
    for _ in 0..5 {
        a.run_jobs().await;
        b.run_jobs().await;
    }
}

async fn an_instance_follows_another_and_unfollows(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let b = TestInstance::start(backend).await;
    let a_host = a.instance.addr.to_string();
    let b_admin = b.admin_token().await;

    let (status, body) = b.api.post("/api/v1/server/following", Some(&b_admin), json!({ "hosts": [a_host] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, following) = b.api.get("/api/v1/server/following", None).await;
    assert_eq!(following["total"], 1);
    assert_eq!(following["data"][0]["following"]["host"], a_host.as_str());
    settle(&a, &b).await;

    let (_, following) = b.api.get("/api/v1/server/following?state=accepted", None).await;
    assert_eq!(following["total"], 1, "A accepted: {following}");
    let (_, followers) = a.api.get("/api/v1/server/followers", None).await;
    assert_eq!(followers["total"], 1);
    assert_eq!(followers["data"][0]["follower"]["host"], b.instance.addr.to_string());
    assert_eq!(followers["data"][0]["state"], "accepted");
    // A's instance actor lists B among its followers.
    let resp = a
        .api
        .http
        .get(a.api.url("/accounts/peertube/followers?page=1"))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    let page: Value = resp.json().await.unwrap();
    assert_eq!(page["totalItems"], 1);
    assert_eq!(page["orderedItems"][0], format!("{}/accounts/peertube", b.api.base));
    let resp = a.api.http.get(a.api.url("/api/v1/server/followers?state=pending")).send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["total"], 0);

    // Following twice changes nothing.
    let (status, _) = b.api.post("/api/v1/server/following", Some(&b_admin), json!({ "hosts": [a_host] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&a, &b).await;
    let (_, followers) = a.api.get("/api/v1/server/followers", None).await;
    assert_eq!(followers["total"], 1);

    let (status, _) = b.api.delete(&format!("/api/v1/server/following/{a_host}"), Some(&b_admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&a, &b).await;
    let (_, followers) = a.api.get("/api/v1/server/followers", None).await;
    assert_eq!(followers["total"], 0, "the Undo reached A");
    let (_, following) = b.api.get("/api/v1/server/following", None).await;
    assert_eq!(following["total"], 0);

    // Only admins follow; and nobody follows a server that does not exist.
    let user = b.user("ned").await;
    let (status, _) = b.api.post("/api/v1/server/following", Some(&user), json!({ "hosts": [a_host] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        b.api.post("/api/v1/server/following", Some(&b_admin), json!({ "hosts": ["127.0.0.1:1"] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "remote_unreachable");

    // With private addresses not allowed (the default), loopback is refused before any request.
    let c = TestInstance::start_with(backend, |cfg| cfg.federation.allow_private = false).await;
    let c_admin = c.admin_token().await;
    for host in [a_host.clone(), "localhost:9".to_string(), "[::1]:9".to_string()] {
        let (status, body) = c.api.post("/api/v1/server/following", Some(&c_admin), json!({ "hosts": [host] })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host}: {body}");
        assert_eq!(body["code"], "remote_refused", "{host}: {body}");
    }
    let (_, followers) = a.api.get("/api/v1/server/followers", None).await;
    assert_eq!(followers["total"], 0, "A never heard from C");
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

async fn signed_post(
    b: &TestInstance,
    a: &TestInstance,
    path: &str,
    body: &str,
    tamper: impl FnOnce(&mut Vec<(String, String)>, &mut String),
) -> StatusCode {
    let app = &b.instance.app;
    let actor = flotilla_db::accounts::local_actor_id(&app.db, "Application", "peertube").await.unwrap().unwrap();
    let signer = flotilla_app::federation::signer(app, actor).await.unwrap();
    let host = a.instance.addr.to_string();
    let signed = flotilla_federation::signature::sign(
        "POST",
        path,
        &host,
        Some(body.as_bytes()),
        &signer.key_id,
        &signer.key,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let mut headers = vec![
        ("Date".to_string(), signed.date),
        ("Digest".to_string(), signed.digest.unwrap()),
        ("Signature".to_string(), signed.signature),
        ("Content-Type".to_string(), "application/activity+json".to_string()),
    ];
    let mut body = body.to_string();
    tamper(&mut headers, &mut body);
    let mut req = a.api.http.post(a.api.url(path)).body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.unwrap().status()
}

async fn the_inbox_refuses_unsigned_tampered_and_forged_activities(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let b = TestInstance::start(backend).await;
    let b_base = b.api.base.clone();
    let a_actor = format!("{}/accounts/peertube", a.api.base);
    let follow = |id: &str, actor: &str| {
        json!({ "@context": "https://www.w3.org/ns/activitystreams", "type": "Follow", "id": format!("{b_base}/follows/{id}"), "actor": actor, "object": a_actor }).to_string()
    };
    let b_actor = format!("{b_base}/accounts/peertube");
    let followers = |a: &TestInstance| {
        let api = a.api.clone();
        async move { api.get("/api/v1/server/followers", None).await.1["total"].as_i64().unwrap() }
    };

    // No signature at all.
    let resp = a.api.http.post(a.api.url("/inbox")).body(follow("1", &b_actor)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // The body changed after signing.
    let status =
        signed_post(&b, &a, "/inbox", &follow("2", &b_actor), |_, body| *body = body.replace("Follow", "Undo")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A date from 2015.
    let status = signed_post(&b, &a, "/inbox", &follow("3", &b_actor), |h, _| {
        h.retain(|(k, _)| k != "Date");
        h.push(("Date".into(), "Wed, 21 Oct 2015 07:28:00 GMT".into()));
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed for another path.
    let status = signed_post(&b, &a, "/inbox", &follow("4", &b_actor), |h, _| {
        let sig = h.iter_mut().find(|(k, _)| k == "Signature").unwrap();
        sig.1 = sig.1.replace("headers=\"(request-target) host date digest\"", "headers=\"host date digest\"");
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A digest in an algorithm we do not take (only SHA-256 is), and a signature that leaves
    // out the host or the date.
    let status = signed_post(&b, &a, "/inbox", &follow("3b", &b_actor), |h, _| {
        h.retain(|(k, _)| k != "Digest");
        h.push(("Digest".into(), "MD5=rL0Y20zC+Fzt72VPzMSk2A==".into()));
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for left_out in ["(request-target) date digest", "(request-target) host digest"] {
        let status = signed_post(&b, &a, "/inbox", &follow("3c", &b_actor), |h, _| {
            let sig = h.iter_mut().find(|(k, _)| k == "Signature").unwrap();
            sig.1 = sig.1.replace("(request-target) host date digest", left_out);
        })
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{left_out}");
    }
    // B signs, but claims to be another actor (of A's own server).
    let status = signed_post(&b, &a, "/inbox", &follow("5", &format!("{}/accounts/root", a.api.base)), |_, _| {}).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(followers(&a).await, 0, "nothing changed");

    // A correct one is accepted; sent twice, applied once.
    let status = signed_post(&b, &a, "/inbox", &follow("6", &b_actor), |_, _| {}).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let status = signed_post(&b, &a, "/inbox", &follow("6", &b_actor), |_, _| {}).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(followers(&a).await, 1);
    let db = &a.instance.app.db;
    let accepts: i64 = flotilla_db::run!(db, |x| sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver' AND payload LIKE '%\"Accept\"%'"
    )
    .fetch_one(x)
    .await)
    .unwrap();
    assert_eq!(accepts, 1, "one Accept for the Follow sent twice");
    // Unknown types are accepted and ignored.
    let like =
        json!({ "type": "Like", "id": format!("{b_base}/likes/1"), "actor": b_actor, "object": "x" }).to_string();
    assert_eq!(signed_post(&b, &a, "/inbox", &like, |_, _| {}).await, StatusCode::ACCEPTED);
    // Not JSON.
    assert_eq!(signed_post(&b, &a, "/inbox", "{{{", |_, _| {}).await, StatusCode::BAD_REQUEST);
    // The server still answers.
    let (status, _) = a.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    a.stop().await;
    b.stop().await;
}

async fn followers_can_wait_for_approval_and_be_followed_back(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.federation.manual_approval = true).await;
    let b = TestInstance::start_with(backend, |c| c.federation.auto_follow_back = true).await;
    let b_admin = b.admin_token().await;
    let a_admin = a.admin_token().await;
    let (status, _) =
        b.api.post("/api/v1/server/following", Some(&b_admin), json!({ "hosts": [a.instance.addr.to_string()] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&a, &b).await;
    let (_, pending) = a.api.get("/api/v1/server/followers?state=pending", None).await;
    assert_eq!(pending["total"], 1, "A waits for its admin: {pending}");
    let (_, following) = b.api.get("/api/v1/server/following?state=accepted", None).await;
    assert_eq!(following["total"], 0);

    let handle = format!("peertube@{}", b.instance.addr);
    let user = a.user("una").await;
    let (status, _) = a.api.post(&format!("/api/v1/server/followers/{handle}/accept"), Some(&user), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.post(&format!("/api/v1/server/followers/{handle}/accept"), Some(&a_admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&a, &b).await;
    let (_, following) = b.api.get("/api/v1/server/following?state=accepted", None).await;
    assert_eq!(following["total"], 1, "B learnt of the approval");

    // C follows back whoever follows it: A follows C, and C's follow of A then waits for A's admin.
    let c = TestInstance::start_with(backend, |c| c.federation.auto_follow_back = true).await;
    let (status, _) =
        a.api.post("/api/v1/server/following", Some(&a_admin), json!({ "hosts": [c.instance.addr.to_string()] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for _ in 0..4 {
        a.run_jobs().await;
        c.run_jobs().await;
    }
    let (_, a_following) = a.api.get("/api/v1/server/following?state=accepted", None).await;
    assert_eq!(a_following["total"], 1, "C accepted A");
    let (_, pending) = a.api.get("/api/v1/server/followers?state=pending", None).await;
    assert_eq!(pending["total"], 1, "C followed back: {pending}");
    assert_eq!(pending["data"][0]["follower"]["host"], c.instance.addr.to_string());
    // A's admin rejects it: C hears the Reject and no longer counts A as followed, in any state.
    let c_handle = format!("peertube@{}", c.instance.addr);
    let (status, _) =
        a.api.post(&format!("/api/v1/server/followers/{c_handle}/reject"), Some(&a_admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for _ in 0..4 {
        a.run_jobs().await;
        c.run_jobs().await;
    }
    let (_, pending) = a.api.get("/api/v1/server/followers", None).await;
    let hosts: Vec<_> = pending["data"].as_array().unwrap().iter().map(|f| f["follower"]["host"].clone()).collect();
    assert!(!hosts.contains(&json!(c.instance.addr.to_string())), "{pending}");
    let (_, c_following) = c.api.get("/api/v1/server/following", None).await;
    assert_eq!(c_following["total"], 0, "C learnt of the Reject: {c_following}");
    c.stop().await;
    a.stop().await;
    b.stop().await;
}
