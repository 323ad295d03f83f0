//! Channels and accounts: create, update, delete, handle uniqueness, avatars and banners.

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Api, Backend, TestInstance, db_tests, png};

db_tests!(
    channels_are_created_updated_and_deleted_with_unique_handles,
    channel_json_has_peertube_fields,
    avatars_and_banners_are_resized_and_non_images_refused,
    accounts_are_read_by_name,
    videos_show_their_owners_as_the_owners_own_pages_do,
);

async fn channels_are_created_updated_and_deleted_with_unique_handles(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let jo = t.user("jo").await;
    let kim = t.user("kim").await;

    let (status, body) = t
        .api
        .post(
            "/api/v1/video-channels",
            Some(&jo),
            json!({ "name": "jo_music", "displayName": "Jo plays", "description": "Songs" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["videoChannel"]["id"].as_i64().unwrap() > 0);

    // Handles are unique across channels and accounts, whoever asks.
    for name in ["jo_music", "kim", "kim_channel"] {
        let (status, body) =
            t.api.post("/api/v1/video-channels", Some(&jo), json!({ "name": name, "displayName": "x" })).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
    }
    let (status, body) =
        t.api.post("/api/v1/video-channels", Some(&jo), json!({ "name": "has space", "displayName": "" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["invalid-params"]["name"].is_object() && body["invalid-params"]["displayName"].is_object(), "{body}");

    let (status, _) = t
        .api
        .put(
            "/api/v1/video-channels/jo_music",
            Some(&jo),
            json!({ "displayName": "Jo sings", "support": "Tip jar", "description": null }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, c) = t.api.get("/api/v1/video-channels/jo_music", None).await;
    assert_eq!(c["displayName"], "Jo sings");
    assert_eq!(c["support"], "Tip jar");
    assert_eq!(c["description"], Value::Null);
    // The handle with our host names the same channel.
    let (status, c2) = t.api.get(&format!("/api/v1/video-channels/jo_music@{}", t.instance.addr), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c2["id"], c["id"]);

    // Someone else's channel is not yours to change.
    let (status, _) =
        t.api.put("/api/v1/video-channels/jo_music", Some(&kim), json!({ "displayName": "mine now" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.api.delete("/api/v1/video-channels/jo_music", Some(&kim)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, list) = t.api.get("/api/v1/accounts/jo/video-channels", None).await;
    assert_eq!(list["total"], 2);
    let (status, _) = t.api.delete("/api/v1/video-channels/jo_music", Some(&jo)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = t.api.get("/api/v1/video-channels/jo_music", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    // The last channel stays.
    let (status, body) = t.api.delete("/api/v1/video-channels/jo_channel", Some(&jo)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A freed name can be taken again.
    let (status, _) = t
        .api
        .post("/api/v1/video-channels", Some(&kim), json!({ "name": "jo_music", "displayName": "Kim's now" }))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, all) = t.api.get("/api/v1/video-channels?count=2&sort=-createdAt", None).await;
    assert_eq!(all["total"], 4, "{all}");
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(all["data"][0]["name"], "jo_music");
    t.stop().await;
}

async fn channel_json_has_peertube_fields(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (status, c) = t.api.get("/api/v1/video-channels/root_channel", None).await;
    assert_eq!(status, StatusCode::OK);
    // The fields of PeerTube 6.3's answer (shared/reference/peertube-samples/api-video-channel.json).
    for field in [
        "url",
        "name",
        "host",
        "avatars",
        "id",
        "hostRedundancyAllowed",
        "followingCount",
        "followersCount",
        "createdAt",
        "banners",
        "displayName",
        "description",
        "support",
        "isLocal",
        "updatedAt",
        "ownerAccount",
    ] {
        assert!(c.get(field).is_some(), "missing {field} in {c}");
    }
    for field in ["url", "name", "host", "avatars", "id", "displayName", "description", "userId", "createdAt"] {
        assert!(c["ownerAccount"].get(field).is_some(), "missing ownerAccount.{field}");
    }
    assert_eq!(c["isLocal"], true);
    assert_eq!(c["ownerAccount"]["name"], "root");
    let created = c["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    t.stop().await;
}

async fn upload(api: &Api, path: &str, token: &str, field: &str, bytes: Vec<u8>, name: &str) -> (StatusCode, Value) {
    let form =
        multipart::Form::new().part(field.to_string(), multipart::Part::bytes(bytes).file_name(name.to_string()));
    api.send(api.http.post(api.url(path)).bearer_auth(token).multipart(form)).await
}

async fn avatars_and_banners_are_resized_and_non_images_refused(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("lea").await;
    let (status, body) =
        upload(&t.api, "/api/v1/users/me/avatar/pick", &token, "avatarfile", png(640, 480), "me.png").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let avatars = body["avatars"].as_array().unwrap().clone();
    let widths: Vec<i64> = avatars.iter().map(|a| a["width"].as_i64().unwrap()).collect();
    assert_eq!(widths, [48, 120, 600, 1500]);
    for a in &avatars {
        let resp = t.api.http.get(t.api.url(a["path"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        let bytes = resp.bytes().await.unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!(i64::from(img.width()), a["width"].as_i64().unwrap());
        assert_eq!(img.width(), img.height());
    }

    // A text file named .png is refused, and the avatar in place is untouched.
    let (status, body) =
        upload(&t.api, "/api/v1/users/me/avatar/pick", &token, "avatarfile", b"just some text".to_vec(), "x.png").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_image");
    let (_, acc) = t.api.get("/api/v1/accounts/lea", None).await;
    assert_eq!(acc["avatars"].as_array().unwrap().len(), 4);
    assert_eq!(acc["avatars"][0]["path"], avatars[0]["path"]);
    // The wrong field name is a clear 400 too.
    let (status, body) = upload(&t.api, "/api/v1/users/me/avatar/pick", &token, "file", png(10, 10), "x.png").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["invalid-params"]["avatarfile"].is_object(), "{body}");

    // Replacing the avatar removes the old files.
    let (status, _) =
        upload(&t.api, "/api/v1/users/me/avatar/pick", &token, "avatarfile", png(100, 100), "2.png").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.api.get(avatars[0]["path"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) =
        upload(&t.api, "/api/v1/video-channels/lea_channel/banner/pick", &token, "bannerfile", png(2000, 400), "b.png")
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sizes: Vec<(i64, i64)> = body["banners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["width"].as_i64().unwrap(), b["height"].as_i64().unwrap()))
        .collect();
    assert_eq!(sizes, [(600, 100), (1920, 317)]);
    let (status, _) =
        upload(&t.api, "/api/v1/video-channels/lea_channel/avatar/pick", &token, "avatarfile", png(64, 64), "a.png")
            .await;
    assert_eq!(status, StatusCode::OK);
    let (_, c) = t.api.get("/api/v1/video-channels/lea_channel", None).await;
    assert_eq!(c["banners"].as_array().unwrap().len(), 2);
    assert_eq!(c["avatars"].as_array().unwrap().len(), 4);

    // Only the owner changes a channel's images.
    let other = t.user("mo").await;
    let (status, _) =
        upload(&t.api, "/api/v1/video-channels/lea_channel/avatar/pick", &other, "avatarfile", png(64, 64), "a.png")
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = t.api.delete("/api/v1/video-channels/lea_channel/banner", Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, c) = t.api.get("/api/v1/video-channels/lea_channel", None).await;
    assert_eq!(c["banners"], json!([]));

    // File names outside the generated pattern are never served.
    for path in
        ["/lazy-static/avatars/..%2F..%2Fflotilla.db", "/lazy-static/avatars/flotilla.db", "/lazy-static/banners/x.jpg"]
    {
        let (status, _) = t.api.get(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    t.stop().await;
}

async fn accounts_are_read_by_name(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (status, a) = t.api.get("/api/v1/accounts/root", None).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "url",
        "name",
        "host",
        "avatars",
        "id",
        "followersCount",
        "followingCount",
        "displayName",
        "description",
        "createdAt",
        "updatedAt",
        "userId",
    ] {
        assert!(a.get(field).is_some(), "missing {field} in {a}");
    }
    assert_eq!(a["userId"], 1);
    let (status, body) = t.api.get("/api/v1/accounts/nobody", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["status"], 404);
    let (status, _) = t.api.get("/api/v1/accounts/root@elsewhere.example", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = t.api.get("/api/v1/accounts/root/video-channels", None).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["name"], "root_channel");
    t.stop().await;
}

/// A video's `account` and `channel` in lists and on its watch page (read in one query with
/// their images, `channels::owners`; the watch page's tags and follower count in another,
/// `videos::watch_extras`) are what the account's and channel's own pages say of them.
async fn videos_show_their_owners_as_the_owners_own_pages_do(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owen = t.user("owen").await;
    let fan = t.user("fan").await;
    // Owen's account and channel have avatars (four sizes each) and a banner; Fan's none.
    for (path, field, image) in [
        ("/api/v1/users/me/avatar/pick", "avatarfile", png(640, 480)),
        ("/api/v1/video-channels/owen_channel/avatar/pick", "avatarfile", png(64, 64)),
        ("/api/v1/video-channels/owen_channel/banner/pick", "bannerfile", png(2000, 400)),
    ] {
        let (status, body) = upload(&t.api, path, &owen, field, image, "i.png").await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let tagged = t.publish(&owen, "Owen's", &[("tags[]", "zebra"), ("tags[]", "apple"), ("tags[]", "mango")]).await;
    let bare = t.publish(&fan, "Fan's", &[]).await;
    t.run_jobs().await;
    let (status, _) = t.api.post("/api/v1/users/me/subscriptions", Some(&fan), json!({ "uri": "owen_channel" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;

    let (_, owen_channel) = t.api.get("/api/v1/video-channels/owen_channel", None).await;
    let (_, owen_account) = t.api.get("/api/v1/accounts/owen", None).await;
    let (_, fan_channel) = t.api.get("/api/v1/video-channels/fan_channel", None).await;
    let (_, fan_account) = t.api.get("/api/v1/accounts/fan", None).await;
    assert_eq!(owen_channel["avatars"].as_array().unwrap().len(), 4, "{owen_channel}");
    assert_eq!(owen_account["avatars"].as_array().unwrap().len(), 4, "{owen_account}");
    assert_eq!(fan_channel["avatars"], json!([]));
    assert_eq!(owen_channel["followersCount"], 1, "{owen_channel}");
    let same = |video: &Value, channel: &Value, account: &Value| {
        for key in ["id", "name", "displayName", "host", "url", "avatars"] {
            assert_eq!(video["channel"][key], channel[key], "channel {key}: {video}");
            assert_eq!(video["account"][key], account[key], "account {key}: {video}");
        }
    };

    let (_, list) = t.api.get("/api/v1/videos?sort=name", None).await;
    assert_eq!(list["total"], 2, "{list}");
    for v in list["data"].as_array().unwrap() {
        if v["uuid"] == tagged.as_str() {
            same(v, &owen_channel, &owen_account);
        } else {
            same(v, &fan_channel, &fan_account);
        }
    }
    let (_, watched) = t.api.get(&format!("/api/v1/videos/{tagged}"), None).await;
    same(&watched, &owen_channel, &owen_account);
    assert_eq!(watched["tags"], json!(["apple", "mango", "zebra"]), "{watched}");
    assert_eq!(watched["channel"]["followersCount"], 1, "{watched}");
    let hashes = watched["streamingPlaylists"][0]["p2pMediaLoaderInfohashes"].as_array().unwrap();
    assert_eq!(hashes.len(), 1, "one rendition, one swarm: {watched}");
    assert_eq!(watched["streamingPlaylists"][0]["redundancies"], json!([]));
    let (_, watched) = t.api.get(&format!("/api/v1/videos/{bare}"), None).await;
    same(&watched, &fan_channel, &fan_account);
    assert_eq!(watched["tags"], json!([]));
    assert_eq!(watched["channel"]["followersCount"], 0);
    t.stop().await;
}
