//! Videos travel between real instances: published on A, they reach B (which follows A) with
//! their channel and account; edits follow; deletion and going private remove them; unfollowing
//! takes them away; a follower that was down gets everything when it comes back; copies older
//! than two days are refreshed from their origin when someone looks at them.

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};

db_tests!(
    videos_published_on_one_instance_reach_its_followers,
    a_follower_that_was_down_gets_everything_later,
    three_instances_follow_publish_and_subscribe,
    search_by_address_finds_remote_videos_and_channels,
    stale_copies_are_refreshed_from_their_origin_or_removed,
    remote_accounts_are_read_by_handle,
    unlisted_videos_federate_only_when_configured,
    an_instance_follows_one_channel_by_handle,
    followers_keep_a_working_playlist_as_renditions_are_added,
);

async fn settle(instances: &[&TestInstance]) {
    for _ in 0..4 {
        for i in instances {
            i.run_jobs().await;
        }
    }
}

async fn follow(b: &TestInstance, a: &TestInstance) {
    let admin = b.admin_token().await;
    let (status, body) =
        b.api.post("/api/v1/server/following", Some(&admin), json!({ "hosts": [a.instance.addr.to_string()] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle(&[a, b]).await;
}

async fn publish(a: &TestInstance, token: &str, name: &str) -> String {
    let (_, me) = a.api.get("/api/v1/users/me", Some(token)).await;
    let file = clip(a.dir.path(), "f.mp4", 256, 144, 1);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", name.to_string())
        .text("tags[]", "travel")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("f.mp4"));
    let (status, body) =
        a.api.send(a.api.http.post(a.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["video"]["uuid"].as_str().unwrap().to_string()
}

async fn remote_videos(b: &TestInstance) -> Vec<Value> {
    let (_, list) = b.api.get("/api/v1/videos?isLocal=false&sort=name", None).await;
    list["data"].as_array().unwrap().clone()
}

async fn videos_published_on_one_instance_reach_its_followers(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    follow(&b, &a).await;
    let token = a.user("mara").await;
    let uuid = publish(&a, &token, "Harbour at dawn").await;
    settle(&[&a, &b]).await;

    let got = remote_videos(&b).await;
    assert_eq!(got.len(), 1, "B received A's video");
    let v = &got[0];
    assert_eq!(v["name"], "Harbour at dawn");
    assert_eq!(v["uuid"], uuid.as_str());
    assert_eq!(v["isLocal"], false);
    assert_eq!(v["channel"]["name"], "mara_channel");
    assert_eq!(v["channel"]["host"], a.instance.addr.to_string());
    assert_eq!(v["account"]["name"], "mara");
    assert_eq!(v["url"], format!("{}/videos/watch/{uuid}", a.api.base));
    // Watch data is served here by the edge cache, from the origin's files; the thumbnail is copied.
    let (_, details) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let origin = details["streamingPlaylists"][0]["originPlaylistUrl"].as_str().unwrap();
    assert!(origin.starts_with(&a.api.base), "{origin}");
    let playlist = details["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap();
    assert!(playlist.starts_with(&b.api.base), "{playlist}");
    assert_eq!(playlist.rsplit('/').next(), origin.rsplit('/').next());
    assert_eq!(b.api.http.get(playlist).send().await.unwrap().status(), StatusCode::OK);
    let thumb = details["thumbnailPath"].as_str().expect("thumbnail fetched");
    let resp = b.api.http.get(b.api.url(thumb)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(details["tags"], json!(["travel"]));
    // B's local lists and search see it too.
    let (_, found) = b.api.get("/api/v1/search/videos?search=harbour", None).await;
    assert_eq!(found["total"], 1);
    let (_, local) = b.api.get("/api/v1/videos?isLocal=true", None).await;
    assert_eq!(local["total"], 0);

    // An edit on A reaches B.
    let (status, _) =
        a.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "name": "Harbour at dusk" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert_eq!(remote_videos(&b).await[0]["name"], "Harbour at dusk");

    // Going private on A removes it from B; a deletion too.
    let (status, _) = a.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert!(remote_videos(&b).await.is_empty(), "a private video leaves its followers");
    let second = publish(&a, &token, "Second").await;
    settle(&[&a, &b]).await;
    assert_eq!(remote_videos(&b).await.len(), 1);
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{second}"), Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert!(remote_videos(&b).await.is_empty(), "the Delete reached B");
    // Its URL now answers 410 with a Tombstone, for servers that missed the Delete.
    let resp = a
        .api
        .http
        .get(a.api.url(&format!("/videos/watch/{second}")))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::GONE);
    let t: Value = resp.json().await.unwrap();
    assert_eq!((&t["type"], &t["formerType"]), (&json!("Tombstone"), &json!("Video")), "{t}");
    assert_eq!(t["id"], format!("{}/videos/watch/{second}", a.api.base));

    // Deleting a user on A deletes their videos on B too.
    let leaving = a.user("leaving").await;
    publish(&a, &leaving, "Soon gone").await;
    settle(&[&a, &b]).await;
    assert_eq!(remote_videos(&b).await.len(), 1);
    let (_, gone) = a.api.get("/api/v1/users/me", Some(&leaving)).await;
    let a_admin = a.admin_token().await;
    let (status, _) = a.api.delete(&format!("/api/v1/users/{}", gone["id"]), Some(&a_admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert!(remote_videos(&b).await.is_empty(), "the user's videos left B with them");

    // Unfollowing takes A's videos away, except those of channels someone on B subscribes to.
    publish(&a, &token, "Third").await;
    let nico = a.user("nico").await;
    publish(&a, &nico, "Kept by a subscriber").await;
    settle(&[&a, &b]).await;
    assert_eq!(remote_videos(&b).await.len(), 2);
    let fan = b.user("fan").await;
    let handle = format!("nico_channel@{}", a.instance.addr);
    let (status, body) = b.api.post("/api/v1/users/me/subscriptions", Some(&fan), json!({ "uri": handle })).await;
    assert!(status.is_success(), "{status} {body}");
    settle(&[&a, &b]).await;
    let admin = b.admin_token().await;
    let (status, _) = b.api.delete(&format!("/api/v1/server/following/{}", a.instance.addr), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let left: Vec<_> = remote_videos(&b).await.iter().map(|v| v["name"].clone()).collect();
    assert_eq!(left, vec![json!("Kept by a subscriber")]);
    a.stop().await;
    b.stop().await;
}

async fn a_follower_that_was_down_gets_everything_later(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    follow(&b, &a).await;
    let token = a.user("lev").await;

    // B goes down; A publishes; the delivery fails and waits for its retry.
    let b_stopped = b.stop_keep().await;
    publish(&a, &token, "While you were away").await;
    a.run_jobs().await;
    let admin = a.admin_token().await;
    let (_, waiting) = a.api.get("/api/v1/jobs/delayed?jobType=deliver", Some(&admin)).await;
    assert_eq!(waiting["total"], 1, "the delivery waits for a retry: {waiting}");

    // A restarts too: nothing is lost. Then B is back, and the retry comes due.
    let a = a.stop_keep().await.start().await;
    let b = b_stopped.start().await;
    let db = &a.instance.app.db;
    flotilla_db::run!(db, |x| sqlx::query("UPDATE jobs SET run_at = 0 WHERE kind = 'deliver' AND state = 'queued'")
        .execute(x)
        .await
        .map(|_| ()))
    .unwrap();
    settle(&[&a, &b]).await;
    let got = remote_videos(&b).await;
    assert_eq!(got.len(), 1, "B got the video after coming back");
    assert_eq!(got[0]["name"], "While you were away");
    a.stop().await;
    b.stop().await;
}

async fn three_instances_follow_publish_and_subscribe(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let c = TestInstance::start(backend).await;
    follow(&b, &a).await;
    follow(&c, &b).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let first = publish(&a, &alice, "From A").await;
    publish(&b, &bob, "From B").await;
    settle(&[&a, &b, &c]).await;
    let names = |v: Vec<Value>| v.iter().map(|x| x["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(remote_videos(&b).await), ["From A"]);
    assert_eq!(names(remote_videos(&c).await), ["From B"], "C follows B, not A");
    // An update on A reaches B; a deletion on A removes the video from B.
    let (status, _) =
        a.api.put(&format!("/api/v1/videos/{first}"), Some(&alice), json!({ "name": "From A, edited" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b, &c]).await;
    assert_eq!(names(remote_videos(&b).await), ["From A, edited"]);
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{first}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b, &c]).await;
    assert!(remote_videos(&b).await.is_empty(), "the Delete reached B");

    // A user of C subscribes to a channel of A, and gets its new videos in the feed.
    let carol = c.user("carol").await;
    let handle = format!("alice_channel@{}", a.instance.addr);
    let (status, body) = c.api.post("/api/v1/users/me/subscriptions", Some(&carol), json!({ "uri": handle })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle(&[&a, &b, &c]).await;
    let (_, exist) = c
        .api
        .get(&format!("/api/v1/users/me/subscriptions/exist?uris={handle},nobody@{}", a.instance.addr), Some(&carol))
        .await;
    assert_eq!(exist[&handle], true);
    assert_eq!(exist[&format!("nobody@{}", a.instance.addr)], false, "{exist}");
    let (_, subs) = c.api.get("/api/v1/users/me/subscriptions", Some(&carol)).await;
    assert_eq!(subs["total"], 1);
    assert_eq!(subs["data"][0]["name"], "alice_channel");
    let (_, channel) = a.api.get("/api/v1/video-channels/alice_channel", None).await;
    assert_eq!(channel["followersCount"], 1, "A counts C's subscriber");

    // A profile change on A reaches the subscriber's server.
    let (status, _) = a
        .api
        .put("/api/v1/video-channels/alice_channel", Some(&alice), json!({ "displayName": "Alice outdoors" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b, &c]).await;
    let (_, subs) = c.api.get("/api/v1/users/me/subscriptions", Some(&carol)).await;
    assert_eq!(subs["data"][0]["displayName"], "Alice outdoors");

    publish(&a, &alice, "Second from A").await;
    settle(&[&a, &b, &c]).await;
    let (_, feed) = c.api.get("/api/v1/users/me/subscriptions/videos", Some(&carol)).await;
    assert_eq!(names(feed["data"].as_array().unwrap().clone()), ["Second from A"], "{feed}");
    // The remote channel is known here by its handle, with its videos.
    let (status, rc) = c.api.get(&format!("/api/v1/video-channels/{handle}"), None).await;
    assert_eq!(status, StatusCode::OK, "{rc}");
    assert_eq!(rc["host"], a.instance.addr.to_string());
    assert_eq!(rc["isLocal"], false);
    let (_, rv) = c.api.get(&format!("/api/v1/video-channels/{handle}/videos"), None).await;
    assert_eq!(rv["total"], 1);
    let (status, _) = c
        .api
        .put(&format!("/api/v1/video-channels/{handle}"), Some(&c.admin_token().await), json!({ "displayName": "x" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a remote channel is managed on its own instance");
    let resp = c
        .api
        .http
        .get(c.api.url(&format!("/video-channels/{handle}")))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "never served as one of our actors");
    // A local subscription works the same way, without the network.
    let (status, _) =
        c.api.post("/api/v1/users/me/subscriptions", Some(&carol), json!({ "uri": "carol_channel" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, subs) = c.api.get("/api/v1/users/me/subscriptions", Some(&carol)).await;
    assert_eq!(subs["total"], 2);

    let (status, _) = c.api.delete(&format!("/api/v1/users/me/subscriptions/{handle}"), Some(&carol)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b, &c]).await;
    let (_, channel) = a.api.get("/api/v1/video-channels/alice_channel", None).await;
    assert_eq!(channel["followersCount"], 0, "the Undo reached A");
    let (status, _) = c
        .api
        .post("/api/v1/users/me/subscriptions", Some(&carol), json!({ "uri": format!("nobody@{}", a.instance.addr) }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // B unfollows A: A's videos leave B's lists.
    assert_eq!(names(remote_videos(&b).await), ["Second from A"]);
    let admin = b.admin_token().await;
    let (status, _) = b.api.delete(&format!("/api/v1/server/following/{}", a.instance.addr), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(remote_videos(&b).await.is_empty());
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

async fn search_by_address_finds_remote_videos_and_channels(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    let ana = a.user("ana").await;
    let uuid = publish(&a, &ana, "Findable").await;
    a.run_jobs().await;
    let url = format!("{}/videos/watch/{uuid}", a.api.base);
    let query = |s: &str| format!("/api/v1/search/videos?search={}", s.replace(':', "%3A").replace('/', "%2F"));

    let (status, _) = b.api.get(&query(&url), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "visitors do not make the server fetch");
    let ben = b.user("ben").await;
    let (status, found) = b.api.get(&query(&url), Some(&ben)).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["total"], 1);
    assert_eq!(found["data"][0]["uuid"], uuid.as_str());
    assert_eq!(found["data"][0]["isLocal"], false);
    // Stored for later.
    let (status, _) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, none) = b
        .api
        .get(&query(&format!("{}/videos/watch/00000000-0000-4000-8000-000000000000", a.api.base)), Some(&ben))
        .await;
    assert_eq!(none["total"], 0);

    let handle = format!("ana_channel@{}", a.instance.addr);
    let (_, chans) = b.api.get(&format!("/api/v1/search/video-channels?search={handle}"), Some(&ben)).await;
    assert_eq!(chans["total"], 1, "{chans}");
    assert_eq!(chans["data"][0]["host"], a.instance.addr.to_string());
    let (_, local) = b.api.get("/api/v1/search/video-channels?search=ben", None).await;
    assert_eq!(local["data"][0]["name"], "ben_channel");
    // A channel by its URL, too.
    let channel_url = format!("{}/video-channels/ana_channel", a.api.base);
    let (_, chans) = b
        .api
        .get(
            &format!("/api/v1/search/video-channels?search={}", channel_url.replace(':', "%3A").replace('/', "%2F")),
            Some(&ben),
        )
        .await;
    assert_eq!(chans["total"], 1, "{chans}");
    assert_eq!(chans["data"][0]["name"], "ana_channel");

    // An instance that lets visitors search by address says so, and answers them.
    let open = TestInstance::start_with(backend, |c| c.federation.remote_search_anonymous = true).await;
    let (_, config) = open.api.get("/api/v1/config", None).await;
    assert_eq!(config["search"]["remoteUri"]["anonymous"], true);
    let (_, config) = b.api.get("/api/v1/config", None).await;
    assert_eq!(config["search"]["remoteUri"]["anonymous"], false);
    let (status, found) = open.api.get(&query(&url), None).await;
    assert_eq!((status, &found["total"]), (StatusCode::OK, &json!(1)), "{found}");
    open.stop().await;
    a.stop().await;
    b.stop().await;
}

async fn set_on(t: &TestInstance, sql: &'static str) {
    let db = &t.instance.app.db;
    flotilla_db::run!(db, |x| sqlx::query(sql).execute(x).await.map(|_| ())).unwrap();
}

async fn stale_copies_are_refreshed_from_their_origin_or_removed(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    follow(&b, &a).await;
    let token = a.user("nell").await;
    let uuid = publish(&a, &token, "As it is on A").await;
    settle(&[&a, &b]).await;
    assert_eq!(remote_videos(&b).await.len(), 1);

    // B's copy drifted and is three days old: looking at it brings A's version back.
    set_on(&b, "UPDATE videos SET name = 'Drifted', fetched_at = 0 WHERE remote_url IS NOT NULL").await;
    let (status, _) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK);
    settle(&[&b]).await;
    let (_, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "As it is on A");
    // A fresh copy is not fetched again on every look.
    set_on(&b, "UPDATE videos SET name = 'Local edit' WHERE remote_url IS NOT NULL").await;
    b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    settle(&[&b]).await;
    let (_, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["name"], "Local edit");

    // The channel's copy is stale too: a look answers at once with what B has, and the refresh
    // runs in the background.
    set_on(&b, "UPDATE actors SET fetched_at = 0 WHERE host <> ''").await;
    set_on(&b, "UPDATE channels SET display_name = 'Drifted channel'").await;
    let handle = format!("nell_channel@{}", a.instance.addr);
    let (status, c) = b.api.get(&format!("/api/v1/video-channels/{handle}"), None).await;
    assert_eq!((status, &c["displayName"]), (StatusCode::OK, &json!("Drifted channel")), "{c}");
    settle(&[&b]).await;
    let (_, c) = b.api.get(&format!("/api/v1/video-channels/{handle}"), None).await;
    assert_eq!(c["displayName"], "Main nell channel", "refreshed from A");

    // A deleted it and B never heard (its Delete is dropped here): the next stale look removes it.
    let b_stopped = b.stop_keep().await;
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    a.run_jobs().await;
    set_on(&a, "DELETE FROM jobs WHERE kind = 'deliver'").await;
    let b = b_stopped.start().await;
    assert_eq!(remote_videos(&b).await.len(), 1, "B still has its copy");
    set_on(&b, "UPDATE videos SET fetched_at = 0 WHERE remote_url IS NOT NULL").await;
    b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    settle(&[&b]).await;
    let (status, _) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(remote_videos(&b).await.is_empty());
    a.stop().await;
    b.stop().await;
}

async fn remote_accounts_are_read_by_handle(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    follow(&b, &a).await;
    let token = a.user("otto").await;
    for (path, field) in [
        ("/api/v1/users/me/avatar/pick", "avatarfile"),
        ("/api/v1/video-channels/otto_channel/banner/pick", "bannerfile"),
    ] {
        let form = multipart::Form::new()
            .part(field, multipart::Part::bytes(flotilla_testkit::png(1600, 900)).file_name("i.png"));
        let (status, body) = a.api.send(a.api.http.post(a.api.url(path)).bearer_auth(&token).multipart(form)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    publish(&a, &token, "By otto").await;
    settle(&[&a, &b]).await;
    // Their avatar and banner are copied here, served by B like its own.
    let handle = format!("otto@{}", a.instance.addr);
    let (_, acc) = b.api.get(&format!("/api/v1/accounts/{handle}"), None).await;
    let avatar = acc["avatars"][0]["path"].as_str().unwrap_or_else(|| panic!("no avatar copied: {acc}"));
    assert!(avatar.starts_with("/lazy-static/avatars/"), "{avatar}");
    assert_eq!(b.api.http.get(b.api.url(avatar)).send().await.unwrap().status(), StatusCode::OK);
    let (_, chan) = b.api.get(&format!("/api/v1/video-channels/otto_channel@{}", a.instance.addr), None).await;
    assert!(chan["banners"].as_array().is_some_and(|b| !b.is_empty()), "no banner copied: {chan}");
    let handle = format!("otto@{}", a.instance.addr);
    let (status, acc) = b.api.get(&format!("/api/v1/accounts/{handle}"), None).await;
    assert_eq!(status, StatusCode::OK, "{acc}");
    assert_eq!(acc["name"], "otto");
    assert_eq!(acc["host"], a.instance.addr.to_string());
    assert_eq!(acc["url"], format!("{}/accounts/otto", a.api.base));
    let (_, videos) = b.api.get(&format!("/api/v1/accounts/{handle}/videos"), None).await;
    assert_eq!(videos["total"], 1, "{videos}");
    assert_eq!(videos["data"][0]["name"], "By otto");
    let (_, channels) = b.api.get(&format!("/api/v1/accounts/{handle}/video-channels"), None).await;
    assert_eq!(channels["data"][0]["name"], "otto_channel");
    // Never served as one of B's actors, never editable there.
    let resp = b
        .api
        .http
        .get(b.api.url(&format!("/accounts/{handle}")))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (status, _) = b.api.get("/api/v1/accounts/nobody@elsewhere.example", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    a.stop().await;
    b.stop().await;
}

async fn unlisted_videos_federate_only_when_configured(backend: Backend) {
    let plain = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let sharing = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.federation.federate_unlisted = true;
    })
    .await;
    let b = TestInstance::start(backend).await;
    follow(&b, &plain).await;
    follow(&b, &sharing).await;
    let mut uuids = Vec::new();
    for a in [&plain, &sharing] {
        let token = a.user("ulla").await;
        let uuid = publish(a, &token, "Quiet one").await;
        settle(&[a, &b]).await;
        let (status, _) = a.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), json!({ "privacy": 2 })).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        settle(&[a, &b]).await;
        uuids.push(uuid);
    }
    // By default an unlisted video leaves followers (a Delete) and its object is not served.
    let (status, _) = b.api.get(&format!("/api/v1/videos/{}", uuids[0]), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the default instance sends no unlisted video");
    let resp = plain
        .api
        .http
        .get(plain.api.url(&format!("/videos/watch/{}", uuids[0])))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Configured, it reaches followers as unlisted: playable by its link, in no list.
    let (status, v) = b.api.get(&format!("/api/v1/videos/{}", uuids[1]), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["privacy"]["id"], 2);
    assert!(remote_videos(&b).await.is_empty(), "unlisted copies stay out of lists");
    for i in [plain, sharing, b] {
        i.stop().await;
    }
}

async fn an_instance_follows_one_channel_by_handle(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    let admin = b.admin_token().await;
    let followed = a.user("pia").await;
    let other = a.user("quin").await;
    let handle = format!("pia_channel@{}", a.instance.addr);
    // A bad handle anywhere in the list refuses the whole list.
    let (status, body) =
        b.api.post("/api/v1/server/following", Some(&admin), json!({ "handles": [handle, "no-host-here"] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, following) = b.api.get("/api/v1/server/following", None).await;
    assert_eq!(following["total"], 0);
    let (status, body) = b.api.post("/api/v1/server/following", Some(&admin), json!({ "handles": [handle] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle(&[&a, &b]).await;
    let (_, following) = b.api.get("/api/v1/server/following?state=accepted", None).await;
    assert_eq!(following["total"], 1, "{following}");
    assert_eq!(following["data"][0]["following"]["name"], "pia_channel");
    // That channel's videos come to B; the rest of A's do not.
    publish(&a, &followed, "From the followed channel").await;
    publish(&a, &other, "From another channel").await;
    settle(&[&a, &b]).await;
    let names: Vec<_> = remote_videos(&b).await.iter().map(|v| v["name"].clone()).collect();
    assert_eq!(names, vec![json!("From the followed channel")]);
    // Unfollowed by handle: A hears the Undo, B keeps what it has.
    let (status, _) = b.api.delete(&format!("/api/v1/server/following/{handle}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    let (_, c) = a.api.get("/api/v1/video-channels/pia_channel", None).await;
    assert_eq!(c["followersCount"], 0, "{c}");
    a.stop().await;
    b.stop().await;
}

async fn followers_keep_a_working_playlist_as_renditions_are_added(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144, 240]).await;
    let b = TestInstance::start(backend).await;
    follow(&b, &a).await;
    let token = a.user("lada").await;
    // The transcode stops after its first rendition (the video is published then) and goes on
    // later: B hears of the video in between.
    a.instance.app.failpoints.arm("transcode.rendition", flotilla_app::failpoints::Action::PanicOnce);
    let (_, me) = a.api.get("/api/v1/users/me", Some(&token)).await;
    let file = clip(a.dir.path(), "ladder.mp4", 426, 240, 2);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", "Ladder")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("ladder.mp4"));
    let (status, body) =
        a.api.send(a.api.http.post(a.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    settle(&[&a, &b]).await;
    // (B's edge URL, the origin's URL it stands for.)
    let playlist_on_b = || async {
        let (_, details) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
        let url = |k: &str| details["streamingPlaylists"][0][k].as_str().unwrap_or_default().to_string();
        (url("playlistUrl"), url("originPlaylistUrl"))
    };
    let (first, first_at_origin) = playlist_on_b().await;
    let renditions = |url: String| {
        let http = b.api.http.clone();
        async move {
            let resp = http.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{url}");
            resp.text().await.unwrap().matches("#EXT-X-STREAM-INF").count()
        }
    };
    assert_eq!(renditions(first.clone()).await, 1, "published at its first rendition");

    // The second rendition lands (the retry made due now): a new master playlist, and B follows.
    let db = &a.instance.app.db;
    flotilla_db::run!(db, |x| sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued' AND kind = 'transcode'")
        .execute(x)
        .await
        .map(|_| ()))
    .unwrap();
    settle(&[&a, &b]).await;
    let (latest, latest_at_origin) = playlist_on_b().await;
    assert_ne!(latest, first, "B learnt the new master playlist (an Update)");
    let (_, origin) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(origin["streamingPlaylists"][0]["playlistUrl"].as_str(), Some(latest_at_origin.as_str()));
    assert_eq!(renditions(latest).await, 2, "B plays the whole ladder");
    // The first one still answers at the origin during its grace period (players mid-video,
    // followers that have not heard of the new one yet); B's edge cache names only the latest.
    assert_eq!(renditions(first_at_origin).await, 1);
    assert_eq!(b.api.http.get(&first).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    a.stop().await;
    b.stop().await;
}
