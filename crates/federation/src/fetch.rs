//! The one HTTP client for everything remote: fetching actors and objects, delivering activities.
//!
//! Guards (security-cases.md, Mastodon's and Lemmy's lessons): http(s) only, https unless private
//! addresses are allowed (tests, LAN); every address a name resolves to must be a public unicast
//! one, checked in the resolver so the connection uses exactly the checked address (no DNS
//! rebinding between check and connect); literal IPs in URLs and redirects are checked the same
//! way; at most three redirects; ActivityPub documents must say they are ActivityStreams and their
//! `id` must be the URL they were fetched from; sizes and times are bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::signature;

/// Largest ActivityPub document we read (Mastodon's limit).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused URL {0}: {1}")]
    Refused(String, String),
    #[error("cannot reach {0}: {1}")]
    Network(String, String),
    #[error("{0} answered {1}")]
    Status(String, u16),
    #[error("{0} is not an ActivityPub document: {1}")]
    NotActivityPub(String, String),
    #[error("{0}: document larger than {1} bytes")]
    TooLarge(String, usize),
}

impl FetchError {
    /// Worth trying again later (the other side is down or slow), as opposed to refused for good.
    pub fn is_temporary(&self) -> bool {
        match self {
            FetchError::Network(..) => true,
            FetchError::Status(_, s) => *s == 429 || *s >= 500,
            _ => false,
        }
    }
}

/// Whether an address may be contacted on the public internet: global unicast only.
pub fn ip_is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => {
            // IPv4 hidden in IPv6: mapped, compatible, NAT64, 6to4 — judge the IPv4 inside.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_is_public(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return v4_is_public(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
            }
            if s[0] == 0x2002 {
                return v4_is_public(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
            }
            if s[..6] == [0, 0, 0, 0, 0, 0] {
                return false; // ::, ::1 and IPv4-compatible addresses
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] == 0)) // Teredo
        }
    }
}

/// Whether we may connect to `ip`: a public address, or loopback when the local-testing switch is
/// on. Private networks, link-local (cloud metadata) and the rest stay refused even then.
pub fn ip_is_allowed(ip: IpAddr, local_testing: bool) -> bool {
    let loopback = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    ip_is_public(ip) || (local_testing && loopback)
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240) // reserved
}

/// How names become addresses: the system's resolver, or one a test injects.
pub type Lookup = Arc<dyn Fn(String) -> futures_lookup::BoxFuture + Send + Sync>;

/// A boxed future type without pulling a futures crate in.
pub mod futures_lookup {
    use std::future::Future;
    use std::net::IpAddr;
    use std::pin::Pin;
    pub type BoxFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    })
}

/// Resolves names and keeps only allowed addresses, so the connection is made to a checked one.
struct GuardedResolver {
    lookup: Lookup,
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (lookup, allow_private) = (self.lookup.clone(), self.allow_private);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = lookup(host.clone()).await?;
            // One private address among public ones refuses the name (as PeerTube does): a name
            // that mixes them is made to reach inside, whichever address a client would pick.
            if let Some(bad) = ips.iter().find(|ip| !ip_is_allowed(**ip, allow_private)) {
                return Err(format!("{host} resolves to a private or reserved address ({bad})").into());
            }
            if ips.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect::<Vec<_>>().into_iter()) as Addrs)
        })
    }
}

/// Checks a URL before any request: scheme, and literal addresses (names are checked when resolved).
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, FetchError> {
    let refused = |why: &str| FetchError::Refused(url.to_string(), why.to_string());
    let u = Url::parse(url).map_err(|e| refused(&e.to_string()))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(refused("only https is allowed")),
        _ => return Err(refused("only http(s) URLs are fetched")),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(refused("credentials in URLs are not allowed"));
    }
    // The address first: a private one is the reason to give, whatever else is wrong.
    match u.host() {
        None => return Err(refused("no host")),
        Some(url::Host::Ipv4(ip)) if !ip_is_allowed(IpAddr::V4(ip), allow_private) => {
            return Err(refused("private or reserved address"));
        }
        Some(url::Host::Ipv6(ip)) if !ip_is_allowed(IpAddr::V6(ip), allow_private) => {
            return Err(refused("private or reserved address"));
        }
        _ => {}
    }
    // An explicit port would let a peer point us at any service of any host (port scans
    // through us); real servers answer on the scheme's own port.
    if !allow_private && u.port().is_some() {
        return Err(refused("explicit ports are not allowed"));
    }
    Ok(u)
}

