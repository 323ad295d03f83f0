//! Comment moderation: watched words tag comments (local and from other servers) and an owner's
//! policy holds the tagged ones for review; the instance's lists tag for the moderators' list of
//! every comment (filters, tags); bulk removal of an account's comments on one's videos or
//! everywhere; and the limits and refusals, which change nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests};

db_tests!(
    watched_words_tag_comments_and_hold_them_for_review,
    moderators_list_every_comment_and_remove_an_accounts_in_bulk,
    hostile_watched_words_and_bulk_removals_change_nothing,
);

async fn comment(t: &TestInstance, token: &str, uuid: &str, text: &str) -> i64 {
    let (status, body) =
        t.api.post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(token), json!({ "text": text })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["comment"]["id"].as_i64().unwrap()
}

async fn shown(t: &TestInstance, uuid: &str) -> Vec<String> {
    let (_, list) = t.api.get(&format!("/api/v1/videos/{uuid}/comment-threads"), None).await;
    // Removed threads stay as tombstones: what is shown is the rest.
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["isDeleted"] != true)
        .map(|c| c["text"].as_str().unwrap().to_string())
        .collect()
}

fn by_text<'a>(list: &'a Value, text: &str) -> &'a Value {
    list["data"].as_array().unwrap().iter().find(|c| c["text"] == text).unwrap_or_else(|| panic!("{text}: {list}"))
}

