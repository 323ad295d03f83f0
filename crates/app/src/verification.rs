//! What e-mail proves, as PeerTube: a new user's address (when
//! `signup_requires_email_verification`), a forgotten password, a new address. Each is a
//! one-time link (`users.put_token`: a random string, stored as its SHA-256, one live per user
//! and kind) mailed in the transaction that makes it; following it takes it (`take_token`).
//! Asking never tells whether an address exists (the answer is the same either way).

use flotilla_db::{tokens, users};
use flotilla_domain::time::now_ms;
use flotilla_domain::{UserId, rules};
use sha2::{Digest, Sha256};

use crate::{App, Error, Result, mail};

/// How long a link works.
const RESET_MS: i64 = 60 * 60 * 1000;
const VERIFY_MS: i64 = 24 * 60 * 60 * 1000;

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn invalid() -> Error {
    Error::Forbidden("the verification string is wrong, was used already, or lapsed: ask for a new e-mail".into())
}

/// Makes a link of `kind` for `user` in `tx`; returns the string to put in it.
async fn new_token(tx: &mut flotilla_db::Tx, user: UserId, kind: &str, lifetime: i64) -> Result<String> {
    let token = crate::auth::random_token(32);
    let now = now_ms();
    users::put_token(tx, user, kind, &hash(&token), now + lifetime, now).await?;
    Ok(token)
}

fn link(app: &App, path: &str, user: UserId, token: &str, extra: &str) -> String {
    format!("{}{path}?userId={}&verificationString={token}{extra}", app.public.base(), user.0)
}

/// A new user must confirm their address (their registration's transaction): the link mailed.
pub async fn signup(tx: &mut flotilla_db::Tx, app: &App, user: UserId, username: &str, email: &str) -> Result<()> {
    if !app.config.signup_requires_email_verification || !mail::enabled(app) {
        return Ok(());
    }
    users::require_verification(&mut *tx, user).await?;
    send_verify(tx, app, user, username, email).await
}

async fn send_verify(tx: &mut flotilla_db::Tx, app: &App, user: UserId, username: &str, email: &str) -> Result<()> {
    let token = new_token(tx, user, "verify", VERIFY_MS).await?;
    let site = app.settings().name.clone();
    let text = format!(
        "Hello {username},\n\nWelcome to {site}. To confirm that {email} is your address, open this link:\n\n{}\n\n\
         It works for 24 hours. If you did not sign up, ignore this message.\n",
        link(app, "/verify-account/email", user, &token, "")
    );
    mail::queue(tx, app, email, &format!("{site}: confirm your e-mail address"), &text).await
}

/// Whether `user` may log in as far as their address goes.
pub fn login_allowed(app: &App, user: &users::User) -> Result<()> {
    if app.config.signup_requires_email_verification && user.email_verification_required {
        return Err(Error::bad_request(
            "email_not_verified",
            "confirm your e-mail address first: open the link we sent you, or ask for a new one",
        ));
    }
    Ok(())
}

async fn by_email(app: &App, email: &str) -> Result<Option<users::User>> {
    let email = email.trim();
    if email.is_empty() || email.len() > 254 {
        return Err(Error::invalid("email", "an e-mail address is required"));
    }
    let found = users::get_by_username_or_email(&app.db, email).await?;
    // The lookup also matches usernames: only an address counts here.
    Ok(found.filter(|u| u.email.eq_ignore_ascii_case(email)))
}

fn need_mail(app: &App) -> Result<()> {
    if !mail::enabled(app) {
        return Err(Error::bad_request("email_disabled", "this instance sends no e-mail ([smtp] is not set up)"));
    }
    Ok(())
}

