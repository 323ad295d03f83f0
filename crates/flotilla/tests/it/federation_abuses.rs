//! Abuse reports across servers: a user of B reports A's video, A's moderators see the report with
//! B as its origin and answer, the reporter on B sees the state change (Flotilla's `Accept` of the
//! `Flag`); messages between reporter and moderators; `Flag`s in PeerTube's and Mastodon's shapes
//! from stand-in servers, ours checked against PeerTube's sample; and the hostile ones (floods,
//! objects not ours, other people's reports), which change nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(
    a_report_reaches_the_origin_and_its_answer_comes_back,
    flags_of_peertube_and_mastodon_are_listed_and_ours_match_peertube,
    hostile_reports_change_nothing,
);

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn video_id(t: &TestInstance, uuid: &str) -> i64 {
    let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["id"].as_i64().unwrap()
}

async fn notified(t: &TestInstance, token: &str, kind: i64) -> Vec<Value> {
    let (status, list) = t.api.get("/api/v1/users/me/notifications?count=100", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().unwrap().iter().filter(|n| n["type"] == kind).cloned().collect()
}

async fn a_report_reaches_the_origin_and_its_answer_comes_back(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uuid = a.publish(&ava, "Flashing lights", &[]).await;
    settle(&[&a, &b]).await;
    let bob = b.user("bob").await;
    let on_b = video_id(&b, &uuid).await;

    // bob (of B) reports A's video, at 1 s to 3 s.
    let report = json!({
        "reason": "This clip shows flashing test patterns.",
        "predefinedReasons": ["violentOrRepulsive"],
        "video": { "id": on_b, "startAt": 1, "endAt": 3 },
    });
    let (status, made) = b.api.post("/api/v1/abuses", Some(&bob), report).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let on_b_id = made["abuse"]["id"].as_i64().unwrap();
    settle(&[&a, &b]).await;

    // A's moderators see it, from B, in PeerTube's shape (api-abuses.json).
    let admin_a = a.admin_token().await;
    let (status, list) = a.api.get("/api/v1/abuses", Some(&admin_a)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "{list}");
    let r = &list["data"][0];
    let sample_keys = [
        "comment",
        "countMessages",
        "countReportsForReportee",
        "countReportsForReporter",
        "createdAt",
        "flaggedAccount",
        "id",
        "moderationComment",
        "predefinedReasons",
        "reason",
        "reporterAccount",
        "state",
        "updatedAt",
        "video",
    ];
    for k in sample_keys {
        assert!(r.get(k).is_some(), "{k} missing: {r}");
    }
    assert_eq!(r["reason"], "This clip shows flashing test patterns.");
    assert_eq!(r["predefinedReasons"], json!(["violentOrRepulsive"]));
    assert_eq!(r["state"], json!({ "id": 1, "label": "Pending" }));
    assert_eq!(r["reporterAccount"]["name"], "bob");
    assert_eq!(r["reporterAccount"]["host"], b.instance.addr.to_string());
    assert_eq!(r["reporterHost"], b.instance.addr.to_string(), "the server it came from");
    assert_eq!(r["flaggedAccount"]["name"], "ava");
    assert_eq!(r["video"]["uuid"], uuid.as_str());
    assert_eq!((r["video"]["startAt"].clone(), r["video"]["endAt"].clone()), (json!(1), json!(3)));
    assert_eq!(r["video"]["countReports"], 1);
    assert_eq!(r["video"]["nthReport"], 1);
    assert_eq!(r["video"]["deleted"], false);
    assert_eq!(notified(&a, &admin_a, 3).await.len(), 1, "A's admin hears of the new report");
    let note = &notified(&a, &admin_a, 3).await[0];
    assert_eq!(note["abuse"]["video"]["uuid"], uuid.as_str(), "{note}");
    // B's moderators see bob's report too (about another server's video).
    let admin_b = b.admin_token().await;
    let (_, on_b_list) = b.api.get("/api/v1/abuses", Some(&admin_b)).await;
    assert_eq!(on_b_list["total"], 1);
    assert_eq!(on_b_list["data"][0]["reporterHost"], Value::Null);

    // A's moderator accepts it: bob sees it on B, and hears of it.
    let (status, body) = a
        .api
        .put(
            &format!("/api/v1/abuses/{}", r["id"]),
            Some(&admin_a),
            json!({ "state": 3, "moderationComment": "Removed the clip's first seconds." }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle(&[&a, &b]).await;
    let (status, mine) = b.api.get("/api/v1/users/me/abuses", Some(&bob)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["total"], 1);
    let m = &mine["data"][0];
    assert_eq!(m["id"], on_b_id);
    assert_eq!(m["state"], json!({ "id": 3, "label": "Accepted" }), "{m}");
    // The reporter's view (api-user-abuses.json): no moderators' comment, no reporter, no counts.
    assert_eq!(
        keys(m),
        [
            "comment",
            "countMessages",
            "createdAt",
            "flaggedAccount",
            "id",
            "predefinedReasons",
            "reason",
            "state",
            "updatedAt",
            "video"
        ]
    );
    assert_eq!(notified(&b, &bob, 15).await.len(), 1, "bob hears that his report was accepted");

    // Messages: bob writes to B's moderators, who answer.
    let (status, msg) =
        b.api.post(&format!("/api/v1/abuses/{on_b_id}/messages"), Some(&bob), json!({ "message": "Thanks!" })).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    settle(&[&b]).await;
    assert_eq!(notified(&b, &admin_b, 16).await.len(), 1, "the moderators hear of bob's message");
    let (status, _) = b
        .api
        .post(&format!("/api/v1/abuses/{on_b_id}/messages"), Some(&admin_b), json!({ "message": "You are welcome." }))
        .await;
    assert_eq!(status, StatusCode::OK);
    settle(&[&b]).await;
    assert_eq!(notified(&b, &bob, 16).await.len(), 1, "bob hears of the answer");
    let (status, thread) = b.api.get(&format!("/api/v1/abuses/{on_b_id}/messages"), Some(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<(&str, bool)> = thread["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["message"].as_str().unwrap(), m["byModerator"].as_bool().unwrap()))
        .collect();
    assert_eq!(texts, [("Thanks!", false), ("You are welcome.", true)]);
    let (_, mine) = b.api.get("/api/v1/users/me/abuses", Some(&bob)).await;
    assert_eq!(mine["data"][0]["countMessages"], 2);
    a.stop().await;
    b.stop().await;
}

async fn flags_of_peertube_and_mastodon_are_listed_and_ours_match_peertube(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = a.user("ava").await;
    let ulf = a.user("ulf").await;
    let uuid = a.publish(&ava, "Flashing lights", &[]).await;
    a.run_jobs().await;
    let (status, c) = a
        .api
        .post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(&ulf), json!({ "text": "A rude comment" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let comment_id = c["comment"]["id"].as_i64().unwrap();
    let video_url = format!("{}/videos/watch/{uuid}", a.api.base);
    let comment_url = format!("{video_url}/comments/{comment_id}");
    let inbox = format!("{}/inbox", a.api.base);
    let admin = a.admin_token().await;

    // A PeerTube's user flags the video (ap-sent-flag.json's shape).
    let pt = FakeServer::start().await;
    let bob = pt.actor("Person", "bob", json!({}));
    let flag = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", { "Hashtag": "as:Hashtag" }],
        "to": [format!("{}/accounts/ava", a.api.base)], "cc": [],
        "id": format!("{}/admin/abuses/1", pt.base), "actor": bob, "type": "Flag",
        "content": "This clip shows flashing test patterns.", "mediaType": "text/markdown",
        "object": video_url, "tag": [{ "type": "Hashtag", "name": "violentOrRepulsive" }], "startAt": 1, "endAt": 3,
    });
    let (status, body) = pt.send_full(&inbox, &bob, &flag).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    a.run_jobs().await;
    let (_, list) = a.api.get("/api/v1/abuses", Some(&admin)).await;
    assert_eq!(list["total"], 1, "{list}");
    let r = &list["data"][0];
    assert_eq!(r["reporterHost"], pt.host);
    assert_eq!(r["reporterAccount"]["name"], "bob");
    assert_eq!(r["reporterAccount"]["host"], pt.host);
    assert_eq!(r["video"]["uuid"], uuid.as_str());
    assert_eq!(r["video"]["startAt"], 1);
    assert_eq!(r["predefinedReasons"], json!(["violentOrRepulsive"]));
    assert_eq!(r["flaggedAccount"]["name"], "ava");
    // Sent again (a retry): one report still.
    pt.send_full(&inbox, &bob, &flag).await;
    let (_, list) = a.api.get("/api/v1/abuses", Some(&admin)).await;
    assert_eq!(list["total"], 1);

    // Mastodon flags from its instance actor: an account and some posts, one of them not ours.
    let masto = FakeServer::start().await;
    let app_actor = masto.actor("Application", "mastodon.internal", json!({}));
    let mflag = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/0a1b2c3d", masto.base), "type": "Flag", "actor": app_actor,
        "content": "<p>Spam, see the comment</p>",
        "object": [format!("{}/accounts/ulf", a.api.base), comment_url, "https://elsewhere.example/statuses/1"],
        "to": [format!("{}/accounts/ulf", a.api.base)],
    });
    let (status, body) = masto.send_full(&inbox, &app_actor, &mflag).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    a.run_jobs().await;
    let (_, list) = a.api.get("/api/v1/abuses?sort=createdAt", Some(&admin)).await;
    assert_eq!(list["total"], 3, "one report per object of ours: {list}");
    let from_masto: Vec<&Value> =
        list["data"].as_array().unwrap().iter().filter(|r| r["reporterHost"] == masto.host).collect();
    assert_eq!(from_masto.len(), 2);
    let mut kinds: Vec<String> = from_masto
        .iter()
        .map(|r| if r["comment"].is_null() { "account".to_string() } else { "comment".to_string() })
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["account", "comment"]);
    for r in &from_masto {
        assert_eq!(r["reason"], "Spam, see the comment", "HTML made text: {r}");
        assert_eq!(r["flaggedAccount"]["name"], "ulf");
        assert_eq!(r["reporterAccount"]["host"], masto.host, "the server's actor reports: {r}");
    }
    let c = from_masto.iter().find(|r| !r["comment"].is_null()).unwrap();
    assert_eq!(c["comment"]["text"], "A rude comment");
    let (_, filtered) = a.api.get("/api/v1/abuses?filter=comment", Some(&admin)).await;
    assert_eq!(filtered["total"], 1);

    // Our Flag: ulf reports bob (an account of the PeerTube): unicast to its inbox, PeerTube's shape.
    let (_, found) = a.api.get("/api/v1/abuses?filter=video", Some(&admin)).await;
    let bob_account = found["data"][0]["reporterAccount"]["id"].as_i64().unwrap();
    let (status, made) = a
        .api
        .post(
            "/api/v1/abuses",
            Some(&ulf),
            json!({ "reason": "Reports me for nothing.", "predefinedReasons": ["spamOrMisleading"], "account": { "id": bob_account } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    a.run_jobs().await;
    let received = pt.received.lock().unwrap().clone();
    let sent = received.iter().find(|x| x["type"] == "Flag").unwrap_or_else(|| panic!("no Flag: {received:?}"));
    let mut k = keys(sent);
    k.retain(|k| k != "signature" && k != "@context");
    // ap-sent-flag.json, without startAt/endAt (only a video's report has them).
    assert_eq!(k, ["actor", "cc", "content", "id", "mediaType", "object", "tag", "to", "type"]);
    assert_eq!(sent["@context"], json!(["https://www.w3.org/ns/activitystreams", { "Hashtag": "as:Hashtag" }]));
    assert_eq!(sent["actor"], format!("{}/accounts/ulf", a.api.base));
    assert_eq!(sent["object"], bob);
    assert_eq!(sent["to"], json!([bob]));
    assert_eq!(sent["cc"], json!([]));
    assert_eq!(sent["mediaType"], "text/markdown");
    assert_eq!(sent["content"], "Reports me for nothing.");
    assert_eq!(sent["tag"], json!([{ "type": "Hashtag", "name": "spamOrMisleading" }]));
    assert_eq!(sent["id"], format!("{}/admin/abuses/{}", a.api.base, made["abuse"]["id"]));
    assert!(!sent.to_string().contains(PUBLIC), "a report is never public");

    // Accepting bob's report tells his server (Flotilla's Accept of the Flag).
    let bob_report = found["data"][0]["id"].clone();
    let (status, _) = a.api.put(&format!("/api/v1/abuses/{bob_report}"), Some(&admin), json!({ "state": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    a.run_jobs().await;
    let received = pt.received.lock().unwrap().clone();
    let accept = received.iter().find(|x| x["type"] == "Accept").unwrap_or_else(|| panic!("no Accept: {received:?}"));
    assert_eq!(accept["object"]["type"], "Flag");
    assert_eq!(accept["object"]["id"], flag["id"]);
    a.stop().await;
}

async fn hostile_reports_change_nothing(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.rate_limits.enabled = true;
        c.rate_limits.reports = "3/1h".into();
    })
    .await;
    let ava = a.user("ava").await;
    let ulf = a.user("ulf").await;
    let eve = a.user("eve").await;
    let uuid = a.publish(&ava, "Flashing lights", &[]).await;
    let private = a.publish(&ava, "Private", &[("privacy", "3")]).await;
    a.run_jobs().await;
    let admin = a.admin_token().await;
    let vid = json!(uuid);
    let api = &a.api;
    let report = |body: Value, token: String| async move { api.post("/api/v1/abuses", Some(&token), body).await };

    // Refused with the field named; nothing stored.
    for (body, code) in [
        (json!({ "reason": "x", "video": { "id": vid } }), StatusCode::BAD_REQUEST),
        (json!({ "reason": "y".repeat(3001), "video": { "id": vid } }), StatusCode::BAD_REQUEST),
        (json!({ "reason": "Bad", "predefinedReasons": ["ugly"], "video": { "id": vid } }), StatusCode::BAD_REQUEST),
        (json!({ "reason": "Bad" }), StatusCode::BAD_REQUEST),
        (json!({ "reason": "Bad", "video": { "id": vid }, "account": { "id": 1 } }), StatusCode::BAD_REQUEST),
        (json!({ "reason": "Bad", "video": { "id": vid, "startAt": 5, "endAt": 2 } }), StatusCode::BAD_REQUEST),
        (json!({ "reason": "Bad", "video": { "id": vid, "startAt": -1 } }), StatusCode::BAD_REQUEST),
        (json!({ "reason": "Bad", "video": { "id": private } }), StatusCode::NOT_FOUND),
        (json!({ "reason": "Bad", "video": { "id": 999_999 } }), StatusCode::NOT_FOUND),
        (json!({ "reason": "Bad", "comment": { "id": 999_999 } }), StatusCode::NOT_FOUND),
        (json!({ "reason": "Bad", "video": { "id": [1, 2] } }), StatusCode::BAD_REQUEST),
    ] {
        let (status, resp) = report(body.clone(), ulf.clone()).await;
        assert_eq!(status, code, "{body}: {resp}");
    }
    let (status, _) = a.api.post("/api/v1/abuses", None, json!({ "reason": "Bad", "video": { "id": vid } })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = report(json!({ "reason": "Mine", "video": { "id": vid } }), ava.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "nobody reports their own video");
    let (_, list) = a.api.get("/api/v1/abuses", Some(&admin)).await;
    assert_eq!(list["total"], 0, "{list}");

    // A flood from one account: the fourth report within the hour is refused.
    for n in 0..3 {
        let (status, resp) =
            report(json!({ "reason": format!("Report {n}"), "video": { "id": vid } }), ulf.clone()).await;
        assert_eq!(status, StatusCode::OK, "{resp}");
    }
    let (status, _) = report(json!({ "reason": "Report 4", "video": { "id": vid } }), ulf.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = report(json!({ "reason": "Someone else's", "video": { "id": vid } }), eve.clone()).await;
    assert_eq!(status, StatusCode::OK, "another account is not limited by ulf's flood");

    // Nobody but moderators lists or answers reports; nobody reads another's.
    let (status, _) = a.api.get("/api/v1/abuses", Some(&ulf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, all) = a.api.get("/api/v1/abuses?sort=createdAt", Some(&admin)).await;
    let ulfs = all["data"][0]["id"].clone();
    assert_eq!(all["data"][0]["reporterAccount"]["name"], "ulf");
    let (status, _) = a.api.put(&format!("/api/v1/abuses/{ulfs}"), Some(&ulf), json!({ "state": 3 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.get(&format!("/api/v1/abuses/{ulfs}/messages"), Some(&eve)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "eve cannot read ulf's report");
    let (status, _) =
        a.api.post(&format!("/api/v1/abuses/{ulfs}/messages"), Some(&eve), json!({ "message": "Hi there" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, evel) = a.api.get("/api/v1/users/me/abuses", Some(&eve)).await;
    assert_eq!(evel["total"], 1, "eve sees her own report only");
    let (status, _) = a.api.put(&format!("/api/v1/abuses/{ulfs}"), Some(&admin), json!({ "state": 7 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a
        .api
        .put(&format!("/api/v1/abuses/{ulfs}"), Some(&admin), json!({ "moderationComment": "z".repeat(3001) }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a.api.get("/api/v1/abuses?state=9", Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a.api.get("/api/v1/abuses?sort=reason", Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, still) = a.api.get(&format!("/api/v1/abuses?id={ulfs}"), Some(&admin)).await;
    assert_eq!(still["data"][0]["state"]["id"], 1, "nothing changed");

    // Flags: objects not ours are ignored (nothing written); a flood from one server is limited.
    let fake = FakeServer::start().await;
    let mallory = fake.actor("Person", "mallory", json!({}));
    let inbox = format!("{}/inbox", a.api.base);
    let flag = |n: u32, object: Value| {
        json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/flags/{n}", fake.base),
                "type": "Flag", "actor": mallory, "content": "spam", "object": object })
    };
    let (status, _) = fake
        .send_full(
            &inbox,
            &mallory,
            &flag(0, json!(["https://elsewhere.example/videos/watch/x", format!("{}/videos/watch/nope", a.api.base)])),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, all) = a.api.get("/api/v1/abuses", Some(&admin)).await;
    assert_eq!(all["total"], 4, "a Flag about nothing of ours adds nothing");
    let video_url = format!("{}/videos/watch/{uuid}", a.api.base);
    for n in 1..=3 {
        let (status, body) = fake.send_full(&inbox, &mallory, &flag(n, json!(video_url))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let (status, _) = fake.send_full(&inbox, &mallory, &flag(4, json!(video_url))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "a flood of Flags from one server is limited");
    let (_, all) = a.api.get("/api/v1/abuses", Some(&admin)).await;
    assert_eq!(all["total"], 7);
    a.stop().await;
}
