//! Load client for a WebTorrent tracker (the JSON-over-WebSocket protocol of bittorrent-tracker and
//! p2p-media-loader 2), for scripts/bench section 6. Only 127.0.0.0/8 is ever contacted.
//!
//!   tracker-load --url ws://127.0.0.1:PORT/PATH --hashes FILE --peers N [--pid SERVER_PID]
//!                [--per-addr 25] [--join 2] [--period 2] [--warmup 3] [--duration 15] [--settle 3]
//!                [--offers 5] [--sdp-bytes 1000] [--handshakes 64] [--threads 1]
//!
//! 1. Reads the server's VmRSS (`--pid`), then opens N WebSocket connections, at most `--per-addr`
//!    from each source address (127.0.1.1, 127.0.1.2, …: the socket is bound before connecting),
//!    `--handshakes` at a time. After `--settle` seconds with the N connections idle, reads VmRSS
//!    again: (idle − before) / open connections is the memory a connection costs.
//! 2. Every peer (peer i in swarm i mod the number of info hashes in FILE, one a line) announces
//!    with `event: started` and `--offers` offers carrying fake SDPs of about `--sdp-bytes`, at a
//!    random moment of the first `--join` seconds; it answers every offer it gets (to the offerer's peer id,
//!    same offer id, an answer SDP of the same size) and re-announces with fresh offers `--period`
//!    seconds after its previous announce, but never before the tracker answered that one (closed
//!    loop, so a slow tracker gets fewer announces instead of an ever longer queue; an announce left
//!    unanswered for 30 s is given up). After `--warmup` s the counters are read, and again
//!    `--duration` s later: the frames the tracker received (announces + answers) and the frames it
//!    delivered (announce responses, relayed offers and answers, anything else), per second.
//! 3. The peers stop announcing, drain, stay connected `--settle` s (VmRSS again: idle peers that
//!    are in swarms) and close.
//!
//! Prints one JSON object. Per-message CPU figures read /proc/PID/stat (clock ticks of 1/100 s).

#![recursion_limit = "256"]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const IDLE: u8 = 0;
const LOAD: u8 = 1;
const STOP: u8 = 2;
const CLOSE: u8 = 3;
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
const CLK_TCK: f64 = 100.0;

struct Args {
    url: String,
    hashes: Vec<String>,
    peers: usize,
    per_addr: usize,
    period: f64,
    join: f64,
    warmup: f64,
    duration: f64,
    settle: f64,
    pid: Option<u32>,
    offers: usize,
    sdp_bytes: usize,
    handshakes: usize,
    threads: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!("tracker-load: {msg}\n\nsee the comment at the top of scripts/bench-lib/tracker-load/src/main.rs");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut m: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let Some(name) = k.strip_prefix("--") else { usage(&format!("unexpected argument {k}")) };
        let Some(v) = it.next() else { usage(&format!("{k} needs a value")) };
        m.insert(name.to_string(), v);
    }
    fn get<T: std::str::FromStr>(m: &HashMap<String, String>, k: &str, default: Option<T>) -> T {
        match m.get(k) {
            Some(v) => v.parse().unwrap_or_else(|_| usage(&format!("--{k}: cannot parse '{v}'"))),
            None => default.unwrap_or_else(|| usage(&format!("--{k} is required"))),
        }
    }
    let hashes_file: String = get(&m, "hashes", None);
    let hashes: Vec<String> = std::fs::read_to_string(&hashes_file)
        .unwrap_or_else(|e| usage(&format!("cannot read {hashes_file}: {e}")))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if hashes.is_empty() || hashes.iter().any(|h| h.chars().count() != 20) {
        usage("the hashes file needs info hashes of 20 characters, one a line");
    }
    let a = Args {
        url: get(&m, "url", None),
        hashes,
        peers: get(&m, "peers", None),
        per_addr: get(&m, "per-addr", Some(25)),
        period: get(&m, "period", Some(2.0)),
        join: get(&m, "join", Some(2.0)),
        warmup: get(&m, "warmup", Some(3.0)),
        duration: get(&m, "duration", Some(15.0)),
        settle: get(&m, "settle", Some(3.0)),
        pid: m.get("pid").map(|v| v.parse().unwrap_or_else(|_| usage("--pid: not a number"))),
        offers: get(&m, "offers", Some(5)),
        sdp_bytes: get(&m, "sdp-bytes", Some(1000)),
        handshakes: get(&m, "handshakes", Some(64)),
        threads: get(&m, "threads", Some(1)),
    };
    if a.per_addr == 0 || a.peers == 0 || a.peers / a.per_addr >= 250 * 250 || a.period <= 0.0 {
        usage("--peers, --per-addr or --period out of range");
    }
    a
}

