//! Password-protected videos (PeerTube 6.0's privacy 5): opened only with one of their passwords
//! (`x-peertube-video-password`), their files with a token taken with it, listed nowhere, never
//! federated; the owner's passwords API; wrong passwords counted per address.

use flotilla_testkit::reqwest::{Method, StatusCode};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests, settle};

db_tests!(
    a_protected_video_opens_with_one_of_its_passwords_only,
    owners_manage_the_passwords_and_the_rules_hold,
    wrong_passwords_lock_the_address_out_even_for_a_right_one,
    a_protected_video_never_reaches_followers,
);

const PASSWORD: &str = "open sesame";

/// A request about a video, with a password header when `password` is given.
async fn call(
    t: &TestInstance,
    method: Method,
    path: &str,
    token: Option<&str>,
    password: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = t.api.request(method, path, token);
    if let Some(p) = password {
        req = req.header("x-peertube-video-password", p);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    t.api.send(req).await
}

async fn protected(t: &TestInstance, token: &str, name: &str) -> String {
    let uuid = t
        .publish(token, name, &[("privacy", "5"), ("videoPasswords[]", PASSWORD), ("videoPasswords[]", "second one")])
        .await;
    t.run_jobs().await;
    uuid
}

async fn a_protected_video_opens_with_one_of_its_passwords_only(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = t.user("paula").await;
    let viewer = t.user("vince").await;
    let uuid = protected(&t, &owner, "Family picnic").await;
    let video = format!("/api/v1/videos/{uuid}");

    // Without a password, and with a wrong one: 403 with PeerTube's codes and words.
    let (status, body) = call(&t, Method::GET, &video, None, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "video_requires_password");
    assert_eq!(body["detail"], "Please provide a password to access this password protected video");
    let (status, body) = call(&t, Method::GET, &video, Some(&viewer), Some("open sesamE"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "incorrect_video_password");

    // Either password opens it, signed in or not.
    for (token, password) in [(None, PASSWORD), (Some(viewer.as_str()), "second one")] {
        let (status, body) = call(&t, Method::GET, &video, token, Some(password), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["privacy"], json!({ "id": 5, "label": "Password protected" }));
    }
    // Its owner and the moderators need none.
    let admin = t.admin_token().await;
    for token in [&owner, &admin] {
        let (status, body) = call(&t, Method::GET, &video, Some(token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // What the watch page asks, each behind the same door.
    for path in ["captions", "chapters", "storyboards", "comment-threads"] {
        let path = format!("{video}/{path}");
        let (status, body) = call(&t, Method::GET, &path, None, None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["code"], "video_requires_password", "{path}");
        let (status, body) = call(&t, Method::GET, &path, None, Some(PASSWORD), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let comment = json!({ "text": "Lovely day" });
    let threads = format!("{video}/comment-threads");
    let (status, _) = call(&t, Method::POST, &threads, Some(&viewer), None, Some(comment.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(&t, Method::POST, &threads, Some(&viewer), Some(PASSWORD), Some(comment)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let thread = body["comment"]["id"].as_i64().unwrap();
    let (status, _) = call(&t, Method::GET, &format!("{threads}/{thread}"), None, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&t, Method::GET, &format!("{threads}/{thread}"), None, Some(PASSWORD), None).await;
    assert_eq!(status, StatusCode::OK);
    let like = Some(json!({ "rating": "like" }));
    let (status, _) = call(&t, Method::PUT, &format!("{video}/rate"), Some(&viewer), None, like.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&t, Method::PUT, &format!("{video}/rate"), Some(&viewer), Some(PASSWORD), like).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let view = Some(json!({ "currentTime": 0 }));
    let (status, _) = call(&t, Method::POST, &format!("{video}/views"), None, None, view.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&t, Method::POST, &format!("{video}/views"), None, Some(PASSWORD), view).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Its files are private: a token taken with the password opens them, anonymously.
    let (_, v) = call(&t, Method::GET, &video, None, Some(PASSWORD), None).await;
    let master = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    let resp = t.api.http.get(&master).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "not by its static path alone");
    let token_path = format!("{video}/token");
    let (status, _) = call(&t, Method::POST, &token_path, None, None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token without the password");
    let (status, issued) = call(&t, Method::POST, &token_path, None, Some(PASSWORD), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let file_token = issued["files"]["token"].as_str().unwrap();
    let resp = t.api.http.get(format!("{master}?videoFileToken={file_token}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().starts_with("#EXTM3U"));

    // Listed nowhere, as an unlisted video; its owner's own list has it.
    let (_, me) = t.api.get("/api/v1/users/me", Some(&owner)).await;
    let channel = me["videoChannels"][0]["name"].as_str().unwrap().to_string();
    for path in ["/api/v1/videos".to_string(), format!("/api/v1/video-channels/{channel}/videos")] {
        let (_, list) = t.api.get(&path, None).await;
        assert_eq!(list["data"], json!([]), "{path}: {list}");
    }
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&owner)).await;
    assert_eq!(mine["data"][0]["privacy"]["id"], 5);
    let (_, privacies) = t.api.get("/api/v1/videos/privacies", None).await;
    assert_eq!(privacies["5"], "Password protected");
    t.stop().await;
}

async fn owners_manage_the_passwords_and_the_rules_hold(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = t.user("olive").await;
    let other = t.user("otto").await;
    let uuid = protected(&t, &owner, "Rehearsal").await;
    let video = format!("/api/v1/videos/{uuid}");
    let passwords = format!("{video}/passwords");

    let (status, list) = t.api.get(&passwords, Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2);
    let words: Vec<&str> = list["data"].as_array().unwrap().iter().map(|p| p["password"].as_str().unwrap()).collect();
    assert_eq!(words, [PASSWORD, "second one"]);
    assert_eq!(list["data"][0]["videoId"], t.api.get(&video, Some(&owner)).await.1["id"]);
    let (status, _) = t.api.get(&passwords, Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user does not learn they exist");

    // Replaced as a whole; the old ones open nothing any more.
    let (status, body) = t.api.put(&passwords, Some(&owner), json!({ "passwords": ["new words"] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = call(&t, Method::GET, &video, None, Some(PASSWORD), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&t, Method::GET, &video, None, Some("new words"), None).await;
    assert_eq!(status, StatusCode::OK);

    // A password with accents opens from a browser (Latin-1 bytes in the header) and from an
    // API client (UTF-8).
    let (status, _) = t.api.put(&passwords, Some(&owner), json!({ "passwords": ["pässwörd"] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for bytes in [b"p\xe4ssw\xf6rd".to_vec(), "pässwörd".as_bytes().to_vec()] {
        let value = flotilla_testkit::reqwest::header::HeaderValue::from_bytes(&bytes).unwrap();
        let req = t.api.request(Method::GET, &video, None).header("x-peertube-video-password", value);
        let (status, body) = t.api.send(req).await;
        assert_eq!(status, StatusCode::OK, "{bytes:?}: {body}");
    }
    let (status, _) = t.api.put(&passwords, Some(&owner), json!({ "passwords": ["new words"] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Refused, and nothing changed: none, too short, too long, twice the same, too many.
    let many: Vec<String> = (0..101).map(|i| format!("pw-{i}")).collect();
    for bad in [
        json!({ "passwords": [] }),
        json!({ "passwords": ["x"] }),
        json!({ "passwords": ["y".repeat(101)] }),
        json!({ "passwords": ["same", "same"] }),
        json!({ "passwords": many }),
        json!({}),
    ] {
        let (status, body) = t.api.put(&passwords, Some(&owner), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_params", "{body}");
    }
    let (status, _) = t.api.put(&passwords, Some(&other), json!({ "passwords": ["mine now"] })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor may they change them");
    let (_, list) = t.api.get(&passwords, Some(&owner)).await;
    assert_eq!(list["total"], 1);

    // One can be removed, never the last.
    let (status, _) = t.api.put(&passwords, Some(&owner), json!({ "passwords": ["keep me", "drop me"] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&passwords, Some(&owner)).await;
    let id_of = |w: &str| list["data"].as_array().unwrap().iter().find(|p| p["password"] == w).unwrap()["id"].clone();
    let (drop, keep) = (id_of("drop me"), id_of("keep me"));
    let (status, _) = t.api.delete(&format!("{passwords}/{drop}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.delete(&format!("{passwords}/{drop}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = t.api.delete(&format!("{passwords}/{keep}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = call(&t, Method::GET, &video, None, Some("keep me"), None).await;
    assert_eq!(status, StatusCode::OK);

    // Privacy 5 needs passwords, at upload and on update.
    let (_, me) = t.api.get("/api/v1/users/me", Some(&owner)).await;
    let channel = me["videoChannels"][0]["id"].to_string();
    let init =
        json!({ "channelId": channel.parse::<i64>().unwrap(), "name": "No words", "privacy": 5, "filename": "a.mp4" });
    let req = t
        .api
        .request(Method::POST, "/api/v1/videos/upload-resumable", Some(&owner))
        .header("x-upload-content-length", "1000")
        .header("x-upload-content-type", "video/mp4")
        .json(&init);
    let (status, body) = t.api.send(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["invalid-params"]["videoPasswords"].is_object(), "{body}");
    let public = t.publish(&owner, "Open day", &[]).await;
    t.run_jobs().await;
    let public_path = format!("/api/v1/videos/{public}");
    let (status, body) = t.api.put(&public_path, Some(&owner), json!({ "privacy": 5 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["invalid-params"]["videoPasswords"].is_object(), "{body}");
    let (status, _) = t.api.get(&format!("/api/v1/videos/{public}/passwords"), Some(&owner)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not protected yet");
    let (status, _) = t.api.get(&public_path, None).await;
    assert_eq!(status, StatusCode::OK, "the refused update changed nothing");
    let (status, body) =
        t.api.put(&public_path, Some(&owner), json!({ "privacy": 5, "videoPasswords": ["at last"] })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = t.api.get(&public_path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A later change of something else keeps them.
    let (status, _) = t.api.put(&public_path, Some(&owner), json!({ "name": "Open day (closed)" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&t, Method::GET, &public_path, None, Some("at last"), None).await;
    assert_eq!(status, StatusCode::OK);

    // Public again: open to all, and its passwords are gone (not back if protected later).
    let (status, _) = t.api.put(&public_path, Some(&owner), json!({ "privacy": 1 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get(&public_path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = t.api.get(&format!("/api/v1/videos/{public}/passwords"), Some(&owner)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "video_not_password_protected");
    let (status, _) = t.api.put(&public_path, Some(&owner), json!({ "privacy": 5 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the old passwords did not stay behind");
    t.stop().await;
}

async fn wrong_passwords_lock_the_address_out_even_for_a_right_one(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.transcoding.resolutions = vec![144];
        c.rate_limits.enabled = true;
        c.rate_limits.video_password = "3/1m".into();
    })
    .await;
    let owner = t.user("wendy").await;
    let uuid = protected(&t, &owner, "Locked room").await;
    let other = protected(&t, &owner, "Another room").await;
    let video = format!("/api/v1/videos/{uuid}");
    // Right answers and no answer cost nothing.
    for _ in 0..5 {
        assert_eq!(call(&t, Method::GET, &video, None, Some(PASSWORD), None).await.0, StatusCode::OK);
        assert_eq!(call(&t, Method::GET, &video, None, None, None).await.0, StatusCode::FORBIDDEN);
    }
    for guess in ["guess 1", "guess 2", "guess 3"] {
        let (status, body) = call(&t, Method::GET, &video, None, Some(guess), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let resp =
        t.api.request(Method::GET, &video, None).header("x-peertube-video-password", PASSWORD).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "a right password is refused too while locked");
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (status, _) = call(&t, Method::GET, &format!("/api/v1/videos/{other}"), None, Some(PASSWORD), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the address is locked out, not the video");
    // The owner is not locked out of their own video.
    let (status, _) = call(&t, Method::GET, &video, Some(&owner), None, None).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

/// How many remote videos `b` lists (the page itself: list totals are cached a while).
async fn remote(b: &TestInstance) -> usize {
    b.api.get("/api/v1/videos?isLocal=false", None).await.1["data"].as_array().unwrap().len()
}

async fn a_protected_video_never_reaches_followers(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let owner = a.user("fred").await;
    let open = a.publish(&owner, "Open house", &[]).await;
    protected(&a, &owner, "Closed house").await;
    settle(&[&a, &b]).await;
    assert_eq!(remote(&b).await, 1, "the public one only");

    // Protected later: followers are told to remove it.
    let (status, _) = a
        .api
        .put(&format!("/api/v1/videos/{open}"), Some(&owner), json!({ "privacy": 5, "videoPasswords": ["pw"] }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert_eq!(remote(&b).await, 0, "a protected video leaves its followers");
    // Its ActivityPub object is not served either.
    let resp = a
        .api
        .http
        .get(a.api.url(&format!("/videos/watch/{open}")))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    a.stop().await;
    b.stop().await;
}
