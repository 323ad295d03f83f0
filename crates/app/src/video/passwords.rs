//! Password-protected videos (PeerTube 6.0's privacy 5): the owner's passwords (`GET`/`PUT
//! /videos/:id/passwords`, `DELETE /videos/:id/passwords/:pid`, `videoPasswords` on upload and
//! update) and the door viewers pass with `x-peertube-video-password`. Such a video is listed
//! nowhere and never federated (as an unlisted one that is not sent); its files are private, so a
//! player takes a file token with the password. Wrong passwords are counted per client address
//! ([`crate::limits::Failures`]): past `[rate_limits] video_password`, every password from that
//! address is refused until the period ends.

use std::net::IpAddr;

use flotilla_db::{video_passwords, videos};
use flotilla_domain::{Validation, time::now_ms};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::video::{PRIVACY_PASSWORD, STATE_PUBLISHED};
use crate::{App, Error, Result};

/// Passwords one video may have.
pub const MAX_PASSWORDS: usize = 100;
/// PeerTube's bounds of one password, in characters.
pub const MIN_LEN: usize = 2;
pub const MAX_LEN: usize = 100;

/// What a viewer offers to open a video: the header's password, and where they ask from.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub password: Option<String>,
    pub client: IpAddr,
}

impl Attempt {
    /// No password (callers that are not a viewer's request).
    pub fn none() -> Attempt {
        Attempt { password: None, client: IpAddr::from([127, 0, 0, 1]) }
    }
}

/// PeerTube's rules for `videoPasswords` when the privacy (new, else the video's) is `privacy`:
/// a protected video needs at least one; each 2–100 characters, no two alike, at most 100.
/// `None` is "not sent": acceptable only when the video already has its passwords.
pub fn check(v: &mut Validation, privacy: Option<i64>, passwords: Option<&[String]>, has_some: bool) {
    if privacy != Some(PRIVACY_PASSWORD) {
        return;
    }
    let Some(list) = passwords else {
        if !has_some {
            v.fail("videoPasswords", "a password-protected video needs at least one password (videoPasswords)");
        }
        return;
    };
    if list.is_empty() {
        v.fail("videoPasswords", "a password-protected video needs at least one password");
    } else if list.len() > MAX_PASSWORDS {
        v.fail("videoPasswords", format!("at most {MAX_PASSWORDS} passwords"));
    } else if list.iter().any(|p| !(MIN_LEN..=MAX_LEN).contains(&p.chars().count()) || p.chars().any(char::is_control))
    {
        v.fail(
            "videoPasswords",
            format!(
                "each password must be between {MIN_LEN} and {MAX_LEN} characters long, without control characters"
            ),
        );
    } else if list.iter().enumerate().any(|(i, p)| list[..i].contains(p)) {
        v.fail("videoPasswords", "the same password is given twice");
    }
}

/// Adds one multipart `videoPasswords` field (`videoPasswords`, `videoPasswords[]` or
/// `videoPasswords[N]`), counted as they arrive so a form cannot make us hold thousands.
pub fn push_field(list: &mut Vec<String>, value: String) -> std::result::Result<(), flotilla_domain::FieldError> {
    if list.len() >= MAX_PASSWORDS {
        return Err(flotilla_domain::FieldError {
            field: "videoPasswords".into(),
            msg: format!("at most {MAX_PASSWORDS} passwords"),
        });
    }
    list.push(value);
    Ok(())
}

/// Whether a multipart field name is one of `videoPasswords`.
pub fn is_field(name: &str) -> bool {
    name == "videoPasswords" || name.starts_with("videoPasswords[")
}