/// The source address of peer `i`: `per_addr` peers per address, from 127.0.1.1 on (never
/// 127.0.0.x, where the bench's other clients are).
fn source(i: usize, per_addr: usize) -> Ipv4Addr {
    let k = i / per_addr;
    Ipv4Addr::new(127, 0, 1 + (k / 250) as u8, 1 + (k % 250) as u8)
}

/// A WebRTC-looking SDP of about `target` bytes (data channel only, host candidates on loopback).
fn fake_sdp(i: usize, target: usize, setup: &str) -> String {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let fingerprint: Vec<String> = (0..32).map(|_| format!("{:02X}", rnd() & 0xff)).collect();
    let port = 40000 + (i % 20000);
    let mut s = format!(
        "v=0\r\no=- {} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\n\
         a=msid-semantic: WMS\r\nm=application {port} UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n",
        rnd() >> 2
    );
    let tail = format!(
        "a=ice-ufrag:{:04x}\r\na=ice-pwd:{:024x}\r\na=ice-options:trickle\r\na=fingerprint:sha-256 {}\r\n\
         a=setup:{setup}\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n",
        rnd() & 0xffff,
        rnd() as u128 * 0x1_0000 + (rnd() & 0xffff) as u128,
        fingerprint.join(":")
    );
    let mut n = 0u64;
    while s.len() + tail.len() < target {
        let proto = if n.is_multiple_of(2) { "udp 2122260223" } else { "tcp 1518280447" };
        let line = format!(
            "a=candidate:{} 1 {proto} 127.0.0.1 {} typ host generation 0 network-id {} network-cost 50\r\n",
            rnd() % 4_000_000_000,
            if n.is_multiple_of(2) { port as u64 + n } else { 9 },
            n / 2 + 1
        );
        s.push_str(&line);
        n += 1;
    }
    s + &tail
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    connect_errors: AtomicU64,
    open: AtomicU64,
    ended_by_server: AtomicU64,
    sent_announces: AtomicU64,
    sent_answers: AtomicU64,
    recv_responses: AtomicU64,
    recv_offers: AtomicU64,
    recv_answers: AtomicU64,
    recv_answers_not_ours: AtomicU64,
    recv_failures: AtomicU64,
    recv_other: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    response_timeouts: AtomicU64,
}

#[derive(Clone, Copy, Default)]
struct Snap {
    sent_announces: u64,
    sent_answers: u64,
    recv_responses: u64,
    recv_offers: u64,
    recv_answers: u64,
    recv_answers_not_ours: u64,
    recv_failures: u64,
    recv_other: u64,
    bytes_sent: u64,
    bytes_received: u64,
    response_timeouts: u64,
}

impl Counters {
    fn snap(&self) -> Snap {
        Snap {
            sent_announces: self.sent_announces.load(Relaxed),
            sent_answers: self.sent_answers.load(Relaxed),
            recv_responses: self.recv_responses.load(Relaxed),
            recv_offers: self.recv_offers.load(Relaxed),
            recv_answers: self.recv_answers.load(Relaxed),
            recv_answers_not_ours: self.recv_answers_not_ours.load(Relaxed),
            recv_failures: self.recv_failures.load(Relaxed),
            recv_other: self.recv_other.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            bytes_received: self.bytes_received.load(Relaxed),
            response_timeouts: self.response_timeouts.load(Relaxed),
        }
    }
}

