//! A follow brings the past: following an instance (a stand-in PeerTube with 120 videos in its
//! outbox, over three pages, some embedded and some announced by URL) stores all of them, each
//! once, with their comments; following one of its channels afterwards fetches none of them again; and between real
//! instances, the videos published before the follow arrive.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests};

db_tests!(following_an_instance_brings_its_past_once, following_a_flotilla_instance_brings_its_earlier_videos);

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

fn video(pt: &FakeServer, account: &str, channel: &str, n: usize) -> Value {
    let uuid = format!("{:08x}-0000-4000-8000-{:012x}", n + 1, n);
    let id = format!("{}/videos/watch/{uuid}", pt.base);
    json!({
        "type": "Video",
        "id": id,
        "name": format!("Old video {n}"),
        "duration": "PT42S",
        "uuid": uuid,
        "attributedTo": [{ "type": "Person", "id": account }, { "type": "Group", "id": channel }],
        "to": [PUBLIC],
        "cc": [format!("{account}/followers")],
        "url": [{ "type": "Link", "mediaType": "text/html", "href": id }],
    })
}

fn webfinger(pt: &FakeServer, name: &str, href: &str) {
    pt.serve(
        &format!("/.well-known/webfinger?resource=acct:{name}@{}", pt.host),
        json!({ "subject": format!("acct:{name}@{}", pt.host),
                "links": [{ "rel": "self", "type": "application/activity+json", "href": href }] }),
    );
}

/// Serves `items` as an outbox of pages of 50 at `{actor}/outbox`.
fn outbox(pt: &FakeServer, actor_path: &str, items: &[Value]) {
    let base = format!("{}{actor_path}/outbox", pt.base);
    let pages: Vec<&[Value]> = items.chunks(50).collect();
    pt.serve(
        &format!("{actor_path}/outbox"),
        json!({ "id": base, "type": "OrderedCollection", "totalItems": items.len(), "first": format!("{base}/page/1") }),
    );
    for (i, page) in pages.iter().enumerate() {
        let mut doc = json!({
            "id": format!("{base}/page/{}", i + 1),
            "type": "OrderedCollectionPage",
            "partOf": base,
            "orderedItems": page,
        });
        if i + 1 < pages.len() {
            doc["next"] = json!(format!("{base}/page/{}", i + 2));
        }
        pt.serve(&format!("{actor_path}/outbox/page/{}", i + 1), doc);
    }
}

async fn accept_follows(a: &TestInstance, pt: &FakeServer, target: &str) {
    a.run_jobs().await;
    let follow = pt
        .received
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|v| v["type"] == "Follow" && v["object"] == target)
        .cloned()
        .expect("our Follow arrived");
    let accept = json!({ "type": "Accept", "id": format!("{target}/accepts/{}", follow["id"].as_str().unwrap().len()),
                         "actor": target, "object": follow });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), target, &accept).await, StatusCode::ACCEPTED);
    a.run_jobs().await;
}

async fn remote_uuids(a: &TestInstance) -> Vec<String> {
    let mut out = Vec::new();
    for start in [0, 100] {
        let (_, list) = a.api.get(&format!("/api/v1/videos?isLocal=false&count=100&start={start}"), None).await;
        out.extend(list["data"].as_array().unwrap().iter().map(|v| v["uuid"].as_str().unwrap().to_string()));
    }
    out
}

