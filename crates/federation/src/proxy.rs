//! The SSRF guard as an HTTP proxy, for programs that fetch on our behalf (yt-dlp for imports by
//! URL). Such a program follows redirects, reads pages and fetches what they point at, so checking
//! the first URL is not enough: every connection it makes goes through here instead, and here
//! each target is checked as the fetcher checks its own — names resolved by us, every address
//! public (or loopback in local testing), the connection made to the checked address (no DNS
//! rebinding), the scheme's ports only unless local testing, blocked servers refused — and the
//! bytes it receives are counted against a cap.
//!
//! Why not a crate: the check must happen at connect time with our resolver, which no proxy crate
//! offers; what is ours is small — the request head is parsed by `httparse`, `CONNECT` (https)
//! tunnels and absolute-form requests (plain http) are then piped as they are.
//!
//! The proxy listens on 127.0.0.1 on a port of its own for as long as the [`GuardProxy`] lives,
//! and asks a random credential (`http://flotilla:<secret>@127.0.0.1:<port>`), so another local
//! process cannot use it.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fetch::ip_is_allowed;

/// Largest request head a client may send us.
const MAX_HEAD: usize = 64 * 1024;
/// Refusals remembered to explain a failure.
const MAX_REFUSALS: usize = 8;

/// What the proxy saw: bytes received from the targets, and why it refused what it refused.
#[derive(Default)]
pub struct Stats {
    received: AtomicU64,
    refusals: Mutex<Vec<String>>,
    over_cap: std::sync::atomic::AtomicBool,
}

impl Stats {
    /// Bytes the targets sent through us.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Why targets were refused (the first few).
    pub fn refusals(&self) -> Vec<String> {
        self.refusals.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the byte cap was reached (and connections cut).
    pub fn over_cap(&self) -> bool {
        self.over_cap.load(Ordering::Relaxed)
    }

    fn refuse(&self, why: String) {
        let mut r = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() < MAX_REFUSALS {
            r.push(why);
        }
    }
}

/// What the proxy lets through.
#[derive(Clone)]
pub struct Rules {
    /// Loopback allowed, and any port (local testing), as the fetcher's `allow_private`.
    pub allow_private: bool,
    /// Bytes the targets may send in all, over every connection.
    pub max_bytes: u64,
    /// Servers never contacted.
    pub blocked: Arc<crate::blocklist::Domains>,
}

/// A running proxy; it stops when dropped.
pub struct GuardProxy {
    /// The URL to give a program (`--proxy`), with its credential.
    pub url: String,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GuardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy on a free port of 127.0.0.1.
pub async fn start(rules: Rules) -> std::io::Result<GuardProxy> {
    let listener = TcpListener::bind((IpAddr::from([127, 0, 0, 1]), 0)).await?;
    let port = listener.local_addr()?.port();
    let mut secret = [0u8; 18];
    getrandom::fill(&mut secret).map_err(|e| std::io::Error::other(e.to_string()))?;
    let secret = hex::encode(secret);
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("flotilla:{secret}")));
    let stats = Arc::new(Stats::default());
    let task = {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                };
                let (rules, stats, expected) = (rules.clone(), stats.clone(), expected.clone());
                connections.spawn(async move {
                    let _ = serve(socket, &rules, &stats, &expected).await;
                });
                // Finished connections are reaped as we go; the set aborts the rest when dropped.
                while connections.try_join_next().is_some() {}
            }
        })
    };
    Ok(GuardProxy { url: format!("http://flotilla:{secret}@127.0.0.1:{port}"), stats, task })
}

/// The parsed head of a request to the proxy.
struct Head {
    method: String,
    target: String,
    /// The head with the target in origin form and without the proxy's headers (plain http).
    forward: Vec<u8>,
    authorized: bool,
    /// Bytes after the head (the start of a body, or of a TLS handshake).
    rest: Vec<u8>,
}

