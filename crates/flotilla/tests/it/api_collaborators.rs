//! Shared channels: the owner invites an editor, who accepts and then uploads to the channel,
//! edits and deletes its videos and manages its playlists, but cannot delete the channel nor
//! change its settings or editors; a removed editor loses access at once; refusals change
//! nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};

db_tests!(an_editor_works_in_a_shared_channel_until_removed, invitations_are_answered_only_by_their_invitee);

async fn me(t: &TestInstance, token: &str) -> Value {
    t.api.get("/api/v1/users/me", Some(token)).await.1
}

async fn upload(t: &TestInstance, token: &str, channel: i64, name: &str) -> (StatusCode, Value) {
    let file = clip(t.dir.path(), "c.mp4", 256, 144, 1);
    let form = flotilla_testkit::reqwest::multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", name.to_string())
        .text("privacy", "3")
        .part(
            "videofile",
            flotilla_testkit::reqwest::multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("c.mp4"),
        );
    let req = t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form);
    t.api.send(req).await
}

async fn an_editor_works_in_a_shared_channel_until_removed(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    let ava_me = me(&t, &ava).await;
    let channel = ava_me["videoChannels"][0]["id"].as_i64().unwrap();
    let handle = ava_me["videoChannels"][0]["name"].as_str().unwrap().to_string();
    // Before: bob may not upload there.
    let (status, _) = upload(&t, &bob, channel, "Too early").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, invited) = t
        .api
        .post(
            &format!("/api/v1/video-channels/{handle}/collaborators/invite"),
            Some(&ava),
            json!({ "accountHandle": "bob" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{invited}");
    let id = invited["collaborator"]["id"].as_i64().unwrap();
    let (_, invitations) = t.api.get("/api/v1/users/me/video-channels/invitations", Some(&bob)).await;
    assert_eq!(invitations["total"], 1);
    assert_eq!(invitations["data"][0]["channel"]["name"], handle.as_str());
    // Invited is not accepted: still no upload.
    let (status, _) = upload(&t, &bob, channel, "Still early").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        t.api.post(&format!("/api/v1/video-channels/{handle}/collaborators/{id}/accept"), Some(&bob), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&format!("/api/v1/video-channels/{handle}/collaborators"), Some(&bob)).await;
    assert_eq!(list["data"][0]["state"]["id"], 2);
    assert_eq!(list["data"][0]["account"]["name"], "bob");
    let (_, mine) = t.api.get("/api/v1/users/me/video-channels/collaborations", Some(&bob)).await;
    assert_eq!(mine["data"][0]["name"], handle.as_str());

    // The editor uploads to the shared channel (a private video: the owner and editor see it).
    let (status, body) = upload(&t, &bob, channel, "Bob's cut").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    t.run_jobs().await;
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&ava)).await;
    assert_eq!(v["channel"]["id"], channel, "in ava's channel");
    assert_eq!(v["account"]["name"], "ava");
    let (status, _) =
        t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&bob), json!({ "name": "Bob's final cut" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the editor edits the channel's videos");
    let (_, own) = t.api.get("/api/v1/users/me/videos", Some(&bob)).await;
    assert_eq!(own["data"][0]["name"], "Bob's final cut", "listed among the videos the editor manages: {own}");
    // A playlist of the channel.
    let (status, created) = t
        .api
        .post(
            "/api/v1/video-playlists",
            Some(&bob),
            json!({ "displayName": "Shared picks", "privacy": 1, "videoChannelId": channel }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");

    // But not the channel itself.
    let (status, _) = t.api.delete(&format!("/api/v1/video-channels/{handle}"), Some(&bob)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        t.api.put(&format!("/api/v1/video-channels/{handle}"), Some(&bob), json!({ "displayName": "Mine now" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t
        .api
        .post(
            &format!("/api/v1/video-channels/{handle}/collaborators/invite"),
            Some(&bob),
            json!({ "accountHandle": "root" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the owner invites");

    // Removed: no access, at once.
    let (status, _) = t.api.delete(&format!("/api/v1/video-channels/{handle}/collaborators/{id}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = upload(&t, &bob, channel, "After").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&bob), json!({ "name": "Mine" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a private video of the channel is no longer theirs to see");
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&bob)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), Some(&ava)).await;
    assert_eq!(v["name"], "Bob's final cut", "nothing changed by the refused edits");
    t.stop().await;
}

async fn invitations_are_answered_only_by_their_invitee(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    let eve = t.user("eve").await;
    let handle = me(&t, &ava).await["videoChannels"][0]["name"].as_str().unwrap().to_string();
    let invite = |who: &str| json!({ "accountHandle": who });
    let path = format!("/api/v1/video-channels/{handle}/collaborators/invite");
    for (body, want) in [
        (invite("ava"), StatusCode::BAD_REQUEST),
        (invite("nobody"), StatusCode::NOT_FOUND),
        (invite("bob@elsewhere.example"), StatusCode::BAD_REQUEST),
        (json!({}), StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = t.api.post(&path, Some(&ava), body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
    }
    let (_, invited) = t.api.post(&path, Some(&ava), invite("bob")).await;
    let id = invited["collaborator"]["id"].as_i64().unwrap();
    let (status, _) = t.api.post(&path, Some(&ava), invite("bob")).await;
    assert_eq!(status, StatusCode::CONFLICT, "invited once");
    // Eve can neither answer bob's invitation, nor list the editors, nor remove him.
    for action in ["accept", "reject"] {
        let (status, _) = t
            .api
            .post(&format!("/api/v1/video-channels/{handle}/collaborators/{id}/{action}"), Some(&eve), json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = t.api.get(&format!("/api/v1/video-channels/{handle}/collaborators"), Some(&eve)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.api.delete(&format!("/api/v1/video-channels/{handle}/collaborators/{id}"), Some(&eve)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Bob declines: gone; answering again is refused.
    let (status, _) =
        t.api.post(&format!("/api/v1/video-channels/{handle}/collaborators/{id}/reject"), Some(&bob), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&format!("/api/v1/video-channels/{handle}/collaborators"), Some(&ava)).await;
    assert_eq!(list["total"], 0);
    let (status, _) =
        t.api.post(&format!("/api/v1/video-channels/{handle}/collaborators/{id}/accept"), Some(&bob), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.stop().await;
}