/// Refuses a URL on a blocked server.
fn not_blocked(blocked: &crate::blocklist::Domains, u: Url) -> Result<Url, FetchError> {
    if blocked.blocks(&host_header(&u)) {
        return Err(FetchError::Refused(u.to_string(), "this server is blocked by this instance".into()));
    }
    Ok(u)
}

tokio::task_local! {
    static BUDGET: std::cell::Cell<u32>;
}

/// Runs `f` allowed at most `fetches` remote requests in all, whatever it fetches directly or by
/// following what those documents point at: a chain of documents crafted to send us from one
/// fetch to the next ends there.
pub async fn with_budget<F: std::future::Future>(fetches: u32, f: F) -> F::Output {
    BUDGET.scope(std::cell::Cell::new(fetches), f).await
}

/// Takes one request from the budget of the running task, if it has one.
fn spend(url: &str) -> Result<(), FetchError> {
    BUDGET
        .try_with(|left| match left.get() {
            0 => Err(FetchError::Refused(url.to_string(), "this request's budget of remote fetches is spent".into())),
            n => {
                left.set(n - 1);
                Ok(())
            }
        })
        .unwrap_or(Ok(()))
}

/// Who signs a request: the key id (`…#main-key`) and the private key.
pub struct Signer {
    pub key_id: String,
    pub key: rsa::PrivateKey,
}

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    /// Servers never contacted (the instance's server blocklist), redirects included.
    blocked: Arc<crate::blocklist::Domains>,
}

