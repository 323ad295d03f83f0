//! Login as PeerTube clients do it: the local OAuth client, password and refresh grants, revoke,
//! bearer tokens on API routes, and the per-address limit on failed logins.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::json;
use flotilla_testkit::{ADMIN_PASSWORD, Backend, TestInstance, db_tests};

db_tests!(
    login_with_the_right_password_returns_peertube_tokens,
    login_with_a_wrong_password_or_client_is_refused,
    refresh_rotates_the_tokens_and_revoke_ends_the_session,
    changing_your_password_ends_your_other_sessions,
    repeated_failed_logins_get_429,
    api_routes_need_a_valid_bearer_token,
    expired_tokens_are_refused_and_cleaned_up,
    tokens_are_stored_only_as_hashes,
    users_cannot_mark_their_own_email_verified,
);

async fn login_with_the_right_password_returns_peertube_tokens(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (client_id, secret) = t.api.client().await;
    assert_eq!(client_id.len(), 32);
    assert_eq!(secret.len(), 32);
    // The same client every time: apps cache it.
    assert_eq!(t.api.client().await, (client_id, secret));

    let (status, body) = t.api.token("root", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["refresh_token_expires_in"], 14 * 86400);
    let access = body["access_token"].as_str().unwrap();
    assert_ne!(access, body["refresh_token"].as_str().unwrap());

    let (status, me) = t.api.get("/api/v1/users/me", Some(access)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "root");
    assert_eq!(me["role"], json!({ "id": 0, "label": "Administrator" }));
    assert_eq!(me["videoChannels"][0]["name"], "root_channel");

    // Logging in with the email address works as in PeerTube.
    let email = me["email"].as_str().unwrap().to_string();
    let (status, _) = t.api.token(&email, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn login_with_a_wrong_password_or_client_is_refused(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (status, body) = t.api.token("root", "not-the-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_grant");
    assert_eq!(body["status"], 400);
    assert!(body["detail"].as_str().unwrap().contains("Invalid grant"));

    let (status, body) = t.api.token("nobody", "whatever-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_grant");

    let form = [
        ("client_id", "wrong"),
        ("client_secret", "wrong"),
        ("grant_type", "password"),
        ("username", "root"),
        ("password", ADMIN_PASSWORD),
    ];
    let (status, body) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_client");

    let (id, secret) = t.api.client().await;
    let form = [("client_id", id.as_str()), ("client_secret", secret.as_str()), ("grant_type", "client_credentials")];
    let (status, body) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "unsupported_grant_type");
    t.stop().await;
}

async fn refresh_rotates_the_tokens_and_revoke_ends_the_session(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (_, first) = t.api.token("root", ADMIN_PASSWORD).await;
    let (id, secret) = t.api.client().await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let form = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
    ];
    let (status, second) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let new_access = second["access_token"].as_str().unwrap();
    assert_ne!(new_access, first["access_token"].as_str().unwrap());

    // The old access token is refused at once. The old refresh token still works for a short
    // grace (a page reloaded while its refresh was in flight never stored the new one)...
    let (status, _) = t.api.get("/api/v1/users/me", first["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, again) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let db = &t.instance.app.db;
    let rotated = || async {
        let at: Option<i64> = flotilla_db::run!(db, |x| sqlx::query_scalar(
            "SELECT MIN(rotated_at) FROM oauth_tokens WHERE rotated_at IS NOT NULL"
        )
        .fetch_one(x)
        .await)
        .unwrap();
        at.unwrap()
    };
    let first_refresh = rotated().await;
    let (status, _) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rotated().await, first_refresh, "replays do not stretch the grace");

    // ...and not after it: a refresh token used again later was stolen or leaked, and every pair
    // of that login ends — the one it just got, and the ones its owner got before.
    flotilla_db::run!(db, |x| sqlx::query(
        "UPDATE oauth_tokens SET rotated_at = rotated_at - 60000 WHERE rotated_at IS NOT NULL"
    )
    .execute(x)
    .await
    .map(|_| ()))
    .unwrap();
    let (_, other_login) = t.api.token("root", ADMIN_PASSWORD).await;
    let (status, body) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_grant");
    assert!(body["detail"].as_str().unwrap().contains("already used"), "{body}");
    for (access, what) in
        [(new_access, "the owner's newer token"), (again["access_token"].as_str().unwrap(), "the replay's")]
    {
        let (status, _) = t.api.get("/api/v1/users/me", Some(access)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} ended with its login");
    }
    let renew = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", second["refresh_token"].as_str().unwrap()),
    ];
    let (status, _) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&renew)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the newer refresh token ended too");

    // Another login of the same user is another family: untouched. Revoking ends it.
    let other_access = other_login["access_token"].as_str().unwrap();
    let (status, _) = t.api.get("/api/v1/users/me", Some(other_access)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.api.post("/api/v1/users/revoke-token", Some(other_access), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = t.api.get("/api/v1/users/me", Some(other_access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_token");
    t.stop().await;
}

async fn changing_your_password_ends_your_other_sessions(backend: Backend) {
    let t = TestInstance::start(backend).await;
    t.user("pat").await;
    let (_, here) = t.api.token("pat", "password-123").await;
    let (_, there) = t.api.token("pat", "password-123").await;
    let here_access = here["access_token"].as_str().unwrap();
    let change = json!({ "currentPassword": "password-123", "password": "another-password-9" });
    let (status, body) = t.api.put("/api/v1/users/me", Some(here_access), change).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = t.api.get("/api/v1/users/me", Some(here_access)).await;
    assert_eq!(status, StatusCode::OK, "the session that changed it goes on");
    let (status, _) = t.api.get("/api/v1/users/me", there["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the other session ended");
    let (id, secret) = t.api.client().await;
    let renew = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", there["refresh_token"].as_str().unwrap()),
    ];
    let (status, _) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&renew)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "and cannot be renewed");
    // Other changes leave sessions alone.
    let (_, third) = t.api.token("pat", "another-password-9").await;
    let (status, _) = t.api.put("/api/v1/users/me", Some(here_access), json!({ "displayName": "Pat" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get("/api/v1/users/me", third["access_token"].as_str()).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn repeated_failed_logins_get_429(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.auth.max_login_failures = 3).await;
    for _ in 0..3 {
        let (status, _) = t.api.token("root", "wrong-password").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // Now even the right password waits: that is what stops guessing.
    let (id, secret) = t.api.client().await;
    let form = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "password"),
        ("username", "root"),
        ("password", ADMIN_PASSWORD),
    ];
    let resp = t.api.http.post(t.api.url("/api/v1/users/token")).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 600);
    let body: flotilla_testkit::serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "too_many_requests");
    // Other routes keep answering.
    let (status, _) = t.api.get("/api/v1/config", None).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn api_routes_need_a_valid_bearer_token(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let resp = t.api.http.get(t.api.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert!(resp.headers()["content-type"].to_str().unwrap().contains("json"));
    let body: flotilla_testkit::serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "missing_token");
    let (status, body) = t.api.get("/api/v1/users/me", Some("0123456789abcdef")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "invalid_token");
    for path in ["/api/v1/users", "/api/v1/config/custom", "/api/v1/users/me/video-quota-used"] {
        let (status, _) = t.api.get(path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    t.stop().await;
}

async fn expired_tokens_are_refused_and_cleaned_up(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (_, tokens) = t.api.token("root", ADMIN_PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap();
    let _forgotten = t.admin_token().await;
    let fresh = t.admin_token().await;
    // Age the first session past both lifetimes, as two weeks of waiting would.
    let db = &t.instance.app.db;
    flotilla_db::run!(db, |x| sqlx::query(
        "UPDATE oauth_tokens SET access_expires_at = 0, refresh_expires_at = 0 \
         WHERE id < (SELECT MAX(id) FROM oauth_tokens)"
    )
    .execute(x)
    .await
    .map(|_| ()))
    .unwrap();
    let (status, body) = t.api.get("/api/v1/users/me", Some(access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("expired"), "{body}");
    let (id, secret) = t.api.client().await;
    let form = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, body) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The refresh attempt removed its expired pair; the clean-up removes the forgotten one.
    assert_eq!(flotilla_app::auth::delete_expired_tokens(&t.instance.app).await.unwrap(), 1);
    assert_eq!(flotilla_app::auth::delete_expired_tokens(&t.instance.app).await.unwrap(), 0);
    let (status, _) = t.api.get("/api/v1/users/me", Some(&fresh)).await;
    assert_eq!(status, StatusCode::OK, "other sessions are untouched");
    t.stop().await;
}

/// A copy of the database does not log anyone in (security-cases 25): after a login and a
/// refresh, no column of `oauth_tokens` holds an issued access or refresh token, nor a piece of
/// one long enough to guess the rest.
async fn tokens_are_stored_only_as_hashes(backend: Backend) {
    let t = TestInstance::start(backend).await;
    t.user("hashy").await;
    let (status, first) = t.api.token("hashy", "password-123").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (client_id, secret) = t.api.client().await;
    let form = [
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", first["refresh_token"].as_str().unwrap()),
    ];
    let (status, second) = t.api.send(t.api.http.post(t.api.url("/api/v1/users/token")).form(&form)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let issued: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|b| {
            [b["access_token"].as_str().unwrap().to_string(), b["refresh_token"].as_str().unwrap().to_string()]
        })
        .collect();
    assert!(issued.iter().all(|s| s.len() >= 20), "{issued:?}");

    // Every column, read as text (the list is the table's: a column added later is read too).
    let db = &t.instance.app.db;
    let columns: Vec<String> = match backend {
        Backend::Sqlite => flotilla_db::run!(db, |x| sqlx::query_scalar(
            "SELECT name FROM pragma_table_info('oauth_tokens') ORDER BY cid"
        )
        .fetch_all(x)
        .await),
        Backend::Postgres => flotilla_db::run!(db, |x| sqlx::query_scalar(
            "SELECT column_name::TEXT FROM information_schema.columns WHERE table_name = 'oauth_tokens' ORDER BY ordinal_position"
        )
        .fetch_all(x)
        .await),
    }
    .unwrap();
    assert!(columns.contains(&"access_hash".to_string()) && columns.len() >= 7, "{columns:?}");
    let cells =
        columns.iter().map(|c| format!("COALESCE(CAST({c} AS TEXT), '')")).collect::<Vec<_>>().join(" || '|' || ");
    let rows: Vec<String> =
        flotilla_db::run!(db, |x| sqlx::query_scalar(&format!("SELECT {cells} FROM oauth_tokens")).fetch_all(x).await)
            .unwrap();
    assert!(rows.len() >= 2, "both pairs are stored: {rows:?}");
    for row in &rows {
        for token in &issued {
            // Whole, or any 16-character piece of it.
            let pieces: Vec<&str> = (0..=token.len() - 16).map(|i| &token[i..i + 16]).collect();
            assert!(!pieces.iter().any(|p| row.contains(p)), "a token is stored in clear: {row}");
        }
    }
    t.stop().await;
}

/// Only a moderator marks an email verified (security-cases 25): a user who sends
/// `emailVerified: true` to `PUT /users/me` changes nothing.
async fn users_cannot_mark_their_own_email_verified(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("unverified").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["emailVerified"], false, "{me}");
    let (status, body) =
        t.api.put("/api/v1/users/me", Some(&token), json!({ "emailVerified": true, "displayName": "Still me" })).await;
    assert!(status == StatusCode::NO_CONTENT || status == StatusCode::BAD_REQUEST, "{status} {body}");
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["emailVerified"], false, "{me}");
    // The admin's view says the same.
    let admin = t.admin_token().await;
    let (_, user) = t.api.get(&format!("/api/v1/users/{}", me["id"]), Some(&admin)).await;
    assert_eq!(user["emailVerified"], false, "{user}");
    t.stop().await;
}