/// `POST /users/ask-reset-password` (`email`): a reset link to that address, if it is a user's.
pub async fn ask_reset(app: &App, email: &str) -> Result<()> {
    need_mail(app)?;
    let Some(u) = by_email(app, email).await? else { return Ok(()) };
    if u.blocked {
        return Ok(());
    }
    let mut tx = app.db.begin().await?;
    let token = new_token(&mut tx, u.user_id(), "reset", RESET_MS).await?;
    let site = app.settings().name.clone();
    let text = format!(
        "Hello {},\n\nSomeone (we hope you) asked to reset your password on {site}. To choose a new one, open \
         this link:\n\n{}\n\nIt works for one hour. If you did not ask, ignore this message: your password stays \
         as it is.\n",
        u.username,
        link(app, "/reset-password", u.user_id(), &token, "")
    );
    mail::queue(&mut tx, app, &u.email, &format!("{site}: reset your password"), &text).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `POST /users/{id}/reset-password` (`verificationString`, `password`): the new password, and
/// every session of the user ended.
pub async fn reset(app: &App, id: i64, token: Option<&str>, password: Option<&str>) -> Result<()> {
    let password = password.ok_or_else(|| Error::invalid("password", "password is required"))?;
    rules::password(password).map_err(|m| Error::invalid("password", m))?;
    let token = token.ok_or_else(|| Error::invalid("verificationString", "verificationString is required"))?;
    let hash_pw = app.passwords.hash(password).await?;
    let user = UserId(id);
    let mut tx = app.db.begin().await?;
    if !users::take_token(&mut tx, user, "reset", &hash(token), now_ms()).await? {
        return Err(invalid());
    }
    let patch = users::UserPatch { password_hash: Some(hash_pw), ..Default::default() };
    users::update(&mut tx, user, &patch, now_ms()).await?;
    tokens::delete_for_user(&mut tx, user).await?;
    tx.commit().await?;
    tracing::info!(user = id, "password reset by e-mail link");
    Ok(())
}

/// `POST /users/ask-send-verify-email` (`email`): the confirmation link again, for an address
/// waiting to be confirmed (a new user's, or an address someone is moving to).
pub async fn ask_verify(app: &App, email: &str) -> Result<()> {
    need_mail(app)?;
    let email = email.trim();
    let mut tx = app.db.begin().await?;
    if let Some(u) = by_email(app, email).await?.filter(|u| u.email_verification_required) {
        send_verify(&mut tx, app, u.user_id(), &u.username, &u.email).await?;
    } else if let Some(u) = users::get_by_pending_email(&app.db, email).await? {
        send_change(&mut tx, app, u.user_id(), &u.username, email).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// A user moves to a new address (`PUT /users/me` with `email`): kept pending and a link mailed
/// to it; the address changes when it is followed.
pub async fn change_email(tx: &mut flotilla_db::Tx, app: &App, user: &users::User, email: &str) -> Result<()> {
    users::set_pending_email(&mut *tx, user.user_id(), Some(email)).await?;
    send_change(tx, app, user.user_id(), &user.username, email).await
}

async fn send_change(tx: &mut flotilla_db::Tx, app: &App, user: UserId, username: &str, email: &str) -> Result<()> {
    let token = new_token(tx, user, "email", VERIFY_MS).await?;
    let site = app.settings().name.clone();
    let text = format!(
        "Hello {username},\n\nTo make {email} the address of your account on {site}, open this link:\n\n{}\n\n\
         It works for 24 hours. Until then your account keeps its current address.\n",
        link(app, "/verify-account/email", user, &token, "&isPendingEmail=true")
    );
    mail::queue(tx, app, email, &format!("{site}: confirm your new e-mail address"), &text).await
}

/// `POST /users/{id}/verify-email` (`verificationString`, `isPendingEmail`).
pub async fn verify(app: &App, id: i64, token: Option<&str>, pending: bool) -> Result<()> {
    let token = token.ok_or_else(|| Error::invalid("verificationString", "verificationString is required"))?;
    let user = UserId(id);
    let mut tx = app.db.begin().await?;
    let kind = if pending { "email" } else { "verify" };
    if !users::take_token(&mut tx, user, kind, &hash(token), now_ms()).await? {
        return Err(invalid());
    }
    let new = if pending {
        let u = users::get(&mut tx, user).await?.ok_or_else(invalid)?;
        let email = u.pending_email.ok_or_else(invalid)?;
        if users::email_taken(&mut tx, &email, Some(user)).await? {
            return Err(Error::Conflict("a user with this email already exists".into()));
        }
        Some(email)
    } else {
        None
    };
    users::confirm_email(&mut tx, user, new.as_deref(), now_ms()).await?;
    tx.commit().await?;
    Ok(())
}
