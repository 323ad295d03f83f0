//! Property tests: a resumable upload's `Content-Range` comes from the client. It is read or
//! refused without a panic, and a chunk it names always lies inside the announced total, so
//! `end - start + 1` (the chunk's size) never overflows. Bounded: 256 cases per property.

use proptest::prelude::*;

use super::*;

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

fn content_range_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        "[0-9]{1,6}",
        "[0-9]{19,25}",
        Just("18446744073709551615".to_string()),
        Just(String::new()),
        Just("*".to_string()),
        Just("-1".to_string()),
        Just("+0".to_string()),
    ];
    let spec = (
        prop::sample::select(vec!["bytes ", "bytes", " bytes  ", "Bytes ", "bytes=", ""]),
        number.clone(),
        prop::sample::select(vec!["-", " - ", "", "*"]),
        number.clone(),
        prop::sample::select(vec!["/", " / ", "", "//"]),
        number,
    )
        .prop_map(|(unit, a, dash, b, slash, total)| format!("{unit}{a}{dash}{b}{slash}{total}"));
    prop_oneof![3 => spec, 1 => any::<String>()]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_content_range_names_a_chunk_inside_the_total_or_is_refused(text in content_range_text()) {
        if let Some(Range::Chunk { start, end, total }) = parse_content_range(&text) {
            prop_assert!(start <= end && end < total, "{start}-{end}/{total} from {text:?}");
            // What `put` computes from it.
            prop_assert!((end - start).checked_add(1).is_some());
        }
    }

    #[test]
    fn a_chunk_round_trips_and_one_past_the_total_is_refused(total in 1u64..=u64::MAX, a in any::<u64>(), b in any::<u64>()) {
        let (start, end) = { let (x, y) = (a % total, b % total); (x.min(y), x.max(y)) };
        let parsed = parse_content_range(&format!("bytes {start}-{end}/{total}"));
        let read = match parsed {
            Some(Range::Chunk { start, end, total }) => Some((start, end, total)),
            _ => None,
        };
        prop_assert_eq!(read, Some((start, end, total)));
        let past_the_end = parse_content_range(&format!("bytes {start}-{total}/{total}"));
        prop_assert!(past_the_end.is_none(), "the last byte is total - 1");
        let backwards = parse_content_range(&format!("bytes {end}-{start}/{total}"));
        prop_assert!(start == end || backwards.is_none(), "a backward range is refused");
        let query = match parse_content_range(&format!("bytes */{total}")) {
            Some(Range::Query { total }) => Some(total),
            _ => None,
        };
        prop_assert_eq!(query, Some(total));
    }
}