struct Ctx {
    hashes: Vec<String>,
    offers: usize,
    sdp_bytes: usize,
    period: Duration,
    join: Duration,
    counters: Counters,
    /// RTT samples are kept only while the window is open.
    measuring: AtomicBool,
    /// Why connections ended or failed, and the failure reasons the tracker sent: a few of each.
    reasons: Mutex<HashMap<String, u64>>,
}

impl Ctx {
    fn note(&self, why: String) {
        let mut r = self.reasons.lock().unwrap();
        let why: String = why.chars().take(160).collect();
        if r.len() < 20 || r.contains_key(&why) {
            *r.entry(why).or_default() += 1;
        }
    }
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of a process (`self` or a PID).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(t as f64 / CLK_TCK)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(addr: SocketAddr, url: &str, from: Ipv4Addr) -> Result<Ws, String> {
    let sock = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    sock.bind(SocketAddr::V4(SocketAddrV4::new(from, 0))).map_err(|e| format!("bind {from}: {e}"))?;
    let stream = sock.connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024).write_buffer_size(64 * 1024);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

fn offer_id(i: usize, n: u64) -> String {
    // 20 characters, a "binary string" like the browsers' (one code point above U+007F).
    format!("\u{8f}{:07}{:012}", i % 10_000_000, n % 1_000_000_000_000)
}

/// One peer: announces, answers, re-announces; returns its announce round trips (µs) measured
/// while the window was open.
async fn peer(i: usize, ws: Ws, ctx: Arc<Ctx>, mut phase: watch::Receiver<u8>) -> Vec<u32> {
    let c = &ctx.counters;
    // One task per peer reads and writes its socket itself: no writer task, channel or lock between
    // the two halves, so the client spends as little of the machine as it can (the tracker under
    // test shares the cores with it).
    let mut ws = ws;
    macro_rules! send {
        ($f:expr) => {{
            let f: String = $f;
            c.bytes_sent.fetch_add(f.len() as u64, Relaxed);
            if let Err(e) = ws.send(Message::Text(f.into())).await {
                ctx.note(format!("send failed: {e}"));
                c.ended_by_server.fetch_add(1, Relaxed);
                break;
            }
        }};
    }

    let ih = serde_json::to_string(&ctx.hashes[i % ctx.hashes.len()]).unwrap();
    let me = serde_json::to_string(&format!("-BENCH0-{:012}", i)).unwrap();
    let offer_sdp = serde_json::to_string(&fake_sdp(i, ctx.sdp_bytes, "actpass")).unwrap();
    let answer_sdp = serde_json::to_string(&fake_sdp(i + 1_000_000, ctx.sdp_bytes, "active")).unwrap();
    let my_prefix = format!("\u{8f}{:07}", i % 10_000_000);
    let mut made: u64 = 0;
    let mut announced = false;
    let mut sent_at: Option<Instant> = None; // the announce awaiting its response
    let mut next: Option<Instant> = None;
    let mut rtts: Vec<u32> = Vec::new();
    let mut rnd = (i as u64 + 7).wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let far = Instant::now() + Duration::from_secs(86_400);

    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    c.bytes_received.fetch_add(t.len() as u64, Relaxed);
                    let Ok(f) = serde_json::from_str::<HashMap<&str, &RawValue>>(t.as_str()) else {
                        c.recv_other.fetch_add(1, Relaxed);
                        continue;
                    };
                    if let Some(offer_id) = f.get("offer").and(f.get("offer_id")) {
                        c.recv_offers.fetch_add(1, Relaxed);
                        let (Some(from), Some(fih)) = (f.get("peer_id"), f.get("info_hash")) else { continue };
                        send!(format!(
                            r#"{{"action":"announce","info_hash":{},"peer_id":{me},"to_peer_id":{},"answer":{{"type":"answer","sdp":{answer_sdp}}},"offer_id":{}}}"#,
                            fih.get(), from.get(), offer_id.get()
                        ));
                        c.sent_answers.fetch_add(1, Relaxed);
                    } else if f.contains_key("answer") {
                        c.recv_answers.fetch_add(1, Relaxed);
                        let ours = f
                            .get("offer_id")
                            .and_then(|o| serde_json::from_str::<String>(o.get()).ok())
                            .is_some_and(|o| o.starts_with(&my_prefix));
                        if !ours {
                            c.recv_answers_not_ours.fetch_add(1, Relaxed);
                        }
                    } else if let Some(why) = f.get("failure reason") {
                        c.recv_failures.fetch_add(1, Relaxed);
                        ctx.note(format!("failure frame: {}", why.get()));
                    } else if f.contains_key("interval") || f.contains_key("complete") {
                        c.recv_responses.fetch_add(1, Relaxed);
                        if let Some(t0) = sent_at.take() {
                            if ctx.measuring.load(Relaxed) {
                                rtts.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            }
                            if *phase.borrow() == LOAD {
                                next = Some((t0 + ctx.period).max(Instant::now()));
                            }
                        }
                    } else {
                        c.recv_other.fetch_add(1, Relaxed);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let why = frame.map_or("no reason".into(), |f| format!("{} {}", u16::from(f.code), f.reason));
                    ctx.note(format!("closed by the server: {why}"));
                    c.ended_by_server.fetch_add(1, Relaxed);
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    ctx.note(format!("connection error: {e}"));
                    c.ended_by_server.fetch_add(1, Relaxed);
                    break;
                }
                None => {
                    ctx.note("connection ended without a Close frame".into());
                    c.ended_by_server.fetch_add(1, Relaxed);
                    break;
                }
            },
            r = phase.changed() => {
                let p = if r.is_err() { CLOSE } else { *phase.borrow_and_update() };
                match p {
                    LOAD => {
                        rnd ^= rnd << 13;
                        rnd ^= rnd >> 7;
                        rnd ^= rnd << 17;
                        let offset = ctx.join.mul_f64((rnd % 10_000) as f64 / 10_000.0);
                        next = Some(Instant::now() + offset);
                    }
                    STOP => next = None,
                    CLOSE => {
                        let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
                        break;
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(next.unwrap_or(far)), if next.is_some() => {
                if sent_at.is_some() {
                    c.response_timeouts.fetch_add(1, Relaxed);
                }
                let now = Instant::now();
                let offers: Vec<String> = (0..ctx.offers)
                    .map(|_| {
                        made += 1;
                        format!(
                            r#"{{"offer":{{"type":"offer","sdp":{offer_sdp}}},"offer_id":{}}}"#,
                            serde_json::to_string(&offer_id(i, made)).unwrap()
                        )
                    })
                    .collect();
                let event = if announced { "" } else { r#""event":"started","# };
                announced = true;
                send!(format!(
                    r#"{{"numwant":{},"uploaded":0,"downloaded":0,{event}"action":"announce","info_hash":{ih},"peer_id":{me},"offers":[{}]}}"#,
                    ctx.offers, offers.join(",")
                ));
                c.sent_announces.fetch_add(1, Relaxed);
                sent_at = Some(now);
                // Closed loop: the next announce is scheduled by the response; a lost one is given up.
                next = Some(now + RESPONSE_TIMEOUT.max(ctx.period));
            }
        }
    }
    c.open.fetch_sub(1, Relaxed);
    rtts
}

fn pct(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let k = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    Some(sorted[k] as f64 / 1000.0)
}

fn round(x: f64, d: i32) -> f64 {
    let m = 10f64.powi(d);
    (x * m).round() / m
}

fn main() {
    let a = parse_args();
    let rt = if a.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(a.threads).enable_all().build()
    };
    rt.expect("tokio runtime").block_on(run(a));
}

async fn run(a: Args) {
    let rest = a.url.strip_prefix("ws://").unwrap_or_else(|| usage("--url must be ws://127.x.y.z:PORT/…"));
    let hostport = rest.split('/').next().unwrap();
    let addr: SocketAddr = hostport.parse().unwrap_or_else(|_| usage("--url needs an IP address and a port"));
    match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_loopback() => {}
        _ => usage("only 127.0.0.0/8 may be contacted"),
    }
    let ctx = Arc::new(Ctx {
        hashes: a.hashes.clone(),
        offers: a.offers,
        sdp_bytes: a.sdp_bytes,
        period: Duration::from_secs_f64(a.period),
        join: Duration::from_secs_f64(a.join),
        counters: Counters::default(),
        measuring: AtomicBool::new(false),
        reasons: Mutex::new(HashMap::new()),
    });
    let c = &ctx.counters;
    let rss = |k: &str| a.pid.and_then(|p| status_kib(p, k));
    let server_cpu = || a.pid.and_then(|p| cpu_seconds(&p.to_string()));
    let rss_before = rss("VmRSS:");

