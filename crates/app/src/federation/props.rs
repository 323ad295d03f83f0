//! Property tests of what the inbox reads from any server: JSON trees of bounded depth and size
//! with the keys ActivityPub documents have, and mangled copies of real documents. Shared by the
//! property tests of `inbox`, `remote` and `videos`; tested here: hosts and ids of URLs. Bounded:
//! 256 cases of bounded size per property.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};

use super::remote;

pub(crate) fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

const KEYS: &[&str] = &[
    "type",
    "id",
    "actor",
    "object",
    "url",
    "href",
    "tag",
    "attributedTo",
    "duration",
    "name",
    "uuid",
    "mediaType",
    "height",
    "width",
    "rel",
    "icon",
    "content",
    "support",
    "to",
    "identifier",
    "publicKey",
    "owner",
];

/// Strings that mean something to the inbox, and some that break URL parsers.
const STRINGS: &[&str] = &[
    "Video",
    "Group",
    "Person",
    "Create",
    "Update",
    "Announce",
    "Delete",
    "Follow",
    "Undo",
    "Infohash",
    "Hashtag",
    "sha256",
    "websocket",
    "application/x-mpegURL",
    "video/mp4",
    "image/jpeg",
    "PT42S",
    "PT-1S",
    "PT1e400S",
    "PTNaNS",
    "PT18446744073709551616S",
    "https://a.example/videos/watch/1",
    "https://a.example/video-channels/c",
    "https://A.EXAMPLE:8443/w/x",
    "ws://a.example/tracker/socket",
    "wss://b.example/tracker/socket",
    "https://b.example/x",
    "http://[::1]:9000/x",
    "https://user:pw@a.example/",
    "https://ä.example/",
    "mailto:x",
    "https://",
    "//a.example/x",
    "0b6e2e4c-6d3f-4f7e-8a1b-2c3d4e5f6a7b",
    "#tag",
    "",
];

/// Any JSON value: leaves of every kind, arrays and objects up to four levels deep.
pub(crate) fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(STRINGS).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![3 => prop::sample::select(KEYS).prop_map(String::from), 1 => any::<String>()];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Replaces (or, with `None`, removes) the value at `path`, followed as far as containers go.
fn edit_at(v: &mut Value, path: &[Index], new: Option<Value>) {
    let Some((first, rest)) = path.split_first() else { return };
    let deeper = |c: &Value| !rest.is_empty() && (c.is_object() || c.is_array());
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(first.index(m.len())).cloned().unwrap_or_default();
            if deeper(&m[&key]) {
                edit_at(m.get_mut(&key).unwrap(), rest, new);
            } else if let Some(n) = new {
                m.insert(key, n);
            } else {
                m.remove(&key);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = first.index(a.len());
            if deeper(&a[i]) {
                edit_at(&mut a[i], rest, new);
            } else if let Some(n) = new {
                a[i] = n;
            } else {
                a.remove(i);
            }
        }
        _ => {
            if let Some(n) = new {
                *v = n;
            }
        }
    }
}

/// `base` with a few values anywhere in it replaced by any JSON, or removed.
pub(crate) fn mutated(base: Value) -> impl Strategy<Value = Value> {
    let edit = (prop::collection::vec(any::<Index>(), 1..6), prop::option::of(json()));
    prop::collection::vec(edit, 1..4).prop_map(move |edits| {
        let mut v = base.clone();
        for (path, new) in edits {
            edit_at(&mut v, &path, new);
        }
        v
    })
}

