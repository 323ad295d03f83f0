//! Property tests: the `Signature` header and the request it covers come from any server on the
//! internet, so parsing and checking must refuse garbage with an error, never panic, and accept
//! everything [`sign`] makes. Bounded: 256 cases of bounded size per property.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;
use crate::keys;

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// One key for every case: generating a 2048-bit key per case would dominate the run.
fn key() -> &'static (PrivateKey, PublicKey) {
    static KEY: OnceLock<(PrivateKey, PublicKey)> = OnceLock::new();
    KEY.get_or_init(|| {
        let (private, public) = keys::generate().unwrap();
        (keys::private_from_pem(&private).unwrap(), keys::public_from_pem(&public).unwrap())
    })
}

/// Pieces a hostile or broken `Signature` header is made of.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "keyId",
            "signature",
            "headers",
            "algorithm",
            "created",
            "expires",
            "=",
            "\"",
            ",",
            " ",
            "Signature ",
            "rsa-sha256",
            "hs2019",
            "(request-target)",
            "host date digest",
            "é",
            "\u{0}",
            "\u{202e}",
            "\\",
        ])
        .prop_map(String::from),
        "-?[0-9]{1,25}",
        "[A-Za-z0-9+/=]{0,16}",
        any::<char>().prop_map(String::from),
    ]
}

fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), prop::collection::vec(token(), 0..40).prop_map(|t| t.concat())]
}

/// `base` with a few characters cut out and tokens put in at random places.
fn mutated(base: String) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<prop::sample::Index>(), 0usize..8, token()), 1..6).prop_map(move |edits| {
        let mut chars: Vec<char> = base.chars().collect();
        for (at, cut, insert) in edits {
            let i = at.index(chars.len() + 1);
            let end = (i + cut).min(chars.len());
            chars.splice(i..end, insert.chars());
        }
        chars.into_iter().collect()
    })
}

const VALID: &str = "keyId=\"https://a.example/accounts/x#main-key\",algorithm=\"rsa-sha256\",\
                     headers=\"(request-target) host date digest\",created=1795584670,signature=\"AAAA\"";

/// What a parsed header always satisfies, however odd its input.
fn assert_well_formed(h: &SignatureHeader) {
    assert!(!h.key_id.is_empty(), "an empty keyId is refused");
    for name in &h.headers {
        assert!(!name.is_empty() && !name.chars().any(char::is_whitespace), "{name:?}");
        assert_eq!(*name, name.to_ascii_lowercase(), "header names are lower-cased");
    }
}

/// Request header values as a remote server may send them (bounded, any characters).
fn header_values() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop::sample::select(vec!["host", "date", "digest", "content-type", "x-odd"]).prop_map(String::from);
    let value = prop_oneof![
        any::<String>(),
        Just("SHA-256=".to_string()),
        "(SHA-256|sha-512|md5)=[A-Za-z0-9+/=]{0,48}(,[a-z-]*=?[A-Za-z0-9+/=]{0,8}){0,3}",
        "(Mon|Tue|Sun), [0-9]{1,3} (Jan|Feb|Dec|Foo) -?[0-9]{1,6} [0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3} GMT",
    ];
    prop::collection::vec((name, value), 0..6)
}

/// A parsed header as a sender may have written it: usually the names we require, sometimes not,
/// with others, in any order. Its `(created)` and `(expires)` are set by the test, relative to its
/// clock.
fn signature_header() -> impl Strategy<Value = SignatureHeader> {
    let required = ["(request-target)", "host", "date", "digest"];
    let optional = vec!["(created)", "(expires)", "content-type", "x-odd"];
    (
        prop::option::of(prop::sample::select(vec!["rsa-sha256", "hs2019", "RSA-SHA256", "hmac-sha256", ""])),
        [prop::bool::weighted(0.9), prop::bool::weighted(0.9), prop::bool::weighted(0.8), prop::bool::weighted(0.8)],
        prop::sample::subsequence(optional, 0..=2),
    )
        .prop_flat_map(move |(algorithm, keep, optional)| {
            let names: Vec<&str> =
                required.iter().zip(keep).filter(|(_, k)| *k).map(|(n, _)| *n).chain(optional).collect();
            (Just(algorithm), Just(names).prop_shuffle())
        })
        .prop_map(|(algorithm, headers)| SignatureHeader {
            key_id: "k".into(),
            algorithm: algorithm.map(String::from),
            headers: headers.into_iter().map(String::from).collect(),
            signature: vec![0; 4],
            created: None,
            expires: None,
        })
}

