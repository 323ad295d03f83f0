//! Rate limits (security-case 27): token buckets from `governor`, one keyed limiter per kind of
//! request — the API as a whole, logins, registrations, password changes, upload starts and
//! searches per client address, and inbox deliveries per remote host. Each is "N per period"
//! (`[rate_limits]` in the configuration, e.g. `"15/5m"`): a burst of N, refilled over the period.
//!
//! Keys are what clients send (addresses, claimed hosts), so each limiter's memory is bounded:
//! IPv6 addresses count by their /64 (one subscriber's whole network), and a limiter that holds
//! more than [`MAX_KEYS`] keys forgets the idle ones, or all of them when none is idle.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::RateLimitsConfig;
use crate::{Error, Result};

/// Keys one limiter remembers at most.
pub const MAX_KEYS: usize = 100_000;

/// What a limit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Every request under `/api/v1`, per address.
    Api,
    /// `POST /users/token` with a password, per address.
    Login,
    /// `POST /users/register` and registration requests, per address.
    Registration,
    /// Password changes, per address.
    Password,
    /// Starting an upload (multipart or resumable), per address.
    Upload,
    /// `GET /search/…`, per address.
    Search,
    /// Activities posted to our inboxes, per remote host (the signature's `keyId`).
    Inbox,
    /// Abuse reports, per reporting account, and `Flag`s received, per remote server.
    Report,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Api,
        Kind::Login,
        Kind::Registration,
        Kind::Password,
        Kind::Upload,
        Kind::Search,
        Kind::Inbox,
        Kind::Report,
    ];

    /// The configuration key.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Api => "api",
            Kind::Login => "login",
            Kind::Registration => "registration",
            Kind::Password => "password",
            Kind::Upload => "upload",
            Kind::Search => "search",
            Kind::Inbox => "inbox",
            Kind::Report => "reports",
        }
    }

    fn spec(self, c: &RateLimitsConfig) -> &str {
        match self {
            Kind::Api => &c.api,
            Kind::Login => &c.login,
            Kind::Registration => &c.registration,
            Kind::Password => &c.password,
            Kind::Upload => &c.upload,
            Kind::Search => &c.search,
            Kind::Inbox => &c.inbox,
            Kind::Report => &c.reports,
        }
    }
}

/// `"15/5m"` → 15 per five minutes; `"off"` → no limit. Periods: `s`, `m`, `h` (a bare number is
/// seconds).
pub fn parse(spec: &str) -> std::result::Result<Option<(u32, Duration)>, String> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || format!("'{spec}' is not N/period (such as 15/5m, 3000/1m, 500/10s) or off");
    let (n, period) = spec.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let period = period.trim();
    let (num, unit) = match period.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&period[..i], &period[i..]),
        None => (period, "s"),
    };
    let num: u64 = if num.is_empty() { 1 } else { num.parse().map_err(|_| bad())? };
    let secs = match unit {
        "s" => num,
        "m" => num * 60,
        "h" => num * 3600,
        _ => return Err(bad()),
    };
    if secs == 0 || secs > 24 * 3600 {
        return Err(bad());
    }
    Ok(Some((n, Duration::from_secs(secs))))
}

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

struct Limiter {
    quota: Quota,
    current: RwLock<Arc<Keyed>>,
}

impl Limiter {
    fn new(n: u32, period: Duration) -> Limiter {
        let burst = NonZeroU32::new(n).expect("n > 0");
        let quota = Quota::with_period(period / n).expect("period > 0").allow_burst(burst);
        Limiter { quota, current: RwLock::new(Arc::new(RateLimiter::keyed(quota))) }
    }