    // 1. Connections, then idle.
    let (phase_tx, phase_rx) = watch::channel(IDLE);
    let sem = Arc::new(Semaphore::new(a.handshakes.max(1)));
    let t_connect = Instant::now();
    let mut tasks = Vec::with_capacity(a.peers);
    for i in 0..a.peers {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (ctx, url, rx) = (ctx.clone(), a.url.clone(), phase_rx.clone());
        let from = source(i, a.per_addr);
        tasks.push(tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(20), connect(addr, &url, from)).await;
            drop(permit);
            match r {
                Ok(Ok(ws)) => {
                    ctx.counters.connected.fetch_add(1, Relaxed);
                    ctx.counters.open.fetch_add(1, Relaxed);
                    peer(i, ws, ctx, rx).await
                }
                Ok(Err(e)) => {
                    ctx.counters.connect_errors.fetch_add(1, Relaxed);
                    ctx.note(e);
                    Vec::new()
                }
                Err(_) => {
                    ctx.counters.connect_errors.fetch_add(1, Relaxed);
                    ctx.note("connect: timed out after 20 s".into());
                    Vec::new()
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while (c.connected.load(Relaxed) + c.connect_errors.load(Relaxed)) < a.peers as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_seconds = t_connect.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    let open_idle = c.open.load(Relaxed);
    let rss_idle = rss("VmRSS:");
    let ended_idle = c.ended_by_server.load(Relaxed);

    // 2. Load.
    let _ = phase_tx.send(LOAD);
    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    let (s0, cpu0, self0, t0) = (c.snap(), server_cpu(), cpu_seconds("self"), Instant::now());
    let open_at_start = c.open.load(Relaxed);
    ctx.measuring.store(true, Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    ctx.measuring.store(false, Relaxed);
    let (s1, cpu1, self1, window) = (c.snap(), server_cpu(), cpu_seconds("self"), t0.elapsed().as_secs_f64());
    let open_at_end = c.open.load(Relaxed);
    let ended_load = c.ended_by_server.load(Relaxed) - ended_idle;

    // 3. Quiet again, peers still in their swarms; then leave.
    let _ = phase_tx.send(STOP);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let drained = c.snap();
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    let open_after = c.open.load(Relaxed);
    let rss_after = rss("VmRSS:");
    let hwm = rss("VmHWM:");
    let _ = phase_tx.send(CLOSE);
    let mut rtts = Vec::new();
    let close_deadline = Instant::now() + Duration::from_secs(30);
    for t in tasks {
        let left = close_deadline.saturating_duration_since(Instant::now());
        if let Ok(Ok(v)) = tokio::time::timeout(left, t).await {
            rtts.extend(v);
        }
    }
    rtts.sort_unstable();

    let d = |f: fn(&Snap) -> u64| f(&s1) - f(&s0);
    let to_tracker = d(|s| s.sent_announces) + d(|s| s.sent_answers);
    let from_tracker = d(|s| s.recv_responses)
        + d(|s| s.recv_offers)
        + d(|s| s.recv_answers)
        + d(|s| s.recv_failures)
        + d(|s| s.recv_other);
    let msgs = (to_tracker + from_tracker) as f64;
    let per_conn = match (rss_before, rss_idle) {
        (Some(b), Some(i)) if open_idle > 0 => Some(round((i as f64 - b as f64) / open_idle as f64, 2)),
        _ => None,
    };
    let server_cpu_s = match (cpu0, cpu1) {
        (Some(x), Some(y)) => Some(round(y - x, 2)),
        _ => None,
    };
    let client_cpu_s = match (self0, self1) {
        (Some(x), Some(y)) => Some(round(y - x, 2)),
        _ => None,
    };
    let addresses = a.peers.div_ceil(a.per_addr);
    let reasons = ctx.reasons.lock().unwrap().clone();
    let out = json!({
        "peers": a.peers,
        "swarms": a.hashes.len().min(a.peers),
        "source_addresses": addresses,
        "per_address": a.per_addr,
        "offers_per_announce": a.offers,
        "sdp_bytes": a.sdp_bytes,
        "period_seconds": a.period,
        "join_seconds": a.join,
        "connected": c.connected.load(Relaxed),
        "connect_errors": c.connect_errors.load(Relaxed),
        "connect_seconds": round(connect_seconds, 2),
        "open_idle": open_idle,
        "rss_before_kib": rss_before,
        "rss_idle_kib": rss_idle,
        "idle_kib_per_connection": per_conn,
        "warmup_seconds": a.warmup,
        "window_seconds": round(window, 3),
        "open_at_window_start": open_at_start,
        "open_at_window_end": open_at_end,
        "ended_by_server_during_load": ended_load,
        "announces": d(|s| s.sent_announces),
        "answers_sent": d(|s| s.sent_answers),
        "responses": d(|s| s.recv_responses),
        "offers_delivered": d(|s| s.recv_offers),
        "answers_delivered": d(|s| s.recv_answers),
        "answers_misrouted": d(|s| s.recv_answers_not_ours),
        "failures": d(|s| s.recv_failures),
        "other_frames": d(|s| s.recv_other),
        "response_timeouts": d(|s| s.response_timeouts),
        "frames_to_tracker": to_tracker,
        "frames_from_tracker": from_tracker,
        "messages_per_s": round(msgs / window, 1),
        "announces_per_s": round(d(|s| s.sent_announces) as f64 / window, 1),
        "mib_per_s": round((d(|s| s.bytes_sent) + d(|s| s.bytes_received)) as f64 / window / 1048576.0, 2),
        "announce_rtt_p50_ms": pct(&rtts, 50.0),
        "announce_rtt_p99_ms": pct(&rtts, 99.0),
        "announce_rtt_samples": rtts.len(),
        "server_cpu_seconds": server_cpu_s,
        "client_cpu_seconds": client_cpu_s,
        "server_cpu_us_per_message": server_cpu_s.filter(|_| msgs > 0.0).map(|s| round(s * 1e6 / msgs, 2)),
        "undrained_after_stop": {
            "offers_answered_after_window": drained.sent_answers - s1.sent_answers,
            "frames_received_after_window": (drained.recv_offers + drained.recv_answers + drained.recv_responses)
                - (s1.recv_offers + s1.recv_answers + s1.recv_responses),
        },
        "open_after_load": open_after,
        "rss_after_load_kib": rss_after,
        "hwm_kib": hwm,
        "events": reasons,
    });
    println!("{out}");
}