async fn following_an_instance_brings_its_past_once(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let pt = FakeServer::start().await;
    let account = pt.actor("Person", "bob", json!({}));
    let channel = pt.actor("Group", "bob_channel", json!({ "attributedTo": [{ "type": "Person", "id": account }] }));
    let instance = pt.actor("Application", "peertube", json!({}));
    webfinger(&pt, "peertube", &instance);
    webfinger(&pt, "bob_channel", &channel);
    // 120 videos: the first hundred embedded in Creates, the last twenty announced by URL.
    let mut videos: Vec<Value> = (0..120).map(|n| video(&pt, &account, &channel, n)).collect();
    // The first has three comments, one a reply, in its `comments` collection (PeerTube's shape).
    let first_id = videos[0]["id"].as_str().unwrap().to_string();
    let first_path = &first_id[pt.base.len()..];
    videos[0]["comments"] = json!(format!("{first_id}/comments"));
    let note = |n: u32, reply_to: &str| {
        let id = format!("{first_id}/comments/{n}");
        json!({ "type": "Note", "id": id, "url": id, "content": format!("Old comment {n}"), "mediaType": "text/markdown",
                "inReplyTo": reply_to, "attributedTo": account, "to": [PUBLIC], "cc": [],
                "published": "2026-01-01T00:00:00.000Z", "tag": [] })
    };
    let notes = [note(1, &first_id), note(2, &format!("{first_id}/comments/1")), note(3, &first_id)];
    for (n, doc) in notes.iter().enumerate() {
        pt.serve(&format!("{first_path}/comments/{}", n + 1), doc.clone());
    }
    pt.serve(
        &format!("{first_path}/comments"),
        json!({ "id": format!("{first_id}/comments"), "type": "OrderedCollection", "totalItems": 3,
                "first": format!("{first_id}/comments?page=1") }),
    );
    pt.serve(
        &format!("{first_path}/comments?page=1"),
        json!({ "id": format!("{first_id}/comments?page=1"), "type": "OrderedCollectionPage", "totalItems": 3,
                "partOf": format!("{first_id}/comments"), "orderedItems": notes.iter().map(|n| n["id"].clone()).collect::<Vec<_>>() }),
    );
    let items: Vec<Value> = videos
        .iter()
        .enumerate()
        .map(|(n, v)| {
            let id = v["id"].as_str().unwrap();
            if n < 100 {
                json!({ "type": "Create", "id": format!("{id}/activity"), "actor": account, "to": [PUBLIC], "object": v })
            } else {
                pt.serve(&id[pt.base.len()..], v.clone());
                json!({ "type": "Announce", "id": format!("{id}/announces/1"), "actor": instance, "to": [PUBLIC], "object": id })
            }
        })
        .collect();
    outbox(&pt, "/users/peertube", &items);
    // The channel's outbox holds the same videos, all embedded.
    let channel_items: Vec<Value> = videos
        .iter()
        .map(|v| json!({ "type": "Create", "id": format!("{}/activity", v["id"].as_str().unwrap()), "actor": account, "to": [PUBLIC], "object": v }))
        .collect();
    outbox(&pt, "/users/bob_channel", &channel_items);

    let admin = a.admin_token().await;
    let (status, body) = a.api.post("/api/v1/server/following", Some(&admin), json!({ "hosts": [pt.host] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(remote_uuids(&a).await.is_empty(), "nothing before the Accept");
    accept_follows(&a, &pt, &instance).await;
    let mut got = remote_uuids(&a).await;
    assert_eq!(got.len(), 120, "all of them");
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 120, "each once");
    let video_gets = || {
        pt.gets.lock().unwrap().iter().filter(|p| p.starts_with("/videos/watch/") && !p.contains("/comments")).count()
    };
    assert_eq!(video_gets(), 20, "only the announced ones were fetched");
    let page_gets = || pt.gets.lock().unwrap().iter().filter(|p| p.contains("/outbox/page/")).count();
    assert_eq!(page_gets(), 3, "three pages");
    // The first video's comments came with it, the reply under its parent.
    let uuid0 = videos[0]["uuid"].as_str().unwrap();
    let (_, threads) = a.api.get(&format!("/api/v1/videos/{uuid0}/comment-threads?sort=createdAt"), None).await;
    assert_eq!(threads["total"], 2, "{threads}");
    assert_eq!(threads["totalNotDeletedComments"], 3);
    let parent =
        threads["data"].as_array().unwrap().iter().find(|c| c["text"] == "Old comment 1").unwrap()["id"].clone();
    let (_, tree) = a.api.get(&format!("/api/v1/videos/{uuid0}/comment-threads/{parent}"), None).await;
    assert_eq!(tree["children"][0]["comment"]["text"], "Old comment 2", "{tree}");

    // Following one of its channels too: its outbox is crawled, nothing is fetched or stored twice.
    let (status, body) = a
        .api
        .post("/api/v1/server/following", Some(&admin), json!({ "handles": [format!("bob_channel@{}", pt.host)] }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    accept_follows(&a, &pt, &channel).await;
    assert_eq!(page_gets(), 6, "the channel's three pages were read");
    assert_eq!(video_gets(), 20, "no video fetched twice");
    assert_eq!(remote_uuids(&a).await.len(), 120);
    // The same Accept again (a retry with another id) crawls nothing more.
    let follow = pt.received.lock().unwrap().iter().rev().find(|v| v["type"] == "Follow").cloned().unwrap();
    let again =
        json!({ "type": "Accept", "id": format!("{channel}/accepts/again"), "actor": channel, "object": follow });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &channel, &again).await, StatusCode::ACCEPTED);
    a.run_jobs().await;
    assert_eq!(page_gets(), 6);
    a.stop().await;
}

async fn following_a_flotilla_instance_brings_its_earlier_videos(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    let token = a.user("olga").await;
    let mut uuids = Vec::new();
    for name in ["Before the follow 1", "Before the follow 2"] {
        uuids.push(a.publish(&token, name, &[]).await);
    }
    a.run_jobs().await;
    // The instance actor's outbox announces them, as PeerTube's does.
    let req =
        a.api.http.get(a.api.url("/accounts/peertube/outbox?page=1")).header("Accept", "application/activity+json");
    let (_, page) = a.api.send(req).await;
    assert_eq!(page["totalItems"], 2, "{page}");
    assert_eq!(page["orderedItems"][0]["type"], "Announce");

    b.follow_instance(&a).await;
    let mut got = remote_uuids(&b).await;
    got.sort();
    uuids.sort();
    assert_eq!(got, uuids, "B has A's earlier videos");
    a.stop().await;
    b.stop().await;
}
