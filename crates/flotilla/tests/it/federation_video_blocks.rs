//! Video blocks (PeerTube's blacklist) between real instances: a blocked local video is withdrawn
//! from its followers (`Delete`) and hidden here but for its owner and the moderators, and comes
//! back when unblocked; a remote one is hidden only here; auto-block holds a new user's upload
//! until a moderator lets it through; and the refusals (users, a moderator against an admin's
//! video, bad reasons), which change nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests, settle};

db_tests!(
    a_blocked_video_is_withdrawn_and_comes_back,
    a_remote_video_is_hidden_here_only,
    auto_block_holds_a_new_users_upload,
    hostile_video_blocks_change_nothing,
);

async fn names(t: &TestInstance, token: Option<&str>) -> Vec<String> {
    let (status, list) = t.api.get("/api/v1/videos", token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut n: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect();
    n.sort();
    n
}

async fn notified(t: &TestInstance, token: &str, kind: i64) -> Vec<Value> {
    let (_, list) = t.api.get("/api/v1/users/me/notifications?count=100", Some(token)).await;
    list["data"].as_array().unwrap().iter().filter(|n| n["type"] == kind).cloned().collect()
}

async fn a_blocked_video_is_withdrawn_and_comes_back(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let ulf = a.user("ulf").await;
    let uuid = a.publish(&ava, "Questionable", &[]).await;
    a.publish(&ava, "Fine", &[]).await;
    settle(&[&a, &b]).await;
    assert_eq!(names(&b, None).await, ["Fine", "Questionable"]);
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();

    let admin = a.admin_token().await;
    let (status, body) = a
        .api
        .post(&format!("/api/v1/videos/{uuid}/blacklist"), Some(&admin), json!({ "reason": "Under review" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle(&[&a, &b]).await;
    // Withdrawn from B, hidden on A but for its owner and moderators.
    assert_eq!(names(&b, None).await, ["Fine"], "B was told to delete it");
    assert_eq!(names(&a, None).await, ["Fine"]);
    assert_eq!(names(&a, Some(&ulf)).await, ["Fine"]);
    for token in [None, Some(ulf.as_str())] {
        let (status, _) = a.api.get(&format!("/api/v1/videos/{uuid}"), token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let resp = a.api.http.get(&master).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "its files are not served to others");
    let (status, mine) = a.api.get(&format!("/api/v1/videos/{uuid}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["blacklisted"], true);
    assert_eq!(mine["blacklistedReason"], "Under review");
    let (_, own) = a.api.get("/api/v1/users/me/videos", Some(&ava)).await;
    assert_eq!(own["total"], 2, "the owner still lists it");
    let told = notified(&a, &ava, 4).await;
    assert_eq!(told.len(), 1, "the owner hears of it");
    assert_eq!(told[0]["videoBlacklist"]["video"]["uuid"], uuid.as_str());
    let (status, list) = a.api.get("/api/v1/videos/blacklist", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    let row = &list["data"][0];
    assert_eq!(row["type"], 1);
    assert_eq!(row["unfederated"], true);
    assert_eq!(row["reason"], "Under review");
    assert_eq!(row["video"]["uuid"], uuid.as_str());

    // The reason changes; then the block goes: back everywhere, and the owner hears of it.
    let (status, _) =
        a.api.put(&format!("/api/v1/videos/{uuid}/blacklist"), Some(&admin), json!({ "reason": "Reviewed" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}/blacklist"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    settle(&[&a, &b]).await;
    assert_eq!(names(&a, None).await, ["Fine", "Questionable"]);
    assert_eq!(names(&b, None).await, ["Fine", "Questionable"], "sent to B again");
    assert_eq!(a.api.http.get(&master).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(notified(&a, &ava, 5).await.len(), 1);
    a.stop().await;
    b.stop().await;
}

async fn a_remote_video_is_hidden_here_only(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uuid = a.publish(&ava, "Elsewhere", &[]).await;
    settle(&[&a, &b]).await;
    let admin_b = b.admin_token().await;
    let (status, body) = b.api.post(&format!("/api/v1/videos/{uuid}/blacklist"), Some(&admin_b), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle(&[&a, &b]).await;
    assert!(names(&b, None).await.is_empty(), "hidden on B");
    assert_eq!(names(&a, None).await, ["Elsewhere"], "A keeps it");
    let (_, list) = b.api.get("/api/v1/videos/blacklist", Some(&admin_b)).await;
    assert_eq!(list["data"][0]["unfederated"], false, "a remote video is never unfederated: {list}");
    let (status, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), Some(&admin_b)).await;
    assert_eq!(status, StatusCode::OK, "moderators still see it");
    assert_eq!(v["blacklisted"], true);
    // B's edge cache does not serve it either.
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
    assert!(master.starts_with(&b.api.base), "{master}");
    assert_eq!(b.api.http.get(master).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    a.stop().await;
    b.stop().await;
}

async fn auto_block_holds_a_new_users_upload(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let admin = a.admin_token().await;
    let (status, body) = a
        .api
        .put(
            "/api/v1/config/custom",
            Some(&admin),
            json!({ "autoBlacklist": { "videos": { "ofUsers": { "enabled": true } } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["autoBlacklist"]["videos"]["ofUsers"]["enabled"], true);
    let (_, config) = a.api.get("/api/v1/config", None).await;
    assert_eq!(config["autoBlacklist"]["videos"]["ofUsers"]["enabled"], true);
    let nia = a.user("nia").await;
    let uuid = a.publish(&nia, "First upload", &[]).await;
    a.publish(&admin, "Admin's own", &[]).await;
    settle(&[&a, &b]).await;
    assert_eq!(names(&a, None).await, ["Admin's own"], "a moderator's upload is not held");
    assert_eq!(names(&b, None).await, ["Admin's own"], "the held one is not federated");
    let (status, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), Some(&nia)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["state"]["id"], 1, "published");
    assert_eq!(v["blacklisted"], true);
    let held = notified(&a, &admin, 12).await;
    assert_eq!(held.len(), 1, "the moderators hear of the held upload");
    assert_eq!(held[0]["videoBlacklist"]["video"]["uuid"], uuid.as_str());
    let (_, auto) = a.api.get("/api/v1/videos/blacklist?type=2", Some(&admin)).await;
    assert_eq!(auto["total"], 1);
    assert_eq!(auto["data"][0]["type"], 2);
    let (_, manual) = a.api.get("/api/v1/videos/blacklist?type=1", Some(&admin)).await;
    assert_eq!(manual["total"], 0);

    // A moderator lets it through: listed, and sent to B.
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}/blacklist"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    settle(&[&a, &b]).await;
    assert_eq!(names(&a, None).await, ["Admin's own", "First upload"]);
    assert_eq!(names(&b, None).await, ["Admin's own", "First upload"]);
    assert!(notified(&a, &nia, 5).await.is_empty(), "a held upload let through is no unblock news");
    a.stop().await;
    b.stop().await;
}

async fn hostile_video_blocks_change_nothing(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let admin = a.admin_token().await;
    let ava = a.user("ava").await;
    a.user("mo").await;
    let (_, users) = a.api.get("/api/v1/users?search=mo", Some(&admin)).await;
    let mo_id = users["data"].as_array().unwrap().iter().find(|u| u["username"] == "mo").unwrap()["id"].clone();
    a.api.put(&format!("/api/v1/users/{mo_id}"), Some(&admin), json!({ "role": 1 })).await;
    let mo = a.api.login("mo", "password-123").await;
    let mine = a.publish(&ava, "Ava's", &[]).await;
    let admins = a.publish(&admin, "Root's", &[]).await;
    a.run_jobs().await;

    let path = |u: &str| format!("/api/v1/videos/{u}/blacklist");
    let (status, _) = a.api.post(&path(&mine), Some(&ava), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a user blocks nothing");
    let (status, _) = a.api.get("/api/v1/videos/blacklist", Some(&ava)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.post(&path(&admins), Some(&mo), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a moderator cannot block an administrator's video");
    let (status, _) = a.api.post(&path(&mine), Some(&mo), json!({ "reason": "x".repeat(301) })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = a.api.post(&path("no-such-video"), Some(&mo), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = a.api.delete(&path(&mine), Some(&mo)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not blocked");
    let (status, _) = a.api.get("/api/v1/videos/blacklist?type=3", Some(&mo)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(names(&a, None).await, ["Ava's", "Root's"], "nothing changed");
    let (status, _) = a.api.post(&path(&mine), Some(&mo), json!({ "reason": "Spam" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = a.api.post(&path(&mine), Some(&mo), json!({ "reason": "Again" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, list) = a.api.get("/api/v1/videos/blacklist", Some(&mo)).await;
    assert_eq!(list["data"][0]["reason"], "Spam", "the second block changed nothing");
    a.stop().await;
}
