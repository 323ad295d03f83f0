//! Chapters (PeerTube 6.0's `/videos/{id}/chapters`): read from the description's timestamps and
//! following it until the owner sets others; checked when set; served as PeerTube's `Chapters`
//! document named by the `Video`'s `hasParts`, and read from there by a following server.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests, settle};

db_tests!(chapters_follow_the_description_until_set_and_are_checked, chapters_federate_as_peertube_does,);

const DESCRIPTION: &str = "A walk.\n\n0:00 Start\n0:01 The end\n\nThanks!";

async fn chapters(t: &TestInstance, uuid: &str) -> Value {
    let (status, body) = t.api.get(&format!("/api/v1/videos/{uuid}/chapters"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["chapters"].clone()
}

async fn chapters_follow_the_description_until_set_and_are_checked(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = t.user("chad").await;
    let other = t.user("cora").await;
    let uuid = t.publish(&owner, "Chaptered", &[("description", DESCRIPTION)]).await;
    t.run_jobs().await;
    assert_eq!(
        chapters(&t, &uuid).await,
        json!([{ "timecode": 0, "title": "Start" }, { "timecode": 1, "title": "The end" }])
    );

    // A new description brings its chapters; one without any removes them.
    let (status, _) = t
        .api
        .put(&format!("/api/v1/videos/{uuid}"), Some(&owner), json!({ "description": "0:00 One\n0:01 Two" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        chapters(&t, &uuid).await,
        json!([{ "timecode": 0, "title": "One" }, { "timecode": 1, "title": "Two" }])
    );

    // Chapters set by hand stay whatever the description says next.
    let set = json!({ "chapters": [{ "timecode": 1, "title": " Later " }, { "timecode": 0, "title": "First" }] });
    let (status, body) = t.api.put(&format!("/api/v1/videos/{uuid}/chapters"), Some(&owner), set.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let expected = json!([{ "timecode": 0, "title": "First" }, { "timecode": 1, "title": "Later" }]);
    assert_eq!(chapters(&t, &uuid).await, expected);
    let (status, _) =
        t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&owner), json!({ "description": "0:00 X\n0:01 Y" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(chapters(&t, &uuid).await, expected, "hand-set chapters do not follow the description");

    // Refused, and nothing changed.
    let long = "x".repeat(101);
    let many: Vec<Value> = (0..501).map(|i| json!({ "timecode": 0, "title": format!("c{i}") })).collect();
    for bad in [
        json!({ "chapters": [{ "timecode": 0, "title": "A" }, { "timecode": 0, "title": "B" }] }),
        json!({ "chapters": [{ "timecode": 3600, "title": "Past the end" }] }),
        json!({ "chapters": [{ "timecode": -1, "title": "Before" }] }),
        json!({ "chapters": [{ "timecode": 0, "title": "   " }] }),
        json!({ "chapters": [{ "timecode": 0, "title": long }] }),
        json!({ "chapters": many }),
    ] {
        let (status, body) = t.api.put(&format!("/api/v1/videos/{uuid}/chapters"), Some(&owner), bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], "invalid_params", "{body}");
    }
    for bad in [json!({ "chapters": "no" }), json!({ "chapters": [{ "timecode": "0", "title": "A" }] })] {
        let (status, _) = t.api.put(&format!("/api/v1/videos/{uuid}/chapters"), Some(&owner), bad).await;
        assert!(status.is_client_error(), "{status}");
    }
    let (status, _) = t.api.put(&format!("/api/v1/videos/{uuid}/chapters"), Some(&other), set).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(chapters(&t, &uuid).await, expected);
    t.stop().await;
}

async fn chapters_federate_as_peertube_does(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ada = a.user("ada").await;
    let uuid = a.publish(&ada, "Travelling chapters", &[("description", DESCRIPTION)]).await;
    a.run_jobs().await;
    settle(&[&a, &b]).await;

    // A's `Video` names its `Chapters` document, PeerTube's shape.
    let url = a.api.url(&format!("/videos/watch/{uuid}"));
    let get = |u: String| {
        let http = a.api.http.clone();
        async move {
            http.get(u)
                .header("accept", "application/activity+json")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let video = get(url.clone()).await;
    assert_eq!(video["hasParts"], json!(format!("{url}/chapters")));
    let doc = get(format!("{url}/chapters")).await;
    assert_eq!(doc["id"], json!(format!("{url}/chapters")));
    let duration =
        video["duration"].as_str().unwrap().trim_start_matches("PT").trim_end_matches('S').parse::<i64>().unwrap();
    assert_eq!(
        doc["hasPart"],
        json!([{ "name": "Start", "startOffset": 0, "endOffset": 1 }, { "name": "The end", "startOffset": 1, "endOffset": duration }])
    );

    // B read them from there, and follows a change.
    assert_eq!(
        chapters(&b, &uuid).await,
        json!([{ "timecode": 0, "title": "Start" }, { "timecode": 1, "title": "The end" }])
    );
    let set = json!({ "chapters": [{ "timecode": 0, "title": "Only <b>one</b>" }] });
    let (status, _) = a.api.put(&format!("/api/v1/videos/{uuid}/chapters"), Some(&ada), set).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert_eq!(chapters(&b, &uuid).await, json!([{ "timecode": 0, "title": "Only one" }]));
    a.stop().await;
    b.stop().await;
}
