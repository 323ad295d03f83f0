//! E-mail through a real SMTP server (Python's aiosmtpd, started by the test): password reset,
//! address verification at sign-up, confirmation of a new address, notifications by e-mail;
//! every link read from the delivered message and followed; wrong, reused and replaced links
//! refused.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, Mail, SmtpServer, TestInstance, db_tests};

db_tests!(
    a_forgotten_password_is_reset_by_the_mailed_link,
    sign_up_waits_for_the_address_to_be_confirmed,
    a_new_address_counts_once_confirmed,
    notifications_reach_those_who_ask_by_email,
    without_smtp_the_mail_features_say_so,
);

/// `(userId, verificationString, isPendingEmail)` of the link in a message.
fn link(m: &Mail) -> (i64, String, bool) {
    let start = m.body.find("http").unwrap_or_else(|| panic!("a link in {m:?}"));
    let url = m.body[start..].split_whitespace().next().unwrap();
    let query = url.split_once('?').unwrap().1;
    let get = |k: &str| query.split('&').find_map(|p| p.strip_prefix(&format!("{k}="))).map(str::to_string);
    (
        get("userId").unwrap().parse().unwrap(),
        get("verificationString").unwrap(),
        get("isPendingEmail").as_deref() == Some("true"),
    )
}

async fn login(t: &TestInstance, user: &str, password: &str) -> (StatusCode, Value) {
    t.api.token(user, password).await
}

