//! Property tests: `Range` headers and file names come from any client. A range is read or refused
//! without a panic, and what is read is always inside the file; the cached-piece key agrees with
//! the range served. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;

use super::*;

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

fn with_range(v: &[u8]) -> Option<HeaderMap> {
    let mut m = HeaderMap::new();
    m.insert(header::RANGE, HeaderValue::from_bytes(v).ok()?);
    Some(m)
}

/// Range headers as clients (and attackers) write them, numbers past u64 included.
fn range_text() -> impl Strategy<Value = Vec<u8>> {
    let number = prop_oneof![
        6 => "[0-9]{1,4}",
        1 => "[0-9]{15,25}",
        1 => Just("18446744073709551615".to_string()),
        1 => Just("18446744073709551616".to_string()),
        2 => Just(String::new()),
        1 => Just("+1".to_string()),
        1 => Just("-1".to_string()),
    ];
    let spec = (
        prop::sample::select(vec!["bytes=", "bytes=", "bytes=", " bytes=", "bytes = ", "Bytes=", "items=", ""]),
        number.clone(),
        prop::sample::select(vec!["-", "-", "-", " - ", "", "--", "="]),
        number,
        prop::sample::select(vec!["", "", "", ",0-1", ", 5-", " ", "\t"]),
    )
        .prop_map(|(unit, a, dash, b, tail)| format!("{unit}{a}{dash}{b}{tail}").into_bytes());
    prop_oneof![4 => spec, 1 => prop::collection::vec(any::<u8>(), 0..40), 1 => any::<String>().prop_map(String::into_bytes)]
}

fn file_len() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..4, 0u64..100_000, Just(u64::MAX), any::<u64>()]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_range_header_is_read_inside_the_file_or_refused(v in range_text(), len in file_len()) {
        let Some(h) = with_range(&v) else { return Ok(()) };
        if let Ok(Some((start, end))) = range(&h, len) {
            prop_assert!(start <= end && end < len, "{start}-{end} of {len} from {:?}", String::from_utf8_lossy(&v));
        }
    }

    #[test]
    fn the_cached_piece_key_agrees_with_the_range_served(v in range_text(), len in file_len()) {
        // `respond` takes a cached piece's first byte from `explicit_range`: it must be the one served.
        let Some(h) = with_range(&v) else { return Ok(()) };
        if let (Some((a, b)), Ok(Some((start, end)))) = (explicit_range(&h), range(&h, len)) {
            prop_assert_eq!((start, end), (a, b.min(len - 1)));
        }
    }

    #[test]
    fn an_explicit_range_round_trips_and_is_clipped_to_the_file(len in 1u64..u64::MAX, a in any::<u64>(), b in any::<u64>()) {
        let (a, b) = (a % len, if b % 4 == 0 { b } else { b % len });
        let h = with_range(format!("bytes={a}-{b}").as_bytes()).unwrap();
        let expected = if a <= b { Ok(Some((a, b.min(len - 1)))) } else { Err(()) };
        prop_assert_eq!(range(&h, len), expected);
        prop_assert_eq!(explicit_range(&h), Some((a, b)));
        let past = with_range(format!("bytes={len}-").as_bytes()).unwrap();
        prop_assert_eq!(range(&past, len), Err(()), "a range starting at the end is unsatisfiable");
    }

    #[test]
    fn a_suffix_range_is_the_last_bytes_of_the_file(len in file_len(), n in prop_oneof![0u64..100, any::<u64>()]) {
        let h = with_range(format!("bytes=-{n}").as_bytes()).unwrap();
        let expected = if n == 0 || len == 0 { Err(()) } else { Ok(Some((len - n.min(len), len - 1))) };
        prop_assert_eq!(range(&h, len), expected);
    }

    /// The whole answer for a cached file: a 206 carries exactly the bytes it names.
    #[test]
    fn a_cached_file_answers_any_range_with_the_bytes_it_names(
        v in range_text(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let Some(h) = with_range(&v) else { return Ok(()) };
        let c = Cached { file_len: body.len() as u64, bytes: Bytes::from(body.clone()), etag: "\"e\"".into() };
        let r = respond(HeaderMap::new(), &h, &c, true);
        let status = r.status();
        let header = |n| r.headers().get(n).map(|v: &HeaderValue| v.to_str().unwrap().to_string());
        let (content_range, content_length) = (header(header::CONTENT_RANGE), header(header::CONTENT_LENGTH));
        let got = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(r.into_body(), usize::MAX))
            .unwrap();
        match status {
            StatusCode::OK => prop_assert_eq!(&got[..], &body[..]),
            StatusCode::PARTIAL_CONTENT => {
                let cr = content_range.unwrap();
                let (s, e) = cr
                    .strip_prefix("bytes ")
                    .and_then(|r| r.strip_suffix(&format!("/{}", body.len())))
                    .and_then(|r| r.split_once('-'))
                    .map(|(s, e)| (s.parse::<usize>().unwrap(), e.parse::<usize>().unwrap()))
                    .unwrap();
                prop_assert_eq!(&got[..], &body[s..=e]);
                prop_assert_eq!(content_length, Some(got.len().to_string()));
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                prop_assert_eq!(content_range, Some(format!("bytes */{}", body.len())));
                prop_assert!(got.is_empty());
            }
            other => prop_assert!(false, "{other}"),
        }
    }

    #[test]
    fn only_plain_generated_names_are_served(name in prop_oneof![
        any::<String>(),
        "[a-z0-9./%\\\\-]{0,20}\\.(mp4|m3u8|json|jpg|db|)",
        "\\.{1,3}/?[a-z-]{0,10}\\.mp4",
    ]) {
        if safe_name(&name) {
            prop_assert!(name.len() <= 128 && !name.starts_with('.') && !name.contains(".."), "{name:?}");
            prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'), "{name:?}");
            prop_assert_eq!(name.matches('.').count(), 1, "{:?}", name);
            prop_assert!(content_type(&name).is_some());
        }
    }
}
