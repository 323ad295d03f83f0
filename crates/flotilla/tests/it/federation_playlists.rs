//! Playlists between servers: a public playlist of ours reaches another Flotilla (listed there
//! with its videos in order) and follows every change, privacy and deletion; a PeerTube-shaped
//! server's playlist is read from its origin and listed here; ours are served in PeerTube's
//! ActivityPub shapes (ap-playlist*.json, ap-sent-create-playlist.json); forged ones change
//! nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(
    a_public_playlist_reaches_another_flotilla_and_follows_its_changes,
    a_peertube_shaped_playlist_is_read_from_its_origin,
    our_playlists_speak_peertubes_activitypub,
    forged_playlists_change_nothing,
);

const AP: &str = "application/activity+json";

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn ap_get(t: &TestInstance, url: &str) -> (StatusCode, Value) {
    let resp = t.api.http.get(url).header("accept", AP).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A public playlist of `token`'s first channel with `videos`; returns its id.
async fn playlist(t: &TestInstance, token: &str, name: &str, videos: &[&str]) -> String {
    let (_, me) = t.api.get("/api/v1/users/me", Some(token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let (status, created) = t
        .api
        .post(
            "/api/v1/video-playlists",
            Some(token),
            json!({ "displayName": name, "privacy": 1, "videoChannelId": channel }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["videoPlaylist"]["id"].as_i64().unwrap().to_string();
    for v in videos {
        let (status, body) =
            t.api.post(&format!("/api/v1/video-playlists/{id}/videos"), Some(token), json!({ "videoId": v })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    id
}

/// The names of the videos of the one playlist `t` lists, in order (empty when it lists none).
async fn copy(t: &TestInstance) -> (Value, Vec<String>) {
    let (_, list) = t.api.get("/api/v1/video-playlists", None).await;
    let Some(p) = list["data"].get(0).cloned() else { return (Value::Null, Vec::new()) };
    let (_, els) = t.api.get(&format!("/api/v1/video-playlists/{}/videos", p["id"]), None).await;
    let names = els["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["video"]["name"].as_str().unwrap_or("?").to_string())
        .collect();
    (p, names)
}

async fn a_public_playlist_reaches_another_flotilla_and_follows_its_changes(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let one = a.publish(&ava, "One", &[]).await;
    let two = a.publish(&ava, "Two", &[]).await;
    settle(&[&a, &b]).await;
    let id = playlist(&a, &ava, "Mixtape", &[&one, &two]).await;
    settle(&[&a, &b]).await;
    let (p, names) = copy(&b).await;
    assert_eq!(p["displayName"], "Mixtape", "B lists A's playlist");
    assert_eq!(p["isLocal"], false);
    assert_eq!(p["videosLength"], 2);
    assert_eq!(names, ["One", "Two"]);
    let handle = format!("{}@{}", p["videoChannel"]["name"].as_str().unwrap(), a.instance.addr);
    let (_, by_channel) = b.api.get(&format!("/api/v1/video-channels/{handle}/video-playlists"), None).await;
    assert_eq!(by_channel["total"], 1, "listed under the remote channel: {by_channel}");

    // Reordered, renamed: B follows.
    let (status, _) = a
        .api
        .post(
            &format!("/api/v1/video-playlists/{id}/videos/reorder"),
            Some(&ava),
            json!({ "startPosition": 2, "insertAfterPosition": 0 }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    a.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&ava), json!({ "displayName": "Mixtape 2" })).await;
    settle(&[&a, &b]).await;
    let (p, names) = copy(&b).await;
    assert_eq!(p["displayName"], "Mixtape 2");
    assert_eq!(names, ["Two", "One"]);

    // Made private: withdrawn; public again: back; deleted: gone.
    a.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&ava), json!({ "privacy": 3 })).await;
    settle(&[&a, &b]).await;
    assert_eq!(copy(&b).await.0, Value::Null, "withdrawn when made private");
    a.api.put(&format!("/api/v1/video-playlists/{id}"), Some(&ava), json!({ "privacy": 1 })).await;
    settle(&[&a, &b]).await;
    assert_eq!(copy(&b).await.1, ["Two", "One"], "back when public again");
    let (status, _) = a.api.delete(&format!("/api/v1/video-playlists/{id}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert_eq!(copy(&b).await.0, Value::Null, "deleted");
    a.stop().await;
    b.stop().await;
}

/// PeerTube-shaped account and channel on the stand-in.
fn peertube_actors(pt: &FakeServer) -> (String, String) {
    let account = pt.actor("Person", "bob", json!({}));
    let channel = pt.actor("Group", "bob_channel", json!({ "attributedTo": [{ "type": "Person", "id": account }] }));
    (account, channel)
}

fn peertube_video(pt: &FakeServer, account: &str, channel: &str, uuid: &str, name: &str) -> String {
    let id = format!("{}/videos/watch/{uuid}", pt.base);
    pt.serve(
        &format!("/videos/watch/{uuid}"),
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams"],
            "type": "Video", "id": id, "name": name, "duration": "PT42S", "uuid": uuid,
            "attributedTo": [{ "type": "Person", "id": account }, { "type": "Group", "id": channel }],
            "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [format!("{account}/followers")],
            "url": [{ "type": "Link", "mediaType": "text/html", "href": id }],
        }),
    );
    id
}

/// A PeerTube-shaped playlist (ap-playlist.json, its page and elements) of `videos`.
fn peertube_playlist(
    pt: &FakeServer,
    channel: &str,
    account: &str,
    uuid: &str,
    videos: &[(&str, Option<i64>)],
) -> String {
    let id = format!("{}/video-playlists/{uuid}", pt.base);
    let base = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", { "pt": "https://joinpeertube.org/ns#", "Playlist": "pt:Playlist" }],
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [format!("{account}/followers")],
        "id": id, "type": "Playlist", "totalItems": videos.len(),
        "name": "Sample playlist", "content": "Two sample clips", "mediaType": "text/markdown", "uuid": uuid,
        "published": "2026-12-04T00:07:57.774Z", "updated": "2026-12-04T00:07:58.016Z",
        "attributedTo": [channel],
    });
    let mut collection = base.clone();
    collection["first"] = json!(format!("{id}?page=1"));
    pt.serve(&format!("/video-playlists/{uuid}"), collection);
    let mut items = Vec::new();
    for (i, (video, start)) in videos.iter().enumerate() {
        let eid = format!("{id}/videos/{}", i + 1);
        let mut e = json!({ "id": eid, "type": "PlaylistElement", "url": video, "position": i + 1 });
        if let Some(s) = start {
            e["startTimestamp"] = json!(s);
            e["stopTimestamp"] = json!(s + 2);
        }
        pt.serve(&format!("/video-playlists/{uuid}/videos/{}", i + 1), e);
        items.push(eid);
    }
    let mut page = base;
    page["id"] = json!(format!("{id}?page=1"));
    page["partOf"] = json!(id);
    page["orderedItems"] = json!(items);
    pt.serve(&format!("/video-playlists/{uuid}?page=1"), page);
    id
}

async fn a_peertube_shaped_playlist_is_read_from_its_origin(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let pt = FakeServer::start().await;
    let (account, channel) = peertube_actors(&pt);
    let v1 = peertube_video(&pt, &account, &channel, "2ef182b2-2281-4655-8250-87189e20604e", "Sample clip A");
    let v2 = peertube_video(&pt, &account, &channel, "57ffafae-b7f4-4db2-856f-f21d45a00804", "Sample clip B");
    let uuid = "e561b55c-4a5b-4f59-a3f5-997adc6e08e8";
    let id = peertube_playlist(&pt, &channel, &account, uuid, &[(&v1, None), (&v2, Some(1))]);
    // ap-sent-create-playlist.json: the object inline, no elements in it.
    let create = json!({
        "@context": ["https://www.w3.org/ns/activitystreams"],
        "type": "Create", "id": format!("{id}/activity"), "actor": account,
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [format!("{account}/followers")],
        "object": { "id": id, "type": "Playlist", "totalItems": 0, "name": "Sample playlist", "uuid": uuid, "attributedTo": [channel] },
    });
    let status = pt.send(&format!("{}/inbox", a.api.base), &account, &create).await;
    assert!(status.is_success(), "{status}");
    a.run_jobs().await;
    let (p, names) = copy(&a).await;
    assert_eq!(p["displayName"], "Sample playlist", "{p}");
    assert_eq!(p["description"], "Two sample clips");
    assert_eq!(p["uuid"], uuid, "its uuid is kept");
    assert_eq!(p["url"], id.as_str());
    assert_eq!(p["videoChannel"]["name"], "bob_channel");
    assert_eq!(names, ["Sample clip A", "Sample clip B"], "its videos were fetched, in order");
    let (_, els) = a.api.get(&format!("/api/v1/video-playlists/{uuid}/videos"), None).await;
    assert_eq!(els["data"][1]["startTimestamp"], 1);
    assert_eq!(els["data"][1]["stopTimestamp"], 3);

    // An Update reorders it (read again from its origin).
    peertube_playlist(&pt, &channel, &account, uuid, &[(&v2, None), (&v1, None)]);
    let mut update = create.clone();
    update["type"] = json!("Update");
    update["id"] = json!(format!("{id}/updates/1"));
    assert!(pt.send(&format!("{}/inbox", a.api.base), &account, &update).await.is_success());
    a.run_jobs().await;
    assert_eq!(copy(&a).await.1, ["Sample clip B", "Sample clip A"]);

    // Deleted by its server.
    let delete = json!({ "type": "Delete", "id": format!("{id}/delete"), "actor": account, "object": id });
    assert!(pt.send(&format!("{}/inbox", a.api.base), &account, &delete).await.is_success());
    a.run_jobs().await;
    assert_eq!(copy(&a).await.0, Value::Null);
    a.stop().await;
}

async fn our_playlists_speak_peertubes_activitypub(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let pt = FakeServer::start().await;
    let ava = a.user("ava").await;
    let (_, me) = a.api.get("/api/v1/users/me", Some(&ava)).await;
    let channel_name = me["videoChannels"][0]["name"].as_str().unwrap().to_string();
    let channel_url = format!("{}/video-channels/{channel_name}", a.api.base);
    // A PeerTube-shaped follower of the channel.
    let fan = pt.actor("Person", "fan", json!({}));
    let follow = json!({ "type": "Follow", "id": format!("{}/f/1", pt.base), "actor": fan, "object": channel_url });
    assert!(pt.send(&format!("{}/inbox", a.api.base), &fan, &follow).await.is_success());
    a.run_jobs().await;
    let one = a.publish(&ava, "One", &[]).await;
    let two = a.publish(&ava, "Two", &[]).await;
    a.run_jobs().await;
    let id = playlist(&a, &ava, "Sample playlist", &[&one, &two]).await;
    a.run_jobs().await;
    let (_, p) = a.api.get(&format!("/api/v1/video-playlists/{id}"), None).await;
    let url = p["url"].as_str().unwrap().to_string();

    // The follower got Create(Playlist) in ap-sent-create-playlist.json's shape.
    let received = pt.received.lock().unwrap().clone();
    let create = received
        .iter()
        .find(|x| x["type"] == "Create" && x["object"]["type"] == "Playlist")
        .expect("a Create(Playlist)");
    assert_eq!(create["object"]["id"], url.as_str());
    assert_eq!(create["actor"], format!("{}/accounts/ava", a.api.base));
    for k in ["to", "cc", "id", "type", "totalItems", "name", "uuid", "published", "updated", "attributedTo"] {
        assert!(create["object"].get(k).is_some(), "{k} missing: {create}");
    }
    assert_eq!(create["object"]["attributedTo"], json!([channel_url]));

    // The playlist, its page and an element (ap-playlist.json, ap-playlist-page1.json, ap-playlist-element.json).
    let (status, doc) = ap_get(&a, &url).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        keys(&doc),
        [
            "@context",
            "attributedTo",
            "cc",
            "first",
            "icon",
            "id",
            "name",
            "published",
            "to",
            "totalItems",
            "type",
            "updated",
            "uuid"
        ]
    );
    assert_eq!(doc["totalItems"], 2);
    assert_eq!(doc["@context"][3]["Playlist"], "pt:Playlist");
    let (_, page) = ap_get(&a, doc["first"].as_str().unwrap()).await;
    assert_eq!(page["partOf"], url.as_str());
    let items = page["orderedItems"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let (status, element) = ap_get(&a, items[1].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&element), ["@context", "id", "position", "type", "url"]);
    assert_eq!(element["type"], "PlaylistElement");
    assert_eq!(element["position"], 2);
    assert_eq!(element["url"], format!("{}/videos/watch/{two}", a.api.base));
    // The actor's playlists collection (ap-account-playlists.json) answers ActivityPub now.
    for actor in [format!("{}/accounts/ava", a.api.base), channel_url.clone()] {
        let (status, list) = ap_get(&a, &format!("{actor}/playlists")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["type"], "OrderedCollection");
        assert_eq!(list["totalItems"], 1);
        let (_, first) = ap_get(&a, list["first"].as_str().unwrap()).await;
        assert_eq!(first["orderedItems"], json!([url]));
    }
    // A browser gets the page; private playlists and Watch later are not served.
    let html = a.api.http.get(&url).header("accept", "text/html").send().await.unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let (_, private) =
        a.api.post("/api/v1/video-playlists", Some(&ava), json!({ "displayName": "Mine", "privacy": 3 })).await;
    let (status, _) =
        ap_get(&a, &format!("{}/video-playlists/{}", a.api.base, private["videoPlaylist"]["uuid"].as_str().unwrap()))
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    a.stop().await;
}

async fn forged_playlists_change_nothing(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let pt = FakeServer::start().await;
    let evil = FakeServer::start().await;
    let (account, channel) = peertube_actors(&pt);
    let v1 = peertube_video(&pt, &account, &channel, "2ef182b2-2281-4655-8250-87189e20604e", "Sample clip A");
    let uuid = "e561b55c-4a5b-4f59-a3f5-997adc6e08e8";
    let id = peertube_playlist(&pt, &channel, &account, uuid, &[(&v1, None)]);
    // Another server announces pt's playlist as its own: refused at the door.
    let mallory = evil.actor("Person", "mallory", json!({}));
    let create = json!({
        "type": "Create", "id": format!("{}/c/1", evil.base), "actor": mallory,
        "object": { "id": id, "type": "Playlist", "name": "Hijacked" },
    });
    let (status, body) = evil.send_full(&format!("{}/inbox", a.api.base), &mallory, &create).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Its own playlist naming a channel and elements on another server: the channel is refused.
    let (e_account, _) = (evil.actor("Person", "eve", json!({})), ());
    let forged = peertube_playlist(&evil, &channel, &e_account, "0b6e2e4c-6d3f-4f7e-8a1b-2c3d4e5f6a7b", &[(&v1, None)]);
    let create = json!({
        "type": "Create", "id": format!("{}/c/2", evil.base), "actor": e_account,
        "object": { "id": forged, "type": "Playlist" },
    });
    assert!(evil.send(&format!("{}/inbox", a.api.base), &e_account, &create).await.is_success());
    a.run_jobs().await;
    let (_, list) = a.api.get("/api/v1/video-playlists", None).await;
    assert_eq!(list["total"], 0, "nothing stored: {list}");
    // Deleting pt's playlist from elsewhere: nothing changes either (once it is stored).
    let create = json!({ "type": "Create", "id": format!("{id}/activity"), "actor": account, "object": { "id": id, "type": "Playlist" } });
    assert!(pt.send(&format!("{}/inbox", a.api.base), &account, &create).await.is_success());
    a.run_jobs().await;
    let delete = json!({ "type": "Delete", "id": format!("{}/d/1", evil.base), "actor": mallory, "object": id });
    let (status, _) = evil.send_full(&format!("{}/inbox", a.api.base), &mallory, &delete).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = a.api.get("/api/v1/video-playlists", None).await;
    assert_eq!(list["total"], 1, "still there");
    a.stop().await;
}
