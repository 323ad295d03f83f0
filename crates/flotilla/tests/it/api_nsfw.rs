//! Sensitive videos: the instance's and each user's NSFW policy (`display`, `blur`, `do_not_list`)
//! decide what every list and search shows; PeerTube 7's `nsfwFlags` and `nsfwSummary` are kept,
//! shown and federated (the `Video`'s `summary`); bad values are refused.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests, settle};

db_tests!(nsfw_policies_decide_every_list_and_search, nsfw_details_are_kept_and_federated);

async fn names(t: &TestInstance, token: Option<&str>, path: &str) -> Vec<String> {
    let (status, list) = t.api.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "{path}: {list}");
    let mut n: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect();
    n.sort();
    n
}

async fn nsfw_policies_decide_every_list_and_search(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = a.user("ava").await;
    let uma = a.user("uma").await;
    let admin = a.admin_token().await;
    a.publish(&ava, "Harbour calm", &[]).await;
    a.publish(&ava, "Harbour storm", &[("nsfw", "true")]).await;
    a.run_jobs().await;
    let lists = [
        "/api/v1/videos",
        "/api/v1/search/videos?search=harbour",
        "/api/v1/video-channels/ava_channel/videos",
        "/api/v1/accounts/ava/videos",
    ];
    let both = ["Harbour calm", "Harbour storm"];
    // Under `blur`, lists have it: the client blurs it.
    let (status, body) =
        a.api.put("/api/v1/config/custom", Some(&admin), json!({ "instance": { "defaultNSFWPolicy": "blur" } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for path in lists {
        assert_eq!(names(&a, None, path).await, both, "{path}");
    }
    // The instance's policy becomes do_not_list: hidden from visitors everywhere.
    let (status, body) = a
        .api
        .put("/api/v1/config/custom", Some(&admin), json!({ "instance": { "defaultNSFWPolicy": "do_not_list" } }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for path in lists {
        assert_eq!(names(&a, None, path).await, ["Harbour calm"], "{path}");
    }
    // A visitor asking for them gets them, as PeerTube's `nsfw=true|both`.
    assert_eq!(names(&a, None, "/api/v1/videos?nsfw=both").await, both);
    assert_eq!(names(&a, None, "/api/v1/videos?nsfw=true").await, ["Harbour storm"]);
    assert_eq!(names(&a, None, "/api/v1/videos?nsfw=false").await, ["Harbour calm"]);
    // A user's own policy wins over the instance's, both ways.
    let (status, _) = a.api.put("/api/v1/users/me", Some(&uma), json!({ "nsfwPolicy": "display" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for path in lists {
        assert_eq!(names(&a, Some(&uma), path).await, both, "{path}");
    }
    let (status, _) = a.api.put("/api/v1/users/me", Some(&uma), json!({ "nsfwPolicy": "do_not_list" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = a
        .api
        .put("/api/v1/config/custom", Some(&admin), json!({ "instance": { "defaultNSFWPolicy": "display" } }))
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in lists {
        assert_eq!(names(&a, Some(&uma), path).await, ["Harbour calm"], "{path}");
        assert_eq!(names(&a, None, path).await, both, "{path}");
    }
    // The owner always lists her own.
    assert_eq!(names(&a, Some(&ava), "/api/v1/users/me/videos").await, both);
    let (status, _) = a.api.put("/api/v1/users/me", Some(&uma), json!({ "nsfwPolicy": "hide" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    a.stop().await;
}

async fn nsfw_details_are_kept_and_federated(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uuid = a
        .publish(&ava, "Storm footage", &[("nsfw", "true"), ("nsfwFlags", "1"), ("nsfwSummary", "Injured sailors")])
        .await;
    settle(&[&a, &b]).await;
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(
        (v["nsfw"].clone(), v["nsfwFlags"].clone(), v["nsfwSummary"].clone()),
        (json!(true), json!(1), json!("Injured sailors"))
    );
    // Federated as the Video's `sensitive` and `summary` (PeerTube 7).
    let (status, doc) = a
        .api
        .send(
            a.api.http.get(format!("{}/videos/watch/{uuid}", a.api.base)).header("Accept", "application/activity+json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["sensitive"], true);
    assert_eq!(doc["summary"], "Injured sailors");
    let (status, on_b) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{on_b}");
    assert_eq!(on_b["nsfw"], true);
    assert_eq!(on_b["nsfwSummary"], "Injured sailors");

    // Refused values change nothing.
    for (field, value) in [("nsfwFlags", json!(4)), ("nsfwFlags", json!(-1)), ("nsfwSummary", json!("x".repeat(251)))] {
        let (status, body) = a.api.put(&format!("/api/v1/videos/{uuid}"), Some(&ava), json!({ field: value })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
    }
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(v["nsfwFlags"], 1);
    // Changed: both flags; then no longer sensitive: flags and summary go, and B hears of it.
    let (status, _) = a
        .api
        .put(&format!("/api/v1/videos/{uuid}"), Some(&ava), json!({ "nsfwFlags": 3, "nsfwSummary": "Storm" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!((v["nsfwFlags"].clone(), v["nsfwSummary"].clone()), (json!(3), json!("Storm")));
    let (status, _) = a.api.put(&format!("/api/v1/videos/{uuid}"), Some(&ava), json!({ "nsfw": false })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(
        (v["nsfw"].clone(), v["nsfwFlags"].clone(), v["nsfwSummary"].clone()),
        (json!(false), json!(0), Value::Null)
    );
    let (_, on_b) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!((on_b["nsfw"].clone(), on_b["nsfwSummary"].clone()), (json!(false), Value::Null), "{on_b}");
    a.stop().await;
    b.stop().await;
}