async fn watched_words_tag_comments_and_hold_them_for_review(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = a.user("ava").await;
    let ulf = a.user("ulf").await;
    let admin = a.admin_token().await;
    let uuid = a.publish(&ava, "Open for comments", &[]).await;
    a.run_jobs().await;

    // ava watches two words and holds what they tag; the instance watches one more.
    let (status, made) = a
        .api
        .post(
            "/api/v1/watched-words/accounts/ava/lists",
            Some(&ava),
            json!({ "listName": "spam", "words": ["buy now", "casino"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert!(made["watchedWordsList"]["id"].is_number());
    let (_, avail) = a.api.get("/api/v1/automatic-tags/accounts/ava/available", Some(&ava)).await;
    assert_eq!(
        avail["available"],
        json!([{ "name": "external-link", "type": "core" }, { "name": "spam", "type": "watched-words-list" }])
    );
    let (status, _) = a
        .api
        .put("/api/v1/automatic-tags/policies/accounts/ava/comments", Some(&ava), json!({ "review": ["spam"] }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, policy) = a.api.get("/api/v1/automatic-tags/policies/accounts/ava/comments", Some(&ava)).await;
    assert_eq!(policy, json!({ "review": ["spam"] }));
    let (status, _) = a
        .api
        .post("/api/v1/watched-words/server/lists", Some(&admin), json!({ "listName": "rude", "words": ["idiot"] }))
        .await;
    assert_eq!(status, StatusCode::OK);

    comment(&a, &ulf, &uuid, "Buy now at the CASINO!").await;
    comment(&a, &ulf, &uuid, "Casinos are a fine topic").await;
    comment(&a, &ulf, &uuid, "More at https://elsewhere.example/x").await;
    comment(&a, &ulf, &uuid, "What an idiot").await;
    let mut visible = shown(&a, &uuid).await;
    visible.sort();
    assert_eq!(
        visible,
        ["Casinos are a fine topic", "More at https://elsewhere.example/x", "What an idiot"],
        "the spam one is held for ava; the instance's tags hold nothing"
    );
    let (_, mine) = a.api.get("/api/v1/users/me/videos/comments", Some(&ava)).await;
    let held = by_text(&mine, "Buy now at the CASINO!");
    assert_eq!(held["heldForReview"], true);
    assert_eq!(held["automaticTags"], json!(["spam"]));
    assert_eq!(
        by_text(&mine, "Casinos are a fine topic")["automaticTags"],
        json!([]),
        "a word inside another is no match"
    );
    assert_eq!(by_text(&mine, "More at https://elsewhere.example/x")["automaticTags"], json!(["external-link"]));
    assert_eq!(by_text(&mine, "What an idiot")["automaticTags"], json!([]), "the instance's tags are not ava's");

    // A comment from another server is tagged and held the same way.
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let note = json!({
        "id": format!("{zoe}/statuses/1"), "type": "Note", "attributedTo": zoe,
        "inReplyTo": format!("{}/videos/watch/{uuid}", a.api.base), "content": "<p>Best casino in town</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "published": "2026-12-04T10:00:00Z",
    });
    let create = json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{zoe}/statuses/1/activity"),
        "type": "Create", "actor": zoe, "object": note });
    let (status, body) = masto.send_full(&format!("{}/inbox", a.api.base), &zoe, &create).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(!shown(&a, &uuid).await.contains(&"Best casino in town".to_string()), "held");
    let (_, mine) = a.api.get("/api/v1/users/me/videos/comments?isHeldForReview=true", Some(&ava)).await;
    assert_eq!(mine["total"], 2, "{mine}");

    // The moderators' list: the instance's tags.
    let (status, tagged) = a.api.get("/api/v1/videos/comments?autoTagOneOf=rude", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{tagged}");
    assert_eq!(tagged["total"], 1);
    assert_eq!(tagged["data"][0]["text"], "What an idiot");
    assert_eq!(tagged["data"][0]["automaticTags"], json!(["rude"]));
    let (_, links) = a.api.get("/api/v1/videos/comments?autoTagOneOf=external-link", Some(&admin)).await;
    assert_eq!(links["total"], 1);

    // ava approves the held local one; editing her list changes what new comments get.
    let (_, mine) = a.api.get("/api/v1/users/me/videos/comments?isHeldForReview=true", Some(&ava)).await;
    let held_id = by_text(&mine, "Buy now at the CASINO!")["id"].clone();
    let (status, _) =
        a.api.post(&format!("/api/v1/videos/{uuid}/comments/{held_id}/approve"), Some(&ava), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(shown(&a, &uuid).await.contains(&"Buy now at the CASINO!".to_string()));
    let list_id = made["watchedWordsList"]["id"].clone();
    let (status, _) = a
        .api
        .put(
            &format!("/api/v1/watched-words/accounts/ava/lists/{list_id}"),
            Some(&ava),
            json!({ "words": ["lottery"] }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    comment(&a, &ulf, &uuid, "casino again").await;
    comment(&a, &ulf, &uuid, "win the lottery").await;
    let visible = shown(&a, &uuid).await;
    assert!(visible.contains(&"casino again".to_string()));
    assert!(!visible.contains(&"win the lottery".to_string()));
    let (_, lists) = a.api.get("/api/v1/watched-words/accounts/ava/lists", Some(&ava)).await;
    assert_eq!(lists["data"][0]["words"], json!(["lottery"]));
    assert_eq!(lists["data"][0]["listName"], "spam");
    a.stop().await;
}

async fn moderators_list_every_comment_and_remove_an_accounts_in_bulk(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = a.user("ava").await;
    let bob = a.user("bob").await;
    let ulf = a.user("ulf").await;
    let admin = a.admin_token().await;
    let avas = a.publish(&ava, "Ava's", &[]).await;
    let bobs = a.publish(&bob, "Bob's", &[]).await;
    a.run_jobs().await;
    comment(&a, &ulf, &avas, "ulf on ava").await;
    comment(&a, &ulf, &bobs, "ulf on bob").await;
    comment(&a, &bob, &avas, "bob on ava").await;

    let (status, all) = a.api.get("/api/v1/videos/comments", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 3);
    assert_eq!(all["data"][0]["text"], "bob on ava", "newest first");
    assert!(all["data"][0]["video"]["uuid"].is_string());
    let (_, of_ulf) = a.api.get("/api/v1/videos/comments?searchAccount=ulf", Some(&admin)).await;
    assert_eq!(of_ulf["total"], 2);
    let (_, on_bobs) = a.api.get("/api/v1/videos/comments?searchVideo=bob", Some(&admin)).await;
    assert_eq!(on_bobs["total"], 1);
    let (_, words) =
        a.api.get("/api/v1/videos/comments?search=on%20ava&isLocal=true&onLocalVideo=true", Some(&admin)).await;
    assert_eq!(words["total"], 2);
    let (_, remote) = a.api.get("/api/v1/videos/comments?isLocal=false", Some(&admin)).await;
    assert_eq!(remote["total"], 0);

    // ava removes ulf's comments on her videos: bob's video keeps his.
    let (status, body) = a
        .api
        .post("/api/v1/bulk/remove-comments-of", Some(&ava), json!({ "accountName": "ulf", "scope": "my-videos" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(shown(&a, &avas).await, ["bob on ava"]);
    assert_eq!(shown(&a, &bobs).await, ["ulf on bob"]);
    // The admin removes all of ulf's.
    let (status, _) = a
        .api
        .post("/api/v1/bulk/remove-comments-of", Some(&admin), json!({ "accountName": "ulf", "scope": "instance" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(shown(&a, &bobs).await.is_empty());
    let (_, all) = a.api.get("/api/v1/videos/comments", Some(&admin)).await;
    assert_eq!(all["total"], 1);
    a.stop().await;
}

async fn hostile_watched_words_and_bulk_removals_change_nothing(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = a.user("ava").await;
    let ulf = a.user("ulf").await;
    let admin = a.admin_token().await;
    a.user("mo").await;
    let (_, users) = a.api.get("/api/v1/users?search=mo", Some(&admin)).await;
    let mo_id = users["data"].as_array().unwrap().iter().find(|u| u["username"] == "mo").unwrap()["id"].clone();
    a.api.put(&format!("/api/v1/users/{mo_id}"), Some(&admin), json!({ "role": 1 })).await;
    let mo = a.api.login("mo", "password-123").await;
    let uuid = a.publish(&ava, "Ava's", &[]).await;
    a.run_jobs().await;
    comment(&a, &admin, &uuid, "root speaks").await;

    let lists = "/api/v1/watched-words/accounts/ava/lists";
    for (body, code) in [
        (json!({ "listName": "", "words": ["x"] }), StatusCode::BAD_REQUEST),
        (json!({ "listName": "n".repeat(101), "words": ["x"] }), StatusCode::BAD_REQUEST),
        (json!({ "listName": "external-link", "words": ["x"] }), StatusCode::BAD_REQUEST),
        (
            json!({ "listName": "big", "words": (0..501).map(|i| format!("w{i}")).collect::<Vec<_>>() }),
            StatusCode::BAD_REQUEST,
        ),
        (json!({ "listName": "long", "words": ["w".repeat(101)] }), StatusCode::BAD_REQUEST),
        (json!({ "listName": "empty", "words": [] }), StatusCode::BAD_REQUEST),
        (json!({ "listName": "ctl", "words": ["a\u{7}b"] }), StatusCode::BAD_REQUEST),
    ] {
        let (status, resp) = a.api.post(lists, Some(&ava), body.clone()).await;
        assert_eq!(status, code, "{body}: {resp}");
    }
    let (status, _) = a.api.post(lists, Some(&ulf), json!({ "listName": "mine", "words": ["x"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "ulf cannot edit ava's lists");
    let (status, _) = a.api.get(lists, Some(&ulf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        a.api.post("/api/v1/watched-words/server/lists", Some(&ulf), json!({ "listName": "x", "words": ["x"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, made) = a.api.post(lists, Some(&ava), json!({ "listName": "ok", "words": ["fine"] })).await;
    let (status, _) = a.api.post(lists, Some(&ava), json!({ "listName": "ok", "words": ["again"] })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let id = made["watchedWordsList"]["id"].clone();
    let (status, _) = a.api.delete(&format!("/api/v1/watched-words/accounts/ulf/lists/{id}"), Some(&ulf)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a list is found only under its own account");
    let (status, _) = a
        .api
        .put("/api/v1/automatic-tags/policies/accounts/ava/comments", Some(&ava), json!({ "review": ["nonsense"] }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, policy) = a.api.get("/api/v1/automatic-tags/policies/accounts/ava/comments", Some(&ava)).await;
    assert_eq!(policy["review"], json!([]), "nothing changed");
    let (_, listed) = a.api.get(lists, Some(&ava)).await;
    assert_eq!(listed["total"], 1, "{listed}");

    // Bulk removal: scopes and powers.
    let bulk = "/api/v1/bulk/remove-comments-of";
    let (status, _) = a.api.post(bulk, Some(&ulf), json!({ "accountName": "root", "scope": "instance" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.post(bulk, Some(&mo), json!({ "accountName": "root", "scope": "instance" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a moderator cannot remove an administrator's comments");
    let (status, _) = a.api.post(bulk, Some(&mo), json!({ "accountName": "root", "scope": "everywhere" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a.api.post(bulk, Some(&mo), json!({ "accountName": "ghost", "scope": "instance" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = a.api.get("/api/v1/videos/comments", Some(&ulf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.get("/api/v1/videos/comments?isLocal=maybe", Some(&mo)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(shown(&a, &uuid).await, ["root speaks"], "nothing removed");
    a.stop().await;
}
