//! Sign-up in each mode, the user's own settings, and user management with its role checks.

use flotilla_domain::SignupMode;
use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(
    open_registration_creates_the_user_their_account_and_channel,
    closed_registration_is_403,
    approval_registration_waits_for_a_moderator,
    duplicate_usernames_and_emails_are_409,
    users_change_their_own_settings,
    role_checks_guard_every_admin_route,
    admins_create_update_block_and_delete_users,
    text_one_character_over_its_limit_is_refused_by_name,
);

async fn open_registration_creates_the_user_their_account_and_channel(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let (status, body) = t
        .api
        .post(
            "/api/v1/users/register",
            None,
            json!({
                "username": "alice", "password": "password-123", "email": "alice@example.org",
                "displayName": "Alice A.", "channel": { "name": "alice_videos", "displayName": "Alice's videos" }
            }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let token = t.api.login("alice", "password-123").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["role"]["id"], 2);
    assert_eq!(me["account"]["displayName"], "Alice A.");
    assert_eq!(me["videoChannels"][0]["name"], "alice_videos");
    assert_eq!(me["videoChannels"][0]["displayName"], "Alice's videos");

    // Without a channel, the default is <username>_channel.
    let bob = t.user("bob").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&bob)).await;
    assert_eq!(me["videoChannels"][0]["name"], "bob_channel");
    assert_eq!(me["videoChannels"][0]["displayName"], "Main bob channel");

    let (status, acc) = t.api.get("/api/v1/accounts/alice", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acc["name"], "alice");
    assert_eq!(acc["host"], t.instance.addr.to_string());
    assert_eq!(acc["url"], format!("{}/accounts/alice", t.api.base));

    // Invalid fields are all reported, PeerTube-style.
    let (status, body) = t
        .api
        .post("/api/v1/users/register", None, json!({ "username": "Bad Name", "password": "x", "email": "nope" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_params");
    for f in ["username", "password", "email"] {
        assert!(body["invalid-params"][f]["msg"].is_string(), "{f} missing in {body}");
    }
    t.stop().await;
}

async fn closed_registration_is_403(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.signup = SignupMode::Closed).await;
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["signup"]["allowed"], false);
    let (status, body) = t
        .api
        .post(
            "/api/v1/users/register",
            None,
            json!({ "username": "eve", "password": "password-123", "email": "e@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden");
    let (status, _) = t.api.token("eve", "password-123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    t.stop().await;
}

async fn approval_registration_waits_for_a_moderator(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.signup = SignupMode::Approval).await;
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["signup"]["requiresApproval"], true);

    let (status, reg) = t
        .api
        .post(
            "/api/v1/users/registrations/request",
            None,
            json!({ "username": "carol", "password": "password-123", "email": "carol@example.org",
                    "registrationReason": "I make documentaries" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reg}");
    assert_eq!(reg["state"]["id"], 1);
    // A request without a reason is refused when approval is required.
    let (status, _) = t
        .api
        .post(
            "/api/v1/users/registrations/request",
            None,
            json!({ "username": "dan", "password": "password-123", "email": "dan@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Plain /users/register also queues the request.
    let (status, dan) = t
        .api
        .post(
            "/api/v1/users/register",
            None,
            json!({ "username": "dan", "password": "password-123", "email": "dan@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dan}");

    let (status, body) = t.api.token("carol", "password-123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "account_waiting_for_approval");
    // The name is held while the request waits.
    let (status, _) = t
        .api
        .post(
            "/api/v1/users/register",
            None,
            json!({ "username": "carol", "password": "password-123", "email": "c2@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let admin = t.admin_token().await;
    let (_, list) = t.api.get("/api/v1/users/registrations", Some(&admin)).await;
    assert_eq!(list["total"], 2);
    let carol_id = reg["id"].as_i64().unwrap();
    let (status, body) = t
        .api
        .post(
            &format!("/api/v1/users/registrations/{carol_id}/accept"),
            Some(&admin),
            json!({ "moderationResponse": "Welcome" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.api.login("carol", "password-123").await;
    let (status, _) =
        t.api.post(&format!("/api/v1/users/registrations/{carol_id}/accept"), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let dan_id = dan["id"].as_i64().unwrap();
    let (status, _) =
        t.api.post(&format!("/api/v1/users/registrations/{dan_id}/reject"), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = t.api.token("dan", "password-123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "account_approval_rejected");

    // A plain user cannot see or decide requests.
    let carol = t.api.login("carol", "password-123").await;
    let (status, _) = t.api.get("/api/v1/users/registrations", Some(&carol)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    t.stop().await;
}

async fn duplicate_usernames_and_emails_are_409(backend: Backend) {
    let t = TestInstance::start(backend).await;
    t.user("frank").await;
    for body in [
        json!({ "username": "frank", "password": "password-123", "email": "other@example.org" }),
        json!({ "username": "frank2", "password": "password-123", "email": "FRANK@example.org" }),
        // A username may not take a channel's name either: they share one namespace.
        json!({ "username": "frank_channel", "password": "password-123", "email": "fc@example.org" }),
    ] {
        let (status, resp) = t.api.post("/api/v1/users/register", None, body.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body} → {resp}");
        assert_eq!(resp["code"], "conflict");
    }
    t.stop().await;
}

async fn users_change_their_own_settings(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("gina").await;
    let (status, body) = t
        .api
        .put(
            "/api/v1/users/me",
            Some(&token),
            json!({ "displayName": "Gina G", "description": "I film birds", "nsfwPolicy": "blur", "p2pEnabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["account"]["displayName"], "Gina G");
    assert_eq!(me["account"]["description"], "I film birds");
    assert_eq!(me["nsfwPolicy"], "blur");
    assert_eq!(me["p2pEnabled"], false);

    let (status, body) = t.api.put("/api/v1/users/me", Some(&token), json!({ "nsfwPolicy": "sometimes" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["invalid-params"]["nsfwPolicy"].is_object());

    // A new password needs the current one.
    let (status, _) = t.api.put("/api/v1/users/me", Some(&token), json!({ "password": "new-password-1" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t
        .api
        .put("/api/v1/users/me", Some(&token), json!({ "password": "new-password-1", "currentPassword": "wrong-one" }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t
        .api
        .put(
            "/api/v1/users/me",
            Some(&token),
            json!({ "password": "new-password-1", "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.token("gina", "password-123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    t.api.login("gina", "new-password-1").await;

    let (status, quota) = t.api.get("/api/v1/users/me/video-quota-used", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(quota, json!({ "videoQuotaUsed": 0, "videoQuotaUsedDaily": 0 }));
    t.stop().await;
}

async fn role_checks_guard_every_admin_route(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let admin = t.admin_token().await;
    let user = t.user("henry").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&user)).await;
    let henry_id = me["id"].as_i64().unwrap();

    let forbidden = [
        ("GET", "/api/v1/users".to_string()),
        ("POST", "/api/v1/users".to_string()),
        ("GET", "/api/v1/users/1".to_string()),
        ("PUT", "/api/v1/users/1".to_string()),
        ("DELETE", "/api/v1/users/1".to_string()),
        ("POST", "/api/v1/users/1/block".to_string()),
        ("GET", "/api/v1/config/custom".to_string()),
        ("PUT", "/api/v1/config/custom".to_string()),
        ("DELETE", "/api/v1/config/custom".to_string()),
        ("GET", "/api/v1/users/registrations".to_string()),
    ];
    for (method, path) in &forbidden {
        let body = json!({ "username": "x1", "password": "password-123", "email": "x1@example.org", "role": 2 });
        let req = t.api.request(method.parse().unwrap(), path, Some(&user)).json(&body);
        let (status, resp) = t.api.send(req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as a user: {resp}");
    }

    // A moderator manages users, but not admins, and cannot make admins.
    let (status, _) = t.api.put(&format!("/api/v1/users/{henry_id}"), Some(&admin), json!({ "role": 1 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let moderator = t.api.login("henry", "password-123").await;
    let (status, _) = t.api.get("/api/v1/users", Some(&moderator)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = t.api.post("/api/v1/users/1/block", Some(&moderator), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t
        .api
        .post(
            "/api/v1/users",
            Some(&moderator),
            json!({ "username": "boss", "password": "password-123", "email": "b@example.org", "role": 0 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.api.get("/api/v1/config/custom", Some(&moderator)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nor raise their own quota or role through the admin route; another user's quota, yes.
    let (_, before) = t.api.get("/api/v1/users/me", Some(&moderator)).await;
    for change in [json!({ "videoQuota": -1 }), json!({ "videoQuotaDaily": -1 }), json!({ "role": 0 })] {
        let (status, body) = t.api.put(&format!("/api/v1/users/{henry_id}"), Some(&moderator), change.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{change}: {body}");
    }
    let (_, after) = t.api.get("/api/v1/users/me", Some(&moderator)).await;
    assert_eq!(
        (&after["videoQuota"], &after["videoQuotaDaily"], &after["role"]),
        (&before["videoQuota"], &before["videoQuotaDaily"], &before["role"])
    );
    let ines = t.user("ines").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ines)).await;
    let (status, _) =
        t.api.put(&format!("/api/v1/users/{}", me["id"]), Some(&moderator), json!({ "videoQuota": 5_000_000 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // …and the admin may do all of it.
    let (status, _) = t.api.get("/api/v1/config/custom", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn admins_create_update_block_and_delete_users(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let admin = t.admin_token().await;
    let (status, created) = t
        .api
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({ "username": "ivy", "password": "password-123", "email": "ivy@example.org", "role": 2,
                    "videoQuota": 1000000, "videoQuotaDaily": -1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["user"]["id"].as_i64().unwrap();
    assert!(created["user"]["account"]["id"].as_i64().unwrap() > 0);

    let (_, u) = t.api.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(u["username"], "ivy");
    assert_eq!(u["videoQuota"], 1000000);
    let (status, _) = t
        .api
        .put(&format!("/api/v1/users/{id}"), Some(&admin), json!({ "videoQuota": 5000, "email": "ivy2@example.org" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, u) = t.api.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(u["videoQuota"], 5000);
    assert_eq!(u["email"], "ivy2@example.org");

    let (_, list) = t.api.get("/api/v1/users?search=ivy", Some(&admin)).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["username"], "ivy");

    let ivy = t.api.login("ivy", "password-123").await;
    let (status, _) = t.api.post(&format!("/api/v1/users/{id}/block"), Some(&admin), json!({ "reason": "spam" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get("/api/v1/users/me", Some(&ivy)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a blocked user's sessions end");
    let (status, body) = t.api.token("ivy", "password-123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "user_blocked");
    let (_, u) = t.api.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(u["blocked"], true);
    assert_eq!(u["blockedReason"], "spam");
    let (status, _) = t.api.post(&format!("/api/v1/users/{id}/unblock"), Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.api.login("ivy", "password-123").await;

    let (status, _) = t.api.get("/api/v1/users/notanumber", Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = t.api.get("/api/v1/users/999999", Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = t.api.delete(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.api.get("/api/v1/accounts/ivy", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.api.get("/api/v1/video-channels/ivy_channel", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The admin cannot delete themself.
    let (status, _) = t.api.delete("/api/v1/users/1", Some(&admin)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    t.stop().await;
}

/// Each limited text is accepted at its limit and refused one character over it (security-cases
/// 27), with a 400 naming the field and nothing changed: account display name (120) and
/// description (1000), channel display name (120), description and support (1000), the
/// registration reason (3000) and the email (254 bytes, RFC 5321's path limit). Limits count
/// characters, so two-byte characters are used where the limit is in characters.
async fn text_one_character_over_its_limit_is_refused_by_name(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let token = t.user("limits").await;
    let chars = |n: usize| "é".repeat(n);
    let refused = |status: StatusCode, body: &Value, field: &str, what: &str| {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(body["invalid-params"][field].is_object(), "{what}: {field} not named in {body}");
    };

    // The account, through PUT /users/me.
    for (field, max) in [("displayName", 120), ("description", 1000)] {
        let (status, body) = t.api.put("/api/v1/users/me", Some(&token), json!({ field: chars(max + 1) })).await;
        refused(status, &body, field, &format!("account {field} of {}", max + 1));
        let (_, acc) = t.api.get("/api/v1/accounts/limits", None).await;
        assert_ne!(acc[field].as_str().map(|s| s.chars().count()), Some(max + 1), "unchanged: {acc}");
        let (status, body) = t.api.put("/api/v1/users/me", Some(&token), json!({ field: chars(max) })).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "account {field} of {max}: {body}");
        let (_, acc) = t.api.get("/api/v1/accounts/limits", None).await;
        assert_eq!(acc[field], chars(max), "stored at the limit");
    }

    // The channel, through PUT /video-channels/:handle and at creation.
    for (field, max) in [("displayName", 120), ("description", 1000), ("support", 1000)] {
        let (_, before) = t.api.get("/api/v1/video-channels/limits_channel", None).await;
        let (status, body) =
            t.api.put("/api/v1/video-channels/limits_channel", Some(&token), json!({ field: chars(max + 1) })).await;
        refused(status, &body, field, &format!("channel {field} of {}", max + 1));
        let (_, after) = t.api.get("/api/v1/video-channels/limits_channel", None).await;
        assert_eq!(after[field], before[field], "channel {field} unchanged");
        let (status, body) =
            t.api.put("/api/v1/video-channels/limits_channel", Some(&token), json!({ field: chars(max) })).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "channel {field} of {max}: {body}");

        let mut create = json!({ "name": "limits_second", "displayName": "Second" });
        create[field] = json!(chars(max + 1));
        let (status, body) = t.api.post("/api/v1/video-channels", Some(&token), create).await;
        refused(status, &body, field, &format!("new channel with {field} of {}", max + 1));
        let (status, _) = t.api.get("/api/v1/video-channels/limits_second", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no channel was created");
    }

    // The registration reason and the email, at sign-up.
    let register = |username: &str, email: String, reason: String| {
        t.api.post(
            "/api/v1/users/register",
            None,
            json!({ "username": username, "password": "password-123", "email": email, "registrationReason": reason }),
        )
    };
    let email = |len: usize| format!("{}@example.org", "a".repeat(len - "@example.org".len()));
    let (status, body) = register("reason_over", email(40), chars(3001)).await;
    refused(status, &body, "registrationReason", "a reason of 3001");
    let (status, body) = register("email_over", email(255), "why".into()).await;
    refused(status, &body, "email", "an email of 255");
    for name in ["reason_over", "email_over"] {
        let (status, _) = t.api.get(&format!("/api/v1/accounts/{name}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name} was not created");
    }
    let (status, body) = register("reason_max", email(40), chars(3000)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a reason of 3000: {body}");
    let (status, body) = register("email_max", email(254), "why".into()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "an email of 254: {body}");

    // The email again, changed by its owner.
    let (status, body) = t
        .api
        .put("/api/v1/users/me", Some(&token), json!({ "email": email(255), "currentPassword": "password-123" }))
        .await;
    refused(status, &body, "email", "a new email of 255");
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["email"], "limits@example.org");
    t.stop().await;
}
