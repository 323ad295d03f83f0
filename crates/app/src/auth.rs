//! Passwords, OAuth tokens and logins, the way PeerTube's OAuth2 password grant works: one local
//! client, access tokens for a day, refresh tokens for two weeks, refresh rotates both. Tokens are
//! random 256-bit values; only their SHA-256 is stored. Failed logins are counted per address.
//! Passwords are hashed with argon2id a few at a time ([`Passwords`]).

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, SaltString};
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

/// Hashings (or verifications) that run at once: each takes 19 MiB for its time, so a burst of
/// logins queues instead of taking 19 MiB × N.
pub const HASHING_AT_ONCE: usize = 2;

type HashJob = Box<dyn FnOnce() + Send>;

/// argon2id with the crate's defaults (OWASP's: 19 MiB, 2 passes, 1 lane), run by
/// [`HASHING_AT_ONCE`] threads of its own that take turns from one queue. Own threads rather than
/// tokio's blocking pool: the allocator keeps each thread's freed 19 MiB for that thread, so
/// hashing on whichever of many pool threads is free would leave tens of them holding 19 MiB each.
pub struct Passwords {
    queue: Mutex<std::sync::mpsc::Sender<HashJob>>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    pub fn new() -> Passwords {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for n in 0..HASHING_AT_ONCE {
            let rx = rx.clone();
            // The threads end when the queue's sender (this value) is dropped.
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Passwords { queue: Mutex::new(tx) }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _ = tx.send(work());
        });
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| Error::Internal("the password hashing threads are gone".into()))?;
        rx.await.map_err(|_| Error::Internal("password hashing failed".into()))
    }

    /// Hashes a password (waiting for a turn).
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move || hash_now(&password)).await?
    }

    /// Checks a password against a stored hash (waiting for a turn). A malformed hash never matches.
    pub async fn verify(&self, password: &str, hash: &str) -> bool {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move || verify_now(&password, &hash)).await.unwrap_or(false)
    }
}

/// Blocks (1 KiB each) always reserved for argon2's memory: 33 MiB, above the largest mmap
/// threshold glibc ever uses (32 MiB). Allocations below the threshold come from the hashing
/// thread's arena, whose freed memory fragments over repeated hashings (fifty logins in a row
/// left 190 MiB resident); above it they are mapped and unmapped each time. Only the pages argon2
/// touches (19 MiB) become resident.
const ALWAYS_MAPPED_BLOCKS: usize = 33 * 1024;

/// Runs `f` with `count` argon2 blocks that go back to the system afterwards. They come from the
/// system's allocator, not the binary's: mimalloc (`flotilla`'s `main.rs`) keeps a freed block
/// for a while and gives it back only when that thread allocates again, so an idle instance kept
/// its last hashing's 19 MiB resident.
fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    let mut blocks =
        allocator_api2::vec::Vec::with_capacity_in(count.max(ALWAYS_MAPPED_BLOCKS), allocator_api2::alloc::System);
    blocks.resize(count, argon2::Block::default());
    f(&mut blocks)
}

/// argon2's own `hash_password`, with the memory of [`with_blocks`].
fn hash_now(password: &str) -> Result<String> {
    use argon2::password_hash::{Output, ParamsString};
    use argon2::{Algorithm, Params, Version};
    let fail = |e: &dyn std::fmt::Display| Error::Internal(format!("password hashing failed: {e}"));
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| fail(&e))?;
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_blocks(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks)
    })
    .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// argon2's own `verify_password`, with the memory of [`with_blocks`]. Stored hashes with more
/// than 64 MiB of memory are not tried (ours have 19).
fn verify_now(password: &str, hash: &str) -> bool {
    use argon2::password_hash::Output;
    use argon2::{Algorithm, Params, Version};
    let Ok(phc) = PasswordHash::new(hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(phc.algorithm), Params::try_from(&phc)) else {
        return false;
    };
    let version = match phc.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else { return false };
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else { return false };
    if params.block_count() > 64 * 1024 {
        return false;
    }
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = with_blocks(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks)
    });
    // Output's equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

/// A hash of a password nobody has, verified against when the user does not exist so that the
/// answer takes as long as for a real user (no user enumeration by timing).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9QIRpXg0hs1k4e1q2o6ww4b4zPoqCPOmPkhHg9w1W1g";

/// Whether two secrets are equal, in time that depends on their lengths only.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

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

