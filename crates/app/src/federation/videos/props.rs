//! Property tests: a `Video` object comes from another server. Whatever JSON it is, it is read
//! within our own videos' limits, with its channel, playlist, files, thumbnail and trackers on its
//! server over https (http under the local-testing switch), or refused as invalid or forbidden;
//! never a panic. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::federation::props::{config, json, mutated, peertube_video};

fn assert_within_limits(v: &VideoObject<'_>, object: &Value, signer_host: &str, allow_private: bool) {
    // Checked here with plain text tests rather than `origin_url`, so a mistake in it shows.
    let parsed = |u: &str| url::Url::parse(u).ok().filter(|p| p.username().is_empty() && p.password().is_none());
    let on_signer = |u: &str, secure: &str, plain: &str| {
        let host = remote::host(u);
        parsed(u).is_some()
            && host.as_deref() == Some(signer_host)
            && (u.starts_with(&format!("{secure}://")) || (allow_private && u.starts_with(&format!("{plain}://"))))
    };
    let http = |u: &str| on_signer(u, "https", "http");
    // The id and the channel are kept as sent (other activities name them so); every other URL
    // is stored as parsed.
    let as_parsed = |u: &str| parsed(u).map(|p| p.to_string()).unwrap_or_default();
    assert!(http(&as_parsed(v.id)) && http(&as_parsed(v.group)), "{} {}", v.id, v.group);
    assert_eq!(object["type"], "Video");
    let name = v.name.trim().chars().count();
    assert!((1..=120).contains(&name), "{:?}", v.name);
    assert!(v.duration >= 0);
    let stored = |u: &str| parsed(u).is_some_and(|p| p.as_str() == u);
    for key in ["playlistUrl", "segmentsSha256Url"] {
        if let Some(u) = v.data[key].as_str() {
            assert!(http(u) && stored(u), "{key} {u}");
        } else {
            assert!(v.data[key].is_null(), "{key} {}", v.data[key]);
        }
    }
    for f in v.data["files"].as_array().unwrap() {
        assert!(f["fileUrl"].as_str().is_some_and(|u| http(u) && stored(u)), "{f}");
    }
    if let Some(t) = &v.thumbnail {
        assert!(http(t) && stored(t), "{t}");
    }
    assert_eq!(v.data["thumbnailUrl"].as_str(), v.thumbnail.as_deref());
    let hashes = v.data["infohashes"].as_array().unwrap();
    assert!(hashes.len() <= 20 && hashes.iter().all(|h| h.as_str().is_some_and(|h| h.len() <= 64)));
    let trackers = v.data["trackerUrls"].as_array().unwrap();
    assert!(trackers.len() <= 2);
    for t in trackers {
        let t = t.as_str().unwrap();
        assert!(on_signer(t, "wss", "ws") && stored(t), "{t}");
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

/// Hrefs as hostile servers write them: the origin's, another host's, other schemes.
fn href() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["https", "http", "wss", "ws", "ftp", "file", "javascript", "data"]);
    let host = prop::sample::select(vec![
        "a.example",
        "A.example",
        "b.example",
        "a.example:8443",
        "u:p@a.example",
        "a.example.b.example",
    ]);
    (scheme, host, "[a-z0-9/._-]{0,12}").prop_map(|(s, h, p)| format!("{s}://{h}/{p}"))
}

fn refused_as_invalid_or_forbidden(e: &Error) -> bool {
    matches!(e, Error::Forbidden(_) | Error::BadRequest { code: "remote_invalid", .. })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_json_is_read_as_a_video_within_our_limits_or_refused(object in json(), host in signer_host()) {
        for allow_private in [false, true] {
            match read_video(&object, host, allow_private) {
                Ok(v) => assert_within_limits(&v, &object, host, allow_private),
                Err(e) => prop_assert!(refused_as_invalid_or_forbidden(&e), "{e:?}"),
            }
        }
    }

    #[test]
    fn a_mangled_peertube_video_is_read_within_our_limits_or_refused(
        object in mutated(peertube_video()),
        host in signer_host(),
    ) {
        for allow_private in [false, true] {
            match read_video(&object, host, allow_private) {
                Ok(v) => assert_within_limits(&v, &object, host, allow_private),
                Err(e) => prop_assert!(refused_as_invalid_or_forbidden(&e), "{e:?}"),
            }
        }
    }

    /// Files, thumbnails and trackers anywhere, in any scheme: those on the origin over https
    /// (http with the switch) are kept, the others dropped, and the video is still stored.
    #[test]
    fn urls_off_the_origin_or_not_https_are_dropped_and_the_rest_kept(
        files in prop::collection::vec(href(), 0..6),
        icons in prop::collection::vec(href(), 0..4),
        trackers in prop::collection::vec(href(), 0..4),
        allow_private in any::<bool>(),
    ) {
        let mut object = peertube_video();
        let mut tags: Vec<Value> = object["url"][1]["tag"].as_array().unwrap()[..2].to_vec();
        tags.extend(files.iter().enumerate().map(|(i, f)| json!({ "mediaType": "video/mp4", "href": f, "height": 100 + i, "width": 200 })));
        object["url"][1]["tag"] = Value::Array(tags);
        object["icon"] = icons.iter().map(|u| json!({ "type": "Image", "url": u, "mediaType": "image/jpeg", "width": 280 })).collect();
        let mut urls: Vec<Value> = object["url"].as_array().unwrap()[..2].to_vec();
        urls.extend(trackers.iter().map(|t| json!({ "type": "Link", "rel": ["tracker", "websocket"], "href": t })));
        object["url"] = Value::Array(urls);

        let v = read_video(&object, "a.example", allow_private).unwrap();
        assert_within_limits(&v, &object, "a.example", allow_private);
        // What should pass, by plain text (the generated hosts and paths are written as parsed,
        // but for case and dot segments, which parsing normalises).
        let good = |u: &str, secure: &str, plain: &str| {
            let u = u.to_ascii_lowercase();
            u.starts_with(&format!("{secure}://a.example/")) || (allow_private && u.starts_with(&format!("{plain}://a.example/")))
        };
        let as_parsed = |u: &String| url::Url::parse(u).unwrap().to_string();
        let kept: Vec<&str> = v.data["files"].as_array().unwrap().iter().map(|f| f["fileUrl"].as_str().unwrap()).collect();
        let expected: Vec<String> = files.iter().filter(|f| good(f, "https", "http")).map(as_parsed).collect();
        prop_assert_eq!(kept, expected);
        let expected: Option<String> = icons.iter().find(|i| good(i, "https", "http")).map(as_parsed);
        prop_assert_eq!(&v.thumbnail, &expected, "the first of the icons that pass (all of one width)");
        let kept: Vec<&str> = v.data["trackerUrls"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        let expected: Vec<String> = trackers.iter().filter(|t| good(t, "wss", "ws")).take(2).map(as_parsed).collect();
        prop_assert_eq!(kept, expected);
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

        let v = read_video(&object, "a.example", false).unwrap();
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
        assert_within_limits(&v, &object, "a.example", false);
        // The same video from another server is not that server's to send.
        prop_assert!(matches!(read_video(&object, "b.example", false), Err(Error::Forbidden(_))));
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
