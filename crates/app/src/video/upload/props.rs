//! Property tests: an upload's metadata arrives as multipart fields named and filled by the
//! client. Any field name and value is taken, refused with the field's name, or ignored, never a
//! panic; `validate` refuses exactly the metadata that breaks PeerTube's limits, naming each
//! field. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;

use super::*;
use crate::video::labels::{CATEGORIES, LANGUAGES, LICENCES};

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

const INT_FIELDS: &[&str] = &["channelId", "privacy", "category", "licence"];
const BOOL_FIELDS: &[&str] = &["nsfw", "commentsEnabled", "downloadEnabled", "waitTranscoding"];
const TEXT_FIELDS: &[&str] = &["name", "description", "support", "language"];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select([INT_FIELDS, BOOL_FIELDS, TEXT_FIELDS].concat()).prop_map(String::from),
        prop::sample::select(vec!["tags", "tags[]", "tags[0]", "tags[", "Tags", "channelid", "videofile", ""])
            .prop_map(String::from),
        any::<String>(),
    ]
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t]?-?[0-9]{1,20}[ \t]?",
        prop::sample::select(vec![
            "true",
            "false",
            "1",
            "0",
            " true ",
            "TRUE",
            "yes",
            "",
            "null",
            "9223372036854775808"
        ])
        .prop_map(String::from),
        ".{0,5}".prop_map(|s| s.repeat(3000)),
    ]
}

/// PeerTube's limits, one predicate per field, written from its documentation rather than from
/// `validate`: the fields a piece of metadata breaks.
fn broken_fields(m: &UploadMeta) -> Vec<&'static str> {
    let chars = |s: &str| s.trim().chars().count();
    let mut broken = Vec::new();
    if m.channel_id.is_none() {
        broken.push("channelId");
    }
    if !m.name.as_deref().is_some_and(|n| (3..=120).contains(&chars(n))) {
        broken.push("name");
    }
    if m.privacy.is_some_and(|p| !(1..=5).contains(&p)) {
        broken.push("privacy");
    }
    // Password-protected (PeerTube 6.0) needs its passwords, which these forms never carry.
    if m.privacy == Some(5) {
        broken.push("videoPasswords");
    }
    if m.description.as_deref().is_some_and(|d| d.chars().count() > 10_000) {
        broken.push("description");
    }
    if m.support.as_deref().is_some_and(|d| d.chars().count() > 1000) {
        broken.push("support");
    }
    if m.category.is_some_and(|c| !CATEGORIES.iter().any(|k| k.0 == c)) {
        broken.push("category");
    }
    if m.licence.is_some_and(|c| !LICENCES.iter().any(|k| k.0 == c)) {
        broken.push("licence");
    }
    if m.language.as_deref().is_some_and(|l| !LANGUAGES.iter().any(|k| k.0 == l)) {
        broken.push("language");
    }
    if m.tags.len() > 5 || m.tags.iter().any(|t| !(2..=30).contains(&chars(t))) {
        broken.push("tags");
    }
    broken
}

/// A form a well-behaved client sends: every value within the limits.
fn valid_form() -> impl Strategy<Value = Vec<(String, String)>> {
    let tag = "[a-z][a-z0-9 ]{0,28}[a-z0-9]";
    (
        any::<i64>(),
        "[A-Za-z0-9][A-Za-z0-9 é]{1,118}[A-Za-z0-9]",
        1i64..=4,
        prop::sample::select(CATEGORIES.iter().map(|c| c.0).collect::<Vec<_>>()),
        prop::sample::select(LICENCES.iter().map(|c| c.0).collect::<Vec<_>>()),
        prop::sample::select(LANGUAGES.iter().map(|c| c.0).collect::<Vec<_>>()),
        ".{0,200}",
        prop::collection::vec(tag, 0..=5),
        any::<[bool; 4]>(),
    )
        .prop_map(|(channel, name, privacy, category, licence, language, description, tags, flags)| {
            let mut form = vec![
                ("channelId".to_string(), channel.to_string()),
                ("name".into(), name),
                ("privacy".into(), privacy.to_string()),
                ("category".into(), category.to_string()),
                ("licence".into(), licence.to_string()),
                ("language".into(), language.to_string()),
                ("description".into(), description),
            ];
            for (f, b) in BOOL_FIELDS.iter().zip(flags) {
                form.push((f.to_string(), b.to_string()));
            }
            form.extend(tags.into_iter().map(|t| ("tags[]".to_string(), t)));
            form
        })
}

/// The fields a refusal names, each once.
fn named(fields: &[FieldError]) -> Vec<&str> {
    let mut named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    named.dedup();
    named
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_field_is_taken_refused_by_name_or_ignored(field in field_name(), value in field_value()) {
        let mut meta = UploadMeta::default();
        let before = format!("{meta:?}");
        let result = meta.set(&field, value.clone());
        let f = field.as_str();
        if INT_FIELDS.contains(&f) {
            let n = value.trim().parse::<i64>().ok();
            prop_assert_eq!(result.is_ok(), n.is_some());
            let stored = match f {
                "channelId" => meta.channel_id,
                "privacy" => meta.privacy,
                "category" => meta.category,
                _ => meta.licence,
            };
            prop_assert_eq!(stored, n);
        } else if BOOL_FIELDS.contains(&f) {
            let b = match value.trim() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            };
            prop_assert_eq!(result.is_ok(), b.is_some());
        } else if TEXT_FIELDS.contains(&f) {
            prop_assert!(result.is_ok(), "text is stored as sent");
            let (stored, sent) = (format!("{meta:?}"), format!("{value:?}"));
            prop_assert!(stored.contains(&sent), "{} is not in {}", sent, stored);
        } else if f == "tags" || f.starts_with("tags[") {
            prop_assert!(result.is_ok());
            prop_assert_eq!(meta.tags, vec![value]);
        } else {
            prop_assert!(result.is_ok(), "unknown fields are ignored, as PeerTube does");
            prop_assert_eq!(format!("{meta:?}"), before);
        }
        if let Err(e) = result {
            prop_assert_eq!(e.field, field, "a refusal names the field");
        }
    }

    #[test]
    fn validate_refuses_exactly_the_fields_that_break_the_limits(
        form in prop::collection::vec((field_name(), field_value()), 0..20),
    ) {
        let mut meta = UploadMeta::default();
        for (f, v) in form {
            let _ = meta.set(&f, v);
        }
        let expected = broken_fields(&meta);
        match meta.validate() {
            Ok(()) => prop_assert!(expected.is_empty(), "{expected:?} accepted"),
            Err(Error::Validation(fields)) => {
                prop_assert_eq!(named(&fields), expected);
                prop_assert!(fields.iter().all(|f| !f.msg.is_empty()));
            }
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn a_form_within_the_limits_validates_and_one_bad_field_is_named(
        form in valid_form(),
        bad in prop::option::of((field_name(), field_value())),
    ) {
        let mut meta = UploadMeta::default();
        for (f, v) in &form {
            meta.set(f, v.clone()).unwrap();
        }
        prop_assert!(meta.validate().is_ok(), "{meta:?}");
        if let Some((f, v)) = bad
            && meta.set(&f, v).is_ok()
        {
            let expected = broken_fields(&meta);
            match meta.validate() {
                Ok(()) => prop_assert!(expected.is_empty()),
                Err(Error::Validation(fields)) => {
                    prop_assert_eq!(named(&fields), expected);
                }
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