/// A time as a signer may write it: near the receiver's clock, or anything at all.
fn instant_near(now: i64) -> impl Strategy<Value = Option<i64>> {
    prop::option::of(prop_oneof![(-2 * MAX_AGE_SECS..2 * MAX_SKEW_SECS).prop_map(move |d| now + d), any::<i64>()])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_as_a_signature_header_is_parsed_or_refused_as_malformed(text in header_text()) {
        match parse_header(&text) {
            Ok(h) => assert_well_formed(&h),
            Err(e) => prop_assert!(matches!(e, SigError::Malformed(_)), "{e:?}"),
        }
    }

    #[test]
    fn a_mangled_valid_header_is_parsed_or_refused_as_malformed(text in mutated(VALID.to_string())) {
        match parse_header(&text) {
            Ok(h) => assert_well_formed(&h),
            Err(e) => prop_assert!(matches!(e, SigError::Malformed(_)), "{e:?}"),
        }
    }

    #[test]
    fn numbers_of_any_size_in_created_and_expires_are_read_or_refused(
        created in "-?[0-9]{1,40}",
        expires in "[+-]?[0-9]{0,40}",
    ) {
        let text = format!("keyId=\"k\",created={created},expires=\"{expires}\",signature=\"AAAA\"");
        match parse_header(&text) {
            Ok(h) => {
                prop_assert_eq!(h.created, created.parse().ok());
                prop_assert_eq!(h.expires, expires.parse().ok());
            }
            Err(e) => prop_assert!(created.parse::<i64>().is_err() || expires.parse::<i64>().is_err(), "{e:?}"),
        }
    }

    /// The whole round trip: what we sign, any receiver of ours parses, checks and verifies, for
    /// any key id, path, host, body and time; and the date window is exactly the documented one.
    #[test]
    fn every_request_sign_makes_parses_back_checks_and_verifies(
        key_id in "[!#-~]{1,80}|https://[a-z0-9.-]{1,30}/[\\PC&&[^\"]]{0,30}#main-key",
        post in any::<bool>(),
        path in "/[!-~]{0,60}",
        host in "[a-z0-9.-]{1,40}(:[0-9]{1,5})?",
        body in prop::collection::vec(any::<u8>(), 0..256),
        signed_at in 0i64..253_402_300_799,
        delay in -2 * MAX_SKEW_SECS..2 * MAX_AGE_SECS,
    ) {
        let (private, public) = key();
        let (method, body) = if post { ("POST", Some(&body[..])) } else { ("GET", None) };
        let t = OffsetDateTime::from_unix_timestamp(signed_at).unwrap();
        let s = sign(method, &path, &host, body, &key_id, private, t).unwrap();

        let parsed = parse_header(&s.signature).unwrap();
        prop_assert_eq!(&parsed.key_id, &key_id);
        let expected: &[&str] =
            if post { &["(request-target)", "host", "date", "digest"] } else { &["(request-target)", "host", "date"] };
        prop_assert_eq!(&parsed.headers, expected);
        prop_assert_eq!(parsed.signature.len(), 256, "a 2048-bit signature");
        prop_assert_eq!(parse_http_date(&s.date), Some(signed_at));

        let (date, digest, h) = (s.date.clone(), s.digest.clone(), host.clone());
        let lookup = move |name: &str| match name {
            "date" => Some(date.clone()),
            "digest" => digest.clone(),
            "host" => Some(h.clone()),
            _ => None,
        };
        let req = Request { method, path: &path, header: &lookup, body: body.unwrap_or_default() };
        let now = signed_at + delay;
        let in_window = (-MAX_SKEW_SECS..=MAX_AGE_SECS).contains(&delay);
        match check(&req, &parsed, now) {
            Ok(string) => {
                prop_assert!(in_window, "accepted {delay} s after signing");
                prop_assert_eq!(verify(&string, &parsed, public), Ok(()));
            }
            Err(e) => {
                prop_assert!(!in_window, "refused {delay} s after signing: {e:?}");
                prop_assert_eq!(e, SigError::Expired);
            }
        }
    }

    #[test]
    fn check_refuses_or_covers_every_signed_header_whatever_the_request_says(
        (now, created, expires) in (0i64..253_402_300_799).prop_flat_map(|now| (Just(now), instant_near(now), instant_near(now))),
        sig in signature_header(),
        values in header_values(),
        post in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        right_host in prop::bool::weighted(0.9),
        right_digest in prop::bool::weighted(0.8),
        date_offset in prop::option::weighted(0.8, -2 * MAX_AGE_SECS..2 * MAX_SKEW_SECS),
    ) {
        let sig = SignatureHeader { created, expires, ..sig };
        // Mostly a host, a right digest and a date near now, so that a good share of requests pass.
        let mut values = values;
        if right_host {
            values.push(("host".into(), "b.example".into()));
        }
        if right_digest {
            values.push(("digest".into(), super::digest(&body)));
        }
        if let Some(d) = date_offset {
            values.push(("date".into(), http_date(OffsetDateTime::from_unix_timestamp(now + d).unwrap())));
        }
        let lookup = move |name: &str| values.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let method = if post { "POST" } else { "GET" };
        let req = Request { method, path: "/inbox", header: &lookup, body: &body };
        if let Ok(string) = check(&req, &sig, now) {
            let has = |h: &str| sig.headers.iter().any(|x| x == h);
            prop_assert!(has("(request-target)") && has("host") && (has("date") || has("(created)")));
            prop_assert!(has("digest") || (body.is_empty() && !post), "a body is always covered by its digest");
            if has("digest") {
                let sent = lookup("digest").unwrap();
                prop_assert!(sent.split(',').any(|d| d.trim() == super::digest(&body)), "{sent}");
            }
            let when = if has("date") { parse_http_date(&lookup("date").unwrap()) } else { sig.created };
            let when = when.expect("a signed date");
            prop_assert!((now - MAX_AGE_SECS..=now + MAX_SKEW_SECS).contains(&when), "{when} at {now}");
            prop_assert!(sig.expires.is_none_or(|e| e >= now));
            for h in &sig.headers {
                prop_assert!(string.contains(&format!("{h}: ")), "{h} is in the signing string");
            }
        }
    }

    #[test]
    fn http_dates_round_trip_for_every_second_of_years_0_to_9999(t in -62_167_219_200i64..253_402_300_799) {
        let s = http_date(OffsetDateTime::from_unix_timestamp(t).unwrap());
        prop_assert_eq!(parse_http_date(&s), Some(t));
    }

    #[test]
    fn any_date_header_is_read_as_a_real_date_or_refused(
        text in prop_oneof![
            any::<String>(),
            "(Mon|Tue|Xyz), -?[0-9]{1,12} (Jan|Feb|Dec|jan) [+-]?[0-9]{1,12} [0-9:]{0,12} (GMT|UTC)",
        ]
    ) {
        // Whatever was read is a real instant that reads back the same when written out.
        if let Some(t) = parse_http_date(&text) {
            let again = OffsetDateTime::from_unix_timestamp(t).expect("a representable instant");
            prop_assert_eq!(parse_http_date(&http_date(again)), Some(t));
        }
    }

    #[test]
    fn any_public_key_pem_from_an_actor_is_read_or_refused(
        pem in prop_oneof![
            any::<String>(),
            "-----BEGIN (RSA )?PUBLIC KEY-----\n[A-Za-z0-9+/=\n]{0,400}\n-----END (RSA )?PUBLIC KEY-----",
        ]
    ) {
        // Nothing here is a valid key by chance; what matters is an error rather than a panic.
        prop_assert!(keys::public_from_pem(&pem).is_err());
    }
}
