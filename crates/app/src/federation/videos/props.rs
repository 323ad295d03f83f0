//! Property tests: a `Video` object comes from another server. Whatever JSON it is, it is read
//! within our own videos' limits, with its channel, files and trackers on its server, or refused
//! as invalid or forbidden; never a panic. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::federation::props::{config, json, mutated, peertube_video};

fn assert_within_limits(v: &VideoObject<'_>, object: &Value, signer_host: &str) {
    let on_signer = |u: &str| remote::host(u).as_deref() == Some(signer_host);
    assert!(on_signer(v.id) && on_signer(v.group), "{} {}", v.id, v.group);
    assert_eq!(object["type"], "Video");
    let name = v.name.trim().chars().count();
    assert!((1..=120).contains(&name), "{:?}", v.name);
    assert!(v.duration >= 0);
    for key in ["playlistUrl", "segmentsSha256Url"] {
        if let Some(u) = v.data[key].as_str() {
            assert!(on_signer(u), "{key} {u}");
        }
    }
    let hashes = v.data["infohashes"].as_array().unwrap();
    assert!(hashes.len() <= 20 && hashes.iter().all(|h| h.as_str().is_some_and(|h| h.len() <= 64)));
    let trackers = v.data["trackerUrls"].as_array().unwrap();
    assert!(trackers.len() <= 2);
    for t in trackers {
        let t = t.as_str().unwrap();
        assert!((t.starts_with("ws://") || t.starts_with("wss://")) && on_signer(t), "{t}");
    }
    assert!(v.tags.len() <= 5);
    for t in &v.tags {
        assert!((2..=30).contains(&t.chars().count()) && !t.starts_with('#'), "{t:?}");
    }
    // The size shown is the tallest file's.
    let files = v.data["files"].as_array().unwrap();
    assert!(files.iter().all(|f| f["height"].as_i64().is_some_and(|h| h <= v.height)));
}

fn signer_host() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a.example", "a.example", "b.example", "a.example:8443"])
}

fn refused_as_invalid_or_forbidden(e: &Error) -> bool {
    matches!(e, Error::Forbidden(_) | Error::BadRequest { code: "remote_invalid", .. })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_json_is_read_as_a_video_within_our_limits_or_refused(object in json(), host in signer_host()) {
        match read_video(&object, host) {
            Ok(v) => assert_within_limits(&v, &object, host),
            Err(e) => prop_assert!(refused_as_invalid_or_forbidden(&e), "{e:?}"),
        }
    }

    #[test]
    fn a_mangled_peertube_video_is_read_within_our_limits_or_refused(
        object in mutated(peertube_video()),
        host in signer_host(),
    ) {
        match read_video(&object, host) {
            Ok(v) => assert_within_limits(&v, &object, host),
            Err(e) => prop_assert!(refused_as_invalid_or_forbidden(&e), "{e:?}"),
        }
    }

    /// A PeerTube video with generated fields reads back as what it says.
    #[test]
    fn a_peertube_video_reads_back_as_what_it_says(
        name in "[A-Za-z0-9][A-Za-z0-9 é]{0,118}[A-Za-z0-9]",
        seconds in 0u32..100_000,
        uuid in any::<u128>(),
        tags in prop::collection::vec("#?[a-z]{2,30}", 0..8),
        heights in prop::collection::vec(1i64..5000, 0..5),
        hashes in 0usize..30,
    ) {
        let mut object = peertube_video();
        let uuid = uuid::Uuid::from_u128(uuid);
        object["name"] = json!(name);
        object["duration"] = json!(format!("PT{seconds}S"));
        object["uuid"] = json!(uuid.to_string());
        object["tag"] = tags.iter().map(|t| json!({ "type": "Hashtag", "name": t })).collect();
        let mut hls_tags: Vec<Value> = heights
            .iter()
            .map(|h| json!({ "mediaType": "video/mp4", "href": format!("https://a.example/f-{h}.mp4"), "height": h, "width": h * 2 }))
            .collect();
        hls_tags.extend((0..hashes).map(|i| json!({ "type": "Infohash", "name": format!("{i:0>40}") })));
        object["url"][1]["tag"] = Value::Array(hls_tags);

        let v = read_video(&object, "a.example").unwrap();
        prop_assert_eq!(v.name, name.as_str());
        prop_assert_eq!(v.duration, i64::from(seconds));
        prop_assert_eq!(v.uuid, uuid);
        let expected_tags: Vec<String> =
            tags.iter().map(|t| t.trim_start_matches('#').to_string()).filter(|t| t.len() >= 2).take(5).collect();
        prop_assert_eq!(&v.tags, &expected_tags);
        prop_assert_eq!(v.height, heights.iter().copied().max().unwrap_or(0));
        prop_assert_eq!(v.data["files"].as_array().unwrap().len(), heights.len());
        prop_assert_eq!(v.data["infohashes"].as_array().unwrap().len(), hashes.min(20));
        prop_assert_eq!(v.group, "https://a.example/video-channels/bob_channel");
        assert_within_limits(&v, &object, "a.example");
        // The same video from another server is not that server's to send.
        prop_assert!(matches!(read_video(&object, "b.example"), Err(Error::Forbidden(_))));
    }

    #[test]
    fn any_duration_text_is_a_whole_number_of_seconds_or_refused(text in prop_oneof![
        any::<String>(),
        "PT[+-]?[0-9.eE]{0,30}S?",
        "PT(NaN|inf|-inf|infinity|1e309|-0)S",
    ]) {
        if let Some(d) = parse_duration(&text) {
            prop_assert!(d >= 0, "{d} from {text:?}");
            prop_assert!(text.starts_with("PT") && text.ends_with('S'));
        }
    }

    #[test]
    fn a_duration_in_seconds_round_trips(seconds in 0i64..1 << 53, frac in prop::option::of(0u32..1000)) {
        match frac {
            None => prop_assert_eq!(parse_duration(&format!("PT{seconds}S")), Some(seconds)),
            Some(f) => {
                let d = parse_duration(&format!("PT{seconds}.{f:03}S")).unwrap();
                prop_assert!((d - seconds).abs() <= 1, "{d} for {seconds}.{f:03}");
            }
        }
    }
}