async fn read_head(socket: &mut TcpStream, expected_auth: &str) -> std::io::Result<Option<Head>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let method = req.method.unwrap_or_default().to_string();
                let target = req.path.unwrap_or_default().to_string();
                let mut authorized = false;
                let mut forward = Vec::new();
                let origin_form = origin_form(&target);
                forward.extend_from_slice(format!("{method} {origin_form} HTTP/1.1\r\n").as_bytes());
                for h in req.headers.iter() {
                    let name = h.name.to_ascii_lowercase();
                    if name == "proxy-authorization" {
                        authorized = constant_eq(h.value, expected_auth.as_bytes());
                        continue;
                    }
                    // One request per connection: the next one must come back through us.
                    if name.starts_with("proxy-") || name == "connection" || name == "keep-alive" {
                        continue;
                    }
                    forward.extend_from_slice(h.name.as_bytes());
                    forward.extend_from_slice(b": ");
                    forward.extend_from_slice(h.value);
                    forward.extend_from_slice(b"\r\n");
                }
                forward.extend_from_slice(b"Connection: close\r\n\r\n");
                return Ok(Some(Head { method, target, forward, authorized, rest: buf[len..].to_vec() }));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            _ => return Ok(None),
        }
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// `http://host:port/path?q` → `/path?q`.
fn origin_form(target: &str) -> String {
    match url::Url::parse(target) {
        Ok(u) if u.has_host() => {
            let mut s = u.path().to_string();
            if let Some(q) = u.query() {
                s.push('?');
                s.push_str(q);
            }
            s
        }
        _ => target.to_string(),
    }
}

async fn answer(socket: &mut TcpStream, status: &str, why: &str) -> std::io::Result<()> {
    let body = format!("{why}\n");
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await
}

async fn serve(mut socket: TcpStream, rules: &Rules, stats: &Stats, expected_auth: &str) -> std::io::Result<()> {
    let Some(head) = read_head(&mut socket, expected_auth).await? else { return Ok(()) };
    if !head.authorized {
        return answer(&mut socket, "407 Proxy Authentication Required", "proxy credentials needed").await;
    }
    let connect = head.method.eq_ignore_ascii_case("CONNECT");
    let (host, port) = match target_of(&head.target, connect, rules.allow_private) {
        Ok(t) => t,
        Err(why) => {
            stats.refuse(format!("{}: {why}", head.target));
            return answer(&mut socket, "403 Forbidden", &why).await;
        }
    };
    let upstream = match connect_checked(&host, port, rules).await {
        Ok(s) => s,
        Err(why) => {
            stats.refuse(format!("{host}: {why}"));
            return answer(&mut socket, "403 Forbidden", &why).await;
        }
    };
    let (mut up_read, mut up_write) = upstream.into_split();
    if connect {
        socket.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    } else {
        up_write.write_all(&head.forward).await?;
    }
    up_write.write_all(&head.rest).await?;
    let (mut client_read, mut client_write) = socket.into_split();
    let to_target = tokio::io::copy(&mut client_read, &mut up_write);
    let from_target = copy_counted(&mut up_read, &mut client_write, rules.max_bytes, stats);
    tokio::select! {
        _ = from_target => {}
        // The client's side finished sending: keep reading the answer.
        _ = async { let _ = to_target.await; std::future::pending::<()>().await } => {}
    }
    Ok(())
}

/// Copies what a target sends to the client, counting it against the cap shared by all.
async fn copy_counted(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    max: u64,
    stats: &Stats,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        let total = stats.received.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > max {
            stats.over_cap.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("over the byte cap"));
        }
        to.write_all(&buf[..n]).await?;
    }
}

/// The host and port a request asks for: `host:port` for `CONNECT`, an absolute http URL
/// otherwise. Without local testing, only 443 (tunnels) and 80 (plain http).
fn target_of(target: &str, connect: bool, allow_private: bool) -> Result<(String, u16), String> {
    let (host, port) = if connect {
        let u = url::Url::parse(&format!("https://{target}")).map_err(|_| "not a host:port".to_string())?;
        let host = u.host_str().ok_or("no host")?.to_string();
        (host, u.port().unwrap_or(443))
    } else {
        let u = url::Url::parse(target).map_err(|_| "not an absolute http URL".to_string())?;
        if u.scheme() != "http" {
            return Err("only http requests are forwarded (https goes through CONNECT)".into());
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err("credentials in URLs are not allowed".into());
        }
        (u.host_str().ok_or("no host")?.to_string(), u.port_or_known_default().unwrap_or(80))
    };
    if !allow_private && port != if connect { 443 } else { 80 } {
        return Err(format!("port {port} is not the scheme's own"));
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port))
}

/// The addresses of `host` (a name or a literal address), refused unless every one is allowed
/// (public, or loopback in local testing): a name that mixes them is made to reach inside. The
/// lookup is bounded in time.
pub async fn resolve_checked(host: &str, port: u16, allow_private: bool) -> Result<Vec<IpAddr>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::time::timeout(std::time::Duration::from_secs(10), tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| format!("{host} cannot be resolved: no answer within 10 s"))?
            .map_err(|e| format!("{host} cannot be resolved: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    if let Some(bad) = ips.iter().find(|ip| !ip_is_allowed(**ip, allow_private)) {
        return Err(format!("{host} is a private or reserved address ({bad})"));
    }
    if ips.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    Ok(ips)
}

