//! Playlists and the watch history through the REST API, in PeerTube's shapes: every playlist
//! operation, Watch later, privacy, positions kept contiguous under concurrent edits, refusals
//! that change nothing; history positions in video answers, pause, removal and clearing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests, png};

db_tests!(
    every_playlist_operation_in_peertube_shapes,
    watch_later_exists_for_every_user_and_stays_what_it_is,
    private_playlists_are_their_owners_only,
    concurrent_edits_keep_positions_contiguous,
    hostile_playlist_requests_change_nothing,
    history_records_positions_and_can_be_paused_and_cleared,
);

async fn me(t: &TestInstance, token: &str) -> Value {
    t.api.get("/api/v1/users/me", Some(token)).await.1
}

async fn create(t: &TestInstance, token: &str, body: Value) -> (StatusCode, Value) {
    t.api.post("/api/v1/video-playlists", Some(token), body).await
}

/// The element ids and positions of a playlist, in order.
async fn order(t: &TestInstance, token: Option<&str>, id: &str) -> Vec<(i64, i64, String)> {
    let (status, list) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos?count=100"), token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["position"].as_i64().unwrap(),
                e["video"]["name"].as_str().unwrap_or("").into(),
            )
        })
        .collect()
}

async fn add(t: &TestInstance, token: &str, playlist: &str, video: &str, extra: Value) -> i64 {
    let mut body = json!({ "videoId": video });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, added) = t.api.post(&format!("/api/v1/video-playlists/{playlist}/videos"), Some(token), body).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    added["videoPlaylistElement"]["id"].as_i64().unwrap()
}

