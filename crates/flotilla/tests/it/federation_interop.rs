//! Talking with servers that are not Flotilla: a stand-in server speaks in Mastodon's and
//! PeerTube's shapes (fixtures written by us), and in the shapes of the attacks of
//! shared/reference/security-cases.md, which must change nothing.

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, clip, db_tests};

db_tests!(
    a_mastodon_follow_of_a_channel_is_accepted_and_gets_new_videos,
    peertube_shaped_videos_are_stored_with_or_without_optional_fields,
    hostile_peers_change_nothing,
    a_rotated_key_is_fetched_again_and_the_old_one_refused,
    urls_of_a_remote_video_off_its_origin_or_in_other_schemes_are_dropped,
    a_third_server_can_neither_delete_nor_rewrite_another_servers_video,
    a_create_reusing_the_uuid_of_one_of_our_videos_is_refused,
    an_actor_update_naming_one_of_our_actors_is_refused,
    json_ld_keywords_at_the_top_of_an_activity_change_nothing,
    quotes_and_sql_in_actor_fields_are_kept_verbatim_and_deliveries_go_to_that_inbox,
    activities_and_actor_documents_that_are_not_utf8_are_refused_and_store_nothing,
    federated_fields_over_their_limits_are_refused_and_store_nothing,
    thumbnail_and_avatar_copies_at_refused_addresses_fail_without_connecting,
    script_in_a_federated_description_is_stored_but_never_reaches_description_html,
    svg_and_html_posing_as_thumbnails_or_avatars_store_no_file_and_keep_the_video_and_actor,
    likes_and_dislikes_from_other_servers_count_once_per_actor_and_only_their_giver_undoes_them,
    an_update_older_than_the_copy_changes_nothing,
);

/// Two `Update`s of one video can arrive in either order (a server delivers side by side): the
/// older one, arriving last, must not undo the newer.
async fn an_update_older_than_the_copy_changes_nothing(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let pt = FakeServer::start().await;
    let (account, channel) = peertube_actors(&pt);
    let uuid = "2d8a4a6e-8f5b-4b9a-8c3d-4e5f6a7b8c9d";
    let send = |name: &str, updated: &str, n: u32| {
        let mut video = peertube_video(&pt, &account, &channel, uuid, true);
        video["name"] = json!(name);
        video["updated"] = json!(updated);
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams"],
            "type": if n == 0 { "Create" } else { "Update" },
            "id": format!("{}/updates/{n}", video["id"].as_str().unwrap()),
            "actor": account, "to": video["to"], "cc": video["cc"], "object": video,
        })
    };
    let inbox = format!("{}/inbox", a.api.base);
    for (name, updated, n) in [
        ("First cut", "2026-11-25T05:53:00.000Z", 0),
        ("Final cut", "2026-11-25T07:00:00.000Z", 2),
        ("Second cut", "2026-11-25T06:00:00.000Z", 1),
    ] {
        assert_eq!(pt.send(&inbox, &account, &send(name, updated, n)).await, StatusCode::ACCEPTED, "{name}");
    }
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "Final cut", "the older Update came last and changed nothing");

    // Side by side: a newer and an older `Update` applied at the same moment. Each must see the
    // copy the other left (PostgreSQL read both before either wrote, and the older could be
    // written last), so the newer wins every round.
    for round in 0..12u32 {
        let (older, newer) = (format!("Round {round} older"), format!("Round {round} newer"));
        let at = |minute: u32| format!("2026-11-26T{:02}:{:02}:00.000Z", round / 2, (round % 2) * 30 + minute);
        let (old_activity, new_activity) = (send(&older, &at(1), 10 + 2 * round), send(&newer, &at(2), 11 + 2 * round));
        let (s1, s2) = tokio::join!(pt.send(&inbox, &account, &old_activity), pt.send(&inbox, &account, &new_activity));
        assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
        let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        assert_eq!(v["name"], newer.as_str(), "round {round}: the older of two Updates side by side won");
    }
    a.stop().await;
}

/// What must not move when another server attacks a video: its privacy, its playlist and its
/// file URLs.
fn playback(v: &Value) -> (Value, Value, Vec<Value>) {
    let files = v["streamingPlaylists"][0]["files"].as_array().cloned().unwrap_or_default();
    (
        v["privacy"]["id"].clone(),
        v["streamingPlaylists"][0]["playlistUrl"].clone(),
        files.iter().map(|f| f["fileUrl"].clone()).collect(),
    )
}

async fn publish(a: &TestInstance, token: &str, name: &str) -> String {
    let (_, me) = a.api.get("/api/v1/users/me", Some(token)).await;
    let file = clip(a.dir.path(), "f.mp4", 256, 144, 1);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", name.to_string())
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("f.mp4"));
    let (status, body) =
        a.api.send(a.api.http.post(a.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["video"]["uuid"].as_str().unwrap().to_string()
}

async fn a_mastodon_follow_of_a_channel_is_accepted_and_gets_new_videos(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = a.user("rosa").await;
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let channel = format!("{}/video-channels/rosa_channel", a.api.base);
    // Mastodon's Follow: its own id form, the object as a plain URL.
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/4f3c2a1e-8f0b-4c7e-9a55-1b2c3d4e5f60", masto.base),
        "type": "Follow",
        "actor": zoe,
        "object": channel,
    });
    assert_eq!(masto.send(&format!("{channel}/inbox"), &zoe, &follow).await, StatusCode::ACCEPTED);
    a.run_jobs().await;
    let accept = masto.received.lock().unwrap().iter().find(|v| v["type"] == "Accept").cloned().expect("an Accept");
    assert_eq!(accept["actor"], channel.as_str());
    assert_eq!(accept["object"]["id"], follow["id"]);
    assert_eq!(accept["object"]["actor"], zoe.as_str());
    let (_, c) = a.api.get("/api/v1/video-channels/rosa_channel", None).await;
    assert_eq!(c["followersCount"], 1);

    let uuid = publish(&a, &token, "For my followers").await;
    a.run_jobs().await;
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["channel"]["followersCount"], 1, "the watch page counts the channel's followers");
    let create = masto.received.lock().unwrap().iter().find(|v| v["type"] == "Create").cloned().expect("a Create");
    assert_eq!(create["object"]["type"], "Video");
    assert_eq!(create["object"]["name"], "For my followers");
    assert_eq!(create["to"][0], "https://www.w3.org/ns/activitystreams#Public");

    // A second follower on the same server, signing with its bare actor URL as keyId (another
    // form servers use); a Mastodon user elsewhere follows the account rather than the channel.
    let yan = masto.actor("Person", "yan", json!({}));
    let follow = json!({ "id": format!("{}/f/yan", masto.base), "type": "Follow", "actor": yan, "object": channel });
    let (status, body) =
        masto.send_with_key_id(&format!("{}/inbox", a.api.base), &yan, follow.to_string(), &masto.private_pem).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let elsewhere = FakeServer::start().await;
    let xia = elsewhere.actor("Person", "xia", json!({}));
    let account = format!("{}/accounts/rosa", a.api.base);
    let follow =
        json!({ "id": format!("{}/f/xia", elsewhere.base), "type": "Follow", "actor": xia, "object": account });
    assert_eq!(elsewhere.send(&format!("{account}/inbox"), &xia, &follow).await, StatusCode::ACCEPTED);
    a.run_jobs().await;
    let accept = elsewhere.received.lock().unwrap().iter().find(|v| v["type"] == "Accept").cloned().expect("an Accept");
    assert_eq!(accept["actor"], account.as_str());
    let (_, acc) = a.api.get("/api/v1/accounts/rosa", None).await;
    assert_eq!(acc["followersCount"], 1, "{acc}");
    let (_, c) = a.api.get("/api/v1/video-channels/rosa_channel", None).await;
    assert_eq!(c["followersCount"], 2);

    masto.received.lock().unwrap().clear();
    publish(&a, &token, "Second for my followers").await;
    a.run_jobs().await;
    let creates = |s: &FakeServer| {
        s.received
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["type"] == "Create" && v["object"]["name"] == "Second for my followers")
            .count()
    };
    assert_eq!(creates(&elsewhere), 1, "the account's follower gets the new video");
    assert_eq!(creates(&masto), 1, "two followers behind one shared inbox: one delivery");

    // GoToSocial signs with a key URL of its own (`…/main-key`, no fragment), which answers with
    // the actor; a `Key` document naming its owner is the other form.
    let gts = masto.actor("Person", "gts", json!({}));
    let gts_key = format!("{gts}/main-key");
    let mut stub = json!({ "id": gts, "type": "Person", "publicKey": { "id": gts_key, "owner": gts, "publicKeyPem": masto.public_pem } });
    masto.serve("/users/gts/main-key", stub.take());
    let hub = masto.actor("Person", "hub", json!({}));
    masto.serve("/keys/hub", json!({ "id": format!("{}/keys/hub", masto.base), "type": "Key", "owner": hub, "publicKeyPem": masto.public_pem }));
    for (who, key_id) in [(&gts, gts_key.clone()), (&hub, format!("{}/keys/hub", masto.base))] {
        let follow = json!({ "id": format!("{who}/f/1"), "type": "Follow", "actor": who, "object": channel });
        let (status, body) = masto
            .send_with_key_id(&format!("{}/inbox", a.api.base), &key_id, follow.to_string(), &masto.private_pem)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{key_id}: {body}");
    }
    // A key document on another server cannot speak for an actor here.
    let elsewhere_key = format!("{}/keys/xia", elsewhere.base);
    elsewhere.serve(
        "/keys/xia",
        json!({ "id": elsewhere_key, "type": "Key", "owner": hub, "publicKeyPem": masto.public_pem }),
    );
    let follow = json!({ "id": format!("{hub}/f/2"), "type": "Follow", "actor": hub, "object": channel });
    let (status, _) = elsewhere
        .send_with_key_id(&format!("{}/inbox", a.api.base), &elsewhere_key, follow.to_string(), &masto.private_pem)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, c) = a.api.get("/api/v1/video-channels/rosa_channel", None).await;
    assert_eq!(c["followersCount"], 4);
    masto.received.lock().unwrap().clear();
    // A follower closes its account (Mastodon deletes the actor): it no longer counts, nor gets videos.
    let delete = json!({ "type": "Delete", "id": format!("{hub}#delete"), "actor": hub, "object": hub, "to": ["https://www.w3.org/ns/activitystreams#Public"] });
    assert_eq!(masto.send(&format!("{}/inbox", a.api.base), &hub, &delete).await, StatusCode::ACCEPTED);
    let (_, c) = a.api.get("/api/v1/video-channels/rosa_channel", None).await;
    assert_eq!(c["followersCount"], 3);

    // A new avatar is a profile change: the channel's followers get Update(Group) with the icon.
    let form = multipart::Form::new()
        .part("avatarfile", multipart::Part::bytes(flotilla_testkit::png(300, 300)).file_name("a.png"));
    let (status, body) = a
        .api
        .send(
            a.api
                .http
                .post(a.api.url("/api/v1/video-channels/rosa_channel/avatar/pick"))
                .bearer_auth(&token)
                .multipart(form),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    a.run_jobs().await;
    let update = masto.received.lock().unwrap().iter().find(|v| v["type"] == "Update").cloned().expect("an Update");
    assert_eq!(update["object"]["type"], "Group");
    assert_eq!(update["object"]["id"], channel.as_str());
    let icon = update["object"]["icon"].to_string();
    assert!(icon.contains("/lazy-static/avatars/"), "{update}");
    a.stop().await;
}

