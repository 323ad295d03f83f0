//! Bad requests get PeerTube's JSON error body with the right status, and the server keeps
//! answering: malformed JSON, oversized bodies, unknown routes, wrong methods, panics. Also the
//! instance configuration endpoints and the metrics.

use std::sync::Arc;

use axum::routing::get;
use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(
    malformed_json_is_400_json_and_the_server_keeps_answering,
    oversized_bodies_are_413_json,
    unknown_routes_and_methods_are_json_errors,
    a_panicking_handler_is_a_json_500_and_the_server_lives_on,
    instance_config_is_public_and_custom_config_is_saved,
    instance_texts_one_character_over_their_limit_are_refused_by_name,
    metrics_count_requests_by_route,
);

fn assert_problem(body: &Value, status: u16) {
    assert_eq!(body["status"], status, "{body}");
    for field in ["type", "title", "detail", "error", "code"] {
        assert!(body[field].is_string(), "missing {field} in {body}");
    }
}

async fn malformed_json_is_400_json_and_the_server_keeps_answering(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("nina").await;
    for bad in ["{\"displayName\": ", "[1,2,3]", "{\"p2pEnabled\": \"maybe\"}", "\u{0}\u{1}garbage"] {
        let req = t
            .api
            .request("PUT".parse().unwrap(), "/api/v1/users/me", Some(&token))
            .header("content-type", "application/json")
            .body(bad.to_string());
        let resp = req.send().await.unwrap();
        assert!(
            resp.status() == StatusCode::BAD_REQUEST || resp.status() == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            resp.status()
        );
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/problem+json"));
        let body: Value = resp.json().await.unwrap();
        assert_problem(&body, body["status"].as_u64().unwrap() as u16);
    }
    let (status, _) = t.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "the server still answers");
    t.stop().await;
}

