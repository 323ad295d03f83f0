//! Property tests: the avatar and banner URLs of a remote actor's document, for any JSON its
//! server sends. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::federation::props::{config, json};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_image_url_of_any_value_is_a_string_found_in_it(v in json()) {
        if let Some(url) = image_url(&v) {
            let text = serde_json::to_string(&v).unwrap();
            prop_assert!(text.contains(&serde_json::to_string(url).unwrap()), "{url:?} is not in {text}");
        }
    }

    #[test]
    fn of_a_list_of_sizes_the_widest_image_is_taken(widths in prop::collection::vec(0i64..5000, 1..6), link in any::<bool>()) {
        let images: Vec<Value> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let url = format!("https://a.example/{i}.jpg");
                let url = if link { json!({ "type": "Link", "href": url }) } else { json!(url) };
                json!({ "type": "Image", "url": url, "width": w })
            })
            .collect();
        let widest = widths.iter().max().unwrap();
        // `max_by_key` keeps the last of equals.
        let i = widths.iter().rposition(|w| w == widest).unwrap();
        let (list, expected) = (Value::Array(images), format!("https://a.example/{i}.jpg"));
        prop_assert_eq!(image_url(&list), Some(expected.as_str()));
    }

    #[test]
    fn a_display_name_keeps_no_invisible_characters(name in any::<String>()) {
        let kept: String = name.chars().filter(|c| !invisible(*c)).collect();
        let left = kept.chars().find(|c| c.is_control() || ('\u{202A}'..='\u{202E}').contains(c));
        prop_assert_eq!(left, None);
    }
}