/// A PeerTube-shaped channel and account on the stand-in server.
fn peertube_actors(pt: &FakeServer) -> (String, String) {
    let account = pt.actor("Person", "bob", json!({}));
    let channel = pt.actor(
        "Group",
        "bob_channel",
        json!({ "attributedTo": [{ "type": "Person", "id": account }], "support": null }),
    );
    (account, channel)
}

fn peertube_video(pt: &FakeServer, account: &str, channel: &str, uuid: &str, full: bool) -> Value {
    let id = format!("{}/videos/watch/{uuid}", pt.base);
    let mut v = json!({
        "type": "Video",
        "id": id,
        "name": "A PeerTube video",
        "duration": "PT42S",
        "uuid": uuid,
        "attributedTo": [{ "type": "Person", "id": account }, { "type": "Group", "id": channel }],
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [format!("{account}/followers")],
        "url": [{ "type": "Link", "mediaType": "text/html", "href": id }],
    });
    if full {
        let hls = format!("{}/static/streaming-playlists/hls/{uuid}", pt.base);
        let extra = json!({
            "category": { "identifier": "15", "name": "Science & Technology" },
            "licence": { "identifier": "1", "name": "Attribution" },
            "language": { "identifier": "fr", "name": "French" },
            "views": 12, "sensitive": false, "waitTranscoding": true, "state": 1, "commentsEnabled": true,
            "canReply": null, "commentsPolicy": 1, "downloadEnabled": true,
            "published": "2026-11-25T05:52:00.661Z", "originallyPublishedAt": null, "updated": "2026-11-25T05:53:00.000Z",
            "tag": [{ "type": "Hashtag", "name": "science" }], "mediaType": "text/markdown", "content": "All *fields*",
            "support": "Tip me", "subtitleLanguage": [],
            "icon": [{ "type": "Image", "url": format!("{}/lazy-static/thumbnails/t.jpg", pt.base), "mediaType": "image/jpeg", "width": 280, "height": 157 }],
            "aspectRatio": 1.7778,
            "url": [
                { "type": "Link", "mediaType": "text/html", "href": id },
                { "type": "Link", "mediaType": "video/mp4", "href": format!("{}/static/web-videos/x-720.mp4", pt.base), "height": 720, "width": 1280, "size": 1853871, "fps": 25 },
                { "type": "Link", "mediaType": "application/x-mpegURL", "href": format!("{hls}/m-master.m3u8"), "tag": [
                    { "type": "Infohash", "name": "dc1ea7666c254b8a2dd2f273cdac9a3027218bca" },
                    { "type": "Link", "name": "sha256", "mediaType": "application/json", "href": format!("{hls}/s-segments-sha256.json") },
                    { "type": "Link", "mediaType": "video/mp4", "href": format!("{hls}/f-720-fragmented.mp4"), "height": 720, "width": 1280, "size": 1671838, "fps": 25 }
                ]},
                { "type": "Link", "name": "tracker-websocket", "rel": ["tracker", "websocket"], "href": format!("ws://{}/tracker/socket", pt.host) }
            ],
            "likes": format!("{id}/likes"), "dislikes": format!("{id}/dislikes"), "shares": format!("{id}/announces"),
            "comments": format!("{id}/comments"), "hasParts": format!("{id}/chapters"),
            "isLiveBroadcast": false, "liveSaveReplay": null, "permanentLive": null, "latencyMode": null,
        });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
    }
    v
}

async fn peertube_shaped_videos_are_stored_with_or_without_optional_fields(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let pt = FakeServer::start().await;
    let (account, channel) = peertube_actors(&pt);
    for (uuid, full) in
        [("0b6e2e4c-6d3f-4f7e-8a1b-2c3d4e5f6a7b", true), ("1c7f3f5d-7e4a-4a8f-9b2c-3d4e5f6a7b8c", false)]
    {
        let video = peertube_video(&pt, &account, &channel, uuid, full);
        let create = json!({
            "@context": ["https://www.w3.org/ns/activitystreams"],
            "type": "Create",
            "id": format!("{}/activity", video["id"].as_str().unwrap()),
            "actor": account,
            "to": video["to"], "cc": video["cc"],
            "object": video,
        });
        assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &account, &create).await, StatusCode::ACCEPTED);
        let (status, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["isLocal"], false);
        assert_eq!(v["duration"], 42);
        assert_eq!(v["channel"]["name"], "bob_channel");
        assert_eq!(v["account"]["name"], "bob");
        if full {
            assert_eq!(v["category"]["id"], 15);
            assert_eq!(v["tags"], json!(["science"]));
            // Played from here through the edge cache, in the origin's swarm.
            assert_eq!(
                v["streamingPlaylists"][0]["originPlaylistUrl"],
                format!("{}/static/streaming-playlists/hls/{uuid}/m-master.m3u8", pt.base)
            );
            assert_eq!(
                v["streamingPlaylists"][0]["playlistUrl"],
                format!("{}/static/edge/hls/{uuid}/m-master.m3u8", a.api.base)
            );
            assert_eq!(v["streamingPlaylists"][0]["files"][0]["resolution"]["id"], 720);
        } else {
            assert_eq!(v["streamingPlaylists"], json!([]));
        }
    }
    let (_, list) = a.api.get("/api/v1/videos?isLocal=false", None).await;
    assert_eq!(list["total"], 2);

    // The channel is closed on its server (Delete of itself): its videos go here too; the
    // account's other data is its own business (still known).
    let delete = json!({ "type": "Delete", "id": format!("{channel}#delete"), "actor": channel, "object": channel });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &channel, &delete).await, StatusCode::ACCEPTED);
    let (status, _) = a.api.get("/api/v1/videos/0b6e2e4c-6d3f-4f7e-8a1b-2c3d4e5f6a7b", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the deleted channel's video is gone");
    let (status, _) = a.api.get(&format!("/api/v1/video-channels/bob_channel@{}", pt.host), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = a.api.get(&format!("/api/v1/accounts/bob@{}", pt.host), None).await;
    assert_eq!(status, StatusCode::OK, "the account is another actor");
    // A Delete of another actor by the signer changes nothing.
    let other = json!({ "type": "Delete", "id": format!("{account}#delete-other"), "actor": account, "object": format!("{}/accounts/root", a.api.base) });
    let status = pt.send(&format!("{}/inbox", a.api.base), &account, &other).await;
    assert!(status == StatusCode::ACCEPTED || status == StatusCode::FORBIDDEN, "{status}");
    let (status, _) = a.api.get("/api/v1/accounts/root", None).await;
    assert_eq!(status, StatusCode::OK);

    // An activity that could not be applied (its channel is not there yet) is looked at again
    // when the sender retries it with the same id, not dropped as a duplicate.
    let later = format!("{}/users/later_channel", pt.base);
    let video = peertube_video(&pt, &account, &later, "2d8a4a6e-8f5b-4b9a-8c3d-4e5f6a7b8c9d", false);
    let create = json!({ "type": "Create", "id": format!("{}/activity", video["id"].as_str().unwrap()),
                         "actor": account, "object": video });
    let status = pt.send(&format!("{}/inbox", a.api.base), &account, &create).await;
    assert!(!status.is_success(), "{status}");
    pt.actor("Group", "later_channel", json!({ "attributedTo": [{ "type": "Person", "id": account }] }));
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &account, &create).await, StatusCode::ACCEPTED);
    let (status, v) = a.api.get("/api/v1/videos/2d8a4a6e-8f5b-4b9a-8c3d-4e5f6a7b8c9d", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["channel"]["name"], "later_channel");
    // Applied once: the same id again changes nothing (202, still one copy).
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &account, &create).await, StatusCode::ACCEPTED);
    let (_, list) = a.api.get("/api/v1/videos?isLocal=false", None).await;
    let copies = list["data"].as_array().unwrap().iter().filter(|v| v["channel"]["name"] == "later_channel").count();
    assert_eq!(copies, 1, "{list}");

    // Delete with the object as a Tombstone (PeerTube and Mastodon both send this form).
    let id = format!("{}/videos/watch/2d8a4a6e-8f5b-4b9a-8c3d-4e5f6a7b8c9d", pt.base);
    let delete = json!({ "type": "Delete", "id": format!("{id}/delete"), "actor": account,
                         "object": { "type": "Tombstone", "id": id, "formerType": "Video" } });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &account, &delete).await, StatusCode::ACCEPTED);
    let (status, _) = a.api.get("/api/v1/videos/2d8a4a6e-8f5b-4b9a-8c3d-4e5f6a7b8c9d", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    a.stop().await;
}