fn host_header(u: &Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

impl Fetcher {
    pub fn new(allow_private: bool, user_agent: &str) -> Fetcher {
        Self::with_lookup(allow_private, user_agent, system_lookup())
    }

    /// With a custom resolver (tests of the address checks never touch a private network).
    pub fn with_lookup(allow_private: bool, user_agent: &str, lookup: Lookup) -> Fetcher {
        Self::build(allow_private, user_agent, lookup, false)
    }

    /// `loopback_tripwire` (tests only): after our own checks pass, a redirect to anything but a
    /// loopback address fails with "tripwire" instead of being followed, so that a test of those
    /// checks can never open a connection off this machine, even when the checks are broken.
    fn build(allow_private: bool, user_agent: &str, lookup: Lookup, loopback_tripwire: bool) -> Fetcher {
        let blocked: Arc<crate::blocklist::Domains> = Arc::default();
        let in_policy = blocked.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                return attempt.error("too many redirects");
            }
            match check_url(attempt.url().as_str(), allow_private).and_then(|u| not_blocked(&in_policy, u)) {
                Ok(u) if loopback_tripwire && !is_loopback_literal(&u) => {
                    attempt.error(format!("tripwire: a redirect to {u} passed the checks"))
                }
                Ok(_) => attempt.follow(),
                Err(e) => attempt.error(e.to_string()),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { lookup, allow_private }))
            .redirect(policy)
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(user_agent)
            .build()
            .expect("the HTTP client builds");
        Fetcher { client, allow_private, blocked }
    }

    /// The servers this fetcher never contacts; the app replaces the list when admins change it.
    pub fn blocked_domains(&self) -> &Arc<crate::blocklist::Domains> {
        &self.blocked
    }

    /// [`check_url`], and the server must not be blocked.
    fn check(&self, url: &str) -> Result<Url, FetchError> {
        not_blocked(&self.blocked, check_url(url, self.allow_private)?)
    }

    fn network(url: &str, e: reqwest::Error) -> FetchError {
        // A refusal by our own resolver or redirect policy is not a network failure.
        let text = format!("{e:#}");
        let chain = std::iter::successors(std::error::Error::source(&e), |s| s.source())
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(": ");
        if ["no public address", "private or reserved", "only https", "explicit ports", "is blocked by this instance"]
            .iter()
            .any(|p| chain.contains(p))
        {
            FetchError::Refused(url.to_string(), chain)
        } else {
            FetchError::Network(url.to_string(), if chain.is_empty() { text } else { chain })
        }
    }

    async fn read_limited(url: &str, mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, FetchError> {
        if resp.content_length().is_some_and(|l| l as usize > limit) {
            return Err(FetchError::TooLarge(url.to_string(), limit));
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| Self::network(url, e))? {
            if out.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge(url.to_string(), limit));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// GETs an ActivityPub document, signed when `signer` is given (servers in authorized-fetch
    /// mode require it). The document's `id` must be the final URL: nobody can serve an object
    /// under another server's name.
    pub async fn get_ap(&self, url: &str, signer: Option<&Signer>) -> Result<Value, FetchError> {
        self.get_ap_checked(url, signer, true).await
    }

    /// A public key's document (a `keyId` without a fragment, as GoToSocial signs): some servers
    /// answer it with their actor, whose `id` is the actor's URL and not the key's. Only the
    /// server is checked here (no redirect elsewhere); the caller takes the key's owner from it
    /// and fetches that actor with every check.
    pub async fn get_key_document(&self, url: &str, signer: Option<&Signer>) -> Result<Value, FetchError> {
        self.get_ap_checked(url, signer, false).await
    }

    async fn get_ap_checked(&self, url: &str, signer: Option<&Signer>, check_id: bool) -> Result<Value, FetchError> {
        let u = self.check(url)?;
        spend(url)?;
        let mut req = self.client.get(u.clone()).header(
            "Accept",
            "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
        );
        if let Some(s) = signer {
            let path = match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            };
            let signed = signature::sign(
                "GET",
                &path,
                &host_header(&u),
                None,
                &s.key_id,
                &s.key,
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|e| FetchError::Refused(url.to_string(), e))?;
            req = req.header("Date", signed.date).header("Signature", signed.signature);
        }
        let resp = req.send().await.map_err(|e| Self::network(url, e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FetchError::Status(url.to_string(), status.as_u16()));
        }
        let final_url = resp.url().to_string();
        // A server vouches for its own documents only: a redirect to another server (an open
        // redirect on a victim's host) must not let that server's document pass as the victim's.
        if resp.url().origin() != u.origin() {
            return Err(FetchError::NotActivityPub(
                url.to_string(),
                format!("it redirects to another server ({final_url})"),
            ));
        }
        let ct =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
        let is_as = ct.starts_with("application/activity+json")
            || (ct.starts_with("application/ld+json") && ct.contains("activitystreams"));
        if !is_as {
            return Err(FetchError::NotActivityPub(url.to_string(), format!("Content-Type is '{ct}'")));
        }
        let bytes = Self::read_limited(url, resp, MAX_DOCUMENT_BYTES).await?;
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| FetchError::NotActivityPub(url.to_string(), e.to_string()))?;
        if !check_id {
            return Ok(doc);
        }
        let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
        // The URL asked for also counts (same server): a canonical redirect of its own.
        if strip_fragment(id) != strip_fragment(&final_url) && strip_fragment(id) != strip_fragment(url) {
            return Err(FetchError::NotActivityPub(
                url.to_string(),
                format!("its id {id} is not the URL it came from ({final_url})"),
            ));
        }
        Ok(doc)
    }

    /// POSTs a signed activity to an inbox. `Ok(())` for any 2xx.
    pub async fn post_signed(&self, inbox: &str, body: &[u8], signer: &Signer) -> Result<(), FetchError> {
        let u = self.check(inbox)?;
        let signed = signature::sign(
            "POST",
            u.path(),
            &host_header(&u),
            Some(body),
            &signer.key_id,
            &signer.key,
            time::OffsetDateTime::now_utc(),
        )
        .map_err(|e| FetchError::Refused(inbox.to_string(), e))?;
        let resp = self
            .client
            .post(u)
            .header("Content-Type", "application/activity+json")
            .header("Date", signed.date)
            .header("Digest", signed.digest.unwrap_or_default())
            .header("Signature", signed.signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Self::network(inbox, e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(FetchError::Status(inbox.to_string(), resp.status().as_u16()))
        }
    }

    /// GETs an image (a remote thumbnail), refusing anything that does not say it is one.
    pub async fn get_image(&self, url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
        let u = self.check(url)?;
        spend(url)?;
        let resp = self.client.get(u).header("Accept", "image/*").send().await.map_err(|e| Self::network(url, e))?;
        if !resp.status().is_success() {
            return Err(FetchError::Status(url.to_string(), resp.status().as_u16()));
        }
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        if !ct.starts_with("image/") {
            return Err(FetchError::NotActivityPub(url.to_string(), format!("not an image: {ct}")));
        }
        Self::read_limited(url, resp, limit).await
    }

    /// GETs a media file of a remote video (the edge cache's and mirrors' copies): the whole file,
    /// or the inclusive byte `range` of it, which the answer must be exactly (a 206 whose
    /// `Content-Range` starts there with that many bytes; a server that ignores the range and
    /// answers the whole file is refused, not read). At most `limit` bytes are read. Returns the
    /// bytes and the whole file's length when the answer says it.
    pub async fn get_media(
        &self,
        url: &str,
        range: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<(Vec<u8>, Option<u64>), FetchError> {
        let u = self.check(url)?;
        spend(url)?;
        let mut req = self.client.get(u);
        if let Some((s, e)) = range {
            req = req.header("Range", format!("bytes={s}-{e}"));
        }
        let resp = req.send().await.map_err(|e| Self::network(url, e))?;
        let status = resp.status();
        let total = match range {
            None if status == StatusCode::OK => resp.content_length(),
            Some((s, e)) if status == StatusCode::PARTIAL_CONTENT => {
                let cr = resp.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let (start, end, total) = parse_content_range(cr)
                    .ok_or_else(|| FetchError::Refused(url.to_string(), format!("bad Content-Range '{cr}'")))?;
                if (start, end) != (s, e) {
                    return Err(FetchError::Refused(
                        url.to_string(),
                        format!("asked bytes {s}-{e}, answered {start}-{end}"),
                    ));
                }
                total
            }
            _ if status.is_success() => {
                return Err(FetchError::Refused(url.to_string(), format!("unexpected status {status}")));
            }
            _ => return Err(FetchError::Status(url.to_string(), status.as_u16())),
        };
        let bytes = Self::read_limited(url, resp, limit).await?;
        if let Some((s, e)) = range
            && bytes.len() as u64 != e - s + 1
        {
            return Err(FetchError::Network(url.to_string(), format!("{} bytes of {}", bytes.len(), e - s + 1)));
        }
        Ok((bytes, total))
    }

    /// GETs JSON that is not ActivityPub (WebFinger, NodeInfo), with the same guards.
    pub async fn get_json(&self, url: &str) -> Result<Value, FetchError> {
        let u = self.check(url)?;
        spend(url)?;
        let resp = self
            .client
            .get(u)
            .header("Accept", "application/jrd+json, application/json")
            .send()
            .await
            .map_err(|e| Self::network(url, e))?;
        if resp.status() != StatusCode::OK {
            return Err(FetchError::Status(url.to_string(), resp.status().as_u16()));
        }
        let bytes = Self::read_limited(url, resp, MAX_DOCUMENT_BYTES).await?;
        serde_json::from_slice(&bytes).map_err(|e| FetchError::NotActivityPub(url.to_string(), e.to_string()))
    }
}

/// Whether a URL names a loopback address literally (the test tripwire's one allowed target).
fn is_loopback_literal(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        _ => false,
    }
}