    fn check(&self, key: String) -> std::result::Result<(), Duration> {
        let limiter = self.current.read().unwrap_or_else(|p| p.into_inner()).clone();
        let outcome =
            limiter.check_key(&key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()));
        if limiter.len() > MAX_KEYS {
            limiter.retain_recent();
            if limiter.len() > MAX_KEYS {
                // Every key is busy (addresses of a whole botnet): start over rather than grow.
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(RateLimiter::keyed(self.quota));
            }
        }
        outcome
    }

    fn len(&self) -> usize {
        self.current.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Failures counted per key in a fixed window (wrong video passwords): unlike the token buckets,
/// it can say whether a key is locked *without* counting, so a right answer sent while locked is
/// refused like a wrong one (a guesser learns nothing) and a right answer otherwise costs nothing.
pub struct Failures {
    limit: Option<(u32, Duration)>,
    seen: std::sync::Mutex<std::collections::HashMap<String, (u32, std::time::Instant)>>,
}

impl Failures {
    fn new(limit: Option<(u32, Duration)>) -> Failures {
        Failures { limit, seen: Default::default() }
    }

    /// Refused (429, with when to retry) while `key` has used up its failures of the period.
    pub fn check(&self, key: &str) -> Result<()> {
        let Some((n, period)) = self.limit else { return Ok(()) };
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(key) {
            Some((count, since)) if *count >= n && since.elapsed() < period => {
                let wait = period - since.elapsed();
                Err(Error::TooManyRequests { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 })
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `key`.
    pub fn fail(&self, key: &str) {
        let Some((_, period)) = self.limit else { return };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_KEYS && !seen.contains_key(key) {
            seen.retain(|_, (_, since)| since.elapsed() < period);
            if seen.len() >= MAX_KEYS {
                seen.clear();
            }
        }
        let entry = seen.entry(key.to_string()).or_insert((0, std::time::Instant::now()));
        if entry.1.elapsed() >= period {
            *entry = (0, std::time::Instant::now());
        }
        entry.0 += 1;
    }

    /// Keys remembered (tests of the memory bound).
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every limiter of the instance.
pub struct Limits {
    limiters: Vec<(Kind, Limiter)>,
    /// Wrong passwords of password-protected videos, per client address.
    pub video_passwords: Failures,
}

impl Limits {
    /// Limiters from the configuration (already validated); none when `enabled` is false.
    pub fn new(c: &RateLimitsConfig) -> Limits {
        let mut limiters = Vec::new();
        if c.enabled {
            for kind in Kind::ALL {
                if let Ok(Some((n, period))) = parse(kind.spec(c)) {
                    limiters.push((kind, Limiter::new(n, period)));
                }
            }
        }
        let video_passwords = Failures::new(if c.enabled { parse(&c.video_password).ok().flatten() } else { None });
        Limits { limiters, video_passwords }
    }

    /// Counts one request of `kind` from `key`; refused (429, with when to retry) past the limit.
    pub fn check(&self, kind: Kind, key: &str) -> Result<()> {
        let Some((_, limiter)) = self.limiters.iter().find(|(k, _)| *k == kind) else { return Ok(()) };
        limiter.check(key.to_string()).map_err(|wait| {
            tracing::debug!(kind = kind.key(), key, "rate limited");
            Error::TooManyRequests { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 }
        })
    }

    /// [`Limits::check`] for a client address.
    pub fn check_ip(&self, kind: Kind, ip: IpAddr) -> Result<()> {
        self.check(kind, &address_key(ip))
    }

    /// Keys held by the limiter of `kind` (tests of the memory bound).
    pub fn keys(&self, kind: Kind) -> usize {
        self.limiters.iter().find(|(k, _)| *k == kind).map(|(_, l)| l.len()).unwrap_or(0)
    }
}

/// The key of an address: IPv4 as is, IPv6 by its /64 (one subscriber has a whole /64).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_n_per_period() {
        assert_eq!(parse("15/5m").unwrap(), Some((15, Duration::from_secs(300))));
        assert_eq!(parse("500/10s").unwrap(), Some((500, Duration::from_secs(10))));
        assert_eq!(parse("2/h").unwrap(), Some((2, Duration::from_secs(3600))));
        assert_eq!(parse("3/30").unwrap(), Some((3, Duration::from_secs(30))));
        assert_eq!(parse("off").unwrap(), None);
        for bad in ["", "15", "0/1m", "x/1m", "15/0s", "15/1d", "15/2x", "-1/1m", "15/48h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    fn config(login: &str) -> RateLimitsConfig {
        RateLimitsConfig { login: login.into(), ..Default::default() }
    }

    #[test]
    fn a_burst_past_the_limit_is_refused_with_a_wait_and_other_addresses_are_not() {
        let l = Limits::new(&config("3/1m"));
        for _ in 0..3 {
            assert!(l.check_ip(Kind::Login, "10.0.0.1".parse().unwrap()).is_ok());
        }
        match l.check_ip(Kind::Login, "10.0.0.1".parse().unwrap()) {
            Err(Error::TooManyRequests { retry_after_secs }) => assert!((1..=20).contains(&retry_after_secs)),
            other => panic!("{other:?}"),
        }
        assert!(l.check_ip(Kind::Login, "10.0.0.2".parse().unwrap()).is_ok());
        let off = Limits::new(&RateLimitsConfig { enabled: false, ..config("1/1h") });
        for _ in 0..10 {
            assert!(off.check_ip(Kind::Login, "10.0.0.1".parse().unwrap()).is_ok());
        }
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_a_bucket() {
        let l = Limits::new(&config("2/1m"));
        for host in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
            assert!(l.check_ip(Kind::Login, host.parse().unwrap()).is_ok());
        }
        assert!(l.check_ip(Kind::Login, "2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        assert!(l.check_ip(Kind::Login, "2001:db8:1:3::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn a_million_distinct_keys_keep_each_limiter_bounded() {
        let l = Limits::new(&config("5/1h"));
        for i in 0..1_000_000u32 {
            let _ = l.check_ip(Kind::Login, IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.keys(Kind::Login) <= MAX_KEYS + 1, "{} keys", l.keys(Kind::Login));
    }

    #[test]
    fn failures_lock_a_key_without_counting_the_checks_and_stay_bounded() {
        let l = Limits::new(&RateLimitsConfig { video_password: "3/1m".into(), ..Default::default() });
        let f = &l.video_passwords;
        for _ in 0..20 {
            assert!(f.check("10.0.0.1").is_ok(), "checking alone never locks");
        }
        for _ in 0..3 {
            assert!(f.check("10.0.0.1").is_ok());
            f.fail("10.0.0.1");
        }
        match f.check("10.0.0.1") {
            Err(Error::TooManyRequests { retry_after_secs }) => assert!((1..=60).contains(&retry_after_secs)),
            other => panic!("{other:?}"),
        }
        assert!(f.check("10.0.0.2").is_ok(), "another address");
        for i in 0..300_000u32 {
            f.fail(&i.to_string());
        }
        assert!(f.len() <= MAX_KEYS, "{} keys", f.len());
        let off = Limits::new(&RateLimitsConfig { video_password: "off".into(), ..Default::default() });
        for _ in 0..10 {
            off.video_passwords.fail("10.0.0.1");
        }
        assert!(off.video_passwords.check("10.0.0.1").is_ok());
    }
}
