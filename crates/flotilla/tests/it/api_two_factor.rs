//! Two-factor authentication (TOTP) as PeerTube: set up with a code from an authenticator (made
//! here by an independent implementation, Python's standard library), logins refused without a
//! code, accepted with one, a code never accepted twice; an admin turns it off for a user who
//! lost their device.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(a_login_needs_a_fresh_code_once_two_factor_is_on, setting_up_and_recovering_two_factor);

/// The code an authenticator app shows for `secret` (base32) at step `now/30 + offset`.
fn code(secret: &str, offset: i64) -> String {
    let step = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 / 30 + offset;
    let script = "import hmac,hashlib,base64,struct,sys\n\
        s=sys.argv[1]; k=base64.b32decode(s+'='*(-len(s)%8)); h=hmac.new(k,struct.pack('>Q',int(sys.argv[2])),hashlib.sha1).digest()\n\
        o=h[-1]&15; print('%06d'%((struct.unpack('>I',h[o:o+4])[0]&0x7fffffff)%1000000))";
    let out = Command::new("python3").args(["-c", script, secret, &step.to_string()]).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn login(t: &TestInstance, user: &str, otp: Option<&str>) -> (StatusCode, Value, Option<String>) {
    let (id, secret) = t.api.client().await;
    let form = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "password"),
        ("username", user),
        ("password", "password-123"),
    ];
    let mut req = t.api.http.post(t.api.url("/api/v1/users/token")).form(&form);
    if let Some(c) = otp {
        req = req.header("x-peertube-otp", c);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let header = resp.headers().get("x-peertube-otp").map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap_or(Value::Null), header)
}

/// Turns two-factor on for `token`'s user (id `uid`); returns the secret.
async fn enable(t: &TestInstance, token: &str, uid: i64) -> String {
    let (status, req) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/two-factor/request"),
            Some(token),
            json!({ "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{req}");
    let secret = req["otpRequest"]["secret"].as_str().unwrap().to_string();
    let uri = req["otpRequest"]["uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")), "{uri}");
    let body = json!({ "requestToken": req["otpRequest"]["requestToken"], "otpToken": code(&secret, 0) });
    let (status, answer) =
        t.api.post(&format!("/api/v1/users/{uid}/two-factor/confirm-request"), Some(token), body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    secret
}

async fn a_login_needs_a_fresh_code_once_two_factor_is_on(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let ava = t.user("ava").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ava)).await;
    assert_eq!(me["twoFactorEnabled"], false);
    let uid = me["id"].as_i64().unwrap();
    let secret = enable(&t, &ava, uid).await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ava)).await;
    assert_eq!(me["twoFactorEnabled"], true);

    // Without a code: refused, and told to send one (PeerTube's header).
    let (status, body, header) = login(&t, "ava", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "missing_two_factor");
    assert_eq!(header.as_deref(), Some("required; app"));
    // A wrong code: refused.
    let wrong = if code(&secret, 5) == "000000" { "111111" } else { "000000" };
    let (status, body, _) = login(&t, "ava", Some(wrong)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_two_factor");
    // The right code: a token. The same code again: refused (the confirmation took this step
    // already, so the next step's code is the one that logs in).
    let next = code(&secret, 1);
    let (status, body, _) = login(&t, "ava", Some(&next)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
    let (status, body, _) = login(&t, "ava", Some(&next)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a replayed code: {body}");
    assert_eq!(body["code"], "invalid_two_factor");
    // An older step's code, even if it was never used: refused too.
    let (status, _, _) = login(&t, "ava", Some(&code(&secret, 0))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Users without two-factor log in as before.
    t.user("bob").await;
    let (status, _, _) = login(&t, "bob", None).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn setting_up_and_recovering_two_factor(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    let uid = t.api.get("/api/v1/users/me", Some(&ava)).await.1["id"].as_i64().unwrap();
    // A wrong password, someone else, a wrong request token or code: refused, nothing turned on.
    let (status, _) = t
        .api
        .post(&format!("/api/v1/users/{uid}/two-factor/request"), Some(&ava), json!({ "currentPassword": "nope" }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/two-factor/request"),
            Some(&bob),
            json!({ "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, req) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/two-factor/request"),
            Some(&ava),
            json!({ "currentPassword": "password-123" }),
        )
        .await;
    let secret = req["otpRequest"]["secret"].as_str().unwrap().to_string();
    for body in [
        json!({ "requestToken": "forged", "otpToken": code(&secret, 0) }),
        json!({ "requestToken": req["otpRequest"]["requestToken"], "otpToken": "12345" }),
        json!({ "requestToken": req["otpRequest"]["requestToken"] }),
    ] {
        let (status, answer) =
            t.api.post(&format!("/api/v1/users/{uid}/two-factor/confirm-request"), Some(&ava), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }
    assert_eq!(t.api.get("/api/v1/users/me", Some(&ava)).await.1["twoFactorEnabled"], false);
    let (status, _, _) = login(&t, "ava", None).await;
    assert_eq!(status, StatusCode::OK, "still off");

    // On; then the admin recovers it for a user who lost their device.
    enable(&t, &ava, uid).await;
    let (status, answer) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/two-factor/request"),
            Some(&ava),
            json!({ "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "already on: {answer}");
    let (status, _) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/two-factor/disable"),
            Some(&bob),
            json!({ "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not another user");
    let admin = t.admin_token().await;
    let (status, answer) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/two-factor/disable"),
            Some(&admin),
            json!({ "currentPassword": flotilla_testkit::ADMIN_PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let (status, _, _) = login(&t, "ava", None).await;
    assert_eq!(status, StatusCode::OK, "off again: the password is enough");
    // The user turns it on and off themselves.
    enable(&t, &ava, uid).await;
    let (status, _) = t
        .api
        .post(&format!("/api/v1/users/{uid}/two-factor/disable"), Some(&ava), json!({ "currentPassword": "wrong" }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t
        .api
        .post(
            &format!("/api/v1/users/{uid}/two-factor/disable"),
            Some(&ava),
            json!({ "currentPassword": "password-123" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(t.api.get("/api/v1/users/me", Some(&ava)).await.1["twoFactorEnabled"], false);
    t.stop().await;
}