async fn a_forgotten_password_is_reset_by_the_mailed_link(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let t = TestInstance::start_with(backend, |c| smtp.configure(c)).await;
    t.user("ava").await;
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["email"]["enabled"], true);
    // Unknown addresses get the same answer, and no mail.
    for email in ["nobody@example.org", "ava@example.org"] {
        let (status, _) = t.api.post("/api/v1/users/ask-reset-password", None, json!({ "email": email })).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    t.run_jobs().await;
    let mails = smtp.wait_for("ava@example.org", 1).await;
    assert!(mails[0].subject.contains("reset your password"), "{mails:?}");
    assert!(smtp.messages().iter().all(|m| !m.to.contains("nobody")));
    let (uid, token, _) = link(&mails[0]);
    assert!(mails[0].body.contains(&format!("{}/reset-password?userId={uid}&verificationString=", t.api.base)));
    let reset = |s: &str, p: &str| json!({ "verificationString": s, "password": p });
    let (status, body) =
        t.api.post(&format!("/api/v1/users/{uid}/reset-password"), None, reset("forged", "new-password-1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = t.api.post(&format!("/api/v1/users/{uid}/reset-password"), None, reset(&token, "x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a too short password");
    let (status, body) =
        t.api.post(&format!("/api/v1/users/{uid}/reset-password"), None, reset(&token, "new-password-1")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(login(&t, "ava", "new-password-1").await.0, StatusCode::OK);
    assert_eq!(login(&t, "ava", "password-123").await.0, StatusCode::BAD_REQUEST, "the old password is gone");
    let (status, _) =
        t.api.post(&format!("/api/v1/users/{uid}/reset-password"), None, reset(&token, "new-password-2")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a link works once");
    t.stop().await;
}

async fn sign_up_waits_for_the_address_to_be_confirmed(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let t = TestInstance::start_with(backend, |c| {
        smtp.configure(c);
        c.signup_requires_email_verification = true;
    })
    .await;
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["signup"]["requiresEmailVerification"], true);
    let (status, body) = t
        .api
        .post(
            "/api/v1/users/register",
            None,
            json!({ "username": "ava", "password": "password-123", "email": "ava@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.run_jobs().await;
    let first = smtp.wait_for("ava@example.org", 1).await;
    let (status, body) = login(&t, "ava", "password-123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "email_not_verified");
    // Asked again: a new link, the first one no longer works.
    let (status, _) =
        t.api.post("/api/v1/users/ask-send-verify-email", None, json!({ "email": "ava@example.org" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;
    let both = smtp.wait_for("ava@example.org", 2).await;
    let (uid, old, _) = link(&first[0]);
    let (_, new, pending) = link(&both[1]);
    assert!(!pending);
    assert!(both[1].body.contains("/verify-account/email?userId="));
    let verify = |s: &str| json!({ "verificationString": s });
    let (status, _) = t.api.post(&format!("/api/v1/users/{uid}/verify-email"), None, verify(&old)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "replaced by the second link");
    let (status, body) = t.api.post(&format!("/api/v1/users/{uid}/verify-email"), None, verify(&new)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, token) = login(&t, "ava", "password-123").await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let (_, me) = t.api.get("/api/v1/users/me", token["access_token"].as_str()).await;
    assert_eq!(me["emailVerified"], true);
    // The admin, made at the first start, was never asked to confirm anything.
    t.admin_token().await;
    t.stop().await;
}

async fn a_new_address_counts_once_confirmed(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let t = TestInstance::start_with(backend, |c| smtp.configure(c)).await;
    let ava = t.user("ava").await;
    let (status, body) = t
        .api
        .put(
            "/api/v1/users/me",
            Some(&ava),
            json!({ "email": "ava@new.example.org", "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ava)).await;
    assert_eq!(me["email"], "ava@example.org", "unchanged until confirmed");
    assert_eq!(me["pendingEmail"], "ava@new.example.org");
    t.run_jobs().await;
    let mails = smtp.wait_for("ava@new.example.org", 1).await;
    let (uid, token, pending) = link(&mails[0]);
    assert!(pending, "{mails:?}");
    let (status, _) =
        t.api.post(&format!("/api/v1/users/{uid}/verify-email"), None, json!({ "verificationString": token })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a change link is not a sign-up link");
    let (status, body) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/verify-email"),
            None,
            json!({ "verificationString": token, "isPendingEmail": true }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ava)).await;
    assert_eq!(me["email"], "ava@new.example.org");
    assert_eq!(me["pendingEmail"], Value::Null);
    t.stop().await;
}

async fn notifications_reach_those_who_ask_by_email(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let t = TestInstance::start_with(backend, |c| {
        smtp.configure(c);
        c.transcoding.resolutions = vec![144];
    })
    .await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    let uuid = t.publish(&ava, "Ava's film", &[]).await;
    t.run_jobs().await;
    // Web only (the default): no mail.
    let (status, _) =
        t.api.post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(&bob), json!({ "text": "First" })).await;
    assert_eq!(status, StatusCode::OK);
    t.run_jobs().await;
    assert!(smtp.messages().iter().all(|m| !m.to.contains("ava@")), "{:?}", smtp.messages());
    // Web and e-mail.
    let (status, _) =
        t.api.put("/api/v1/users/me/notification-settings", Some(&ava), json!({ "newCommentOnMyVideo": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.api
        .post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(&bob), json!({ "text": "Second thoughts" }))
        .await;
    t.run_jobs().await;
    let mails = smtp.wait_for("ava@example.org", 1).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].subject.contains("New comment on your video") && mails[0].subject.contains("Ava's film"),
        "{mails:?}"
    );
    assert!(mails[0].body.contains("Second thoughts"), "{mails:?}");
    let (_, list) = t.api.get("/api/v1/users/me/notifications", Some(&ava)).await;
    let comments = list["data"].as_array().unwrap().iter().filter(|n| n["type"] == 2).count();
    assert_eq!(comments, 2, "still on the web too: {list}");
    t.stop().await;
}

async fn without_smtp_the_mail_features_say_so(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let ava = t.user("ava").await;
    let (_, config) = t.api.get("/api/v1/config", None).await;
    assert_eq!(config["email"]["enabled"], false);
    let (status, body) =
        t.api.post("/api/v1/users/ask-reset-password", None, json!({ "email": "ava@example.org" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "email_disabled");
    // Changing the address needs no confirmation then.
    let (status, _) = t
        .api
        .put(
            "/api/v1/users/me",
            Some(&ava),
            json!({ "email": "ava@new.example.org", "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(t.api.get("/api/v1/users/me", Some(&ava)).await.1["email"], "ava@new.example.org");
    t.stop().await;
}
