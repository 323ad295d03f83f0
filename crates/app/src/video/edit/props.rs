//! Property tests: a video's update arrives as multipart fields named and filled by the client.
//! Any field name and value is taken, refused with the field's name, or ignored, never a panic;
//! `validate` refuses exactly the updates that break PeerTube's limits, naming each field.
//! Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;

use super::*;
use crate::video::labels::{CATEGORIES, LANGUAGES, LICENCES};

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

const INT_FIELDS: &[&str] = &["channelId", "privacy"];
/// Numbers that an empty value or `null` clears.
const CLEARABLE_INT_FIELDS: &[&str] = &["category", "licence"];
const BOOL_FIELDS: &[&str] = &["nsfw", "commentsEnabled", "downloadEnabled", "waitTranscoding"];
const TEXT_FIELDS: &[&str] = &["name", "description", "support", "language"];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select([INT_FIELDS, CLEARABLE_INT_FIELDS, BOOL_FIELDS, TEXT_FIELDS].concat())
            .prop_map(String::from),
        prop::sample::select(vec!["tags", "tags[]", "tags[3]", "Tags", "thumbnailfile", ""]).prop_map(String::from),
        any::<String>(),
    ]
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t]?-?[0-9]{1,20}[ \t]?",
        prop::sample::select(vec!["true", "false", "1", "0", " true ", "yes", "", " ", "null", "9223372036854775808"])
            .prop_map(String::from),
        prop::sample::select(CATEGORIES.iter().map(|c| c.0.to_string()).collect::<Vec<_>>()),
        prop::sample::select(LANGUAGES.iter().map(|c| c.0.to_string()).collect::<Vec<_>>()),
        ".{0,5}".prop_map(|s| s.repeat(3000)),
    ]
}

/// PeerTube's limits on what an update sets (absent fields are not checked): the fields broken.
fn broken_fields(u: &VideoUpdate) -> Vec<&'static str> {
    let chars = |s: &str| s.trim().chars().count();
    let mut broken = Vec::new();
    if u.name.as_deref().is_some_and(|n| !(3..=120).contains(&chars(n))) {
        broken.push("name");
    }
    if u.privacy.is_some_and(|p| !(1..=5).contains(&p)) {
        broken.push("privacy");
    }
    // Password-protected (PeerTube 6.0) needs its passwords, which these forms never carry.
    if u.privacy == Some(5) {
        broken.push("videoPasswords");
    }
    if u.description.clone().flatten().is_some_and(|d| d.chars().count() > 10_000) {
        broken.push("description");
    }
    if u.support.clone().flatten().is_some_and(|d| d.chars().count() > 1000) {
        broken.push("support");
    }
    if u.category.flatten().is_some_and(|c| !CATEGORIES.iter().any(|k| k.0 == c)) {
        broken.push("category");
    }
    if u.licence.flatten().is_some_and(|c| !LICENCES.iter().any(|k| k.0 == c)) {
        broken.push("licence");
    }
    if u.language.clone().flatten().is_some_and(|l| !LANGUAGES.iter().any(|k| k.0 == l)) {
        broken.push("language");
    }
    if u.tags.as_ref().is_some_and(|t| t.len() > 5 || t.iter().any(|t| !(2..=30).contains(&chars(t)))) {
        broken.push("tags");
    }
    broken
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_update_field_is_taken_refused_by_name_or_ignored(field in field_name(), value in field_value()) {
        let mut u = VideoUpdate::default();
        let before = format!("{u:?}");
        let result = u.set(&field, value.clone());
        let f = field.as_str();
        let number = value.trim().parse::<i64>().ok();
        if INT_FIELDS.contains(&f) {
            prop_assert_eq!(result.is_ok(), number.is_some());
            prop_assert_eq!(if f == "channelId" { u.channel_id } else { u.privacy }, number);
        } else if CLEARABLE_INT_FIELDS.contains(&f) {
            let cleared = value.trim().is_empty() || value.trim() == "null";
            prop_assert_eq!(result.is_ok(), cleared || number.is_some());
            let stored = if f == "category" { u.category } else { u.licence };
            prop_assert_eq!(stored, if cleared { Some(None) } else { number.map(Some) });
        } else if BOOL_FIELDS.contains(&f) {
            prop_assert_eq!(result.is_ok(), ["true", "1", "false", "0"].contains(&value.trim()));
        } else if TEXT_FIELDS.contains(&f) {
            prop_assert!(result.is_ok(), "text is stored as sent");
        } else if f == "tags" || f.starts_with("tags[") {
            prop_assert!(result.is_ok());
            prop_assert_eq!(u.tags, Some(vec![value]));
        } else {
            prop_assert!(result.is_ok(), "unknown fields are ignored");
            prop_assert_eq!(format!("{u:?}"), before);
        }
        if let Err(e) = result {
            prop_assert_eq!(e.field, field, "a refusal names the field");
        }
    }

    #[test]
    fn validate_refuses_exactly_the_update_fields_that_break_the_limits(
        form in prop::collection::vec((field_name(), field_value()), 0..20),
    ) {
        let mut u = VideoUpdate::default();
        for (f, v) in form {
            let _ = u.set(&f, v);
        }
        let expected = broken_fields(&u);
        match u.validate((1, false)) {
            Ok(()) => prop_assert!(expected.is_empty(), "{expected:?} accepted"),
            Err(Error::Validation(fields)) => {
                let mut named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                named.dedup();
                prop_assert_eq!(named, expected);
            }
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }
}
