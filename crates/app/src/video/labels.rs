//! PeerTube's numbered categories and licences (`server/core/initializers/constants.ts`).

pub const CATEGORIES: &[(i64, &str)] = &[
    (1, "Music"),
    (2, "Films"),
    (3, "Vehicles"),
    (4, "Art"),
    (5, "Sports"),
    (6, "Travels"),
    (7, "Gaming"),
    (8, "People"),
    (9, "Comedy"),
    (10, "Entertainment"),
    (11, "News & Politics"),
    (12, "How To"),
    (13, "Education"),
    (14, "Activism"),
    (15, "Science & Technology"),
    (16, "Animals"),
    (17, "Kids"),
    (18, "Food"),
];

pub const LICENCES: &[(i64, &str)] = &[
    (1, "Attribution"),
    (2, "Attribution - Share Alike"),
    (3, "Attribution - No Derivatives"),
    (4, "Attribution - Non Commercial"),
    (5, "Attribution - Non Commercial - Share Alike"),
    (6, "Attribution - Non Commercial - No Derivatives"),
    (7, "Public Domain Dedication"),
];

pub fn category(id: i64) -> Option<&'static str> {
    CATEGORIES.iter().find(|c| c.0 == id).map(|c| c.1)
}

pub fn licence(id: i64) -> Option<&'static str> {
    LICENCES.iter().find(|c| c.0 == id).map(|c| c.1)
}

/// Languages a video can be in: ISO 639 codes with their English names, the common subset of
/// PeerTube's list (which also takes ISO 639-3 codes).
pub const LANGUAGES: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("bg", "Bulgarian"),
    ("bn", "Bengali"),
    ("ca", "Catalan"),
    ("cs", "Czech"),
    ("cy", "Welsh"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("eo", "Esperanto"),
    ("es", "Spanish"),
    ("et", "Estonian"),
    ("eu", "Basque"),
    ("fa", "Persian"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("ga", "Irish"),
    ("gd", "Gaelic"),
    ("gl", "Galician"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hr", "Croatian"),
    ("hu", "Hungarian"),
    ("id", "Indonesian"),
    ("is", "Icelandic"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("kab", "Kabyle"),
    ("ko", "Korean"),
    ("la", "Latin"),
    ("lt", "Lithuanian"),
    ("lv", "Latvian"),
    ("ms", "Malay"),
    ("nl", "Dutch"),
    ("no", "Norwegian"),
    ("oc", "Occitan"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("sq", "Albanian"),
    ("sr", "Serbian"),
    ("sv", "Swedish"),
    ("sw", "Swahili"),
    ("ta", "Tamil"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("vi", "Vietnamese"),
    ("zh", "Chinese"),
    ("zh-Hans", "Simplified Chinese"),
    ("zh-Hant", "Traditional Chinese"),
];

pub fn language(code: &str) -> Option<&'static str> {
    LANGUAGES.iter().find(|l| l.0 == code).map(|l| l.1)
}
