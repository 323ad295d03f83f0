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
