//! What other servers read from us: WebFinger, host-meta, NodeInfo, actors with their keys,
//! collections and `Video` objects in PeerTube's shapes, and HTML for browsers at the same paths.

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::Value;
use flotilla_testkit::{Api, Backend, TestInstance, clip, db_tests};

db_tests!(
    webfinger_and_nodeinfo_describe_the_instance,
    actors_publish_keys_and_collections,
    videos_are_peertube_video_objects,
    a_videos_likes_dislikes_shares_and_comments_are_collections
);

async fn ap_get(api: &Api, path: &str) -> (StatusCode, Value, String) {
    let resp = api.http.get(api.url(path)).header("Accept", "application/activity+json").send().await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, ct)
}

async fn webfinger_and_nodeinfo_describe_the_instance(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let host = t.instance.addr.to_string();
    let base = t.api.base.clone();
    t.user("nadia").await;
    for (resource, expected) in [
        (format!("acct:nadia@{host}"), format!("{base}/accounts/nadia")),
        (format!("acct:nadia_channel@{host}"), format!("{base}/video-channels/nadia_channel")),
        (format!("acct:peertube@{host}"), format!("{base}/accounts/peertube")),
        (format!("{base}/accounts/nadia"), format!("{base}/accounts/nadia")),
    ] {
        let resp =
            t.api.http.get(t.api.url("/.well-known/webfinger")).query(&[("resource", &resource)]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{resource}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/jrd+json"));
        let jrd: Value = resp.json().await.unwrap();
        let link = jrd["links"].as_array().unwrap().iter().find(|l| l["rel"] == "self").unwrap();
        assert_eq!(link["href"], expected.as_str());
        assert_eq!(link["type"], "application/activity+json");
    }
    for resource in
        ["acct:nadia@elsewhere.example", &format!("acct:nobody@{host}"), "https://elsewhere.example/accounts/nadia"]
    {
        let resp =
            t.api.http.get(t.api.url("/.well-known/webfinger")).query(&[("resource", resource)]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{resource}");
    }
    let (status, _) = t.api.get("/.well-known/webfinger", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, meta) = t.api.get("/.well-known/host-meta", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(meta.as_str().unwrap().contains("/.well-known/webfinger?resource={uri}"));

    let (_, links) = t.api.get("/.well-known/nodeinfo", None).await;
    assert_eq!(links["links"][0]["rel"], "http://nodeinfo.diaspora.software/ns/schema/2.0");
    assert_eq!(links["links"][1]["href"], format!("{base}/accounts/peertube"));
    let (_, info) = t.api.get("/nodeinfo/2.0.json", None).await;
    assert_eq!(info["version"], "2.0");
    assert_eq!(info["protocols"][0], "activitypub");
    assert_eq!(info["usage"]["users"]["total"], 2);
    assert_eq!(info["usage"]["users"]["activeMonth"], 1, "nadia logged in");
    assert_eq!(info["usage"]["localPosts"], 0);
    assert_eq!(info["openRegistrations"], true);
    t.stop().await;
}

async fn actors_publish_keys_and_collections(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let base = t.api.base.clone();
    t.user("omar").await;
    let (status, person, ct) = ap_get(&t.api, "/accounts/omar").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("application/activity+json"), "{ct}");
    assert_eq!(person["type"], "Person");
    assert_eq!(person["id"], format!("{base}/accounts/omar"));
    assert_eq!(person["preferredUsername"], "omar");
    assert_eq!(person["inbox"], format!("{base}/accounts/omar/inbox"));
    assert_eq!(person["endpoints"]["sharedInbox"], format!("{base}/inbox"));
    assert_eq!(person["publicKey"]["id"], format!("{base}/accounts/omar#main-key"));
    assert_eq!(person["publicKey"]["owner"], person["id"]);
    let pem = person["publicKey"]["publicKeyPem"].as_str().unwrap().to_string();
    let key = flotilla_federation::keys::public_from_pem(&pem).unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::size(&key) * 8, 2048, "2048-bit keys");

    let (_, group, _) = ap_get(&t.api, "/video-channels/omar_channel").await;
    assert_eq!(group["type"], "Group");
    assert_eq!(
        group["attributedTo"][0],
        serde_json::json!({ "type": "Person", "id": format!("{base}/accounts/omar") })
    );
    assert_ne!(group["publicKey"]["publicKeyPem"], person["publicKey"]["publicKeyPem"], "every actor has its own key");
    let (_, application, _) = ap_get(&t.api, "/accounts/peertube").await;
    assert_eq!(application["type"], "Application");
    // The JSON-LD form of the Accept header answers the same document.
    let resp = t
        .api
        .http
        .get(t.api.url("/accounts/omar"))
        .header("Accept", "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"")
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().contains("json"));
    assert_eq!(resp.json::<Value>().await.unwrap()["id"], person["id"]);
    // Avatars and banners are the actors' icon and image.
    let token = t.api.login("omar", "password-123").await;
    for (path, field) in [
        ("/api/v1/users/me/avatar/pick", "avatarfile"),
        ("/api/v1/video-channels/omar_channel/avatar/pick", "avatarfile"),
        ("/api/v1/video-channels/omar_channel/banner/pick", "bannerfile"),
    ] {
        let form = flotilla_testkit::reqwest::multipart::Form::new().part(
            field,
            flotilla_testkit::reqwest::multipart::Part::bytes(flotilla_testkit::png(1600, 900)).file_name("i.png"),
        );
        let (status, body) = t.api.send(t.api.http.post(t.api.url(path)).bearer_auth(&token).multipart(form)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, person, _) = ap_get(&t.api, "/accounts/omar").await;
    let (_, group, _) = ap_get(&t.api, "/video-channels/omar_channel").await;
    for (who, icon) in [("person", &person["icon"]), ("group", &group["icon"]), ("banner", &group["image"])] {
        let icon = if icon.is_array() { icon[0].clone() } else { icon.clone() };
        assert_eq!(icon["mediaType"], "image/jpeg", "{who}: {icon}");
        let url = icon["url"].as_str().unwrap_or_else(|| panic!("{who}: {icon}"));
        assert_eq!(t.api.http.get(url).send().await.unwrap().status(), StatusCode::OK, "{who}: {url}");
    }

    for path in [
        "/accounts/omar/outbox",
        "/accounts/omar/followers",
        "/accounts/omar/following",
        "/video-channels/omar_channel/followers",
    ] {
        let (status, c, _) = ap_get(&t.api, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(c["type"], "OrderedCollection");
        assert_eq!(c["first"], format!("{base}{path}?page=1"));
        let (_, page, _) = ap_get(&t.api, &format!("{path}?page=1")).await;
        assert_eq!(page["type"], "OrderedCollectionPage");
        assert_eq!(page["partOf"], format!("{base}{path}"));
    }
    let (status, _, _) = ap_get(&t.api, "/accounts/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Browsers get a page at the same address.
    let resp = t.api.http.get(t.api.url("/accounts/omar")).header("Accept", "text/html").send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    // The key is created once and kept across restarts.
    let t = t.restart().await;
    let (_, again, _) = ap_get(&t.api, "/accounts/omar").await;
    assert_eq!(again["publicKey"]["publicKeyPem"], pem.as_str());
    // The instance actor's name is reserved.
    let (status, _) = t
        .api
        .post(
            "/api/v1/users/register",
            None,
            serde_json::json!({ "username": "peertube", "password": "password-123", "email": "p@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    t.stop().await;
}

async fn videos_are_peertube_video_objects(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144, 240]).await;
    let base = t.api.base.clone();
    let token = t.user("pia").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let file = clip(t.dir.path(), "v.mp4", 426, 240, 2);
    let mut uuids = Vec::new();
    for privacy in ["1", "3"] {
        let form = multipart::Form::new()
            .text("channelId", channel.to_string())
            .text("name", "Federated clip")
            .text("description", "Some *markdown*")
            .text("tags[]", "fediverse")
            .text("category", "15")
            .text("language", "en")
            .text("privacy", privacy)
            .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("v.mp4"));
        let (status, body) =
            t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        uuids.push(body["video"]["uuid"].as_str().unwrap().to_string());
    }
    t.run_jobs().await;
    let (status, v, ct) = ap_get(&t.api, &format!("/videos/watch/{}", uuids[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("application/activity+json"));
    // What PeerTube's receiver requires (shared/reference/peertube.md §3.3).
    assert_eq!(v["type"], "Video");
    assert_eq!(v["id"], format!("{base}/videos/watch/{}", uuids[0]));
    assert_eq!(v["uuid"], uuids[0].as_str());
    assert_eq!(v["duration"], "PT2S");
    assert_eq!(v["mediaType"], "text/markdown");
    assert_eq!(v["content"], "Some *markdown*");
    assert_eq!(v["tag"][0], serde_json::json!({ "type": "Hashtag", "name": "fediverse" }));
    assert_eq!(v["category"], serde_json::json!({ "identifier": "15", "name": "Science & Technology" }));
    assert_eq!(v["language"]["identifier"], "en");
    assert_eq!(v["to"][0], "https://www.w3.org/ns/activitystreams#Public");
    assert_eq!(v["cc"][0], format!("{base}/accounts/pia/followers"));
    assert_eq!(v["attributedTo"][0], serde_json::json!({ "type": "Person", "id": format!("{base}/accounts/pia") }));
    assert_eq!(
        v["attributedTo"][1],
        serde_json::json!({ "type": "Group", "id": format!("{base}/video-channels/pia_channel") })
    );
    let icons = v["icon"].as_array().unwrap();
    assert!(icons.iter().any(|i| i["mediaType"] == "image/jpeg" && i["width"].is_i64() && i["height"].is_i64()));
    let url = v["url"].as_array().unwrap();
    assert_eq!(url[0]["mediaType"], "text/html", "the HTML link comes first (Mastodon embeds)");
    let hls = url.iter().find(|u| u["mediaType"] == "application/x-mpegURL").expect("an HLS link");
    let tags = hls["tag"].as_array().unwrap();
    assert_eq!(tags.iter().filter(|t| t["type"] == "Infohash").count(), 2);
    assert!(tags.iter().any(|t| t["name"] == "sha256" && t["mediaType"] == "application/json"));
    let mp4: Vec<&Value> = tags.iter().filter(|t| t["mediaType"] == "video/mp4").collect();
    assert_eq!(mp4.len(), 2);
    assert!(mp4.iter().all(|f| f["height"].is_i64() && f["size"].is_i64() && f["fps"].is_i64()));
    // The links work.
    let (status, _) = t.api.get(&hls["href"].as_str().unwrap().replace(&base, ""), None).await;
    assert_eq!(status, StatusCode::OK);

    // Private videos never federate; the outbox lists the public one.
    let (status, _, _) = ap_get(&t.api, &format!("/videos/watch/{}", uuids[1])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, outbox, _) = ap_get(&t.api, "/accounts/pia/outbox?page=1").await;
    assert_eq!(outbox["totalItems"], 1);
    let create = &outbox["orderedItems"][0];
    assert_eq!(create["type"], "Create");
    assert_eq!(create["actor"], format!("{base}/accounts/pia"));
    assert_eq!(create["object"]["id"], v["id"]);
    let (_, info) = t.api.get("/nodeinfo/2.0.json", None).await;
    assert_eq!(info["usage"]["localPosts"], 1);
    t.stop().await;
}

/// The `likes`, `dislikes`, `shares` and `comments` URLs a `Video` names answer their collections
/// in PeerTube's shape (`peertube-samples/ap-video-likes-collection*.json`), with totals, and each
/// listed `Like` answers too; a private video's answer nothing.
async fn a_videos_likes_dislikes_shares_and_comments_are_collections(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let base = t.api.base.clone();
    let token = t.user("tia").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let file = clip(t.dir.path(), "v.mp4", 256, 144, 1);
    let mut uuids = Vec::new();
    for privacy in ["1", "3"] {
        let form = multipart::Form::new()
            .text("channelId", channel.to_string())
            .text("name", "Rated clip")
            .text("privacy", privacy)
            .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("v.mp4"));
        let (status, body) =
            t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        uuids.push(body["video"]["uuid"].as_str().unwrap().to_string());
    }
    t.run_jobs().await;
    let uuid = &uuids[0];
    for (user, rating) in [("una", "like"), ("vic", "like"), ("wes", "dislike")] {
        let tok = t.user(user).await;
        let (status, body) = t
            .api
            .put(&format!("/api/v1/videos/{uuid}/rate"), Some(&tok), serde_json::json!({ "rating": rating }))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, video, _) = ap_get(&t.api, &format!("/videos/watch/{uuid}")).await;
    let video_url = format!("{base}/videos/watch/{uuid}");
    assert_eq!(video["likes"], format!("{video_url}/likes"));

    // The collection: its total and its first page, nothing else.
    let (status, likes, ct) = ap_get(&t.api, &format!("/videos/watch/{uuid}/likes")).await;
    assert_eq!(status, StatusCode::OK, "{likes}");
    assert!(ct.starts_with("application/activity+json"), "{ct}");
    assert_eq!(likes["type"], "OrderedCollection");
    assert_eq!(likes["id"], format!("{video_url}/likes"));
    assert_eq!(likes["totalItems"], 2);
    assert_eq!(likes["first"], format!("{video_url}/likes?page=1"));
    // The page: the likes' ids (newest first; two in the same millisecond may come either way).
    let (_, page, _) = ap_get(&t.api, &format!("/videos/watch/{uuid}/likes?page=1")).await;
    assert_eq!(page["type"], "OrderedCollectionPage");
    assert_eq!(page["partOf"], format!("{video_url}/likes"));
    assert_eq!(page["totalItems"], 2);
    let mut items: Vec<&str> = page["orderedItems"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    items.sort();
    assert_eq!(items, [format!("{base}/accounts/una/likes/{uuid}"), format!("{base}/accounts/vic/likes/{uuid}")]);
    // Each id answers the Like, as PeerTube sends it.
    let (status, like, _) = ap_get(&t.api, &items[0].replace(&base, "")).await;
    assert_eq!(status, StatusCode::OK, "{like}");
    assert_eq!(like["type"], "Like");
    assert_eq!(like["id"], items[0]);
    assert_eq!(like["actor"], format!("{base}/accounts/una"));
    assert_eq!(like["object"], video_url);
    assert_eq!(like["cc"][0], format!("{base}/accounts/una/followers"));
    // Una gave no dislike; Wes's dislike is one.
    let (status, _, _) = ap_get(&t.api, &format!("/accounts/una/dislikes/{uuid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, dislikes, _) = ap_get(&t.api, &format!("/videos/watch/{uuid}/dislikes?page=1")).await;
    assert_eq!(dislikes["totalItems"], 1);
    assert_eq!(dislikes["orderedItems"][0], format!("{base}/accounts/wes/dislikes/{uuid}"));
    let (_, dislike, _) = ap_get(&t.api, &format!("/accounts/wes/dislikes/{uuid}")).await;
    assert_eq!(dislike["type"], "Dislike");
    // Shares: the channel's and the instance's Announces. Comments: none yet, but a collection.
    let (_, shares, _) = ap_get(&t.api, &format!("/videos/watch/{uuid}/announces?page=1")).await;
    assert_eq!(shares["totalItems"], 2, "{shares}");
    let (status, comments, _) = ap_get(&t.api, &format!("/videos/watch/{uuid}/comments")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(comments["type"], "OrderedCollection");
    assert_eq!(comments["totalItems"], 0);

    // A private video's collections and likes are not there; nor are made-up collections.
    let private = &uuids[1];
    let tok = t.user("xan").await;
    let (status, _) =
        t.api.put(&format!("/api/v1/videos/{private}/rate"), Some(&tok), serde_json::json!({ "rating": "like" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a stranger cannot rate a private video");
    for path in [
        format!("/videos/watch/{private}/likes"),
        format!("/videos/watch/{private}/comments"),
        format!("/videos/watch/{uuid}/followers"),
        format!("/accounts/tia/likes/{private}"),
    ] {
        let (status, _, _) = ap_get(&t.api, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    t.stop().await;
}
