//! Notifications: each kind is told once to whom it concerns (a new follower, one's video
//! published, a new video of a channel one follows, a comment on one's video — from here or from
//! another server —, a reply or a mention), read and unread, the settings respected, and the live
//! stream tells a new one without a reload and ends when the server stops.

use std::time::Duration;

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests};

db_tests!(each_kind_is_told_once_and_settings_are_respected, the_stream_tells_a_new_notification_at_once);

async fn publish(a: &TestInstance, token: &str, name: &str) -> String {
    let uuid = a.publish(token, name, &[]).await;
    a.run_jobs().await;
    uuid
}

async fn comment(a: &TestInstance, token: &str, uuid: &str, parent: Option<i64>, text: &str) -> i64 {
    let path = match parent {
        None => format!("/api/v1/videos/{uuid}/comment-threads"),
        Some(p) => format!("/api/v1/videos/{uuid}/comments/{p}"),
    };
    let (status, body) = a.api.post(&path, Some(token), json!({ "text": text })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    a.run_jobs().await;
    body["comment"]["id"].as_i64().unwrap()
}

async fn notifications(a: &TestInstance, token: &str, query: &str) -> Value {
    let (status, list) = a.api.get(&format!("/api/v1/users/me/notifications?count=100{query}"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

/// The types of a user's notifications, oldest first.
async fn types(a: &TestInstance, token: &str) -> Vec<i64> {
    let list = notifications(a, token, "&sort=createdAt").await;
    list["data"].as_array().unwrap().iter().map(|n| n["type"].as_i64().unwrap()).collect()
}

async fn each_kind_is_told_once_and_settings_are_respected(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let nia = a.user("nia").await;
    let fox = a.user("fox").await;
    let gus = a.user("gus").await;

    // Fox subscribes to Nia's channel: a new follower for Nia (10).
    let (status, _) = a.api.post("/api/v1/users/me/subscriptions", Some(&fox), json!({ "uri": "nia_channel" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    a.run_jobs().await;
    assert_eq!(types(&a, &nia).await, vec![10]);
    let follow = &notifications(&a, &nia, "").await["data"][0];
    assert_eq!(follow["actorFollow"]["follower"]["name"], "fox");
    assert_eq!(follow["actorFollow"]["following"]["type"], "channel");
    assert_eq!(follow["actorFollow"]["following"]["name"], "nia_channel");
    assert_eq!(follow["read"], false);

    // Nia publishes: her video is published (6); Fox, a subscriber, hears of a new video (1).
    let uuid = publish(&a, &nia, "Fresh").await;
    assert_eq!(types(&a, &nia).await, vec![10, 6]);
    assert_eq!(types(&a, &fox).await, vec![1]);
    let new_video = &notifications(&a, &fox, "").await["data"][0];
    assert_eq!(new_video["video"]["uuid"], uuid.as_str());
    assert_eq!(new_video["video"]["channel"]["name"], "nia_channel");
    assert_eq!(types(&a, &gus).await, Vec::<i64>::new(), "Gus follows nobody");

    // Fox comments (2 for Nia); Nia answers (11 for Fox); Gus mentions both (2 for Nia, who is
    // told once, and 11 for Fox).
    let foxs = comment(&a, &fox, &uuid, None, "Love it").await;
    assert_eq!(types(&a, &nia).await, vec![10, 6, 2]);
    let c = &notifications(&a, &nia, "").await["data"][0]["comment"];
    assert_eq!(c["id"], foxs);
    assert_eq!(c["account"]["name"], "fox");
    assert_eq!(c["video"]["uuid"], uuid.as_str());
    comment(&a, &nia, &uuid, Some(foxs), "Thanks").await;
    assert_eq!(types(&a, &fox).await, vec![1, 11]);
    assert_eq!(types(&a, &nia).await, vec![10, 6, 2], "her own reply tells her nothing");
    let gus_c = comment(&a, &gus, &uuid, None, "@nia and @fox: hi").await;
    assert_eq!(types(&a, &nia).await, vec![10, 6, 2, 2]);
    assert_eq!(types(&a, &fox).await, vec![1, 11, 11]);
    // The same event handled again (its job run twice): nobody is told twice.
    let event = flotilla_app::events::Event::CommentCreated { comment_id: gus_c };
    flotilla_app::notification::on_event(&a.instance.app, &event).await.unwrap();
    assert_eq!(types(&a, &nia).await, vec![10, 6, 2, 2]);
    assert_eq!(types(&a, &fox).await, vec![1, 11, 11]);

    // A follower and a comment from another server.
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let channel = format!("{}/video-channels/nia_channel", a.api.base);
    let follow =
        json!({ "type": "Follow", "id": format!("{}/follows/1", masto.base), "actor": zoe, "object": channel });
    assert_eq!(masto.send(&format!("{channel}/inbox"), &zoe, &follow).await, StatusCode::ACCEPTED);
    let video = format!("{}/videos/watch/{uuid}", a.api.base);
    let note = json!({ "id": format!("{zoe}/statuses/1"), "type": "Note", "attributedTo": zoe, "inReplyTo": video,
                       "content": "<p>From afar</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"] });
    let create = json!({ "type": "Create", "id": format!("{zoe}/statuses/1/activity"), "actor": zoe, "object": note });
    assert_eq!(masto.send(&format!("{}/inbox", a.api.base), &zoe, &create).await, StatusCode::ACCEPTED);
    a.run_jobs().await;
    let list = notifications(&a, &nia, "").await;
    assert_eq!(list["total"], 6, "{list}");
    assert_eq!(list["data"][0]["type"], 2);
    assert_eq!(list["data"][0]["comment"]["account"]["host"], masto.host.as_str());
    assert_eq!(list["data"][1]["type"], 10);
    assert_eq!(list["data"][1]["actorFollow"]["follower"]["host"], masto.host.as_str());

    // Read and unread: one, then all; ids of someone else's change nothing.
    let newest = list["data"][0]["id"].as_i64().unwrap();
    let fox_first = notifications(&a, &fox, "").await["data"][0]["id"].as_i64().unwrap();
    let (status, _) =
        a.api.post("/api/v1/users/me/notifications/read", Some(&nia), json!({ "ids": [newest, fox_first] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(notifications(&a, &nia, "&unread=true").await["total"], 5);
    assert_eq!(notifications(&a, &fox, "&unread=true").await["total"], 3, "Fox's own are untouched");
    assert_eq!(notifications(&a, &nia, "").await["data"][0]["read"], true);
    let (status, _) = a.api.post("/api/v1/users/me/notifications/read", Some(&nia), json!({ "ids": [] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a.api.post("/api/v1/users/me/notifications/read-all", Some(&nia), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(notifications(&a, &nia, "&unread=true").await["total"], 0);
    let (status, _) = a.api.get("/api/v1/users/me/notifications", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Settings: read back in /users/me, checked, respected.
    let (_, me) = a.api.get("/api/v1/users/me", Some(&nia)).await;
    assert_eq!(me["notificationSettings"]["newCommentOnMyVideo"], 1);
    assert_eq!(me["notificationSettings"]["abuseAsModerator"], 3);
    for bad in [json!({ "bogus": 1 }), json!({ "newFollow": 7 }), json!({ "newFollow": "web" })] {
        let (status, body) = a.api.put("/api/v1/users/me/notification-settings", Some(&nia), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) =
        a.api.put("/api/v1/users/me/notification-settings", Some(&nia), json!({ "newCommentOnMyVideo": 2 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, me) = a.api.get("/api/v1/users/me", Some(&nia)).await;
    assert_eq!(me["notificationSettings"]["newCommentOnMyVideo"], 2);
    assert_eq!(me["notificationSettings"]["newFollow"], 1, "the others keep their values");
    comment(&a, &gus, &uuid, None, "Another one").await;
    assert_eq!(notifications(&a, &nia, "").await["total"], 6, "e-mail only: nothing on the web");
    a.stop().await;
}

/// Reads server-sent events from `resp` until one named `name` arrives; its data.
async fn next_event(resp: &mut flotilla_testkit::reqwest::Response, buf: &mut String, name: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let event = block.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim).unwrap_or("message");
            let data = block.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim).unwrap_or("");
            if event == name {
                return flotilla_testkit::serde_json::from_str(data).unwrap();
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("no event in time").unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("the stream ended")));
    }
}

async fn the_stream_tells_a_new_notification_at_once(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ivy = a.user("ivy").await;
    let jon = a.user("jon").await;
    let uuid = publish(&a, &ivy, "Watched").await;
    let (status, _) = a.api.get("/api/v1/users/me/notifications/stream", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut resp =
        a.api.http.get(a.api.url("/api/v1/users/me/notifications/stream")).bearer_auth(&ivy).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buf = String::new();
    assert_eq!(next_event(&mut resp, &mut buf, "unread").await, json!({ "unread": 1 }), "her video's publication");
    // Jon comments: the workers (not this test) run the event; the stream carries it.
    let (status, body) =
        a.api.post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(&jon), json!({ "text": "Live!" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let n = next_event(&mut resp, &mut buf, "notification").await;
    assert_eq!(n["type"], 2, "{n}");
    assert_eq!(n["comment"]["account"]["name"], "jon");
    assert_eq!(n["read"], false);
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    // Reading them is told too (other tabs and devices update their count).
    let (status, _) = a.api.post("/api/v1/users/me/notifications/read-all", Some(&ivy), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(next_event(&mut resp, &mut buf, "unread").await, json!({ "unread": 0 }));

    // Her token is revoked (a logout elsewhere): the stream ends instead of telling the next one.
    let (status, _) = a.api.post("/api/v1/users/revoke-token", Some(&ivy), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        a.api.post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(&jon), json!({ "text": "Again" })).await;
    assert_eq!(status, StatusCode::OK);
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => buf.push_str(&String::from_utf8_lossy(&c)),
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream went on after its token was revoked");
    assert!(!buf.contains("event: notification"), "nothing more was told: {buf}");

    // Stopping the server ends an open stream rather than waiting for it (30 s of grace otherwise).
    let mut open =
        a.api.http.get(a.api.url("/api/v1/users/me/notifications/stream")).bearer_auth(&jon).send().await.unwrap();
    let mut jon_buf = String::new();
    next_event(&mut open, &mut jon_buf, "unread").await;
    let stopped = tokio::time::timeout(Duration::from_secs(20), a.stop()).await;
    assert!(stopped.is_ok(), "the open stream held up the shutdown");
}
