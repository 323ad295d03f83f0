//! Two real instances on 127.0.0.1 follow each other through signed ActivityPub: Follow, Accept,
//! Undo; and the inbox refuses what is unsigned, tampered with or forged, changing nothing.

use base64::Engine;
use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};
use md5::Digest;

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

    // With private addresses not allowed (the default), loopback is refused by the address rule,
    // before any connection: no port in these hosts, so the explicit-port rule has no say, and a
    // connection attempt would have failed as `remote_unreachable` ("cannot reach").
    let c = TestInstance::start_with(backend, |cfg| cfg.federation.allow_private = false).await;
    let c_admin = c.admin_token().await;
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        let (status, body) = c.api.post("/api/v1/server/following", Some(&c_admin), json!({ "hosts": [host] })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host}: {body}");
        assert_eq!(body["code"], "remote_refused", "{host}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("private or reserved address"), "{host}: refused for another reason: {detail}");
    }
    let (_, following) = c.api.get("/api/v1/server/following", None).await;
    assert_eq!(following["total"], 0, "C follows nobody");
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

/// How B's instance actor POSTs to A's `/inbox`; the defaults are a correct delivery. Each field
/// is chosen *before* signing and the signature covers what is sent, so a refusal can only come
/// from the rule a case changes, never from a signature broken by editing signed material.
struct Signing {
    /// The request-target that is signed (the request always goes to `/inbox`).
    signed_path: String,
    /// The Host header, sent and signed.
    host: String,
    date: time::OffsetDateTime,
    /// The Digest header, sent and signed; `None`: the SHA-256 of the body.
    digest: Option<String>,
    /// The headers the signature covers, in order.
    covered: Vec<&'static str>,
    /// A body sent instead of the one signed (changed after signing).
    sent_body: Option<String>,
}

/// Sends `body` from B to A as `how` says; the status and the JSON answer (`{}` when none).
async fn post_signed(
    b: &TestInstance,
    a: &TestInstance,
    body: &str,
    how: impl FnOnce(&mut Signing),
) -> (StatusCode, Value) {
    use flotilla_federation::signature;
    let app = &b.instance.app;
    let actor = flotilla_db::accounts::local_actor_id(&app.db, "Application", "peertube").await.unwrap().unwrap();
    let signer = flotilla_app::federation::signer(app, actor).await.unwrap();
    let mut s = Signing {
        signed_path: "/inbox".into(),
        host: a.instance.addr.to_string(),
        date: time::OffsetDateTime::now_utc(),
        digest: None,
        covered: vec!["(request-target)", "host", "date", "digest"],
        sent_body: None,
    };
    how(&mut s);
    let date = signature::http_date(s.date);
    let digest = s.digest.clone().unwrap_or_else(|| signature::digest(body.as_bytes()));
    let target = format!("post {}", s.signed_path);
    let value = |name: &str| match name {
        "(request-target)" => target.as_str(),
        "host" => s.host.as_str(),
        "date" => date.as_str(),
        "digest" => digest.as_str(),
        other => panic!("no value for {other}"),
    };
    let covered: Vec<(&str, &str)> = s.covered.iter().map(|n| (*n, value(n))).collect();
    let sig = signature::sign_with(&covered, &signer.key_id, &signer.key).unwrap();
    let resp = a
        .api
        .http
        .post(a.api.url("/inbox"))
        .header("Host", &s.host)
        .header("Date", &date)
        .header("Digest", &digest)
        .header("Signature", sig)
        .header("Content-Type", "application/activity+json")
        .body(s.sent_body.clone().unwrap_or_else(|| body.to_string()))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(json!({})))
}

/// Asserts a 401 whose detail names `rule`.
#[track_caller]
fn refused_for(answer: (StatusCode, Value), rule: &str) {
    let (status, body) = answer;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{rule}: {body}");
    assert_eq!(body["code"], "invalid_signature", "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(rule), "refused, but not for '{rule}': {detail}");
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
    let ok = follow("6", &b_actor);

    // No signature at all.
    let resp = a.api.http.post(a.api.url("/inbox")).body(ok.clone()).send().await.unwrap();
    let answer = (resp.status(), resp.json::<Value>().await.unwrap());
    refused_for(answer, "not signed");
    // The body changed after signing (the signature and the digest are the original body's).
    let changed = ok.replace("Follow", "Undo");
    refused_for(post_signed(&b, &a, &ok, |s| s.sent_body = Some(changed)).await, "Digest header does not match");
    // A date from 2015, signed.
    let y2015 = time::macros::datetime!(2015-10-21 07:28:00 UTC);
    refused_for(post_signed(&b, &a, &ok, |s| s.date = y2015).await, "date is outside the accepted window");
    // Signed for another path than the one it is sent to.
    refused_for(
        post_signed(&b, &a, &ok, |s| s.signed_path = "/accounts/peertube/inbox".into()).await,
        "does not verify with the actor's key",
    );
    // A digest in an algorithm we do not take (only SHA-256 is), signed.
    let md5 = format!("MD5={}", base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(ok.as_bytes())));
    refused_for(post_signed(&b, &a, &ok, |s| s.digest = Some(md5)).await, "unsupported Digest algorithm");
    // Signatures that leave out the target, the host or the date (each over the rest).
    for (left_out, rule) in [
        ("(request-target)", "must cover (request-target)"),
        ("host", "must cover host"),
        ("date", "must cover date or (created)"),
    ] {
        refused_for(post_signed(&b, &a, &ok, |s| s.covered.retain(|h| *h != left_out)).await, rule);
    }
    // Signed for another server, and replayed here with the Host header it was signed with.
    refused_for(post_signed(&b, &a, &ok, |s| s.host = "other.example".into()).await, "not this server");
    // Nothing of all that was stored: not even the signer.
    assert!(flotilla_db::actors::get_by_url(&a.instance.app.db, &b_actor).await.unwrap().is_none());
    // B signs, but claims to be another actor (of A's own server).
    let (status, _) = post_signed(&b, &a, &follow("5", &format!("{}/accounts/root", a.api.base)), |_| {}).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(followers(&a).await, 0, "nothing changed");

    // The activity refused above, signed for A's host, is accepted; sent twice, applied once.
    let (status, body) = post_signed(&b, &a, &ok, |_| {}).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _) = post_signed(&b, &a, &ok, |_| {}).await;
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
    let arrive =
        json!({ "type": "Arrive", "id": format!("{b_base}/arrive/1"), "actor": b_actor, "object": "x" }).to_string();
    assert_eq!(post_signed(&b, &a, &arrive, |_| {}).await.0, StatusCode::ACCEPTED);
    // Not JSON.
    assert_eq!(post_signed(&b, &a, "{{{", |_| {}).await.0, StatusCode::BAD_REQUEST);
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