/// A video as PeerTube sends it from `https://a.example` (every optional field present).
pub(crate) fn peertube_video() -> Value {
    let id = "https://a.example/videos/watch/0b6e2e4c-6d3f-4f7e-8a1b-2c3d4e5f6a7b";
    let hls = "https://a.example/static/streaming-playlists/hls/0b6e2e4c-6d3f-4f7e-8a1b-2c3d4e5f6a7b";
    json!({
        "type": "Video", "id": id, "name": "A PeerTube video", "duration": "PT42S",
        "uuid": "0b6e2e4c-6d3f-4f7e-8a1b-2c3d4e5f6a7b",
        "attributedTo": [{ "type": "Person", "id": "https://a.example/accounts/bob" },
                         { "type": "Group", "id": "https://a.example/video-channels/bob_channel" }],
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "category": { "identifier": "15", "name": "Science & Technology" },
        "language": { "identifier": "fr", "name": "French" },
        "tag": [{ "type": "Hashtag", "name": "science" }, { "type": "Hashtag", "name": "#rust" }],
        "content": "All *fields*", "support": "Tip me",
        "icon": [{ "type": "Image", "url": "https://a.example/lazy-static/thumbnails/t.jpg", "mediaType": "image/jpeg", "width": 280, "height": 157 }],
        "url": [
            { "type": "Link", "mediaType": "text/html", "href": id },
            { "type": "Link", "mediaType": "application/x-mpegURL", "href": format!("{hls}/m-master.m3u8"), "tag": [
                { "type": "Infohash", "name": "dc1ea7666c254b8a2dd2f273cdac9a3027218bca" },
                { "type": "Link", "name": "sha256", "mediaType": "application/json", "href": format!("{hls}/s-segments-sha256.json") },
                { "type": "Link", "mediaType": "video/mp4", "href": format!("{hls}/f-720-fragmented.mp4"), "height": 720, "width": 1280, "size": 1671838, "fps": 25 },
                { "type": "Link", "mediaType": "video/mp4", "href": format!("{hls}/f-240-fragmented.mp4"), "height": 240, "width": 426, "size": 271838, "fps": 25 }
            ]},
            { "type": "Link", "name": "tracker-websocket", "rel": ["tracker", "websocket"], "href": "wss://a.example/tracker/socket" }
        ],
    })
}

/// Activities as other servers send them: any JSON, or a real one mangled.
pub(crate) fn activity() -> impl Strategy<Value = Value> {
    let create = json!({ "type": "Create", "id": "https://a.example/videos/watch/1/activity",
                         "actor": "https://a.example/accounts/bob", "object": peertube_video() });
    let follow = json!({ "type": "Follow", "id": "https://a.example/follows/1", "actor": "https://a.example/accounts/bob",
                         "object": "https://here.example/accounts/alice" });
    prop_oneof![json(), mutated(create), mutated(follow)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_host_of_any_text_is_a_plain_lower_case_host_or_none(text in prop_oneof![
        any::<String>(),
        prop::sample::select(STRINGS).prop_map(String::from),
        "(https?|wss?)://[A-Za-z0-9.@:\\[\\]%-]{0,30}(:[0-9]{0,6})?(/.{0,10})?",
    ]) {
        if let Some(h) = remote::host(&text) {
            prop_assert!(!h.is_empty());
            prop_assert_eq!(&h, &h.to_ascii_lowercase());
            prop_assert!(!h.contains(['/', '@', '?', '#']) && !h.chars().any(char::is_whitespace), "{h:?}");
        }
    }

    #[test]
    fn the_host_of_a_url_is_its_lower_cased_name_with_any_port_but_the_scheme_default(
        // A label starting `xn--` is punycode, and `xn--` with nothing valid after it is no host
        // name at all (the URL parser refuses it): not a name this property is about.
        name in "[a-zA-Z][a-zA-Z0-9-]{0,20}(\\.[a-zA-Z][a-zA-Z0-9-]{0,10}){1,3}"
            .prop_filter("no punycode labels", |n| !n.split('.').any(|l| l.to_ascii_lowercase().starts_with("xn--"))),
        port in prop::option::of(any::<u16>()),
        scheme in prop::sample::select(vec!["https", "http", "wss"]),
        path in "(/[a-z0-9%._~-]{0,10}){0,3}",
    ) {
        let url = match port { Some(p) => format!("{scheme}://{name}:{p}{path}"), None => format!("{scheme}://{name}{path}") };
        let default = if scheme == "http" { 80 } else { 443 };
        let expected = match port {
            Some(p) if p != default => format!("{}:{p}", name.to_ascii_lowercase()),
            _ => name.to_ascii_lowercase(),
        };
        prop_assert_eq!(remote::host(&url), Some(expected));
    }

    #[test]
    fn the_id_of_any_value_is_the_value_or_its_id_when_they_are_strings(v in json()) {
        match remote::id_of(&v) {
            Some(id) => prop_assert!(v == id || v["id"] == id, "{id:?} from {v}"),
            None => prop_assert!(!v.is_string() && !v["id"].is_string(), "{v}"),
        }
    }

    #[test]
    fn the_actor_of_any_activity_is_a_string_it_holds(a in activity()) {
        // What `receive` compares with the signer: the actor, written as a URL or as an object.
        if let Some(actor) = a.get("actor").and_then(remote::id_of) {
            prop_assert!(a["actor"] == actor || a["actor"]["id"] == actor);
        }
    }
}
