//! Moving house: an account and its channel move from one Flotilla to another with `Move`; a
//! third Flotilla's subscriber follows the new channel by itself, a Mastodon-shaped follower is
//! sent Mastodon's `Move`; a move the new address does not agree to (no `alsoKnownAs`) is
//! refused on both sides and changes nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(an_account_and_its_channel_move_with_their_followers, moves_the_new_address_did_not_agree_to_change_nothing);

async fn channel_name(t: &TestInstance, token: &str) -> String {
    t.api.get("/api/v1/users/me", Some(token)).await.1["videoChannels"][0]["name"].as_str().unwrap().to_string()
}

async fn ap_get(t: &TestInstance, url: &str) -> Value {
    t.api.http.get(url).header("accept", "application/activity+json").send().await.unwrap().json().await.unwrap()
}

async fn an_account_and_its_channel_move_with_their_followers(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let b = TestInstance::start(backend).await;
    let c = TestInstance::start(backend).await;
    let masto = FakeServer::start().await;
    let ava = a.user("ava").await;
    let ava_channel = channel_name(&a, &ava).await;
    let (a_host, b_host) = (a.instance.addr.to_string(), b.instance.addr.to_string());
    // carl on C subscribes to ava's channel on A; a Mastodon user follows ava's account.
    let carl = c.user("carl").await;
    let (status, body) = c
        .api
        .post("/api/v1/users/me/subscriptions", Some(&carl), json!({ "uri": format!("{ava_channel}@{a_host}") }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let yan = masto.actor("Person", "yan", json!({}));
    let ava_url = format!("{}/accounts/ava", a.api.base);
    let follow = json!({ "id": format!("{}/f/yan", masto.base), "type": "Follow", "actor": yan, "object": ava_url });
    assert!(masto.send(&format!("{}/inbox", a.api.base), &yan, &follow).await.is_success());
    settle(&[&a, &b, &c]).await;

    // Her new home on B names the old addresses.
    let ava2 = b.user("ava2").await;
    let new_channel = channel_name(&b, &ava2).await;
    let (status, aliases) =
        b.api.put("/api/v1/users/me/aliases", Some(&ava2), json!({ "aliases": [format!("ava@{a_host}")] })).await;
    assert_eq!(status, StatusCode::OK, "{aliases}");
    assert_eq!(aliases["aliases"], json!([ava_url]));
    let (status, body) = b
        .api
        .put(
            &format!("/api/v1/video-channels/{new_channel}/aliases"),
            Some(&ava2),
            json!({ "aliases": [format!("{ava_channel}@{a_host}")] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc = ap_get(&b, &format!("{}/accounts/ava2", b.api.base)).await;
    assert_eq!(doc["alsoKnownAs"], json!([ava_url]));

    // The channel and the account move.
    let (status, body) = a
        .api
        .post(
            &format!("/api/v1/video-channels/{ava_channel}/move"),
            Some(&ava),
            json!({ "target": format!("{new_channel}@{b_host}") }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = a
        .api
        .post(
            "/api/v1/users/me/move",
            Some(&ava),
            json!({ "target": format!("ava2@{b_host}"), "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ava2_url = format!("{}/accounts/ava2", b.api.base);
    assert_eq!(body["movedTo"], ava2_url.as_str());
    settle(&[&a, &b, &c]).await;
    settle(&[&a, &b, &c]).await;

    // carl now follows the new channel, not the old one.
    let (_, subs) = c.api.get("/api/v1/users/me/subscriptions", Some(&carl)).await;
    let names: Vec<String> = subs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}@{}", s["name"].as_str().unwrap(), s["host"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [format!("{new_channel}@{b_host}")], "{subs}");
    let (_, new) = b.api.get(&format!("/api/v1/video-channels/{new_channel}"), None).await;
    assert_eq!(new["followersCount"], 1, "B counts C's follow: {new}");
    // The Mastodon follower got Mastodon's Move.
    let received = masto.received.lock().unwrap().clone();
    let mv = received.iter().find(|x| x["type"] == "Move").expect("a Move");
    assert_eq!(mv["actor"], ava_url.as_str());
    assert_eq!(mv["object"], ava_url.as_str());
    assert_eq!(mv["target"], ava2_url.as_str());
    let old = ap_get(&a, &ava_url).await;
    assert_eq!(old["movedTo"], ava2_url.as_str());
    // Moving twice is refused.
    let (status, _) = a
        .api
        .post(
            "/api/v1/users/me/move",
            Some(&ava),
            json!({ "target": format!("ava2@{b_host}"), "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    for t in [a, b, c] {
        t.stop().await;
    }
}

async fn moves_the_new_address_did_not_agree_to_change_nothing(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let b = TestInstance::start(backend).await;
    let evil = FakeServer::start().await;
    let ava = a.user("ava").await;
    let b_host = b.instance.addr.to_string();
    b.user("ava2").await;
    // Not aliased on B: refused, nothing recorded.
    let (status, body) = a
        .api
        .post(
            "/api/v1/users/me/move",
            Some(&ava),
            json!({ "target": format!("ava2@{b_host}"), "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "move_not_aliased");
    let (status, _) = a
        .api
        .post(
            "/api/v1/users/me/move",
            Some(&ava),
            json!({ "target": format!("ava2@{b_host}"), "currentPassword": "wrong" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(ap_get(&a, &format!("{}/accounts/ava", a.api.base)).await.get("movedTo").is_none());

    // A's user follows a remote channel; its server claims it moved to a channel that never
    // agreed, then tries to move someone else's actor: both refused, the follow kept.
    let mallory = evil.actor("Person", "mallory", json!({}));
    let chan = evil.actor("Group", "chan", json!({ "attributedTo": [{ "type": "Person", "id": mallory }] }));
    let other = evil.actor("Group", "other", json!({ "attributedTo": [{ "type": "Person", "id": mallory }] }));
    evil.serve(
        &format!("/.well-known/webfinger?resource=acct:chan@{}", evil.host),
        json!({ "subject": format!("acct:chan@{}", evil.host),
                "links": [{ "rel": "self", "type": "application/activity+json", "href": chan }] }),
    );
    let (status, body) =
        a.api.post("/api/v1/users/me/subscriptions", Some(&ava), json!({ "uri": format!("chan@{}", evil.host) })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    a.run_jobs().await;
    let mv =
        json!({ "type": "Move", "id": format!("{}/m/1", evil.base), "actor": chan, "object": chan, "target": other });
    let (status, _) = evil.send_full(&format!("{}/inbox", a.api.base), &chan, &mv).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the target does not name the mover");
    let b_chan = format!("{}/video-channels/ava2_channel", b.api.base);
    let theft =
        json!({ "type": "Move", "id": format!("{}/m/2", evil.base), "actor": chan, "object": b_chan, "target": other });
    let (status, _) = evil.send_full(&format!("{}/inbox", a.api.base), &chan, &theft).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an actor moves itself only");
    let (_, subs) = a.api.get("/api/v1/users/me/subscriptions", Some(&ava)).await;
    assert_eq!(subs["total"], 1);
    assert_eq!(subs["data"][0]["name"], "chan");
    a.stop().await;
    b.stop().await;
}
