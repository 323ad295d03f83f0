//! The servers this instance refuses to talk to (its instance-wide server blocklist), as the
//! fetcher and the inbox check them: a set of domains, shared, replaced whole when an admin
//! changes the list (readers never wait on a lock held across a change). A blocked domain covers
//! its subdomains (`example.com` covers `video.example.com`), as Mastodon's domain blocks do.
//! Hosts are compared lower-cased; `host:port` is blocked by its exact text or by its name.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

/// The blocked domains, readable from any thread.
#[derive(Default)]
pub struct Domains {
    set: RwLock<Arc<HashSet<String>>>,
}

impl Domains {
    /// Replaces the whole list.
    pub fn replace(&self, domains: impl IntoIterator<Item = String>) {
        let set: HashSet<String> = domains.into_iter().map(|d| d.to_ascii_lowercase()).collect();
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
    }

    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn snapshot(&self) -> Arc<HashSet<String>> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether `host` (`name` or `name:port`, any case) is blocked: itself, its name without the
    /// port, or a parent domain of that name.
    pub fn blocks(&self, host: &str) -> bool {
        let set = self.snapshot();
        !set.is_empty() && covered(&set, host)
    }
}

/// Whether `set` covers `host` (see [`Domains::blocks`]).
pub fn covered(set: &HashSet<String>, host: &str) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if set.contains(&host) {
        return true;
    }
    let name = match host.rsplit_once(':') {
        // An IPv6 literal (`[::1]:8080`) or a name with a port.
        Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => host.as_str(),
    };
    if set.contains(name) {
        return true;
    }
    // Parent domains of a name (never of an address: `0.0.1` is no parent of `127.0.0.1`).
    if name.starts_with('[') || name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    let mut rest = name;
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.contains('.') && set.contains(parent) {
            return true;
        }
        rest = parent;
    }
    false
}

/// A domain as an admin may block it: a host name or address with an optional port, lower-cased,
/// without scheme, path or trailing dot. `None` for anything else (so nothing but a host name
/// reaches the list and SQL `LIKE` patterns made from it).
pub fn normalize(input: &str) -> Option<String> {
    let mut s = input.trim().trim_end_matches('.').to_ascii_lowercase();
    // Mastodon's exports may carry an obfuscated domain (`*` in it): not a domain we can match.
    if let Some(rest) = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")) {
        s = rest.trim_end_matches('/').to_string();
    }
    if s.is_empty() || s.len() > 253 {
        return None;
    }
    let (name, port) = match s.rsplit_once(':') {
        Some((n, p)) if !n.contains(':') => (n, Some(p)),
        _ => (s.as_str(), None),
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !name.split('.').all(label_ok) {
        return None;
    }
    // A single label (`com`) would cover a whole top-level domain; only a server with a port
    // (`localhost:9000`) is named so.
    if !name.contains('.') && port.is_none() {
        return None;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(list: &[&str]) -> Domains {
        let d = Domains::default();
        d.replace(list.iter().map(|s| s.to_string()));
        d
    }

    #[test]
    fn a_domain_covers_itself_and_its_subdomains_only() {
        let d = domains(&["example.com", "127.0.0.1:9002"]);
        assert!(d.blocks("example.com"));
        assert!(d.blocks("Video.Example.COM"));
        assert!(d.blocks("a.b.example.com:8443"));
        assert!(d.blocks("127.0.0.1:9002"));
        assert!(!d.blocks("127.0.0.1:9001"), "another port of an address is another server");
        assert!(!d.blocks("notexample.com"));
        assert!(!d.blocks("example.com.evil.org"));
        assert!(!d.blocks("com"));
        assert!(!domains(&[]).blocks("example.com"));
    }

    #[test]
    fn a_top_level_domain_alone_blocks_nothing_below_it() {
        // A list naming "com" would otherwise block the whole top-level domain by mistake.
        assert!(!domains(&["com"]).blocks("example.com"));
    }

    #[test]
    fn only_host_names_are_accepted() {
        assert_eq!(normalize("com"), None, "a single label would cover a whole top-level domain");
        assert_eq!(normalize("localhost:9000").as_deref(), Some("localhost:9000"));
        assert_eq!(normalize(" Spam.Example.org. ").as_deref(), Some("spam.example.org"));
        assert_eq!(normalize("https://spam.example.org/").as_deref(), Some("spam.example.org"));
        assert_eq!(normalize("127.0.0.1:9002").as_deref(), Some("127.0.0.1:9002"));
        for bad in [
            "",
            "a b.org",
            "ex%ample.org",
            "ex_ample.org",
            "*.example.org",
            "exa*le.org",
            "x.org:99999999",
            "x.org:",
            "-x.org",
            "x..org",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert_eq!(normalize(&"a".repeat(300)), None);
    }
}
