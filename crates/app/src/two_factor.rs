//! Two-factor authentication, as PeerTube: TOTP (RFC 6238: SHA-1, six digits, 30-second steps,
//! one step of drift either way; `totp-rs` computes the codes). A user asks for a secret with
//! their password (`request`), proves their app has it with a code (`confirm`), and from then on
//! `POST /users/token` wants the code in `x-peertube-otp`. A code is taken once: the step it was
//! made for is recorded, and a code of that step or an earlier one is refused afterwards, even
//! by concurrent logins (`users::take_otp_step` is one conditional UPDATE). An admin turns it off
//! for a user who lost their device (recovery).
//!
//! The secret is stored as is (base32) in the database; whoever reads the database can make
//! codes, as whoever reads it could already reset the password hash.

use flotilla_db::users;
use flotilla_domain::time::now_ms;
use flotilla_domain::{Role, UserId};
use rand::RngCore;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::auth::AuthUser;
use crate::{App, Error, Result};

/// A request not confirmed within this time lapses.
const REQUEST_MS: i64 = 10 * 60 * 1000;
const STEP_SECS: u64 = 30;

fn totp(secret_b32: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| Error::Internal(format!("stored two-factor secret unreadable: {e:?}")))?;
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECS, bytes).map_err(|e| Error::Internal(format!("two-factor secret: {e:?}")))
}

/// The time step of `code` for `secret` now (within one step of drift), if it is right.
pub fn matching_step(secret_b32: &str, code: &str, now_secs: u64) -> Result<Option<i64>> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_b32)?;
    let step = now_secs / STEP_SECS;
    for s in [step.saturating_sub(1), step, step + 1] {
        if crate::auth::same_secret(t.generate(s * STEP_SECS).as_bytes(), code.as_bytes()) {
            return Ok(Some(s as i64));
        }
    }
    Ok(None)
}

fn now_secs() -> u64 {
    (now_ms() / 1000).max(0) as u64
}

/// The login's second factor: `Ok` when the user has none, or `code` is right and not used yet.
pub async fn check_login(app: &App, user: UserId, code: Option<&str>) -> Result<()> {
    let Some((secret, _)) = users::otp(&app.db, user).await? else { return Ok(()) };
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Err(Error::Unauthorized {
            code: "missing_two_factor",
            msg: "this account needs a two-factor code: send it in the x-peertube-otp header".into(),
        });
    };
    let invalid = || Error::bad_request("invalid_two_factor", "the two-factor code is wrong or was used already");
    let step = matching_step(&secret, code, now_secs())?.ok_or_else(invalid)?;
    if !users::take_otp_step(&app.db, user, step).await? {
        return Err(invalid());
    }
    Ok(())
}

/// The user `id` names, if `who` may change their two-factor settings: only themselves (an admin
/// may only turn it off, see [`disable`]).
fn only_self(who: &AuthUser, id: i64) -> Result<()> {
    if who.user.id != id {
        return Err(Error::Forbidden("you may only set up two-factor authentication for yourself".into()));
    }
    Ok(())
}

async fn check_password(app: &App, who: &AuthUser, password: Option<&str>) -> Result<()> {
    if !app.passwords.verify(password.unwrap_or_default(), &who.user.password_hash).await {
        return Err(Error::Unauthorized {
            code: "invalid_current_password",
            msg: "currentPassword is missing or wrong".into(),
        });
    }
    Ok(())
}

/// `POST /users/{id}/two-factor/request` (`currentPassword`): a new secret to add to an app,
/// `{ otpRequest: { requestToken, secret, uri } }`.
pub async fn request(app: &App, who: &AuthUser, id: i64, password: Option<&str>) -> Result<Value> {
    only_self(who, id)?;
    check_password(app, who, password).await?;
    if who.user.two_factor_enabled {
        return Err(Error::bad_request("two_factor_enabled", "two-factor authentication is already on"));
    }
    let mut raw = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = Secret::Raw(raw.to_vec()).to_encoded().to_string();
    let token = crate::auth::random_token(24);
    users::set_otp_request(&app.db, who.id(), &secret, &token, now_ms() + REQUEST_MS).await?;
    let issuer = app.settings().name.clone();
    let label = format!("{issuer}:{}", who.user.username);
    let uri = url::Url::parse_with_params(
        &format!("otpauth://totp/{}", urlencode(&label)),
        [
            ("secret", secret.as_str()),
            ("issuer", issuer.as_str()),
            ("algorithm", "SHA1"),
            ("digits", "6"),
            ("period", "30"),
        ],
    )
    .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(json!({ "otpRequest": { "requestToken": token, "secret": secret, "uri": uri.as_str() } }))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// `POST /users/{id}/two-factor/confirm-request` (`requestToken`, `otpToken`): turns it on.
pub async fn confirm(app: &App, who: &AuthUser, id: i64, token: Option<&str>, code: Option<&str>) -> Result<()> {
    only_self(who, id)?;
    let invalid = || Error::bad_request("invalid_two_factor", "the request token or the code is wrong, or it lapsed");
    let (secret, stored, expires) = users::otp_request(&app.db, who.id()).await?.ok_or_else(invalid)?;
    let token = token.ok_or_else(|| Error::invalid("requestToken", "requestToken is required"))?;
    if expires < now_ms() || !crate::auth::same_secret(stored.as_bytes(), token.as_bytes()) {
        return Err(invalid());
    }
    let code = code.ok_or_else(|| Error::invalid("otpToken", "otpToken is required"))?;
    let step = matching_step(&secret, code, now_secs())?.ok_or_else(invalid)?;
    users::set_otp(&app.db, who.id(), Some(&secret), step).await?;
    tracing::info!(user = who.user.id, "two-factor authentication turned on");
    Ok(())
}

/// `POST /users/{id}/two-factor/disable` (`currentPassword`, the caller's): the user themselves,
/// or an admin for someone who lost their device.
pub async fn disable(app: &App, who: &AuthUser, id: i64, password: Option<&str>) -> Result<()> {
    if who.user.id != id && who.role() != Role::Admin {
        return Err(Error::Forbidden("only the user or an administrator may turn two-factor off".into()));
    }
    check_password(app, who, password).await?;
    let target = users::get(&app.db, UserId(id)).await?.ok_or_else(|| Error::not_found("user"))?;
    if !target.two_factor_enabled {
        return Err(Error::bad_request("two_factor_disabled", "two-factor authentication is not on"));
    }
    users::set_otp(&app.db, UserId(id), None, 0).await?;
    tracing::info!(user = id, by = who.user.id, "two-factor authentication turned off");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::matching_step;

    // RFC 6238's SHA-1 test secret ("12345678901234567890"), base32; at T = 59 s its 8-digit
    // code is 94287082, so the 6-digit one is 287082.
    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_match_rfc_6238_within_one_step() {
        assert_eq!(matching_step(SECRET, "287082", 59).unwrap(), Some(1));
        // A step later (drift) still matches step 1; two steps later it does not.
        assert_eq!(matching_step(SECRET, "287082", 89).unwrap(), Some(1));
        assert_eq!(matching_step(SECRET, "287082", 119).unwrap(), None);
        assert_eq!(matching_step(SECRET, "287083", 59).unwrap(), None);
        assert_eq!(matching_step(SECRET, "28708", 59).unwrap(), None);
        assert_eq!(matching_step(SECRET, "2870821", 59).unwrap(), None);
    }
}
