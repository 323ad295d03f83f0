//! Our HTTP signatures checked against an independent implementation (Python's `cryptography`,
//! tests/independent.py) in both directions, so a bug shared by our signer and our verifier cannot
//! pass unnoticed.

use std::path::Path;
use std::process::Command;

use flotilla_federation::{keys, signature};
use serde_json::{Value, json};

fn python(mode: &str, request: &Value) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.json");
    std::fs::write(&file, request.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent.py");
    let out = Command::new("python3").arg(&script).arg(mode).arg(&file).output().unwrap_or_else(|e| {
        panic!("cannot run python3 ({e}): install Python 3 with `pip install cryptography` (make test does)")
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "Python's cryptography package is missing: `python3 -m pip install cryptography` (make test does)\n{stderr}"
    );
    out
}

#[test]
fn python_accepts_our_signatures_and_refuses_tampered_ones() {
    let (private_pem, public_pem) = keys::generate().unwrap();
    let key = keys::private_from_pem(&private_pem).unwrap();
    let body = r#"{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow"}"#;
    let signed = signature::sign(
        "POST",
        "/accounts/bob/inbox",
        "b.example:9000",
        Some(body.as_bytes()),
        "http://a.example/accounts/alice#main-key",
        &key,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let mut request = json!({
        "method": "POST",
        "path": "/accounts/bob/inbox",
        "headers": {
            "host": "b.example:9000",
            "date": signed.date,
            "digest": signed.digest,
            "signature": signed.signature,
        },
        "body": body,
        "public_key_pem": public_pem,
    });
    let out = python("verify", &request);
    assert!(out.status.success(), "Python refused our signature: {}", String::from_utf8_lossy(&out.stderr));

    request["body"] = json!(body.replace("Follow", "Delete"));
    assert!(!python("verify", &request).status.success(), "a changed body must fail");
    request["body"] = json!(body);
    request["path"] = json!("/inbox");
    assert!(!python("verify", &request).status.success(), "a changed target must fail");
}

#[test]
fn we_accept_python_signatures_and_refuse_tampered_ones() {
    let (private_pem, public_pem) = keys::generate().unwrap();
    let body = r#"{"type":"Create"}"#;
    let out = python(
        "sign",
        &json!({
            "method": "POST",
            "path": "/inbox",
            "headers": { "host": "a.example" },
            "body": body,
            "private_key_pem": private_pem,
            "key_id": "https://b.example/users/carol#main-key",
        }),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let headers: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lookup = |name: &str| headers[name].as_str().map(str::to_string);
    let parsed = signature::parse_header(&lookup("signature").unwrap()).unwrap();
    assert_eq!(parsed.key_id, "https://b.example/users/carol#main-key");
    let public = keys::public_from_pem(&public_pem).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let req = signature::Request { method: "POST", path: "/inbox", header: &lookup, body: body.as_bytes() };
    let string = signature::check(&req, &parsed, now).unwrap();
    signature::verify(&string, &parsed, &public).unwrap();

    let req = signature::Request { method: "POST", path: "/inbox", header: &lookup, body: b"{\"type\":\"Delete\"}" };
    assert_eq!(signature::check(&req, &parsed, now), Err(signature::SigError::DigestMismatch));
}

#[test]
fn python_accepts_our_signed_gets() {
    // Servers in authorized-fetch mode (Mastodon's secure mode) check the GETs we sign.
    let (private_pem, public_pem) = keys::generate().unwrap();
    let key = keys::private_from_pem(&private_pem).unwrap();
    let signed = signature::sign(
        "GET",
        "/users/zoe?page=1",
        "b.example",
        None,
        "http://a.example/accounts/peertube#main-key",
        &key,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert!(signed.digest.is_none(), "a GET carries no digest");
    let mut request = json!({
        "method": "GET",
        "path": "/users/zoe?page=1",
        "headers": { "host": "b.example", "date": signed.date, "signature": signed.signature },
        "body": null,
        "public_key_pem": public_pem,
    });
    let out = python("verify", &request);
    assert!(out.status.success(), "Python refused our signed GET: {}", String::from_utf8_lossy(&out.stderr));
    request["path"] = json!("/users/zoe");
    assert!(!python("verify", &request).status.success(), "another path must fail");
}
