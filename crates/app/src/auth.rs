//! Passwords, OAuth tokens and logins, the way PeerTube's OAuth2 password grant works: one local
//! client, access tokens for a day, refresh tokens for two weeks, refresh rotates both. Tokens are
//! random 256-bit values; only their SHA-256 is stored. Failed logins are counted per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use flotilla_db::{tokens, users};
use flotilla_domain::{Role, UserId, time::now_ms};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::{App, Error, Result};

pub const ACCESS_TOKEN_LIFETIME_MS: i64 = 24 * 3600 * 1000;
pub const REFRESH_TOKEN_LIFETIME_MS: i64 = 14 * 24 * 3600 * 1000;
/// How long a rotated refresh token still works (a second tab, a reload during the refresh).
pub const REFRESH_GRACE_MS: i64 = 30 * 1000;

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes) on a blocking thread.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// Checks a password against a stored hash. A malformed hash never matches.
pub async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody has, verified against when the user does not exist so that the
/// answer takes as long as for a real user (no user enumeration by timing).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9QIRpXg0hs1k4e1q2o6ww4b4zPoqCPOmPkhHg9w1W1g";

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `GET /api/v1/oauth-clients/local`: the instance's one OAuth client.
pub async fn local_client(app: &App) -> Result<(String, String)> {
    Ok(tokens::local_client(&app.db, || (random_token(16), random_token(16)), now_ms()).await?)
}

/// What a successful login or refresh returns (PeerTube's field names are set in `api`).
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub refresh_token_expires_in: i64,
}

async fn issue(app: &App, user: UserId) -> Result<Tokens> {
    let now = now_ms();
    let (access, refresh) = (random_token(32), random_token(32));
    tokens::insert(
        &app.db,
        user,
        &token_hash(&access),
        &token_hash(&refresh),
        now + ACCESS_TOKEN_LIFETIME_MS,
        now + REFRESH_TOKEN_LIFETIME_MS,
        now,
    )
    .await?;
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: ACCESS_TOKEN_LIFETIME_MS / 1000,
        refresh_token_expires_in: REFRESH_TOKEN_LIFETIME_MS / 1000,
    })
}

async fn check_client(app: &App, client_id: &str, client_secret: &str) -> Result<()> {
    let (id, secret) = local_client(app).await?;
    if id == client_id && secret == client_secret {
        Ok(())
    } else {
        Err(Error::bad_request("invalid_client", "Invalid client: client is invalid"))
    }
}

fn invalid_grant(msg: &str) -> Error {
    Error::bad_request("invalid_grant", format!("Invalid grant: {msg}"))
}

/// `grant_type=password`. `login` is a username or an email address.
pub async fn login(
    app: &App,
    ip: IpAddr,
    client_id: &str,
    client_secret: &str,
    login: &str,
    password: &str,
) -> Result<Tokens> {
    app.logins.check(ip)?;
    check_client(app, client_id, client_secret).await?;
    let user = users::get_by_username_or_email(&app.db, login).await?;
    let Some(user) = user else {
        // A request still waiting for a moderator gets told so, once its password is right.
        if let Some(code) = crate::registration::login_state(app, login, password).await? {
            return Err(code);
        }
        verify_password(password, DUMMY_HASH).await;
        app.logins.failed(ip);
        return Err(invalid_grant("user credentials are invalid"));
    };
    if !verify_password(password, &user.password_hash).await {
        app.logins.failed(ip);
        return Err(invalid_grant("user credentials are invalid"));
    }
    if user.blocked {
        return Err(Error::bad_request("user_blocked", "Your account is blocked"));
    }
    users::touch_login(&app.db, user.user_id(), now_ms()).await?;
    issue(app, user.user_id()).await
}

