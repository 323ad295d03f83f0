//! Video-file tokens (PeerTube's `videoFileToken`): the files of private and internal videos are
//! never reachable by their static path alone, only with a short-lived token issued to someone who
//! may watch the video. Tokens are stateless — `<expiry>.<HMAC-SHA256(key, uuid.expiry)>` — so
//! they survive restarts and cost no memory; the key is generated once and kept in the database.

use flotilla_domain::time::{iso8601, now_ms};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::auth::{AuthUser, random_token};
use crate::{App, Error, Result};

/// How long a token lets its holder fetch files (PeerTube: 8 hours).
pub const LIFETIME_MS: i64 = 8 * 3600 * 1000;

const KEY: &str = "video_file_token_key";

/// The signing key, created on first start.
pub async fn load_key(db: &flotilla_db::Db) -> Result<Vec<u8>> {
    if let Some(k) = flotilla_db::settings::get(db, KEY).await? {
        return hex::decode(k.trim())
            .map_err(|e| Error::Internal(format!("the stored video token key is corrupt: {e}")));
    }
    let key = random_token(32);
    flotilla_db::settings::put(db, KEY, &key, now_ms()).await?;
    // Another process may have raced us: read back what was stored.
    let stored = flotilla_db::settings::get(db, KEY).await?.unwrap_or(key);
    hex::decode(stored.trim()).map_err(|e| Error::Internal(e.to_string()))
}

fn mac(key: &[u8], uuid: &str, expires: i64) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(uuid.as_bytes());
    m.update(b".");
    m.update(expires.to_string().as_bytes());
    m
}

pub fn make(key: &[u8], uuid: &str, expires: i64) -> String {
    format!("{expires}.{}", hex::encode(mac(key, uuid, expires).finalize().into_bytes()))
}

/// Whether `token` lets its holder fetch the files of video `uuid` now (constant-time check).
pub fn verify(key: &[u8], uuid: &str, token: &str, now: i64) -> bool {
    let Some((expires, sig)) = token.split_once('.') else { return false };
    let (Ok(expires), Ok(sig)) = (expires.parse::<i64>(), hex::decode(sig)) else { return false };
    expires > now && mac(key, uuid, expires).verify_slice(&sig).is_ok()
}

/// `POST /api/v1/videos/:id/token` → `{"files": {"token", "expires"}}`.
pub async fn issue(
    app: &App,
    who: Option<&AuthUser>,
    id: &str,
    attempt: &crate::video::passwords::Attempt,
) -> Result<Value> {
    let v = crate::video::open(app, who, id, attempt).await?;
    let expires = now_ms() + LIFETIME_MS;
    Ok(json!({ "files": { "token": make(&app.file_token_key, &v.uuid, expires), "expires": iso8601(expires) } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_video_and_expire() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = make(key, "video-a", 2_000);
        assert!(verify(key, "video-a", &t, 1_000));
        assert!(!verify(key, "video-b", &t, 1_000), "another video");
        assert!(!verify(key, "video-a", &t, 2_001), "expired");
        assert!(!verify(b"another key", "video-a", &t, 1_000));
        let forged = format!("9999999{}", &t[4..]);
        assert!(!verify(key, "video-a", &forged, 1_000), "a changed expiry breaks the signature");
        assert!(!verify(key, "video-a", "garbage", 1_000));
    }
}