/// Lets `who` in, or says why not: anyone [`crate::video::can_see`] lets in; for a published
/// password-protected video, whoever sends one of its passwords (403 `video_requires_password`
/// without one, `incorrect_video_password` for a wrong one, 429 past the wrong ones allowed);
/// everything else is "not found", as if the video did not exist.
pub async fn open(app: &App, who: Option<&AuthUser>, v: &videos::Video, attempt: &Attempt) -> Result<()> {
    if crate::video::can_see(app, who, v).await? {
        return Ok(());
    }
    if v.privacy != PRIVACY_PASSWORD || v.state != STATE_PUBLISHED || v.blocked != 0 || !v.is_local() {
        return Err(Error::not_found("video"));
    }
    let Some(password) = attempt.password.as_deref() else {
        return Err(Error::ForbiddenCode {
            code: "video_requires_password",
            msg: "Please provide a password to access this password protected video".into(),
        });
    };
    let key = crate::limits::address_key(attempt.client);
    app.limits.video_passwords.check(&key)?;
    if matches(app, v.id, password).await? {
        return Ok(());
    }
    app.limits.video_passwords.fail(&key);
    Err(Error::ForbiddenCode {
        code: "incorrect_video_password",
        msg: "Incorrect video password. Access to the video is denied.".into(),
    })
}

/// Whether `password` is one of the video's. Their digests are compared, each in full, so the
/// time taken says nothing of how much of a password was right.
async fn matches(app: &App, video: i64, password: &str) -> Result<bool> {
    use sha2::{Digest, Sha256};
    let offered = Sha256::digest(password.as_bytes());
    let all = video_passwords::all(&app.db, video).await?;
    Ok(all.iter().fold(false, |found, p| {
        let stored = Sha256::digest(p.password.as_bytes());
        found | (stored.iter().zip(offered.iter()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0)
    }))
}

/// The video behind `key` if `who` manages it (or moderates), and it is password-protected.
async fn protected(app: &App, who: &AuthUser, key: &str) -> Result<videos::Video> {
    let v = crate::video::edit::editable(app, who, key).await?;
    if v.privacy != PRIVACY_PASSWORD {
        return Err(Error::bad_request("video_not_password_protected", "this video is not password protected"));
    }
    Ok(v)
}

/// `GET /api/v1/videos/:id/passwords`: PeerTube's `{total, data: [{id, password, videoId}]}`.
pub async fn list(app: &App, who: &AuthUser, key: &str, page: flotilla_db::Page) -> Result<Value> {
    let v = protected(app, who, key).await?;
    let total = video_passwords::count(&app.db, v.id).await?;
    let data: Vec<Value> = video_passwords::list(&app.db, v.id, page)
        .await?
        .into_iter()
        .map(|p| json!({ "id": p.id, "password": p.password, "videoId": p.video_id, "createdAt": flotilla_domain::time::iso8601(p.created_at) }))
        .collect();
    Ok(json!({ "total": total, "data": data }))
}

/// `PUT /api/v1/videos/:id/passwords` `{passwords: [...]}`: the video's passwords become these.
pub async fn replace(app: &App, who: &AuthUser, key: &str, passwords: Option<Vec<String>>) -> Result<()> {
    let v = protected(app, who, key).await?;
    let mut check_v = Validation::new();
    let list = passwords.unwrap_or_default();
    check(&mut check_v, Some(PRIVACY_PASSWORD), Some(&list), false);
    if let Err(mut fields) = check_v.finish() {
        for f in &mut fields {
            f.field = "passwords".into();
        }
        return Err(Error::Validation(fields));
    }
    let mut tx = app.db.begin().await?;
    video_passwords::replace(&mut tx, v.id, &list, now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// `DELETE /api/v1/videos/:id/passwords/:pid`: never the last one (403, as PeerTube).
pub async fn delete(app: &App, who: &AuthUser, key: &str, id: i64) -> Result<()> {
    let v = protected(app, who, key).await?;
    let mut tx = app.db.begin().await?;
    video_passwords::lock_video(&mut tx, v.id).await?;
    let all = video_passwords::all(&mut tx, v.id).await?;
    if !all.iter().any(|p| p.id == id) {
        return Err(Error::not_found("video password"));
    }
    if all.len() == 1 {
        return Err(Error::Forbidden("a password-protected video keeps at least one password".into()));
    }
    video_passwords::delete(&mut tx, v.id, id).await?;
    tx.commit().await?;
    Ok(())
}