/// `grant_type=refresh_token`: the old pair is revoked and a new one issued.
pub async fn refresh(app: &App, client_id: &str, client_secret: &str, refresh_token: &str) -> Result<Tokens> {
    check_client(app, client_id, client_secret).await?;
    let Some(token) = tokens::get_by_refresh(&app.db, &token_hash(refresh_token)).await? else {
        return Err(invalid_grant("refresh token is invalid"));
    };
    if token.refresh_expires_at < now_ms() {
        tokens::delete(&app.db, token.id).await?;
        return Err(invalid_grant("refresh token has expired"));
    }
    let user = users::get(&app.db, UserId(token.user_id)).await?.ok_or_else(|| invalid_grant("user not found"))?;
    if user.blocked {
        return Err(Error::bad_request("user_blocked", "Your account is blocked"));
    }
    // The old access token ends now; the old refresh token keeps working for a short grace, so a
    // page reloaded while its refresh was in flight (the browser never stored the new cookie) is
    // not logged out. Replays never stretch the grace: a stolen old token dies with it.
    if !tokens::retire(&app.db, token.id, now_ms() + REFRESH_GRACE_MS).await? {
        return Err(invalid_grant("refresh token is invalid"));
    }
    issue(app, user.user_id()).await
}

/// Removes tokens whose refresh token has expired; run periodically by the server.
pub async fn delete_expired_tokens(app: &App) -> Result<u64> {
    Ok(tokens::delete_expired(&app.db, now_ms()).await?)
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user: users::User,
    pub token_id: i64,
}

impl AuthUser {
    pub fn id(&self) -> UserId {
        self.user.user_id()
    }

    pub fn role(&self) -> Role {
        Role::try_from(self.user.role).unwrap_or(Role::User)
    }

    /// Admins and moderators.
    pub fn require_moderator(&self) -> Result<()> {
        match self.role() {
            Role::Admin | Role::Moderator => Ok(()),
            Role::User => Err(Error::Forbidden("this action needs the moderator or administrator role".into())),
        }
    }

    pub fn require_admin(&self) -> Result<()> {
        match self.role() {
            Role::Admin => Ok(()),
            _ => Err(Error::Forbidden("this action needs the administrator role".into())),
        }
    }
}

fn invalid_token(msg: &str) -> Error {
    Error::Unauthorized { code: "invalid_token", msg: msg.into() }
}

/// Resolves a bearer access token to its user.
pub async fn authenticate(app: &App, bearer: &str) -> Result<AuthUser> {
    let token = tokens::get_by_access(&app.db, &token_hash(bearer))
        .await?
        .ok_or_else(|| invalid_token("Invalid token: access token is invalid"))?;
    if token.access_expires_at < now_ms() {
        return Err(invalid_token("Invalid token: access token has expired"));
    }
    let user = users::get(&app.db, UserId(token.user_id))
        .await?
        .ok_or_else(|| invalid_token("Invalid token: user not found"))?;
    if user.blocked {
        return Err(invalid_token("Invalid token: the account is blocked"));
    }
    Ok(AuthUser { user, token_id: token.id })
}

/// `POST /api/v1/users/revoke-token`: logs out the token used for the request.
pub async fn revoke(app: &App, who: &AuthUser) -> Result<()> {
    tokens::delete(&app.db, who.token_id).await?;
    Ok(())
}

/// Counts failed logins per client address in a sliding window. In memory on purpose: it guards
/// one process against password guessing, and a restart resetting it costs an attacker little.
pub struct LoginLimiter {
    max: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl LoginLimiter {
    pub fn new(cfg: &AuthConfig) -> Self {
        LoginLimiter {
            max: cfg.max_login_failures,
            window: Duration::from_secs(cfg.login_failure_window_secs),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn check(&self, ip: IpAddr) -> Result<()> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&ip) {
            Some(&(n, since)) if n >= self.max && since.elapsed() < self.window => {
                Err(Error::TooManyRequests { retry_after_secs: (self.window - since.elapsed()).as_secs().max(1) })
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Keep the map bounded: forget windows that have passed once it grows.
        if map.len() > 10_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h).await);
        assert!(!verify_password("wrong horse", &h).await);
        assert!(!verify_password("x", "not a hash").await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn limiter_refuses_after_the_maximum_and_not_other_addresses() {
        let l = LoginLimiter::new(&AuthConfig { max_login_failures: 3, login_failure_window_secs: 60 });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
            l.failed(a);
        }
        assert!(matches!(l.check(a), Err(Error::TooManyRequests { .. })));
        assert!(l.check(b).is_ok());
    }
}
