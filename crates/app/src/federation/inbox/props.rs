//! Property tests: how the inbox tells what an activity's object is, for any JSON a server sends.
//! Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::federation::props::{activity, config, json};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn an_object_is_a_video_an_actor_or_neither_never_both(a in activity()) {
        let object = a.get("object").cloned().unwrap_or(Value::Null);
        let (video, actor) = (is_video(&object), is_actor(&object));
        prop_assert!(!(video && actor), "{object}");
        if actor {
            prop_assert!(object.is_object(), "an actor is embedded, never a bare URL");
        }
        if video && object.is_object() {
            prop_assert_eq!(&object["type"], "Video");
        }
    }

    #[test]
    fn only_urls_of_video_pages_are_videos_when_not_embedded(v in json()) {
        if let Value::String(s) = &v {
            prop_assert_eq!(is_video(&v), s.contains("/videos/watch/") || s.contains("/w/"));
        } else if !v.is_object() {
            prop_assert!(!is_video(&v) && !is_actor(&v));
        }
    }
}