async fn hostile_peers_change_nothing(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = a.user("vic").await;
    let uuid = publish(&a, &token, "Mine").await;
    a.run_jobs().await;
    let evil = FakeServer::start().await;
    let (account, channel) = peertube_actors(&evil);
    let inbox = format!("{}/inbox", a.api.base);
    let mine = format!("{}/videos/watch/{uuid}", a.api.base);

    let (_, before) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let (privacy, playlist, files) = playback(&before);
    assert_eq!(privacy, 1, "{before}");
    assert!(playlist.as_str().is_some_and(|p| p.contains(&uuid)) && !files.is_empty(), "{before}");
    // Update of A's own video by another server (PeerTube's CVE-2026-73090), with the evil
    // server's playlist and files, and no public audience (it would turn unlisted).
    let mut forged = peertube_video(&evil, &account, &channel, &uuid, true);
    forged["id"] = json!(mine);
    forged["name"] = json!("Hijacked");
    forged["to"] = json!([]);
    let update = json!({ "type": "Update", "id": format!("{}/u/1", evil.base), "actor": account, "object": forged });
    assert_eq!(evil.send(&inbox, &account, &update).await, StatusCode::FORBIDDEN);
    // Delete of A's video by another server.
    let delete = json!({ "type": "Delete", "id": format!("{}/d/1", evil.base), "actor": account, "object": mine });
    let status = evil.send(&inbox, &account, &delete).await;
    assert!(status == StatusCode::ACCEPTED || status == StatusCode::FORBIDDEN, "{status}");
    // A video of the evil server attributed to a channel of A's.
    let mut stolen = peertube_video(
        &evil,
        &account,
        &format!("{}/video-channels/vic_channel", a.api.base),
        "2d8a4a6e-8f5b-4b9a-8c3d-4e5f6a7b8c9d",
        false,
    );
    stolen["attributedTo"][0]["id"] = json!(account);
    let create = json!({ "type": "Create", "id": format!("{}/c/1", evil.base), "actor": account, "object": stolen });
    let (status, body) = evil.send_full(&inbox, &account, &create).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // An actor document that claims to live on A's host (key rebinding, GHSA-37jf-59fg-9hpr).
    evil.actor("Person", "mallory", json!({ "id": format!("{}/accounts/vic", a.api.base) }));
    let mallory = format!("{}/users/mallory", evil.base);
    let follow = json!({ "type": "Follow", "id": format!("{}/f/1", evil.base), "actor": mallory, "object": format!("{}/accounts/vic", a.api.base) });
    assert_eq!(evil.send(&inbox, &mallory, &follow).await, StatusCode::UNAUTHORIZED);
    // A profile update of another actor, and one that swaps the key.
    let other = format!("{}/users/someone-else", evil.base);
    let bad = json!({ "type": "Update", "id": format!("{}/u/2", evil.base), "actor": account,
                      "object": { "type": "Person", "id": other, "inbox": format!("{other}/inbox"),
                                  "publicKey": { "id": format!("{other}#main-key"), "owner": other, "publicKeyPem": evil.public_pem } } });
    assert_eq!(evil.send(&inbox, &account, &bad).await, StatusCode::FORBIDDEN);
    let (new_private, new_public) = flotilla_federation::keys::generate().unwrap();
    let _ = new_private;
    let swap = json!({ "type": "Update", "id": format!("{}/u/3", evil.base), "actor": account,
                       "object": { "type": "Person", "id": account, "inbox": format!("{account}/inbox"),
                                   "publicKey": { "id": format!("{account}#main-key"), "owner": account, "publicKeyPem": new_public } } });
    assert_eq!(evil.send(&inbox, &account, &swap).await, StatusCode::FORBIDDEN);
    // A key whose owner is another actor (keyId → document → publicKey.owner mismatch).
    let liar = format!("{}/users/liar", evil.base);
    evil.actor(
        "Person",
        "liar",
        json!({ "publicKey": { "id": format!("{liar}#main-key"), "owner": account, "publicKeyPem": evil.public_pem } }),
    );
    let f = json!({ "type": "Follow", "id": format!("{}/f/2", evil.base), "actor": liar, "object": format!("{}/accounts/vic", a.api.base) });
    assert_eq!(evil.send(&inbox, &liar, &f).await, StatusCode::UNAUTHORIZED);
    // Oversized fields of a federated video, and SQL in a name, which bound parameters keep inert.
    let mut long = peertube_video(&evil, &account, &channel, "3e9b5b7f-9a6c-4cab-9d4e-5f6a7b8c9d0e", false);
    long["name"] = json!(format!("'); DROP TABLE videos; -- {}", "x".repeat(200)));
    let create = json!({ "type": "Create", "id": format!("{}/c/2", evil.base), "actor": account, "object": long });
    assert_eq!(evil.send(&inbox, &account, &create).await, StatusCode::BAD_REQUEST);
    let mut quoted = peertube_video(&evil, &account, &channel, "4fac6c80-ab7d-4dbc-8e5f-6a7b8c9d0e1f", false);
    quoted["name"] = json!("Robert'); DROP TABLE videos;--");
    let create = json!({ "type": "Create", "id": format!("{}/c/3", evil.base), "actor": account, "object": quoted });
    assert_eq!(evil.send(&inbox, &account, &create).await, StatusCode::ACCEPTED);
    let (_, stored) = a.api.get("/api/v1/videos/4fac6c80-ab7d-4dbc-8e5f-6a7b8c9d0e1f", None).await;
    assert_eq!(stored["name"], "Robert'); DROP TABLE videos;--", "stored verbatim");
    // Deeply nested JSON is malformed here, refused without exhausting the stack.
    let deep = format!(
        "{{\"type\":\"Create\",\"id\":\"{}/c/4\",\"actor\":\"{account}\",\"object\":{}1{}}}",
        evil.base,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let (status, body) = evil.send_raw(&inbox, &account, deep).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // JSON-LD forms we do not expand: a Video hidden in `@graph`/`@included`, or a context that
    // renames terms, is plain JSON to us; nothing is stored.
    let hidden = peertube_video(&evil, &account, &channel, "5abd7d91-bc8e-4ecd-9f60-7b8c9d0e1f2a", false);
    for (n, object) in [
        json!({ "@graph": [hidden.clone()] }),
        json!({ "@included": [hidden.clone()], "id": hidden["id"] }),
        json!({ "@context": { "Video": "as:Note", "Hidden": "as:Video" }, "type": "Hidden", "id": hidden["id"] }),
    ]
    .into_iter()
    .enumerate()
    {
        let create =
            json!({ "type": "Create", "id": format!("{}/ld/{n}", evil.base), "actor": account, "object": object });
        let (status, body) = evil.send_full(&inbox, &account, &create).await;
        assert_eq!(status, StatusCode::ACCEPTED, "ignored, not an error: {body}");
    }
    let (status, _) = a.api.get("/api/v1/videos/5abd7d91-bc8e-4ecd-9f60-7b8c9d0e1f2a", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing stored from JSON-LD tricks");
    // An inline object of another server is not taken on the sender's word: a Create or an
    // Announce of it makes A fetch the object from its origin.
    let origin = FakeServer::start().await;
    let (o_account, o_channel) = peertube_actors(&origin);
    let real = peertube_video(&origin, &o_account, &o_channel, "7cdf9fb3-de0a-4a0f-b182-9d0e1f2a3b4c", false);
    origin.serve("/videos/watch/7cdf9fb3-de0a-4a0f-b182-9d0e1f2a3b4c", real.clone());
    let mut fake = real.clone();
    fake["name"] = json!("Words put in its mouth");
    let create = json!({ "type": "Create", "id": format!("{}/c/9", evil.base), "actor": account, "object": fake });
    assert_eq!(evil.send(&inbox, &account, &create).await, StatusCode::ACCEPTED);
    let announce = json!({ "type": "Announce", "id": format!("{}/a/9", evil.base), "actor": account, "object": fake });
    assert_eq!(evil.send(&inbox, &account, &announce).await, StatusCode::ACCEPTED);
    let (status, v) = a.api.get("/api/v1/videos/7cdf9fb3-de0a-4a0f-b182-9d0e1f2a3b4c", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "A PeerTube video", "the origin's version, not the inline one");
    assert_eq!(v["channel"]["host"], origin.host);
    // Aliased and reversed JSON-LD keywords are plain keys too.
    for (n, object) in [
        json!({ "@reverse": { "object": hidden.clone() }, "id": hidden["id"] }),
        json!({ "@context": { "g": "@graph" }, "g": [hidden.clone()] }),
    ]
    .into_iter()
    .enumerate()
    {
        let create =
            json!({ "type": "Create", "id": format!("{}/ld2/{n}", evil.base), "actor": account, "object": object });
        assert_eq!(evil.send(&inbox, &account, &create).await, StatusCode::ACCEPTED);
    }
    let (status, _) = a.api.get("/api/v1/videos/5abd7d91-bc8e-4ecd-9f60-7b8c9d0e1f2a", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing stored from aliased keywords");
    // Hostile actor fields: a NUL in the username is refused; bidi overrides are dropped from
    // display names; a 10 MB actor document is never read whole (its key cannot be had).
    let nul = evil.actor("Person", "nul", json!({ "preferredUsername": "nu\u{0}l" }));
    let f = json!({ "type": "Follow", "id": format!("{}/f/3", evil.base), "actor": nul, "object": format!("{}/accounts/vic", a.api.base) });
    assert_eq!(evil.send(&inbox, &nul, &f).await, StatusCode::UNAUTHORIZED);
    let big = evil.actor("Person", "big", json!({ "name": "x".repeat(10 << 20) }));
    let f = json!({ "type": "Follow", "id": format!("{}/f/4", evil.base), "actor": big, "object": format!("{}/accounts/vic", a.api.base) });
    assert_eq!(evil.send(&inbox, &big, &f).await, StatusCode::UNAUTHORIZED);
    let rtl = evil.actor("Person", "rtl", json!({ "name": "Ann\u{202E}gpj.exe" }));
    let stored = flotilla_app::federation::remote::actor(&a.instance.app, &rtl).await.unwrap();
    assert_eq!(stored.display_name.as_deref(), Some("Anngpj.exe"));
    // A collection far over any sensible size (20,000 hashtags, under the 1 MB limit) is refused or cut, never stored whole.
    let mut tagged = peertube_video(&evil, &account, &channel, "6bce8ea2-cd9f-4fde-a071-8c9d0e1f2a3b", false);
    tagged["tag"] =
        json!((0..20_000).map(|i| json!({ "type": "Hashtag", "name": format!("t{i}") })).collect::<Vec<_>>());
    let create = json!({ "type": "Create", "id": format!("{}/c/5", evil.base), "actor": account, "object": tagged });
    let status = evil.send(&inbox, &account, &create).await;
    assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::ACCEPTED, "{status}");
    let (status, v) = a.api.get("/api/v1/videos/6bce8ea2-cd9f-4fde-a071-8c9d0e1f2a3b", None).await;
    let tagged_kept = status == StatusCode::OK;
    if tagged_kept {
        assert!(
            v["tags"].as_array().unwrap().len() <= 5,
            "tags are capped as PeerTube's: {}",
            v["tags"].as_array().unwrap().len()
        );
    }
    // More than a megabyte.
    let huge = json!({ "type": "Note", "id": format!("{}/n/1", evil.base), "actor": account, "content": "x".repeat(1_100_000) });
    assert_eq!(evil.send(&inbox, &account, &huge).await, StatusCode::PAYLOAD_TOO_LARGE);

    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "Mine", "nothing changed");
    assert_eq!(v["isLocal"], true);
    assert_eq!(playback(&v), (privacy, playlist, files), "privacy, playlist and files unchanged");
    let (_, list) = a.api.get("/api/v1/videos?isLocal=false", None).await;
    assert_eq!(list["total"], 2 + i64::from(tagged_kept), "only the legitimate videos of the other servers");
    let (_, c) = a.api.get("/api/v1/accounts/vic", None).await;
    assert_eq!(c["followersCount"], 0);
    a.stop().await;
}

async fn a_rotated_key_is_fetched_again_and_the_old_one_refused(backend: Backend) {
    let a = TestInstance::start(backend).await;
    a.user("kai").await;
    let mut masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let target = format!("{}/accounts/kai", a.api.base);
    let inbox = format!("{}/inbox", a.api.base);
    let base = masto.base.clone();
    let follow =
        |n: u32| json!({ "type": "Follow", "id": format!("{base}/follows/{n}"), "actor": zoe, "object": target });
    assert_eq!(masto.send(&inbox, &zoe, &follow(1)).await, StatusCode::ACCEPTED);
    let (_, acc) = a.api.get("/api/v1/accounts/kai", None).await;
    assert_eq!(acc["followersCount"], 1);

    let old_key = masto.private_pem.clone();
    masto.rotate_key();
    masto.actor("Person", "zoe", json!({}));
    // Signed with the new key: A's stored key fails, A fetches the actor again, and accepts.
    let undo = json!({ "type": "Undo", "id": format!("{base}/undo/1"), "actor": zoe, "object": follow(1) });
    assert_eq!(masto.send(&inbox, &zoe, &undo).await, StatusCode::ACCEPTED);
    let (_, acc) = a.api.get("/api/v1/accounts/kai", None).await;
    assert_eq!(acc["followersCount"], 0, "the Undo applied");
    // The old key no longer speaks for the actor.
    let fetched = |m: &FakeServer| m.gets.lock().unwrap().iter().filter(|p| *p == "/users/zoe").count();
    assert_eq!(fetched(&masto), 2, "fetched when first seen and once after the rotation");
    for n in 2..5 {
        let (status, body) = masto.send_signed_with(&inbox, &zoe, &follow(n), &old_key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    assert_eq!(fetched(&masto), 2, "bad signatures do not make A fetch the actor again and again");
    let (_, acc) = a.api.get("/api/v1/accounts/kai", None).await;
    assert_eq!(acc["followersCount"], 0);
    a.stop().await;
}

/// Every URL taken from a remote video must be on its origin, over https (http here: test
/// instances have the local-testing switch on). Files, thumbnails and trackers on another server
/// or in another scheme are dropped, the rest of the video kept, and nothing is ever fetched from
/// them; a playlist or segment-hash URL that breaks the rule refuses the whole video.
async fn urls_of_a_remote_video_off_its_origin_or_in_other_schemes_are_dropped(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let admin = a.admin_token().await;
    let pt = FakeServer::start().await;
    let other = FakeServer::start().await;
    let (account, channel) = peertube_actors(&pt);
    let inbox = format!("{}/inbox", a.api.base);
    let uuid = "8d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6";
    let hls = format!("{}/static/streaming-playlists/hls/{uuid}", pt.base);
    let good_file = format!("{hls}/f-720-fragmented.mp4");
    let good_tracker = format!("ws://{}/tracker/socket", pt.host);
    let hostile = [
        format!("{}/static/streaming-playlists/hls/{uuid}/f-1080.mp4", other.base),
        "file:///etc/passwd".to_string(),
        format!("ftp://{}/static/f-480.mp4", pt.host),
        "javascript:alert(document.cookie)".to_string(),
        format!("data://{}/f-240.mp4", pt.host),
    ];
    let mp4 = |href: &str, height: i64| json!({ "type": "Link", "mediaType": "video/mp4", "href": href, "height": height, "width": height * 16 / 9, "size": 1000, "fps": 25 });
    let jpeg =
        |url: &str| json!({ "type": "Image", "url": url, "mediaType": "image/jpeg", "width": 280, "height": 157 });
    let mut video = peertube_video(&pt, &account, &channel, uuid, true);
    let mut tags: Vec<Value> = video["url"][2]["tag"].as_array().unwrap()[..2].to_vec();
    tags.push(mp4(&good_file, 720));
    tags.extend(hostile.iter().zip([1080, 480, 360, 240]).map(|(h, height)| mp4(h, height)));
    video["url"][2]["tag"] = json!(tags);
    video["icon"] = hostile.iter().map(|h| jpeg(&h.replace(".mp4", ".jpg"))).collect();
    let tracker = |href: &str| json!({ "type": "Link", "name": "tracker-websocket", "rel": ["tracker", "websocket"], "href": href });
    video["url"][3] = tracker(&format!("ws://{}/tracker/socket", other.host));
    video["url"].as_array_mut().unwrap().push(tracker("javascript://x/tracker/socket"));
    video["url"].as_array_mut().unwrap().push(tracker(&good_tracker));
    let create = json!({ "type": "Create", "id": format!("{}/activity", video["id"].as_str().unwrap()),
                         "actor": account, "object": video });
    let (status, body) = pt.send_full(&inbox, &account, &create).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the video is kept without those URLs: {body}");

    let (status, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let files = v["streamingPlaylists"][0]["files"].as_array().unwrap();
    let urls: Vec<&str> = files.iter().map(|f| f["fileUrl"].as_str().unwrap()).collect();
    assert_eq!(urls, [good_file.as_str()], "only the file at the origin: {v}");
    assert_eq!(files[0]["resolution"]["id"], 720);
    assert_eq!(v["streamingPlaylists"][0]["originPlaylistUrl"], format!("{hls}/m-master.m3u8"));
    assert_eq!(v["trackerUrls"], json!([good_tracker]));
    assert_eq!(v["thumbnailPath"], Value::Null, "no thumbnail: every icon was elsewhere");
    let text = v.to_string();
    for h in &hostile {
        assert!(!text.contains(h.as_str()), "{h} is in the answer: {v}");
    }
    assert!(!text.contains(&other.host), "{v}");
    let thumbnail_jobs = || async { a.api.get("/api/v1/jobs/all?jobType=fetch-thumbnail", Some(&admin)).await.1 };
    let jobs = thumbnail_jobs().await;
    assert_eq!(jobs["total"], 0, "no job fetches an icon that is elsewhere: {jobs}");
    a.run_jobs().await;
    assert_eq!(other.gets.lock().unwrap().len(), 0, "nothing was asked of the other server");

    // The same check lets an icon at the origin through: its copy is queued.
    let mut update = create.clone();
    update["type"] = json!("Update");
    update["id"] = json!(format!("{}/updates/1", video["id"].as_str().unwrap()));
    let origin_icon = format!("{}/lazy-static/thumbnails/t.jpg", pt.base);
    update["object"]["icon"] = json!([jpeg(&format!("{}/t.jpg", other.base)), jpeg(&origin_icon)]);
    assert_eq!(pt.send(&inbox, &account, &update).await, StatusCode::ACCEPTED);
    let jobs = thumbnail_jobs().await;
    assert_eq!(jobs["total"], 1, "{jobs}");
    assert_eq!(jobs["data"][0]["data"]["url"], origin_icon.as_str(), "{jobs}");

    // A playlist or segment-hash URL elsewhere or in another scheme: the whole video is refused.
    let refused = [
        ("a playlist elsewhere", "/url/2/href", format!("{}/static/m-master.m3u8", other.base)),
        ("a playlist over ftp", "/url/2/href", format!("ftp://{}/static/m-master.m3u8", pt.host)),
        ("segment hashes elsewhere", "/url/2/tag/1/href", format!("{}/static/s-sha256.json", other.base)),
    ];
    for (n, (why, pointer, url)) in refused.into_iter().enumerate() {
        let uuid = format!("9e1f2a3b-4c5d-4e6f-8a70-8293a4b5c6d{n}");
        let mut video = peertube_video(&pt, &account, &channel, &uuid, true);
        *video.pointer_mut(pointer).unwrap() = json!(url);
        let create = json!({ "type": "Create", "id": format!("{}/activity", video["id"].as_str().unwrap()),
                             "actor": account, "object": video });
        let (status, body) = pt.send_full(&inbox, &account, &create).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{why}: {body}");
        assert!(body.contains("playlist and segment hashes must be on its own server"), "{why}: {body}");
        let (status, _) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{why}: nothing stored");
    }
    assert_eq!(other.gets.lock().unwrap().len(), 0, "nothing was asked of the other server");
    a.stop().await;
}

/// Case 6 (a): a video stored from its origin X; a third server Y can neither delete it nor
/// change it. Y's `Update` makes us fetch the video from X, and X's version is what stays.
async fn a_third_server_can_neither_delete_nor_rewrite_another_servers_video(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let x = FakeServer::start().await;
    let y = FakeServer::start().await;
    let (x_account, x_channel) = peertube_actors(&x);
    let (y_account, y_channel) = peertube_actors(&y);
    let inbox = format!("{}/inbox", a.api.base);
    let uuid = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
    let video = peertube_video(&x, &x_account, &x_channel, uuid, true);
    let id = video["id"].as_str().unwrap().to_string();
    x.serve(&format!("/videos/watch/{uuid}"), video.clone());
    let create = json!({ "type": "Create", "id": format!("{id}/activity"), "actor": x_account, "object": video });
    assert_eq!(x.send(&inbox, &x_account, &create).await, StatusCode::ACCEPTED);
    let path = format!("/api/v1/videos/{uuid}");
    let (status, stored) = a.api.get(&path, None).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let origin = (stored["name"].clone(), stored["channel"]["host"].clone(), playback(&stored));
    assert_eq!(origin.1, x.host.as_str());
    assert!(!origin.2.2.is_empty(), "{stored}");

    // Y deletes X's video, by URL and as a Tombstone.
    for (n, object) in
        [json!(id), json!({ "type": "Tombstone", "id": id, "formerType": "Video" })].into_iter().enumerate()
    {
        let delete =
            json!({ "type": "Delete", "id": format!("{}/d/{n}", y.base), "actor": y_account, "object": object });
        let (status, body) = y.send_full(&inbox, &y_account, &delete).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = a.api.get(&path, None).await;
        assert_eq!(status, StatusCode::OK, "the video is kept");
    }
    // Y sends X's video with another name, its own playlist and files, and no public audience:
    // A asks X, and X's version is stored again.
    let mut forged = peertube_video(&y, &y_account, &y_channel, uuid, true);
    forged["id"] = json!(id);
    forged["name"] = json!("Rewritten by Y");
    forged["to"] = json!([]);
    let fetched = || x.gets.lock().unwrap().iter().filter(|p| p.ends_with(uuid)).count();
    let update = json!({ "type": "Update", "id": format!("{}/u/1", y.base), "actor": y_account, "object": forged });
    let (status, body) = y.send_full(&inbox, &y_account, &update).await;
    assert_eq!(status, StatusCode::ACCEPTED, "taken as news that the video changed: {body}");
    assert_eq!(fetched(), 1, "the origin was asked for its video");
    // The same under Y's own id (so only the UUID names X's video): refused.
    let mut squatter = peertube_video(&y, &y_account, &y_channel, uuid, true);
    squatter["name"] = json!("Rewritten by Y");
    let update = json!({ "type": "Update", "id": format!("{}/u/2", y.base), "actor": y_account, "object": squatter });
    let (status, body) = y.send_full(&inbox, &y_account, &update).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("this UUID belongs to another video"), "{body}");

    let (_, after) = a.api.get(&path, None).await;
    assert_eq!((after["name"].clone(), after["channel"]["host"].clone(), playback(&after)), origin, "{after}");
    assert!(!after.to_string().contains(&y.host), "nothing of Y's: {after}");
    let (_, list) = a.api.get("/api/v1/videos?isLocal=false", None).await;
    assert_eq!(list["total"], 1, "{list}");
    a.stop().await;
}

/// Case 6 (c): another server's video, under its own id, with the UUID of one of ours.
async fn a_create_reusing_the_uuid_of_one_of_our_videos_is_refused(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = a.user("una").await;
    let uuid = publish(&a, &token, "Ours").await;
    a.run_jobs().await;
    let path = format!("/api/v1/videos/{uuid}");
    let (_, before) = a.api.get(&path, None).await;
    assert!(!playback(&before).2.is_empty(), "{before}");
    let evil = FakeServer::start().await;
    let (account, channel) = peertube_actors(&evil);
    let inbox = format!("{}/inbox", a.api.base);
    let mut squatter = peertube_video(&evil, &account, &channel, &uuid, true);
    squatter["name"] = json!("Squatted");
    squatter["to"] = json!([]);
    for kind in ["Create", "Update"] {
        let activity =
            json!({ "type": kind, "id": format!("{}/{kind}/1", evil.base), "actor": account, "object": squatter });
        let (status, body) = evil.send_full(&inbox, &account, &activity).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind}: {body}");
        assert!(body.contains("this UUID belongs to another video"), "{kind}: {body}");
    }
    let (_, after) = a.api.get(&path, None).await;
    assert_eq!(after["name"], "Ours");
    assert_eq!(after["isLocal"], true);
    assert_eq!(after["channel"]["name"], "una_channel");
    assert_eq!(playback(&after), playback(&before), "{after}");
    let (_, list) = a.api.get("/api/v1/videos?isLocal=false", None).await;
    assert_eq!(list["total"], 0, "{list}");
    a.stop().await;
}

/// Case 7: an `Update` of an actor whose `id` is on our host — one of our accounts, our channel,
/// our instance actor — is refused, and ours stays as it is.
async fn an_actor_update_naming_one_of_our_actors_is_refused(backend: Backend) {
    let a = TestInstance::start(backend).await;
    a.user("ivy").await;
    let evil = FakeServer::start().await;
    let (account, _) = peertube_actors(&evil);
    let inbox = format!("{}/inbox", a.api.base);
    let ap_get = |url: String| {
        let api = a.api.clone();
        async move {
            let req = api.http.get(url).header("Accept", "application/activity+json");
            let (status, doc) = api.send(req).await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            // Whole documents, `published` included: the instance actor's is its creation too.
            doc
        }
    };
    let ours = [
        ("Person", format!("{}/accounts/ivy", a.api.base)),
        ("Group", format!("{}/video-channels/ivy_channel", a.api.base)),
        ("Application", format!("{}/accounts/peertube", a.api.base)),
    ];
    let (_, acc_before) = a.api.get("/api/v1/accounts/ivy", None).await;
    let (_, chan_before) = a.api.get("/api/v1/video-channels/ivy_channel", None).await;
    for (n, (kind, url)) in ours.iter().enumerate() {
        let before = ap_get(url.clone()).await;
        assert_eq!(before["id"], url.as_str(), "{before}");
        // The signer's key, so only the id is wrong with it.
        let object = json!({ "type": kind, "id": url, "preferredUsername": "ivy", "name": "Taken over",
                             "inbox": format!("{}/users/bob/inbox", evil.base),
                             "publicKey": { "id": format!("{url}#main-key"), "owner": url, "publicKeyPem": evil.public_pem } });
        let update =
            json!({ "type": "Update", "id": format!("{}/u/{n}", evil.base), "actor": account, "object": object });
        let (status, body) = evil.send_full(&inbox, &account, &update).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: {body}");
        assert_eq!(ap_get(url.clone()).await, before, "{url} unchanged");
        let row = flotilla_db::actors::get_by_url(&a.instance.app.db, url).await.unwrap();
        assert!(row.is_none(), "no remote actor stored under our URL {url}");
    }
    let (_, acc) = a.api.get("/api/v1/accounts/ivy", None).await;
    assert_eq!(acc["displayName"], acc_before["displayName"]);
    assert_eq!(acc, acc_before);
    let (_, chan) = a.api.get("/api/v1/video-channels/ivy_channel", None).await;
    assert_eq!(chan, chan_before);
    a.stop().await;
}

/// Case 10: JSON-LD keywords at the top of the activity (not only inside `object`) are plain keys
/// to us: what they hold is never applied.
async fn json_ld_keywords_at_the_top_of_an_activity_change_nothing(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let evil = FakeServer::start().await;
    let (account, channel) = peertube_actors(&evil);
    let inbox = format!("{}/inbox", a.api.base);
    let kept = peertube_video(&evil, &account, &channel, "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", false);
    let create = json!({ "type": "Create", "id": format!("{}/c/kept", evil.base), "actor": account, "object": kept });
    assert_eq!(evil.send(&inbox, &account, &create).await, StatusCode::ACCEPTED);
    let hidden = peertube_video(&evil, &account, &channel, "c3d4e5f6-a7b8-4c9d-8e1f-2a3b4c5d6e7f", false);
    let hidden_create =
        json!({ "type": "Create", "id": format!("{}/c/hidden", evil.base), "actor": account, "object": hidden });
    let mut renamed = kept.clone();
    renamed["name"] = json!("Renamed from the graph");
    let kept_id = kept["id"].as_str().unwrap();
    let update =
        json!({ "type": "Update", "id": format!("{}/u/graph", evil.base), "actor": account, "object": renamed });
    let delete =
        json!({ "type": "Delete", "id": format!("{}/d/graph", evil.base), "actor": account, "object": kept_id });
    let id = |n: usize| format!("{}/ld/{n}", evil.base);
    let activities = [
        // A document that is only a graph of activities (what an expanding processor would apply).
        json!({ "@context": "https://www.w3.org/ns/activitystreams", "@graph": [hidden_create, update, delete] }),
        json!({ "id": id(1), "actor": account, "@graph": [hidden_create, update, delete] }),
        // A Create without an object, its video in `@included` or reversed onto it.
        json!({ "type": "Create", "id": id(2), "actor": account, "@included": [hidden] }),
        json!({ "type": "Create", "id": id(3), "actor": account, "@reverse": { "object": hidden } }),
        // Keywords for type and id, and a context that aliases them.
        json!({ "@type": "Create", "@id": id(4), "actor": account, "object": hidden }),
        json!({ "@context": { "kind": "@type", "obj": "https://www.w3.org/ns/activitystreams#object" },
                "kind": "Create", "id": id(5), "actor": account, "obj": hidden }),
        // A plain Create of the kept video, carrying an Update and a Delete of it beside.
        json!({ "type": "Create", "id": id(6), "actor": account, "object": kept,
                "@included": [update, delete], "@graph": [update, delete], "@reverse": { "object": delete } }),
    ];
    for (n, activity) in activities.iter().enumerate() {
        let (status, body) = evil.send_full(&inbox, &account, activity).await;
        assert!(
            status == StatusCode::ACCEPTED || status == StatusCode::BAD_REQUEST,
            "{n}: refused or ignored, not {status}: {body}"
        );
    }
    let (status, _) = a.api.get("/api/v1/videos/c3d4e5f6-a7b8-4c9d-8e1f-2a3b4c5d6e7f", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the hidden video is not stored");
    let (status, v) = a.api.get("/api/v1/videos/b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e", None).await;
    assert_eq!(status, StatusCode::OK, "the kept video is not deleted: {v}");
    assert_eq!(v["name"], "A PeerTube video", "nor renamed");
    let (_, list) = a.api.get("/api/v1/videos?isLocal=false", None).await;
    assert_eq!(list["total"], 1, "{list}");
    a.stop().await;
}

/// Case 11: quotes and SQL in a remote actor's fields. Each is stored and read back byte for byte
/// (bound parameters), and what we deliver goes to exactly the inbox it gave.
async fn quotes_and_sql_in_actor_fields_are_kept_verbatim_and_deliveries_go_to_that_inbox(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = a.user("ada").await;
    let q = FakeServer::start().await;
    let username = "o'hara'; DROP TABLE actors; -- ' OR 1=1 --";
    let display = "Robert'); DROP TABLE accounts;-- \" ' OR '1'='1";
    // Within a URL the characters must survive parsing as they are (no spaces to escape).
    let inbox_path = "/inbox/o'hara;--'OR'1'='1;DROP/**/TABLE/**/follows;--";
    let profile = format!("{}/@o'hara;--'OR'1'='1", q.base);
    let person = q.actor(
        "Person",
        "o'hara;--",
        json!({ "preferredUsername": username, "name": display, "url": profile,
                "inbox": format!("{}{inbox_path}", q.base), "endpoints": {} }),
    );
    assert!(person.ends_with("/users/o'hara;--"), "{person}");
    // Its channel, so that it gets an account here (readable through the API).
    let group = q.actor(
        "Group",
        "o'hara_channel;--",
        json!({ "attributedTo": [{ "type": "Person", "id": person }], "endpoints": {},
                "inbox": format!("{}{inbox_path}", q.base) }),
    );
    let uuid = "d4e5f6a7-b8c9-4d0e-8f2a-3b4c5d6e7f80";
    let video = peertube_video(&q, &person, &group, uuid, false);
    let inbox = format!("{}/inbox", a.api.base);
    let create = json!({ "type": "Create", "id": format!("{}/c/1", q.base), "actor": person, "object": video });
    let (status, body) = q.send_full(&inbox, &person, &create).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let row = flotilla_db::actors::get_by_url(&a.instance.app.db, &person).await.unwrap().expect("stored");
    assert_eq!(row.name, username);
    assert_eq!(row.display_name.as_deref(), Some(display));
    assert_eq!(row.inbox, format!("{}{inbox_path}", q.base));
    let mut url = flotilla_testkit::reqwest::Url::parse(&a.api.url("/api/v1/accounts/")).unwrap();
    url.path_segments_mut().unwrap().pop_if_empty().push(&format!("{username}@{}", q.host));
    let (status, acc) = a.api.send(a.api.http.get(url)).await;
    assert_eq!(status, StatusCode::OK, "{acc}");
    assert_eq!(acc["name"], username);
    assert_eq!(acc["displayName"], display);
    assert_eq!(acc["url"], person.as_str(), "the actor's id, as it is; its profile `url` is not kept");
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["account"]["name"], username, "{v}");

    // It follows one of ours: the Accept, and then a new video, go to that inbox exactly.
    let follow = json!({ "type": "Follow", "id": format!("{}/f/1", q.base), "actor": person,
                         "object": format!("{}/accounts/ada", a.api.base) });
    assert_eq!(q.send(&inbox, &person, &follow).await, StatusCode::ACCEPTED);
    publish(&a, &token, "For o'hara").await;
    a.run_jobs().await;
    let posts = q.posts.lock().unwrap().clone();
    assert_eq!(posts, [inbox_path, inbox_path], "the Accept and the Create, there and nowhere else");
    let received = q.received.lock().unwrap().clone();
    let kinds: Vec<&str> = received.iter().filter_map(|v| v["type"].as_str()).collect();
    assert_eq!(kinds, ["Accept", "Create"], "{received:?}");
    let (_, acc) = a.api.get("/api/v1/accounts/ada", None).await;
    assert_eq!(acc["followersCount"], 1);
    a.stop().await;
}

/// Case 11: bytes that are not UTF-8 inside a string of a (validly signed) activity: 400, and
/// nothing of it is stored. In the signer's fetched actor document: 401, no actor stored.
async fn activities_and_actor_documents_that_are_not_utf8_are_refused_and_store_nothing(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let evil = FakeServer::start().await;
    let (account, channel) = peertube_actors(&evil);
    let inbox = format!("{}/inbox", a.api.base);
    let uuid = "e5f6a7b8-c9d0-4e1f-8a3b-4c5d6e7f8091";
    let mut video = peertube_video(&evil, &account, &channel, uuid, false);
    video["name"] = json!("NAME");
    let create = json!({ "type": "Create", "id": format!("{}/c/1", evil.base), "actor": account, "object": video });
    let text = create.to_string();
    for bad in [&b"\xff\xfe"[..], b"caf\xe9", b"\xed\xa0\x80", b"\xc0\xaf"] {
        let body = text.replacen("NAME", "\u{1}", 1).into_bytes();
        let at = body.iter().position(|b| *b == 1).unwrap();
        let body = [&body[..at], bad, &body[at + 1..]].concat();
        assert!(std::str::from_utf8(&body).is_err());
        let (status, answer) = evil.send_raw(&inbox, &account, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {answer}");
        assert!(answer.contains("not JSON"), "{bad:?}: {answer}");
    }
    let (status, _) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same activity in UTF-8 is applied: the refusals were about the bytes.
    let (status, body) = evil.send_raw(&inbox, &account, text.replacen("NAME", "café", 1)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "café");
    // An actor document with such bytes in its name: the signer cannot be had, nothing is stored.
    let url = evil.actor("Person", "latin1", json!({ "name": "NAME" }));
    let doc = evil.document("/users/latin1").unwrap().to_string().replacen("NAME", "caf\u{1}", 1).into_bytes();
    let at = doc.iter().position(|b| *b == 1).unwrap();
    evil.serve_bytes("/users/latin1", [&doc[..at], b"\xe9", &doc[at + 1..]].concat());
    let target = format!("{}/accounts/root", a.api.base);
    let follow = json!({ "type": "Follow", "id": format!("{}/f/latin1", evil.base), "actor": url, "object": target });
    let (status, body) = evil.send_full(&inbox, &url, &follow).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("cannot get the signer's key") && body.contains("unicode"), "{body}");
    assert!(flotilla_db::actors::get_by_url(&a.instance.app.db, &url).await.unwrap().is_none());
    assert!(evil.gets.lock().unwrap().iter().any(|p| p == "/users/latin1"), "the document was fetched");
    a.stop().await;
}

/// Case 27: federated fields get our own limits — `preferredUsername` 255 characters, actor URLs
/// 2048 bytes, a video's `content` 10,000 and `support` 1,000 characters. One past each is
/// refused and nothing is stored; at the limit it is accepted.
async fn federated_fields_over_their_limits_are_refused_and_store_nothing(backend: Backend) {
    let a = TestInstance::start(backend).await;
    a.user("lee").await;
    let evil = FakeServer::start().await;
    let inbox = format!("{}/inbox", a.api.base);
    let target = format!("{}/accounts/lee", a.api.base);
    let stored = |url: String| {
        let db = a.instance.app.db.clone();
        async move { flotilla_db::actors::get_by_url(&db, &url).await.unwrap().is_some() }
    };
    let follow = |actor: &str, n: &str| json!({ "type": "Follow", "id": format!("{}/f/{n}", evil.base), "actor": actor, "object": target });
    // preferredUsername: 255 characters pass, 256 do not (characters, not bytes: é is two bytes).
    let at_limit = evil.actor("Person", "u255", json!({ "preferredUsername": "é".repeat(255) }));
    assert_eq!(evil.send(&inbox, &at_limit, &follow(&at_limit, "u255")).await, StatusCode::ACCEPTED);
    assert!(stored(at_limit).await);
    let over = evil.actor("Person", "u256", json!({ "preferredUsername": "é".repeat(256) }));
    let (status, body) = evil.send_full(&inbox, &over, &follow(&over, "u256")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("preferredUsername is too long"), "{body}");
    assert!(!stored(over).await);
    // An inbox on the actor's own server: 2048 bytes pass, 2049 do not.
    let inbox_of = |len: usize| {
        let head = format!("{}/users/long/inbox/", evil.base);
        format!("{head}{}", "x".repeat(len - head.len()))
    };
    let at_limit = evil.actor("Person", "i2048", json!({ "inbox": inbox_of(2048) }));
    assert_eq!(evil.send(&inbox, &at_limit, &follow(&at_limit, "i2048")).await, StatusCode::ACCEPTED);
    assert!(stored(at_limit).await);
    let over = evil.actor("Person", "i2049", json!({ "inbox": inbox_of(2049), "endpoints": {} }));
    let (status, body) = evil.send_full(&inbox, &over, &follow(&over, "i2049")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("URLs are too long"), "{body}");
    assert!(!stored(over).await);
    let (_, acc) = a.api.get("/api/v1/accounts/lee", None).await;
    assert_eq!(acc["followersCount"], 2, "only the actors within the limits follow");

    // A video's description and support text.
    let (account, channel) = peertube_actors(&evil);
    let cases = [
        ("content", 10_000, StatusCode::ACCEPTED),
        ("content", 10_001, StatusCode::BAD_REQUEST),
        ("support", 1_000, StatusCode::ACCEPTED),
        ("support", 1_001, StatusCode::BAD_REQUEST),
    ];
    for (n, (field, len, expected)) in cases.into_iter().enumerate() {
        let uuid = format!("f6a7b8c9-d0e1-4f2a-8b4c-5d6e7f8091a{n}");
        let mut video = peertube_video(&evil, &account, &channel, &uuid, false);
        video[field] = json!("ü".repeat(len));
        let create =
            json!({ "type": "Create", "id": format!("{}/c/{n}", evil.base), "actor": account, "object": video });
        let (status, body) = evil.send_full(&inbox, &account, &create).await;
        assert_eq!(status, expected, "{field} of {len}: {body}");
        let (status, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        if expected.is_success() {
            assert_eq!(status, StatusCode::OK, "{v}");
            let shown = if field == "content" { &v["description"] } else { &v["support"] };
            assert_eq!(shown.as_str().map(|s| s.chars().count()), Some(len), "{field} kept whole");
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "{field} of {len}: nothing stored");
        }
    }
    let (_, list) = a.api.get("/api/v1/videos?isLocal=false", None).await;
    assert_eq!(list["total"], 2, "{list}");
    a.stop().await;
}

/// Case 13: the jobs that copy a remote thumbnail and a remote avatar or banner, given an address
/// on this machine while the local-testing switch is off (as in production), fail for good
/// ("private or reserved", not retried) and never connect: the listener there sees nothing.
async fn thumbnail_and_avatar_copies_at_refused_addresses_fail_without_connecting(backend: Backend) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let a = TestInstance::start_with(backend, |c| {
        c.federation.allow_private = false;
        c.transcoding.resolutions = vec![144];
    })
    .await;
    let admin = a.admin_token().await;
    let token = a.user("tia").await;
    let uuid = publish(&a, &token, "Its own thumbnail").await;
    a.run_jobs().await;
    let (_, before) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let actor_id = flotilla_db::accounts::local_actor_id(&a.instance.app.db, "Person", "tia").await.unwrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let server = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    let thumbnail = format!("https://127.0.0.1:{port}/lazy-static/thumbnails/t.jpg");
    let avatar = format!("https://127.0.0.1:{port}/lazy-static/avatars/a.png");
    let banner = format!("https://[::ffff:127.0.0.1]:{port}/lazy-static/banners/b.png");
    use flotilla_app::jobs::{Job, enqueue};
    let db = &a.instance.app.db;
    enqueue(db, &Job::FetchThumbnail { video_id: before["id"].as_i64().unwrap(), url: thumbnail.clone() })
        .await
        .unwrap();
    enqueue(db, &Job::FetchActorImage { actor_id, kind: "avatar".into(), url: avatar.clone() }).await.unwrap();
    enqueue(db, &Job::FetchActorImage { actor_id, kind: "banner".into(), url: banner.clone() }).await.unwrap();
    a.run_jobs().await;
    let (_, jobs) = a.api.get("/api/v1/jobs/all?count=100", Some(&admin)).await;
    for url in [&thumbnail, &avatar, &banner] {
        let job = jobs["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["data"]["url"] == url.as_str())
            .unwrap_or_else(|| panic!("a job for {url}: {jobs}"));
        assert_eq!(job["state"], "failed", "{job}");
        assert_eq!(job["attempts"], 1, "refused for good, not retried: {job}");
        assert!(job["error"].as_str().is_some_and(|e| e.contains("private or reserved address")), "{job}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");
    let (_, after) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(after["thumbnailPath"], before["thumbnailPath"]);
    let (_, acc) = a.api.get("/api/v1/accounts/tia", None).await;
    assert_eq!(acc["avatars"], json!([]), "{acc}");
    server.abort();
    a.stop().await;
}

/// Case 17: a federated video's `content` carrying a script, an image with an error handler and a
/// `javascript:` link is stored as sent (its owner's words), and the `descriptionHtml` the web
/// client inserts into the watch page holds none of them; the harmless text around them stays.
async fn script_in_a_federated_description_is_stored_but_never_reaches_description_html(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let pt = FakeServer::start().await;
    let (account, channel) = peertube_actors(&pt);
    let uuid = "8d0a0c24-ef1b-4b10-a2c3-0e1f2a3b4c5d";
    let content =
        "Before\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\nAfter";
    let mut video = peertube_video(&pt, &account, &channel, uuid, false);
    video["mediaType"] = json!("text/markdown");
    video["content"] = json!(content);
    let create = json!({ "type": "Create", "id": format!("{}/activity", video["id"].as_str().unwrap()),
                         "actor": account, "to": video["to"], "object": video });
    assert_eq!(pt.send(&format!("{}/inbox", a.api.base), &account, &create).await, StatusCode::ACCEPTED);
    let (status, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["description"], content, "stored as it was sent");
    let html = v["descriptionHtml"].as_str().unwrap_or_else(|| panic!("a descriptionHtml: {v}"));
    let lower = html.to_ascii_lowercase();
    for bad in ["<script", "onerror", "javascript:"] {
        assert!(!lower.contains(bad), "{bad} reaches descriptionHtml: {html}");
    }
    assert!(html.contains("Before") && html.contains("After"), "the rest of the text is kept: {html}");
    a.stop().await;
}

/// Case 18: images that are not what they claim — an SVG with a script (served as
/// `image/svg+xml`) and an HTML page served as `image/png` — as a remote video's thumbnail and as
/// a remote account's and channel's avatars. Each copy job fails for good (not retried), no file
/// appears under `thumbnails/` or `images/`, and the video and actors are kept. A real PNG from
/// the same server, as another video's thumbnail and another actor's avatar, is copied: the empty
/// directories are the refusal's doing, not a copy path that never runs.
async fn svg_and_html_posing_as_thumbnails_or_avatars_store_no_file_and_keep_the_video_and_actor(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let admin = a.admin_token().await;
    let pt = FakeServer::start().await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>"#;
    let html = b"<!doctype html><html><body><script>alert(1)</script></body></html>";
    pt.serve_typed("/lazy-static/thumbnails/svg.jpg", "image/svg+xml", svg.to_vec());
    pt.serve_typed("/lazy-static/thumbnails/html.jpg", "image/png", html.to_vec());
    pt.serve_typed("/lazy-static/thumbnails/real.jpg", "image/png", flotilla_testkit::png(400, 300));
    pt.serve_typed("/lazy-static/avatars/svg.png", "image/svg+xml", svg.to_vec());
    pt.serve_typed("/lazy-static/avatars/html.png", "image/png", html.to_vec());
    pt.serve_typed("/lazy-static/avatars/real.png", "image/png", flotilla_testkit::png(300, 300));
    let icon = |path: &str| json!({ "type": "Image", "url": format!("{}{path}", pt.base), "mediaType": "image/png", "width": 120, "height": 120 });
    let account = pt.actor("Person", "bob", json!({ "icon": icon("/lazy-static/avatars/svg.png") }));
    let channel = pt.actor(
        "Group",
        "bob_channel",
        json!({ "attributedTo": [{ "type": "Person", "id": account }], "icon": icon("/lazy-static/avatars/html.png") }),
    );
    let carol = pt.actor("Person", "carol", json!({ "icon": icon("/lazy-static/avatars/real.png") }));
    let carol_channel = pt.actor(
        "Group",
        "carol_channel",
        json!({ "attributedTo": [{ "type": "Person", "id": carol }], "icon": icon("/lazy-static/avatars/real.png") }),
    );

    let videos = [
        ("9e1b1d35-f02c-4c21-b3d4-1f2a3b4c5d6e", &account, &channel, "/lazy-static/thumbnails/svg.jpg"),
        ("af2c2e46-013d-4d32-84e5-2a3b4c5d6e7f", &account, &channel, "/lazy-static/thumbnails/html.jpg"),
        ("b03d3f57-124e-4e43-95f6-3b4c5d6e7f80", &carol, &carol_channel, "/lazy-static/thumbnails/real.jpg"),
    ];
    for (uuid, by, group, thumb) in videos {
        let mut video = peertube_video(&pt, by, group, uuid, false);
        video["icon"] = json!([{ "type": "Image", "url": format!("{}{thumb}", pt.base), "mediaType": "image/jpeg", "width": 280, "height": 157 }]);
        let create = json!({ "type": "Create", "id": format!("{}/activity", video["id"].as_str().unwrap()),
                             "actor": by, "to": video["to"], "object": video });
        assert_eq!(pt.send(&format!("{}/inbox", a.api.base), by, &create).await, StatusCode::ACCEPTED, "{uuid}");
    }
    a.run_jobs().await;

    let (_, jobs) = a.api.get("/api/v1/jobs/all?count=100", Some(&admin)).await;
    for path in [
        "/lazy-static/thumbnails/svg.jpg",
        "/lazy-static/thumbnails/html.jpg",
        "/lazy-static/avatars/svg.png",
        "/lazy-static/avatars/html.png",
    ] {
        let url = format!("{}{path}", pt.base);
        let job = jobs["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["data"]["url"] == url.as_str())
            .unwrap_or_else(|| panic!("a job for {url}: {jobs}"));
        assert_eq!(job["state"], "failed", "{job}");
        assert_eq!(job["attempts"], 1, "refused for good, not retried: {job}");
        assert!(
            job["error"].as_str().is_some_and(|e| e.contains("not a PNG, JPEG, GIF or WebP image")),
            "refused for what it is: {job}"
        );
        assert!(pt.gets.lock().unwrap().iter().any(|g| g == path), "{path} was fetched, then refused");
    }

    // The files on disk: the control's thumbnail and avatars, nothing else.
    let app = &a.instance.app;
    let files = |dir: std::path::PathBuf| -> Vec<String> {
        std::fs::read_dir(&dir)
            .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    let (_, control) = a.api.get("/api/v1/videos/b03d3f57-124e-4e43-95f6-3b4c5d6e7f80", None).await;
    let control_thumb = control["thumbnailPath"].as_str().unwrap_or_else(|| panic!("the PNG is copied: {control}"));
    let thumbs = files(app.data_path("thumbnails"));
    assert_eq!(thumbs.len(), 1, "only the real image's thumbnail is stored: {thumbs:?}");
    assert!(control_thumb.ends_with(&thumbs[0]), "{control_thumb} vs {thumbs:?}");
    let (_, carol_acc) = a.api.get(&format!("/api/v1/accounts/carol@{}", pt.host), None).await;
    let (_, carol_ch) = a.api.get(&format!("/api/v1/video-channels/carol_channel@{}", pt.host), None).await;
    let mut copied: Vec<String> = [&carol_acc, &carol_ch]
        .iter()
        .flat_map(|x| x["avatars"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["path"].as_str().and_then(|p| p.rsplit('/').next()).map(String::from))
        .collect();
    assert!(!copied.is_empty(), "the real avatars are copied: {carol_acc} {carol_ch}");
    let mut images = files(app.images_dir());
    copied.sort();
    images.sort();
    assert_eq!(images, copied, "images/ holds the real avatars and nothing of the SVG or HTML");

    // The video and the actors whose images were refused are kept, without images.
    for uuid in ["9e1b1d35-f02c-4c21-b3d4-1f2a3b4c5d6e", "af2c2e46-013d-4d32-84e5-2a3b4c5d6e7f"] {
        let (status, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["name"], "A PeerTube video");
        assert_eq!(v["thumbnailPath"], Value::Null, "{v}");
    }
    let (status, acc) = a.api.get(&format!("/api/v1/accounts/bob@{}", pt.host), None).await;
    assert_eq!(status, StatusCode::OK, "{acc}");
    assert_eq!(acc["avatars"], json!([]), "{acc}");
    let (status, ch) = a.api.get(&format!("/api/v1/video-channels/bob_channel@{}", pt.host), None).await;
    assert_eq!(status, StatusCode::OK, "{ch}");
    assert_eq!(ch["avatars"], json!([]), "{ch}");
    a.stop().await;
}

/// PeerTube's `Like`, `Dislike` and `Undo` (`peertube-samples/ap-like-activity.json`,
/// `ap-dislike-activity.json`, `ap-sent-undo-like.json`) received for one of our videos: counted
/// with the local ratings, one per remote actor (the latest wins), undone only by who gave it;
/// a private video cannot be rated from outside, and a like of another server's video changes
/// nothing here.
async fn likes_and_dislikes_from_other_servers_count_once_per_actor_and_only_their_giver_undoes_them(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let token = a.user("lia").await;
    let uuid = publish(&a, &token, "Rated from afar").await;
    let private = publish(&a, &token, "Private").await;
    let (status, _) = a.api.put(&format!("/api/v1/videos/{private}"), Some(&token), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    a.run_jobs().await;
    // A local like first: remote ones count with it.
    let kim = a.user("kim").await;
    let (status, _) = a.api.put(&format!("/api/v1/videos/{uuid}/rate"), Some(&kim), json!({ "rating": "like" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let pt = FakeServer::start().await;
    let (bob, _) = peertube_actors(&pt);
    let carol = pt.actor("Person", "carol", json!({}));
    let inbox = format!("{}/inbox", a.api.base);
    let video = format!("{}/videos/watch/{uuid}", a.api.base);
    let rate = |actor: &str, kind: &str, n: u32, object: &str| {
        json!({
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [format!("{actor}/followers")],
            "id": format!("{actor}/{}/{n}", if kind == "Like" { "likes" } else { "dislikes" }),
            "type": kind,
            "actor": actor,
            "object": object,
        })
    };
    let undo = |actor: &str, n: u32, rated: Value| json!({ "type": "Undo", "id": format!("{actor}/undo/{n}"), "actor": actor, "object": rated });
    let counts = || async {
        let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        (v["likes"].as_i64().unwrap(), v["dislikes"].as_i64().unwrap())
    };
    assert_eq!(counts().await, (1, 0));

    assert_eq!(pt.send(&inbox, &bob, &rate(&bob, "Like", 1, &video)).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (2, 0), "Bob's like counts with Kim's");
    // And the video's `likes` collection lists it with Kim's.
    let likes_page = format!("/videos/watch/{uuid}/likes?page=1");
    let req = a.api.http.get(a.api.url(&likes_page)).header("Accept", "application/activity+json");
    let (_, likes) = a.api.send(req).await;
    assert_eq!(likes["totalItems"], 2, "{likes}");
    let items = likes["orderedItems"].as_array().unwrap();
    assert!(items.contains(&json!(format!("{bob}/likes/1"))), "{likes}");
    assert!(items.contains(&json!(format!("{}/accounts/kim/likes/{uuid}", a.api.base))), "{likes}");
    // The same actor liking again (another activity id): still one like of his.
    assert_eq!(pt.send(&inbox, &bob, &rate(&bob, "Like", 2, &video)).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (2, 0), "one rating per actor");
    assert_eq!(pt.send(&inbox, &carol, &rate(&carol, "Dislike", 1, &video)).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (2, 1));
    // Bob changes his mind: his like becomes a dislike.
    let bobs_dislike = rate(&bob, "Dislike", 3, &video);
    assert_eq!(pt.send(&inbox, &bob, &bobs_dislike).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (1, 2));
    // Carol undoes Bob's dislike (its id, embedded as PeerTube sends it): hers to undo only.
    assert_eq!(pt.send(&inbox, &carol, &undo(&carol, 1, bobs_dislike.clone())).await, StatusCode::FORBIDDEN);
    assert_eq!(counts().await, (1, 2), "nobody undoes another's rating");
    // Bob undoes it himself.
    assert_eq!(pt.send(&inbox, &bob, &undo(&bob, 1, bobs_dislike)).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (1, 1));

    // A private video cannot be rated from outside; a like of a video that is not ours is ignored.
    let private_url = format!("{}/videos/watch/{private}", a.api.base);
    let status = pt.send(&inbox, &bob, &rate(&bob, "Like", 4, &private_url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, p) = a.api.get(&format!("/api/v1/videos/{private}"), Some(&token)).await;
    assert_eq!(p["likes"], 0, "{p}");
    let elsewhere = format!("{}/videos/watch/{uuid}", pt.base);
    assert_eq!(pt.send(&inbox, &bob, &rate(&bob, "Like", 5, &elsewhere)).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (1, 1));

    // A like that became a dislike, the Undo of the like arriving after the dislike (deliveries
    // race): the dislike stays.
    let late_like = rate(&bob, "Like", 6, &video);
    assert_eq!(pt.send(&inbox, &bob, &late_like).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (2, 1));
    assert_eq!(pt.send(&inbox, &bob, &rate(&bob, "Dislike", 7, &video)).await, StatusCode::ACCEPTED);
    assert_eq!(pt.send(&inbox, &bob, &undo(&bob, 2, late_like)).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (1, 2), "the late Undo of the like leaves the dislike");
    assert_eq!(pt.send(&inbox, &bob, &undo(&bob, 3, rate(&bob, "Dislike", 7, &video))).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (1, 1));

    // Carol's account is closed on its server (a Delete of herself): her dislike goes with her.
    let gone = json!({ "type": "Delete", "id": format!("{carol}#delete"), "actor": carol, "object": carol });
    assert_eq!(pt.send(&inbox, &carol, &gone).await, StatusCode::ACCEPTED);
    assert_eq!(counts().await, (1, 0), "a forgotten actor's ratings are not counted");
    a.stop().await;
}