/// `bytes <start>-<end>/<total or *>` → (start, end, total).
fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let (range, total) = v.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (s, e) = range.split_once('-')?;
    let (s, e): (u64, u64) = (s.trim().parse().ok()?, e.trim().parse().ok()?);
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (s <= e && total.is_none_or(|t| e < t)).then_some((s, e, total))
}

fn strip_fragment(u: &str) -> &str {
    u.split('#').next().unwrap_or(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read_strictly() {
        assert_eq!(parse_content_range("bytes 0-99/1000"), Some((0, 99, Some(1000))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        for bad in ["bytes 9-5/100", "bytes 0-100/100", "bytes */100", "items 0-1/2", "bytes 0-1", "bytes a-b/c"] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_public_unicast_addresses_are_allowed() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            assert!(!ip_is_public(bad.parse().unwrap()), "{bad} must be refused");
        }
        for good in ["1.1.1.1", "93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"] {
            assert!(ip_is_public(good.parse().unwrap()), "{good} is public");
        }
    }

    #[test]
    fn odd_ipv4_forms_are_normalised_then_refused() {
        for url in [
            "https://127.1/x",
            "https://0x7f.0.0.1/x",
            "https://2130706433/x",
            "https://017700000001/x",
            "https://0x7f000001/x",
            "https://0177.0.0.1/x",
            "https://0x7F.1/x",
            "https://[::ffff:7f00:1]/x",
        ] {
            assert!(matches!(check_url(url, false), Err(FetchError::Refused(..))), "{url}");
        }
        assert!(matches!(check_url("http://example.org/x", false), Err(FetchError::Refused(..))), "https only");
        assert!(matches!(check_url("ftp://example.org/x", true), Err(FetchError::Refused(..))));
        assert!(matches!(check_url("https://user:pw@example.org/", false), Err(FetchError::Refused(..))));
        assert!(check_url("https://example.org/x", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/x", true).is_ok(), "allowed for tests and LANs");
        assert!(matches!(check_url("https://example.org:22/x", false), Err(FetchError::Refused(..))), "no ports");
        // The local-testing switch opens loopback, and only loopback.
        for url in ["http://127.0.0.1:9000/x", "http://127.8.9.1/x", "http://[::1]:80/x", "http://[::ffff:127.0.0.1]/x"]
        {
            assert!(check_url(url, true).is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.7/x",
            "http://192.168.1.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/x",
            "http://0.0.0.0/x",
            "http://[fe80::1]/x",
            "http://[fc00::1]/x",
        ] {
            assert!(matches!(check_url(url, true), Err(FetchError::Refused(..))), "{url} with the switch on");
        }
        assert!(check_url("https://example.org:443/x", false).is_ok(), "the scheme's own port is no explicit port");
    }

    #[tokio::test]
    async fn a_budget_of_fetches_ends_a_chain() {
        // A closed loopback port: each allowed fetch fails on the network, the one past the budget
        // is refused before any connection.
        let f = Fetcher::new(true, "test");
        let url = "http://127.0.0.1:1/actor";
        let results = with_budget(2, async {
            let mut out = Vec::new();
            for _ in 0..3 {
                out.push(f.get_ap(url, None).await.unwrap_err());
            }
            out
        })
        .await;
        assert!(matches!(results[0], FetchError::Network(..)), "{}", results[0]);
        assert!(matches!(results[1], FetchError::Network(..)), "{}", results[1]);
        assert!(matches!(&results[2], FetchError::Refused(_, why) if why.contains("budget")), "{}", results[2]);
        // Outside a budgeted task nothing is counted.
        assert!(matches!(f.get_ap(url, None).await.unwrap_err(), FetchError::Network(..)));
    }

    /// A loopback HTTP server answering from `route(path, port)` → (status line, extra headers, body).
    async fn raw_server(route: fn(&str, u16) -> (&'static str, String, String)) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, headers, body) = route(&path, port);
                    let head = format!(
                        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn documents_are_checked_for_type_size_id_and_where_redirects_lead() {
        const AS: &str = "Content-Type: application/activity+json\r\n";
        let port = raw_server(|path, port| {
            let here = format!("http://127.0.0.1:{port}");
            let doc = |id: &str| format!("{{\"id\": \"{id}\", \"type\": \"Person\"}}");
            match path {
                "/actor" => ("200 OK", AS.into(), doc(&format!("{here}/actor"))),
                "/moved" => ("302 Found", format!("Location: {here}/canonical\r\n"), String::new()),
                "/canonical" => ("200 OK", AS.into(), doc(&format!("{here}/moved"))),
                // The same server under another name is another origin: an open redirect elsewhere.
                "/away" => ("302 Found", format!("Location: http://localhost:{port}/victim\r\n"), String::new()),
                "/victim" => ("200 OK", AS.into(), doc(&format!("{here}/away"))),
                "/html" => ("200 OK", "Content-Type: text/html\r\n".into(), doc(&format!("{here}/html"))),
                "/other-id" => ("200 OK", AS.into(), doc("http://elsewhere.example/actor")),
                "/huge" => ("200 OK", AS.into(), " ".repeat(MAX_DOCUMENT_BYTES + 10)),
                "/loop" => ("302 Found", format!("Location: {here}/loop\r\n"), String::new()),
                "/to-file" => ("302 Found", "Location: file:///etc/passwd\r\n".into(), String::new()),
                _ => ("404 Not Found", String::new(), String::new()),
            }
        })
        .await;
        let f = Fetcher::new(true, "test");
        let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
        assert_eq!(f.get_ap(&url("/actor"), None).await.unwrap()["type"], "Person");
        assert!(f.get_ap(&url("/moved"), None).await.is_ok(), "a redirect on the same server");
        let err = f.get_ap(&url("/away"), None).await.unwrap_err();
        assert!(matches!(&err, FetchError::NotActivityPub(_, why) if why.contains("another server")), "{err}");
        let err = f.get_ap(&url("/html"), None).await.unwrap_err();
        assert!(matches!(&err, FetchError::NotActivityPub(_, why) if why.contains("Content-Type")), "{err}");
        let err = f.get_ap(&url("/other-id"), None).await.unwrap_err();
        assert!(matches!(&err, FetchError::NotActivityPub(_, why) if why.contains("its id")), "{err}");
        assert!(f.get_ap(&url("/huge"), None).await.is_err(), "over the size limit");
        assert!(f.get_ap(&url("/loop"), None).await.is_err(), "endless redirects");
        let err = f.get_ap(&url("/to-file"), None).await.unwrap_err();
        // Not followed (reqwest never leaves http(s)): the redirect itself is the failed answer.
        assert!(matches!(err, FetchError::Refused(..) | FetchError::Status(_, 302)), "{err}");
        for scheme in ["file:///etc/passwd", "gopher://example.org/", "data:application/json,{}", "ftp://example.org/"]
        {
            assert!(matches!(check_url(scheme, true), Err(FetchError::Refused(..))), "{scheme}");
        }
    }

    /// What the guarded resolver gives a connection for a name when the lookup answers `ips`:
    /// the addresses, or the refusal. No client and no socket: a broken guard makes this test
    /// fail, never connect to the private addresses it is fed.
    async fn guarded(ips: &'static [&'static str], allow_private: bool) -> Result<Vec<SocketAddr>, String> {
        let lookup: Lookup =
            Arc::new(move |_host| Box::pin(async move { Ok(ips.iter().map(|i| i.parse().unwrap()).collect()) }));
        let resolver = GuardedResolver { lookup, allow_private };
        match resolver.resolve("evil.example".parse().unwrap()).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_before_connecting() {
        let refused = |r: Result<Vec<SocketAddr>, String>, bad: &str| {
            let why = r.expect_err("refused");
            assert!(why.contains("private or reserved") && why.contains(bad), "{why}");
        };
        refused(guarded(&["10.0.0.7"], false).await, "10.0.0.7");
        // Every answer is checked: a private one beside a documentation-range one leaves nothing.
        refused(guarded(&["192.0.2.1", "10.0.0.7"], false).await, "192.0.2.1");
        // One private address among public ones refuses the name, whichever a client would pick.
        refused(guarded(&["1.1.1.1", "10.0.0.7"], false).await, "10.0.0.7");
        refused(guarded(&["1.1.1.1", "::1"], false).await, "::1");
        // With the local-testing switch on, a name resolving to a private network is still refused.
        refused(guarded(&["192.168.0.10"], true).await, "192.168.0.10");
        refused(guarded(&["127.0.0.1", "169.254.169.254"], true).await, "169.254.169.254");
        let none = guarded(&[], false).await.expect_err("no address");
        assert!(none.contains("no public address"), "{none}");
        // What passes is what the connection gets: exactly the addresses that were checked.
        let ok = guarded(&["1.1.1.1", "2606:4700::1111"], false).await.unwrap();
        assert_eq!(ok, ["1.1.1.1:0".parse().unwrap(), "[2606:4700::1111]:0".parse().unwrap()]);
        assert_eq!(guarded(&["127.0.0.1"], true).await.unwrap(), ["127.0.0.1:0".parse().unwrap()]);
        refused(guarded(&["127.0.0.1"], false).await, "127.0.0.1");
        // End to end, the fetcher refuses such a name before connecting. Fed loopback only: were the
        // guard broken, the connection would stay on this machine.
        let lookup: Lookup = Arc::new(|_host| Box::pin(async { Ok(vec!["127.0.0.1".parse().unwrap()]) }));
        let f = Fetcher::with_lookup(false, "test", lookup);
        let err = f.get_ap("https://evil.example/actor", None).await.unwrap_err();
        assert!(matches!(&err, FetchError::Refused(_, why) if why.contains("private or reserved")), "{err}");
    }

    #[tokio::test]
    async fn redirects_to_private_addresses_are_refused_even_with_the_switch_on() {
        const AS: &str = "Content-Type: application/activity+json\r\n";
        let port = raw_server(|path, port| {
            let to = |target: String| ("302 Found", format!("Location: {target}\r\n"), String::new());
            match path {
                "/to-lan" => to("http://10.0.0.7/x".into()),
                "/to-metadata" => to("http://169.254.169.254/".into()),
                "/to-metadata-mapped" => to("http://[::ffff:169.254.169.254]/latest/meta-data".into()),
                "/to-public" => to("http://1.1.1.1/x".into()),
                "/to-loopback" => to(format!("http://127.0.0.1:{port}/actor")),
                "/actor" => ("200 OK", AS.into(), format!("{{\"id\": \"http://127.0.0.1:{port}/to-loopback\"}}")),
                _ => ("404 Not Found", String::new(), String::new()),
            }
        })
        .await;
        let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
        // The switch on, as in tests; the tripwire turns any redirect our checks let through to
        // an address off this machine into an error instead of a connection.
        let f = Fetcher::build(true, "test", system_lookup(), true);
        assert!(f.get_ap(&url("/to-loopback"), None).await.is_ok(), "a redirect to loopback is followed");
        for path in ["/to-lan", "/to-metadata", "/to-metadata-mapped"] {
            for err in [
                f.get_ap(&url(path), None).await.unwrap_err(),
                f.get_image(&url(path), 1024).await.unwrap_err(),
                f.get_json(&url(path)).await.unwrap_err(),
            ] {
                assert!(
                    matches!(&err, FetchError::Refused(_, why) if why.contains("private or reserved")),
                    "{path}: {err}"
                );
            }
        }
        // The tripwire itself: a public address passes our checks, and the redirect stops there.
        let err = f.get_ap(&url("/to-public"), None).await.unwrap_err();
        assert!(matches!(&err, FetchError::Network(_, why) if why.contains("tripwire")), "{err}");
    }

    #[tokio::test]
    async fn images_json_and_deliveries_at_refused_addresses_make_no_connection() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let server = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        let (private, _) = crate::keys::generate().unwrap();
        let signer = Signer {
            key_id: "https://us.example/actor#main-key".into(),
            key: crate::keys::private_from_pem(&private).unwrap(),
        };
        // The switch off, as in production: loopback is as refused as any private network.
        let f = Fetcher::new(false, "test");
        for base in [format!("https://127.0.0.1:{port}"), format!("https://[::ffff:127.0.0.1]:{port}")] {
            let image = f.get_image(&format!("{base}/lazy-static/thumbnails/t.jpg"), 1 << 20).await.unwrap_err();
            let avatar = f.get_image(&format!("{base}/lazy-static/avatars/a.png"), 1 << 20).await.unwrap_err();
            let webfinger = f.get_json(&format!("{base}/.well-known/webfinger?resource=acct:a@x")).await.unwrap_err();
            let actor = f.get_ap(&format!("{base}/users/a"), Some(&signer)).await.unwrap_err();
            let delivery = f.post_signed(&format!("{base}/inbox"), b"{}", &signer).await.unwrap_err();
            for err in [image, avatar, webfinger, actor, delivery] {
                assert!(matches!(&err, FetchError::Refused(_, why) if why.contains("private or reserved")), "{err}");
            }
        }
        // The same fetcher does connect to that listener once allowed to: the count above is
        // not zero for want of a listener.
        let open = Fetcher::new(true, "test");
        let _ = tokio::time::timeout(
            Duration::from_millis(300),
            open.get_image(&format!("http://127.0.0.1:{port}/t.jpg"), 1024),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "only the allowed fetch reached the listener");
        server.abort();
    }

    /// Security-cases 15, no second resolution between the check and the connection (DNS
    /// rebinding): a lookup that answers loopback (allowed with the switch on) the first time and
    /// `0.0.0.0` (refused; were it used anyway, it would still only reach this machine) every time
    /// after. The first request succeeds at the listener on 127.0.0.1 after exactly one lookup: had
    /// the client resolved again to connect, it would have been given `0.0.0.0` and failed. The
    /// server closes each connection, so the second request needs a new one: one more lookup, its
    /// answer refused, and no new connection at the listener.
    #[tokio::test]
    async fn the_connection_goes_to_the_address_checked_and_each_connection_resolves_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let server = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let body = "{\"checked\": true}";
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(format!("{head}{body}").as_bytes()).await;
            }
        });
        let lookups = Arc::new(AtomicUsize::new(0));
        let seen = lookups.clone();
        let lookup: Lookup = Arc::new(move |host| {
            assert_eq!(host, "rebind.example");
            let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(async move { Ok(vec![if first { "127.0.0.1" } else { "0.0.0.0" }.parse().unwrap()]) })
        });
        let f = Fetcher::with_lookup(true, "test", lookup);
        let url = format!("http://rebind.example:{port}/.well-known/nodeinfo");

        let doc = f.get_json(&url).await.expect("the first answer, checked, is the one connected to");
        assert_eq!(doc["checked"], true);
        assert_eq!(lookups.load(Ordering::SeqCst), 1, "one lookup for the connection");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let err = f.get_json(&url).await.unwrap_err();
        assert!(matches!(&err, FetchError::Refused(_, why) if why.contains("0.0.0.0")), "{err}");
        assert_eq!(lookups.load(Ordering::SeqCst), 2, "a new connection, a new lookup, checked again");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the refused answer reached nothing");
        server.abort();
    }
}