async fn every_playlist_operation_in_peertube_shapes(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let channel = me(&t, &ava).await["videoChannels"][0]["id"].as_i64().unwrap();
    let names = ["One", "Two", "Three"];
    let mut uuids = Vec::new();
    for n in names {
        uuids.push(t.publish(&ava, n, &[]).await);
    }
    t.run_jobs().await;

    // Created by multipart with a thumbnail, as PeerTube's client does.
    let form = flotilla_testkit::reqwest::multipart::Form::new()
        .text("displayName", "Road trip")
        .text("description", "Songs for the road")
        .text("privacy", "1")
        .text("videoChannelId", channel.to_string())
        .part("thumbnailfile", flotilla_testkit::reqwest::multipart::Part::bytes(png(320, 180)).file_name("t.png"));
    let req = t.api.http.post(t.api.url("/api/v1/video-playlists")).bearer_auth(&ava).multipart(form);
    let (status, created) = t.api.send(req).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["videoPlaylist"]["id"].as_i64().unwrap().to_string();
    let short = created["videoPlaylist"]["shortUUID"].as_str().unwrap().to_string();
    let uuid = created["videoPlaylist"]["uuid"].as_str().unwrap().to_string();

    // Readable by id, UUID and short UUID, in api-playlist.json's shape.
    for key in [&id, &uuid, &short] {
        let (status, p) = t.api.get(&format!("/api/v1/video-playlists/{key}"), None).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["uuid"], uuid.as_str());
    }
    let (_, p) = t.api.get(&format!("/api/v1/video-playlists/{id}"), None).await;
    let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "createdAt",
            "description",
            "displayName",
            "embedPath",
            "id",
            "isLocal",
            "ownerAccount",
            "privacy",
            "shortUUID",
            "thumbnailPath",
            "type",
            "updatedAt",
            "url",
            "uuid",
            "videoChannel",
            "videosLength"
        ]
    );
    assert_eq!(p["displayName"], "Road trip");
    assert_eq!(p["privacy"], json!({ "id": 1, "label": "Public" }));
    assert_eq!(p["type"], json!({ "id": 1, "label": "Regular" }));
    assert_eq!(p["videoChannel"]["id"], channel);
    assert_eq!(p["ownerAccount"]["name"], "ava");
    let thumb = p["thumbnailPath"].as_str().unwrap().to_string();
    assert!(thumb.starts_with("/lazy-static/thumbnails/playlist-"), "{thumb}");
    let img = t.api.http.get(t.api.url(&thumb)).send().await.unwrap();
    assert_eq!(img.status(), StatusCode::OK);
    assert_eq!(&img.bytes().await.unwrap()[..2], &[0xFF, 0xD8], "the thumbnail is a JPEG");

    // Elements: appended in order, with start and stop.
    let e1 = add(&t, &ava, &id, &uuids[0], json!({})).await;
    let e2 = add(&t, &ava, &id, &uuids[1], json!({ "startTimestamp": 1, "stopTimestamp": 3 })).await;
    let e3 = add(&t, &ava, &short, &uuids[2], json!({})).await;
    assert_eq!(order(&t, None, &id).await, [(e1, 1, "One".into()), (e2, 2, "Two".into()), (e3, 3, "Three".into())]);
    let (_, list) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos"), None).await;
    assert_eq!(list["total"], 3);
    assert_eq!(list["data"][1]["startTimestamp"], 1);
    assert_eq!(list["data"][1]["stopTimestamp"], 3);
    assert_eq!(list["data"][1]["type"], 0);
    assert_eq!(list["data"][1]["video"]["uuid"], uuids[1].as_str());
    let (_, p) = t.api.get(&format!("/api/v1/video-playlists/{id}"), None).await;
    assert_eq!(p["videosLength"], 3);

    // Timestamps edited; the last moved to the top; the first moved after the last.
    let (status, _) = t
        .api
        .put(
            &format!("/api/v1/video-playlists/{id}/videos/{e2}"),
            Some(&ava),
            json!({ "startTimestamp": 0, "stopTimestamp": null }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos"), None).await;
    assert_eq!(list["data"][1]["startTimestamp"], 0);
    assert_eq!(list["data"][1]["stopTimestamp"], Value::Null);
    let reorder = |start: i64, after: i64| json!({ "startPosition": start, "insertAfterPosition": after });
    let (status, body) =
        t.api.post(&format!("/api/v1/video-playlists/{id}/videos/reorder"), Some(&ava), reorder(3, 0)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(order(&t, None, &id).await, [(e3, 1, "Three".into()), (e1, 2, "One".into()), (e2, 3, "Two".into())]);
    let (status, _) =
        t.api.post(&format!("/api/v1/video-playlists/{id}/videos/reorder"), Some(&ava), reorder(1, 3)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(order(&t, None, &id).await, [(e1, 1, "One".into()), (e2, 2, "Two".into()), (e3, 3, "Three".into())]);

    // Which of my playlists hold which videos (api-playlists-videos-exist.json).
    let v0 = t.api.get(&format!("/api/v1/videos/{}", uuids[0]), None).await.1["id"].as_i64().unwrap();
    let v1 = t.api.get(&format!("/api/v1/videos/{}", uuids[1]), None).await.1["id"].as_i64().unwrap();
    let (status, exist) = t
        .api
        .get(
            &format!("/api/v1/users/me/video-playlists/videos-exist?videoIds={v0}&videoIds={v1}&videoIds=999999"),
            Some(&ava),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{exist}");
    assert_eq!(exist[v0.to_string()][0]["playlistElementId"], e1);
    assert_eq!(exist[v0.to_string()][0]["playlistDisplayName"], "Road trip");
    assert_eq!(exist[v0.to_string()][0]["playlistShortUUID"], short.as_str());
    assert_eq!(exist[v1.to_string()][0]["startTimestamp"], 0);
    assert_eq!(exist["999999"], json!([]));

    // Removed from the middle: the rest close ranks.
    let (status, _) = t.api.delete(&format!("/api/v1/video-playlists/{id}/videos/{e2}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(order(&t, None, &id).await, [(e1, 1, "One".into()), (e3, 2, "Three".into())]);

    // Edited (JSON); listed by account, channel and instance.
    let (status, body) =
        t.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&ava), json!({ "displayName": "Road trip 2" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let handle = me(&t, &ava).await["videoChannels"][0]["name"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/video-playlists",
        "/api/v1/accounts/ava/video-playlists",
        &format!("/api/v1/video-channels/{handle}/video-playlists"),
    ] {
        let (status, list) = t.api.get(path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {list}");
        assert_eq!(list["total"], 1, "{path}: {list}");
        assert_eq!(list["data"][0]["displayName"], "Road trip 2");
    }
    let (_, privacies) = t.api.get("/api/v1/video-playlists/privacies", None).await;
    assert_eq!(privacies, json!({ "1": "Public", "2": "Unlisted", "3": "Private" }));

    // A deleted video leaves a "deleted" element in its place.
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{}", uuids[2]), Some(&ava)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos"), None).await;
    assert_eq!(list["data"][1]["type"], 3);
    assert_eq!(list["data"][1]["video"], Value::Null);

    // Deleted: gone, its thumbnail file too.
    let (status, _) = t.api.delete(&format!("/api/v1/video-playlists/{id}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get(&format!("/api/v1/video-playlists/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let file = thumb.rsplit('/').next().unwrap();
    assert!(!t.config.data_dir.join("thumbnails").join(file).exists(), "the thumbnail file is removed");
    t.stop().await;
}

async fn watch_later_exists_for_every_user_and_stays_what_it_is(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let video = t.publish(&ava, "Later", &[]).await;
    t.run_jobs().await;
    let (status, list) = t.api.get("/api/v1/accounts/ava/video-playlists?playlistType=2", Some(&ava)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "{list}");
    let wl = &list["data"][0];
    assert_eq!(wl["type"], json!({ "id": 2, "label": "Watch later" }));
    assert_eq!(wl["privacy"]["id"], 3);
    assert_eq!(wl["videoChannel"], Value::Null);
    let id = wl["id"].as_i64().unwrap().to_string();
    // Asked again: the same one (one per account).
    let (_, again) = t.api.get("/api/v1/accounts/ava/video-playlists?playlistType=2", Some(&ava)).await;
    assert_eq!(again["data"][0]["id"], wl["id"]);
    add(&t, &ava, &id, &video, json!({})).await;
    assert_eq!(order(&t, Some(&ava), &id).await.len(), 1);
    // It keeps its name and privacy, and is not deleted.
    let (status, body) =
        t.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&ava), json!({ "displayName": "Mine" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "watch_later_fixed");
    let (status, _) = t.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&ava), json!({ "privacy": 1 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = t.api.delete(&format!("/api/v1/video-playlists/{id}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nobody else sees it, nor is it in public lists.
    let bob = t.user("bob").await;
    let (status, _) = t.api.get(&format!("/api/v1/video-playlists/{id}"), Some(&bob)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = t.api.get("/api/v1/accounts/ava/video-playlists", Some(&bob)).await;
    assert_eq!(theirs["total"], 0);
    let (_, all) = t.api.get("/api/v1/video-playlists", None).await;
    assert_eq!(all["total"], 0);
    t.stop().await;
}

async fn private_playlists_are_their_owners_only(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    let video = t.publish(&ava, "Clip", &[]).await;
    t.run_jobs().await;
    let (status, created) = create(&t, &ava, json!({ "displayName": "Secret", "privacy": 3 })).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["videoPlaylist"]["id"].as_i64().unwrap().to_string();
    add(&t, &ava, &id, &video, json!({})).await;
    for token in [None, Some(bob.as_str())] {
        let (status, _) = t.api.get(&format!("/api/v1/video-playlists/{id}"), token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos"), token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, listed) = t.api.get("/api/v1/accounts/ava/video-playlists", Some(&bob)).await;
    assert_eq!(listed["total"], 0);
    let (_, mine) = t.api.get("/api/v1/accounts/ava/video-playlists?playlistType=1", Some(&ava)).await;
    assert_eq!(mine["total"], 1);
    // Others cannot change it, nor add to it (404: they do not know it exists).
    let (status, _) =
        t.api.post(&format!("/api/v1/video-playlists/{id}/videos"), Some(&bob), json!({ "videoId": video })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Made unlisted: readable by link, still not listed.
    let (status, _) = t.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&ava), json!({ "privacy": 2 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = t.api.get("/api/v1/video-playlists", None).await;
    assert_eq!(listed["total"], 0);
    // Bob still cannot edit it.
    let (status, _) =
        t.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&bob), json!({ "displayName": "Bob's" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A private video in it shows as private to others.
    let hidden = t.publish(&ava, "Hidden", &[("privacy", "3")]).await;
    t.run_jobs().await;
    add(&t, &ava, &id, &hidden, json!({})).await;
    let (_, list) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos"), None).await;
    assert_eq!(list["data"][1]["type"], 1);
    assert_eq!(list["data"][1]["video"], Value::Null);
    let (_, list) = t.api.get(&format!("/api/v1/video-playlists/{id}/videos"), Some(&ava)).await;
    assert_eq!(list["data"][1]["type"], 0, "its owner sees it");
    t.stop().await;
}

async fn concurrent_edits_keep_positions_contiguous(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let video = t.publish(&ava, "Clip", &[]).await;
    let (_, created) = create(&t, &ava, json!({ "displayName": "Busy", "privacy": 3 })).await;
    let id = created["videoPlaylist"]["id"].as_i64().unwrap().to_string();
    for _ in 0..12 {
        add(&t, &ava, &id, &video, json!({})).await;
    }
    let before = order(&t, Some(&ava), &id).await;
    // Reorders, removals and additions at once.
    let mut tasks = Vec::new();
    for i in 0..24i64 {
        let (api, token, id, video) = (t.api.clone(), ava.clone(), id.clone(), video.clone());
        let victim = before[(i as usize) % before.len()].0;
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => {
                    let body = json!({ "startPosition": 1 + i % 5, "insertAfterPosition": (i * 7) % 6, "reorderLength": 1 + i % 2 });
                    api.post(&format!("/api/v1/video-playlists/{id}/videos/reorder"), Some(&token), body).await.0
                }
                1 => api.delete(&format!("/api/v1/video-playlists/{id}/videos/{victim}"), Some(&token)).await.0,
                _ => api.post(&format!("/api/v1/video-playlists/{id}/videos"), Some(&token), json!({ "videoId": video })).await.0,
            }
        }));
    }
    for task in tasks {
        let status = task.await.unwrap();
        assert!(
            [StatusCode::OK, StatusCode::NO_CONTENT, StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST].contains(&status),
            "{status}"
        );
    }
    let after = order(&t, Some(&ava), &id).await;
    let positions: Vec<i64> = after.iter().map(|e| e.1).collect();
    assert_eq!(positions, (1..=after.len() as i64).collect::<Vec<_>>(), "positions 1..n without gaps or twins");
    let (_, p) = t.api.get(&format!("/api/v1/video-playlists/{id}"), Some(&ava)).await;
    assert_eq!(p["videosLength"], after.len());
    t.stop().await;
}

async fn hostile_playlist_requests_change_nothing(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    let bob_channel = me(&t, &bob).await["videoChannels"][0]["id"].as_i64().unwrap();
    let theirs = t.publish(&bob, "Bob's private", &[("privacy", "3")]).await;
    let mine = t.publish(&ava, "Mine", &[]).await;
    t.run_jobs().await;
    let refusals = [
        (json!({ "privacy": 1 }), StatusCode::BAD_REQUEST, "displayName"),
        (json!({ "displayName": "x".repeat(121), "privacy": 3 }), StatusCode::BAD_REQUEST, "displayName"),
        (json!({ "displayName": "Bad", "privacy": 9 }), StatusCode::BAD_REQUEST, "privacy"),
        (json!({ "displayName": "No channel", "privacy": 1 }), StatusCode::BAD_REQUEST, "videoChannelId"),
        (
            json!({ "displayName": "Bob's channel", "privacy": 1, "videoChannelId": bob_channel }),
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            json!({ "displayName": "Long", "privacy": 3, "description": "d".repeat(1001) }),
            StatusCode::BAD_REQUEST,
            "description",
        ),
    ];
    for (body, want, field) in refusals {
        let (status, answer) = create(&t, &ava, body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
        assert!(answer["detail"].as_str().is_some() || answer["error"].as_str().is_some(), "a JSON error: {answer}");
        if !field.is_empty() {
            assert!(answer.to_string().contains(field), "{answer}");
        }
    }
    let (_, created) = create(&t, &ava, json!({ "displayName": "Kept", "privacy": 3 })).await;
    let id = created["videoPlaylist"]["id"].as_i64().unwrap().to_string();
    let e = add(&t, &ava, &id, &mine, json!({})).await;
    let bad_adds = [
        (json!({ "videoId": theirs }), StatusCode::NOT_FOUND),
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({ "videoId": mine, "startTimestamp": 5, "stopTimestamp": 2 }), StatusCode::BAD_REQUEST),
        (json!({ "videoId": mine, "startTimestamp": -1 }), StatusCode::BAD_REQUEST),
        (json!({ "videoId": "no-such-video" }), StatusCode::NOT_FOUND),
    ];
    for (body, want) in bad_adds {
        let (status, answer) =
            t.api.post(&format!("/api/v1/video-playlists/{id}/videos"), Some(&ava), body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
    }
    for body in [
        json!({ "startPosition": 0, "insertAfterPosition": 1 }),
        json!({ "startPosition": 1, "insertAfterPosition": 5 }),
        json!({ "startPosition": 1, "insertAfterPosition": 0, "reorderLength": 4 }),
        json!({ "insertAfterPosition": 0 }),
    ] {
        let (status, answer) =
            t.api.post(&format!("/api/v1/video-playlists/{id}/videos/reorder"), Some(&ava), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    let (status, _) = t.api.delete(&format!("/api/v1/video-playlists/{id}/videos/abc"), Some(&ava)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.api.delete(&format!("/api/v1/video-playlists/{id}"), Some(&bob)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "bob does not know a private playlist exists");
    let many: String = (1..=101).map(|i| format!("videoIds={i}&")).collect();
    let (status, _) = t.api.get(&format!("/api/v1/users/me/video-playlists/videos-exist?{many}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = t.api.get("/api/v1/users/me/video-playlists/videos-exist?videoIds=1;DROP", Some(&ava)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = t.api.get("/api/v1/video-playlists?playlistType=7", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing changed.
    assert_eq!(order(&t, Some(&ava), &id).await, [(e, 1, "Mine".into())]);
    let (_, mine_list) = t.api.get("/api/v1/accounts/ava/video-playlists?playlistType=1", Some(&ava)).await;
    assert_eq!(mine_list["total"], 1);
    t.stop().await;
}

async fn history_records_positions_and_can_be_paused_and_cleared(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let uploads = [t.publish(&ava, "First", &[]).await, t.publish(&ava, "Second", &[]).await];
    // Another channel's video, so a list's page mixes two channels' accounts and channels.
    let bo = t.user("bo").await;
    t.publish(&bo, "Bo's", &[]).await;
    t.run_jobs().await;
    let view = |uuid: &str, at: f64| {
        let (api, token, uuid) = (t.api.clone(), ava.clone(), uuid.to_string());
        async move { api.post(&format!("/api/v1/videos/{uuid}/views"), Some(&token), json!({ "currentTime": at })).await.0 }
    };
    assert_eq!(view(&uploads[0], 0.4).await, StatusCode::NO_CONTENT);
    assert_eq!(view(&uploads[0], 0.9).await, StatusCode::NO_CONTENT);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{}", uploads[0]), Some(&ava)).await;
    assert_eq!(v["userHistory"], json!({ "currentTime": 0 }), "whole seconds, as PeerTube");
    // A position past the end is stored as the end.
    assert_eq!(view(&uploads[1], 1e9).await, StatusCode::NO_CONTENT);
    let (_, v) = t.api.get(&format!("/api/v1/videos/{}", uploads[1]), Some(&ava)).await;
    let duration = v["duration"].as_i64().unwrap();
    assert_eq!(v["userHistory"]["currentTime"], duration);
    let (_, anon) = t.api.get(&format!("/api/v1/videos/{}", uploads[1]), None).await;
    assert!(anon.get("userHistory").is_none(), "nobody logged in, no history");

    // Listed, most recent first, in api-history.json's shape.
    let (status, history) = t.api.get("/api/v1/users/me/history/videos", Some(&ava)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["total"], 2);
    assert_eq!(history["data"][0]["name"], "Second");
    assert_eq!(history["data"][0]["userHistory"]["currentTime"], duration);
    let (_, found) = t.api.get("/api/v1/users/me/history/videos?search=firs", Some(&ava)).await;
    assert_eq!(found["total"], 1);
    // Lists show the position, and can leave out what was watched.
    let (_, list) = t.api.get("/api/v1/videos?sort=name", Some(&ava)).await;
    let watched: Vec<bool> = list["data"].as_array().unwrap().iter().map(|v| v.get("userHistory").is_some()).collect();
    assert_eq!(watched, [false, true, true], "Bo's, First, Second: {list}");
    // Lists are written straight from their rows (convert::VideoItem), each channel's account
    // and channel once for the page, not through a `Value`: the text must be the one a `Value`
    // writes, every key in its order, userHistory included, and each video shows its own channel.
    for token in [Some(ava.as_str()), None] {
        let answer = t.api.request(reqwest::Method::GET, "/api/v1/videos?sort=name", token).send().await.unwrap();
        let raw = answer.text().await.unwrap();
        let value: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(raw, serde_json::to_string(&value).unwrap(), "a list's text is a Value's");
        let owners: Vec<(&str, &str, &str)> = value["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let (channel, account) =
                    (v["channel"]["name"].as_str().unwrap(), v["account"]["name"].as_str().unwrap());
                assert_eq!(v["channel"]["ownerAccount"]["name"], account, "{v}");
                (v["name"].as_str().unwrap(), channel, account)
            })
            .collect();
        assert_eq!(
            owners,
            [("Bo's", "bo_channel", "bo"), ("First", "ava_channel", "ava"), ("Second", "ava_channel", "ava")]
        );
    }
    let (_, unwatched) = t.api.get("/api/v1/videos?excludeAlreadyWatched=true", Some(&ava)).await;
    assert_eq!(unwatched["total"], 1, "Bo's video, not watched");

    // One removed; paused: nothing recorded; resumed; cleared.
    let id0 = t.api.get(&format!("/api/v1/videos/{}", uploads[0]), None).await.1["id"].as_i64().unwrap();
    let (status, _) = t.api.delete(&format!("/api/v1/users/me/history/videos/{id0}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, history) = t.api.get("/api/v1/users/me/history/videos", Some(&ava)).await;
    assert_eq!(history["total"], 1);
    let (status, _) = t.api.put("/api/v1/users/me", Some(&ava), json!({ "videosHistoryEnabled": false })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me(&t, &ava).await["videosHistoryEnabled"], false);
    assert_eq!(view(&uploads[0], 0.5).await, StatusCode::NO_CONTENT);
    let (_, history) = t.api.get("/api/v1/users/me/history/videos", Some(&ava)).await;
    assert_eq!(history["total"], 1, "paused: not recorded");
    let (status, _) = t.api.put("/api/v1/users/me", Some(&ava), json!({ "videosHistoryEnabled": true })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t
        .api
        .post("/api/v1/users/me/history/videos/remove", Some(&ava), json!({ "beforeDate": "2000-01-01T00:00:00.000Z" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, history) = t.api.get("/api/v1/users/me/history/videos", Some(&ava)).await;
    assert_eq!(history["total"], 1, "nothing watched before 2000");
    let (status, _) =
        t.api.post("/api/v1/users/me/history/videos/remove", Some(&ava), json!({ "beforeDate": "yesterday" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let req =
        t.api.request(flotilla_testkit::reqwest::Method::POST, "/api/v1/users/me/history/videos/remove", Some(&ava));
    let (status, _) = t.api.send(req).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, history) = t.api.get("/api/v1/users/me/history/videos", Some(&ava)).await;
    assert_eq!(history["total"], 0);
    let (status, _) = t.api.get("/api/v1/users/me/history/videos", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    t.stop().await;
}