/// A new pair for `user`, of the login `family` (a new login: a new random family).
async fn issue(app: &App, user: UserId, family: &str) -> Result<Tokens> {
    let now = now_ms();
    let (access, refresh) = (random_token(32), random_token(32));
    tokens::insert(
        &app.db,
        user,
        &token_hash(&access),
        &token_hash(&refresh),
        now + ACCESS_TOKEN_LIFETIME_MS,
        now + REFRESH_TOKEN_LIFETIME_MS,
        family,
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

/// `grant_type=password`. `login` is a username or an email address; `otp` the two-factor code
/// (PeerTube's `x-peertube-otp` header) of a user who turned it on.
pub async fn login(
    app: &App,
    ip: IpAddr,
    client: (&str, &str),
    login: &str,
    password: &str,
    otp: Option<&str>,
) -> Result<Tokens> {
    let (client_id, client_secret) = client;
    app.limits.check_ip(crate::limits::Kind::Login, ip)?;
    // Counted before the password is looked at, so that concurrent guesses cannot all pass a
    // check made before any of them failed.
    let attempt = app.logins.begin(ip)?;
    check_client(app, client_id, client_secret).await?;
    let user = users::get_by_username_or_email(&app.db, login).await?;
    let Some(user) = user else {
        // A request still waiting for a moderator gets told so, once its password is right.
        if let Some(code) = crate::registration::login_state(app, login, password).await? {
            return Err(code);
        }
        app.passwords.verify(password, DUMMY_HASH).await;
        attempt.failed();
        return Err(invalid_grant("user credentials are invalid"));
    };
    if !app.passwords.verify(password, &user.password_hash).await {
        attempt.failed();
        return Err(invalid_grant("user credentials are invalid"));
    }
    if user.blocked {
        return Err(Error::bad_request("user_blocked", "Your account is blocked"));
    }
    crate::verification::login_allowed(app, &user)?;
    if let Err(e) = crate::two_factor::check_login(app, user.user_id(), otp).await {
        // A wrong code counts as a failed login (guessing six digits is bounded like a password).
        if e.code() == "invalid_two_factor" {
            attempt.failed();
        }
        return Err(e);
    }
    users::touch_login(&app.db, user.user_id(), now_ms()).await?;
    issue(app, user.user_id(), &random_token(16)).await
}

/// `grant_type=refresh_token`: the old pair is retired and a new one of the same login issued. A
/// refresh token used again after [`REFRESH_GRACE_MS`] was stolen or leaked (its owner already
/// moved on to the next one): every pair of that login ends, the thief's and the owner's alike.
pub async fn refresh(app: &App, client_id: &str, client_secret: &str, refresh_token: &str) -> Result<Tokens> {
    check_client(app, client_id, client_secret).await?;
    let Some(token) = tokens::get_by_refresh(&app.db, &token_hash(refresh_token)).await? else {
        return Err(invalid_grant("refresh token is invalid"));
    };
    let now = now_ms();
    if token.refresh_expires_at < now {
        tokens::delete(&app.db, token.id).await?;
        return Err(invalid_grant("refresh token has expired"));
    }
    // Older pairs have no family: their own id stands for it.
    let family = token.family.clone().unwrap_or_else(|| format!("pair-{}", token.id));
    if token.rotated_at.is_some_and(|at| now - at > REFRESH_GRACE_MS) {
        match &token.family {
            Some(f) => tokens::delete_family(&app.db, f).await?,
            None => u64::from(tokens::delete(&app.db, token.id).await?),
        };
        tracing::warn!(user = token.user_id, "a refresh token was used twice: every session of that login ended");
        return Err(invalid_grant("refresh token was already used; log in again"));
    }
    let user = users::get(&app.db, UserId(token.user_id)).await?.ok_or_else(|| invalid_grant("user not found"))?;
    if user.blocked {
        return Err(Error::bad_request("user_blocked", "Your account is blocked"));
    }
    // The old access token ends now; the old refresh token keeps working for a short grace, so a
    // page reloaded while its refresh was in flight (the browser never stored the new cookie) is
    // not logged out. Replays never stretch the grace: it counts from the first refresh.
    if !tokens::retire(&app.db, token.id, now).await? {
        return Err(invalid_grant("refresh token is invalid"));
    }
    issue(app, user.user_id(), &family).await
}

/// Removes tokens whose refresh token has expired; run periodically by the server.
pub async fn delete_expired_tokens(app: &App) -> Result<u64> {
    // Spent e-mail links too (the sessions' count is what is reported).
    users::prune_tokens(&app.db, now_ms()).await?;
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

/// Counts failed logins per client address in a window. In memory on purpose: it guards one
/// process against password guessing, and a restart resetting it costs an attacker little. An
/// attempt counts from its start ([`LoginLimiter::begin`]) until it ends: a failure stays counted,
/// anything else is given back. Bounded: the least recently seen addresses are forgotten past
/// [`MAX_ADDRESSES`].
pub struct LoginLimiter {
    max: u32,
    window: Duration,
    attempts: Mutex<lru::LruCache<IpAddr, Attempts>>,
}

/// Addresses the login limiter remembers at most.
pub const MAX_ADDRESSES: usize = 50_000;

#[derive(Clone, Copy)]
struct Attempts {
    failures: u32,
    in_flight: u32,
    since: Instant,
}

/// A login attempt in progress; dropped without [`Attempt::failed`], it did not count.
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    ip: IpAddr,
}

impl Attempt<'_> {
    /// The password was wrong: the attempt stays counted.
    pub fn failed(self) {
        self.limiter.end(self.ip, true);
        std::mem::forget(self);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.limiter.end(self.ip, false);
    }
}

impl LoginLimiter {
    pub fn new(cfg: &AuthConfig) -> Self {
        LoginLimiter {
            max: cfg.max_login_failures,
            window: Duration::from_secs(cfg.login_failure_window_secs),
            attempts: Mutex::new(lru::LruCache::new(NonZeroUsize::new(MAX_ADDRESSES).expect("> 0"))),
        }
    }

    /// Starts an attempt from `ip`, refused (429) when its failures and attempts in flight reach
    /// the limit within the window.
    pub fn begin(&self, ip: IpAddr) -> Result<Attempt<'_>> {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let entry = map.get_or_insert_mut(ip, || Attempts { failures: 0, in_flight: 0, since: now });
        if now.duration_since(entry.since) >= self.window {
            entry.failures = 0;
            entry.since = now;
        }
        if entry.failures + entry.in_flight >= self.max {
            let left = self.window.saturating_sub(now.duration_since(entry.since));
            return Err(Error::TooManyRequests { retry_after_secs: left.as_secs().max(1) });
        }
        entry.in_flight += 1;
        Ok(Attempt { limiter: self, ip })
    }

    fn end(&self, ip: IpAddr, failed: bool) {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get_mut(&ip) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if failed {
                entry.failures += 1;
            }
        }
    }

    /// Addresses remembered now.
    pub fn len(&self) -> usize {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let p = Passwords::new();
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse", &h).await);
        assert!(!p.verify("wrong horse", &h).await);
        assert!(!p.verify("x", "not a hash").await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn our_hashes_and_argon2s_own_verify_each_other() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_now("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = Argon2::default().hash_password(b"battery staple", &salt).unwrap().to_string();
        assert!(verify_now("battery staple", &theirs));
        assert!(!verify_now("battery stapler", &theirs));
        assert!(!verify_now("x", "$argon2id$v=19$m=999999,t=2,p=1$c29tZXNhbHQ$aGFzaA"), "too much memory");
    }

    #[test]
    fn the_argon2_parameters_are_owasps() {
        // m = 19 MiB, t = 2 passes, p = 1 lane: what the stored hashes say, checked here so a
        // dependency update cannot weaken them silently.
        let h = hash_now("x").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }

    #[test]
    fn limiter_refuses_after_the_maximum_and_not_other_addresses() {
        let l = LoginLimiter::new(&AuthConfig { max_login_failures: 3, login_failure_window_secs: 60 });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            l.begin(a).unwrap().failed();
        }
        assert!(matches!(l.begin(a), Err(Error::TooManyRequests { .. })));
        assert!(l.begin(b).is_ok());
    }

    #[test]
    fn concurrent_attempts_count_before_they_fail() {
        let l = LoginLimiter::new(&AuthConfig { max_login_failures: 3, login_failure_window_secs: 60 });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        // Three guesses in flight at once: a fourth is refused before any of them has failed.
        let in_flight: Vec<_> = (0..3).map(|_| l.begin(a).unwrap()).collect();
        assert!(matches!(l.begin(a), Err(Error::TooManyRequests { .. })));
        // Successful ones give their place back.
        drop(in_flight);
        assert!(l.begin(a).is_ok());
    }

    #[test]
    fn a_million_addresses_keep_the_login_limiter_bounded() {
        let l = LoginLimiter::new(&AuthConfig { max_login_failures: 3, login_failure_window_secs: 60 });
        for i in 0..1_000_000u32 {
            l.begin(IpAddr::from(i.to_be_bytes())).unwrap().failed();
        }
        assert_eq!(l.len(), MAX_ADDRESSES);
    }
}