async fn oversized_bodies_are_413_json(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| {
        c.http.max_body_bytes = 4096;
        c.http.max_image_bytes = 50_000;
    })
    .await;
    let token = t.user("omar").await;
    let big = json!({ "description": "x".repeat(10_000) });
    let (status, body) = t.api.put("/api/v1/users/me", Some(&token), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_problem(&body, 413);

    let form = flotilla_testkit::reqwest::multipart::Form::new()
        .part("avatarfile", flotilla_testkit::reqwest::multipart::Part::bytes(vec![7u8; 200_000]).file_name("big.png"));
    let (status, body) = t
        .api
        .send(t.api.http.post(t.api.url("/api/v1/users/me/avatar/pick")).bearer_auth(&token).multipart(form))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_problem(&body, 413);

    let (status, _) = t.api.put("/api/v1/users/me", Some(&token), json!({ "description": "short" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.stop().await;
}

async fn unknown_routes_and_methods_are_json_errors(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (status, body) = t.api.get("/api/v1/does-not-exist", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_problem(&body, 404);
    assert!(body["detail"].as_str().unwrap().contains("/api/v1/does-not-exist"));
    let (status, body) = t.api.delete("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_problem(&body, 405);
    let (status, body) = t.api.get("/api/v1/video-channels/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_problem(&body, 404);
    t.stop().await;
}

async fn a_panicking_handler_is_a_json_500_and_the_server_lives_on(backend: Backend) {
    let routes = axum::Router::<Arc<flotilla_app::App>>::new().route(
        "/api/v1/test/boom",
        get(|| async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            "unreachable"
        }),
    );
    let t = TestInstance::start_with_routes(backend, routes).await;
    let (status, body) = t.api.get("/api/v1/test/boom", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_problem(&body, 500);
    assert!(!body["detail"].as_str().unwrap().contains("boom"), "internal details stay in the log");
    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    // Counted as the 500 it became, under its route (the count is taken outside the panic layer).
    let text = t.api.http.get(t.api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"flotilla_http_requests_total{method="GET",route="/api/v1/test/boom",status="500"} 1"#),
        "{text}"
    );
    t.stop().await;
}

async fn instance_config_is_public_and_custom_config_is_saved(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![360, 720]).await;
    let (status, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["instance"]["name"], "Flotilla");
    assert_eq!(config["transcoding"]["enabledResolutions"], json!([360, 720]));
    assert_eq!(config["signup"]["allowed"], true);
    assert_eq!(config["user"]["videoQuota"], -1);
    assert!(config["avatar"]["file"]["size"]["max"].as_u64().unwrap() > 0);
    assert!(config["serverVersion"].is_string());
    let (status, about) = t.api.get("/api/v1/config/about", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(about["instance"]["name"], "Flotilla");

    let admin = t.admin_token().await;
    let (status, custom) = t
        .api
        .put(
            "/api/v1/config/custom",
            Some(&admin),
            json!({
                "instance": { "name": "Birds TV", "shortDescription": "Birds only", "terms": "Be kind" },
                "signup": { "enabled": true, "requiresApproval": true },
                "user": { "videoQuota": 1073741824, "videoQuotaDaily": -1 },
                "transcoding": { "resolutions": { "240p": true, "480p": true, "720p": false, "0p": false } },
                "somethingWeDoNotHave": { "enabled": true }
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{custom}");
    assert_eq!(custom["instance"]["name"], "Birds TV");
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["instance"]["name"], "Birds TV");
    assert_eq!(config["signup"]["requiresApproval"], true);
    assert_eq!(config["transcoding"]["enabledResolutions"], json!([240, 480]));
    assert_eq!(config["user"]["videoQuota"], 1073741824);
    let (_, about) = t.api.get("/api/v1/config/about", None).await;
    assert_eq!(about["instance"]["terms"], "Be kind");

    let (status, body) = t
        .api
        .put(
            "/api/v1/config/custom",
            Some(&admin),
            json!({ "transcoding": { "resolutions": { "999p": true } }, "user": { "videoQuota": -5 } }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["invalid-params"]["user.videoQuota"].is_object(), "{body}");
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["instance"]["name"], "Birds TV", "a refused update changes nothing");

    // Saved in the database: a restart keeps it.
    let t = t.restart().await;
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["instance"]["name"], "Birds TV");
    let admin = t.admin_token().await;
    let (status, _) = t.api.delete("/api/v1/config/custom", Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["instance"]["name"], "Flotilla");
    t.stop().await;
}

/// Case 27: each instance text is stored at its limit and refused one character over it, with the
/// field named in `invalid-params` and nothing of the request applied (not even its valid fields).
/// Counted in characters: "é" is two bytes, so a byte count would refuse at the limit.
async fn instance_texts_one_character_over_their_limit_are_refused_by_name(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let admin = t.admin_token().await;
    let chars = |n: usize| "é".repeat(n);
    for (field, max) in [("name", 120), ("shortDescription", 250), ("description", 10_000), ("terms", 10_000)] {
        let (_, before) = t.api.get("/api/v1/config/about", None).await;
        let (status, body) = t
            .api
            .put(
                "/api/v1/config/custom",
                Some(&admin),
                json!({ "instance": { field: chars(max + 1) }, "user": { "videoQuota": 12345 } }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field} of {}: {body}", max + 1);
        assert!(body["invalid-params"][format!("instance.{field}")].is_object(), "{field} not named in {body}");
        let (_, after) = t.api.get("/api/v1/config/about", None).await;
        assert_eq!(after["instance"], before["instance"], "{field}: a refused update changes nothing");
        let (_, config) = t.api.get("/api/v1/config", None).await;
        assert_ne!(config["user"]["videoQuota"], 12345, "{field}: the valid part of a refused update is not applied");

        let (status, body) =
            t.api.put("/api/v1/config/custom", Some(&admin), json!({ "instance": { field: chars(max) } })).await;
        assert_eq!(status, StatusCode::OK, "{field} of {max}: {body}");
        let (_, about) = t.api.get("/api/v1/config/about", None).await;
        assert_eq!(about["instance"][field], chars(max), "{field} stored whole at the limit");
    }
    t.stop().await;
}

async fn metrics_count_requests_by_route(backend: Backend) {
    let t = TestInstance::start(backend).await;
    for _ in 0..3 {
        t.api.get("/api/v1/accounts/root", None).await;
    }
    t.api.get("/api/v1/accounts/nobody", None).await;
    let text = t.api.http.get(t.api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(
            "flotilla_http_requests_total{method=\"GET\",route=\"/api/v1/accounts/{name}\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(text.contains("route=\"/api/v1/accounts/{name}\",status=\"404\"} 1"));
    assert!(text.contains("flotilla_http_request_duration_seconds_count{route=\"/api/v1/accounts/{name}\"} 4"));
    t.stop().await;
}