/// Resolves `host`, refuses it unless every address is allowed, and connects to one of them.
async fn connect_checked(host: &str, port: u16, rules: &Rules) -> Result<TcpStream, String> {
    if rules.blocked.blocks(host) {
        return Err("this server is blocked by this instance".into());
    }
    let ips = resolve_checked(host, port, rules.allow_private).await?;
    let mut last = "resolves to no address".to_string();
    for ip in ips {
        match tokio::time::timeout(std::time::Duration::from_secs(15), TcpStream::connect(SocketAddr::new(ip, port)))
            .await
        {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = format!("cannot connect: {e}"),
            Err(_) => last = "connection timed out".into(),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow_private: bool) -> Rules {
        Rules { allow_private, max_bytes: 1 << 20, blocked: Arc::new(crate::blocklist::Domains::default()) }
    }

    #[test]
    fn targets_keep_to_the_schemes_ports_unless_testing_locally() {
        assert_eq!(target_of("example.org:443", true, false).unwrap(), ("example.org".into(), 443));
        assert!(target_of("example.org:22", true, false).is_err());
        assert_eq!(target_of("http://example.org/a?b", false, false).unwrap(), ("example.org".into(), 80));
        assert!(target_of("http://example.org:8080/", false, false).is_err());
        assert!(target_of("http://user:pw@example.org/", false, false).is_err());
        assert!(target_of("ftp://example.org/", false, false).is_err());
        assert_eq!(target_of("[::1]:8443", true, true).unwrap(), ("::1".into(), 8443));
        assert_eq!(origin_form("http://example.org/a/b?c=d"), "/a/b?c=d");
    }

    /// A plain-http request, an https tunnel to a private address, and a request without the
    /// credential, against a local server standing for a target.
    #[tokio::test]
    async fn requests_go_through_checked_and_counted() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = target.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = target.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap();
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let body = if head.starts_with("GET /clip?x=1 HTTP/1.1") && !head.contains("Proxy-") {
                    "hello"
                } else {
                    "bad"
                };
                let _ = s
                    .write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
            }
        });
        let proxy = start(rules(true)).await.unwrap();
        let client = reqwest::Client::builder().proxy(reqwest::Proxy::all(&proxy.url).unwrap()).build().unwrap();
        let text = client.get(format!("http://127.0.0.1:{port}/clip?x=1")).send().await.unwrap().text().await.unwrap();
        assert_eq!(text, "hello");
        assert!(proxy.stats.received() > 5);

        // Private networks stay closed even in local testing.
        let r = client.get("http://10.1.2.3/x").send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(proxy.stats.refusals().iter().any(|r| r.contains("private")), "{:?}", proxy.stats.refusals());
        assert!(client.get("https://169.254.169.254/latest").send().await.is_err(), "the tunnel is refused");

        // Without the credential: 407, nothing forwarded.
        let (_, addr) = proxy.url.rsplit_once('@').unwrap();
        let bare =
            reqwest::Client::builder().proxy(reqwest::Proxy::all(format!("http://{addr}")).unwrap()).build().unwrap();
        let r = bare.get(format!("http://127.0.0.1:{port}/clip?x=1")).send().await.unwrap();
        assert_eq!(r.status(), 407);

        // Strict rules: loopback is private too.
        let strict = start(rules(false)).await.unwrap();
        let client = reqwest::Client::builder().proxy(reqwest::Proxy::all(&strict.url).unwrap()).build().unwrap();
        let r = client.get("http://127.0.0.1/clip").send().await.unwrap();
        assert_eq!(r.status(), 403);
    }

    #[tokio::test]
    async fn the_byte_cap_cuts_the_transfer() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = target.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = target.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let body = vec![b'x'; 200_000];
                let _ =
                    s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes()).await;
                let _ = s.write_all(&body).await;
            }
        });
        let proxy = start(Rules { max_bytes: 50_000, ..rules(true) }).await.unwrap();
        let client = reqwest::Client::builder().proxy(reqwest::Proxy::all(&proxy.url).unwrap()).build().unwrap();
        let got = match client.get(format!("http://127.0.0.1:{port}/big")).send().await {
            Ok(r) => r.bytes().await.map(|b| b.len()).unwrap_or(0),
            Err(_) => 0,
        };
        assert!(got < 200_000, "cut short: {got}");
        assert!(proxy.stats.over_cap());
    }
}
