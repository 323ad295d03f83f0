//! The WebTorrent tracker behind `/tracker/socket`: the JSON-over-WebSocket protocol that
//! `bittorrent-tracker`'s client and p2p-media-loader 2 speak. Viewers announce themselves in a
//! swarm (one per HLS rendition, named by its info hash) with WebRTC offers; the tracker relays
//! offers to other peers of the swarm and answers back to the offerer, and nothing else: the
//! segments themselves flow between browsers.
//!
//! Knows no HTTP and no database: the transport hands it text frames ([`Tracker::message`]) and
//! drains each connection's outgoing queue; an [`Admit`] function says which info hashes belong to
//! videos this instance serves. Swarms of one video share one lock (a video's renditions are
//! announced together); every limit is enforced here: frame size, offers per announce, id lengths,
//! queued bytes per connection, connections per address, offenders refused for a while.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// Largest frame accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Offers relayed per announce at most (p2p-media-loader sends 5).
pub const MAX_OFFERS: usize = 10;
/// Seconds between announces asked of clients.
pub const INTERVAL_SECS: u64 = 120;
/// A peer that has not announced for this long has left.
pub const PEER_TTL: Duration = Duration::from_secs(2 * INTERVAL_SECS + 30);
/// A connection with no frame for this long is closed (clients re-announce every interval).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2 * INTERVAL_SECS + 30);
/// Bytes waiting to be written to one connection; a reader slower than this is dropped.
pub const MAX_QUEUED_BYTES: usize = 256 * 1024;
/// Open connections per client address.
pub const MAX_CONNECTIONS_PER_IP: usize = 32;
/// Refused frames (unknown info hash, malformed) before an address is refused for a while.
pub const STRIKES: u32 = 5;
pub const BAN: Duration = Duration::from_secs(600);

/// Which video an info hash belongs to: `Ok(Some(video))`, `Ok(None)` when this instance serves
/// no such swarm, `Err(())` when it cannot tell right now (the database is busy): the client is
/// asked to come back, and nothing counts against it.
pub type Admit = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<Option<i64>, ()>> + Send>> + Send + Sync>;

/// One peer in a swarm.
struct Peer {
    /// Its connection's queue: a frame for it is queued from here, without a lookup in the table
    /// of all connections (one lock for every frame relayed, which the two cores' workers took
    /// in turns).
    out: Arc<Queue>,
    seen: Instant,
    seeder: bool,
}

/// The swarms (by info hash) of one video.
#[derive(Default)]
struct VideoSwarms {
    swarms: HashMap<String, HashMap<String, Peer>>,
}

/// What the transport keeps for a connection: the frames to send, in order.
pub struct Outgoing {
    pub rx: mpsc::UnboundedReceiver<String>,
    queued: Arc<AtomicUsize>,
}

impl Outgoing {
    /// The transport wrote a frame of `len` bytes.
    pub fn sent(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::Relaxed);
    }
}

/// A connection's outgoing queue, shared by its entry in the table of connections and its peers
/// in swarms. The transport sees the queue end (and closes the socket) once the connection left
/// the table and every swarm, which [`Tracker::disconnect`] does together.
struct Queue {
    conn: u64,
    tx: mpsc::UnboundedSender<String>,
    queued: Arc<AtomicUsize>,
    /// Disconnected: nothing more is queued, even by a relay that took the queue just before.
    gone: AtomicBool,
}

struct Conn {
    ip: IpAddr,
    out: Arc<Queue>,
    /// The (video, info hash, peer id) this connection announced, to leave on close.
    joined: Vec<(i64, String, String)>,
}

/// Why a connection must end (the transport closes it after flushing what is queued).
#[derive(Debug, PartialEq, Eq)]
pub enum Close {
    /// The client broke the protocol or asked for something we do not serve.
    Refused(String),
    /// Its outgoing queue is over [`MAX_QUEUED_BYTES`].
    TooSlow,
}

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    relayed: AtomicU64,
    refused: AtomicU64,
}

/// Figures for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub connections: usize,
    pub swarms: usize,
    pub peers: usize,
    pub messages: u64,
    pub relayed: u64,
    pub refused: u64,
}

pub struct Tracker {
    admit: Admit,
    next_conn: AtomicU64,
    conns: Mutex<HashMap<u64, Conn>>,
    videos: Mutex<HashMap<i64, Arc<Mutex<VideoSwarms>>>>,
    /// Info hashes already admitted (they never change owner).
    known: Mutex<HashMap<String, i64>>,
    /// Lookups in flight: a crowd joining one swarm at once makes one query, not one each.
    lookups: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Option<i64>>>>>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    offenders: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    counters: Counters,
    seed: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ids are 20 characters (JavaScript "binary strings": code points up to U+00FF).
fn valid_id(s: &str) -> bool {
    s.chars().count() == 20 && s.chars().all(|c| (c as u32) <= 0xff)
}

/// A JSON object as received: its fields still in their JSON text. SDP offers and answers (most of
/// every frame's bytes) are relayed as they came, never decoded and encoded again. A frame has a
/// handful of fields, so a list beats a hash map; a repeated key counts as its last value, as in
/// JavaScript. Keys must be plain (unescaped) text, which every client sends.
struct Fields<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Fields<'de>, M::Error> {
                let mut out = Vec::with_capacity(8);
                while let Some(entry) = m.next_entry::<&'de str, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A frame as received: its fields as [`Fields`], except `offers`, whose objects are read in the
/// same pass (as `Fields` each: the SDPs inside stay text). Scanning the `offers` text once to find
/// its end and again to read it cost a tenth of the tracker's CPU, most of a frame's bytes being
/// the SDPs.
struct Frame<'a> {
    fields: Fields<'a>,
    offers: Offers<'a>,
}

/// What an announce's `offers` held.
#[derive(Default)]
enum Offers<'a> {
    /// No `offers` field.
    #[default]
    Absent,
    /// A list: its objects, `None` for an element that is not one (skipped, as before).
    List(Vec<Option<Fields<'a>>>),
    /// Not a list.
    Invalid,
}

impl<'de> serde::Deserialize<'de> for Frame<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Frame<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Frame<'de>, M::Error> {
                let mut fields = Vec::with_capacity(8);
                let mut offers = Offers::Absent;
                while let Some(key) = m.next_key::<&'de str>()? {
                    if key == "offers" {
                        // A repeated key counts as its last value, as in JavaScript.
                        offers = m.next_value::<Offers<'de>>()?;
                    } else {
                        fields.push((key, m.next_value::<&'de RawValue>()?));
                    }
                }
                Ok(Frame { fields: Fields(fields), offers })
            }
        }
        d.deserialize_map(Visit)
    }
}

impl<'de> serde::Deserialize<'de> for Offers<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Offers<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut s: S) -> Result<Offers<'de>, S::Error> {
                let mut list = Vec::new();
                // Bounded by the frame's size (64 KiB); too many is refused by the caller.
                while let Some(MaybeFields(o)) = s.next_element()? {
                    list.push(o);
                }
                Ok(Offers::List(list))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Offers<'de>, M::Error> {
                while m.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Offers::Invalid)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Offers<'de>, E> {
                Ok(Offers::Invalid)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Offers<'de>, E> {
                Ok(Offers::Invalid)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Offers<'de>, E> {
                Ok(Offers::Invalid)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Offers<'de>, E> {
                Ok(Offers::Invalid)
            }
            fn visit_str<E>(self, _: &str) -> Result<Offers<'de>, E> {
                Ok(Offers::Invalid)
            }
            fn visit_unit<E>(self) -> Result<Offers<'de>, E> {
                Ok(Offers::Invalid)
            }
        }
        d.deserialize_any(Visit)
    }
}

/// One element of `offers`: its fields when it is an object with plain keys, `None` otherwise
/// (read to its end all the same).
struct MaybeFields<'a>(Option<Fields<'a>>);

impl<'de> serde::Deserialize<'de> for MaybeFields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = MaybeFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<MaybeFields<'de>, M::Error> {
                let mut out = Vec::with_capacity(4);
                let mut plain = true;
                while let Some(key) = m.next_key::<Key<'de>>()? {
                    match key.0 {
                        Some(k) if plain => out.push((k, m.next_value::<&'de RawValue>()?)),
                        _ => {
                            plain = false;
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(MaybeFields(plain.then_some(Fields(out))))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut s: S) -> Result<MaybeFields<'de>, S::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(MaybeFields(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MaybeFields<'de>, E> {
                Ok(MaybeFields(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MaybeFields<'de>, E> {
                Ok(MaybeFields(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MaybeFields<'de>, E> {
                Ok(MaybeFields(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MaybeFields<'de>, E> {
                Ok(MaybeFields(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<MaybeFields<'de>, E> {
                Ok(MaybeFields(None))
            }
            fn visit_unit<E>(self) -> Result<MaybeFields<'de>, E> {
                Ok(MaybeFields(None))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// An object key: borrowed when written plainly, `None` when it has escapes (such an offer is
/// skipped, as [`Fields`] cannot hold it). Read as raw text, not decoded: an escape that is not
/// text (a lone surrogate, `\ud800`) would fail the whole frame when decoded, where the two reads
/// before this one skipped only that offer (found by `props::offers_read_in_one_pass_are_those_read_in_two`).
struct Key<'a>(Option<&'a str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: &'de RawValue = serde::Deserialize::deserialize(d)?;
        let raw = raw.get();
        Ok(Key(raw.strip_prefix('"').and_then(|k| k.strip_suffix('"')).filter(|k| !k.contains('\\'))))
    }
}

/// A JSON string field: borrowed when it has no escapes (ids and actions never do in practice).
fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get().trim();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

fn field<'a>(f: &Fields<'a>, key: &str) -> Option<Cow<'a, str>> {
    f.get(key).and_then(string)
}

fn number(f: &Fields<'_>, key: &str) -> Option<u64> {
    f.get(key).and_then(|raw| serde_json::from_str::<u64>(raw.get()).ok())
}

/// `s` as a JSON string literal.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serializes")
}

fn failure(reason: &str, info_hash: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("failure reason".into(), json!(reason));
    if let Some(ih) = info_hash {
        m.insert("info_hash".into(), json!(ih));
    }
    Value::Object(m)
}

impl Tracker {
    pub fn new(admit: Admit) -> Arc<Tracker> {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Arc::new(Tracker {
            admit,
            next_conn: AtomicU64::new(1),
            conns: Mutex::new(HashMap::new()),
            videos: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            lookups: Mutex::new(HashMap::new()),
            per_ip: Mutex::new(HashMap::new()),
            offenders: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            seed: AtomicU64::new(seed | 1),
        })
    }

    /// A new connection from `ip`: its id and outgoing queue, or why it is refused (too many
    /// from that address, or an address refused for a while).
    pub fn connect(&self, ip: IpAddr) -> Result<(u64, Outgoing), &'static str> {
        if let Some((strikes, until)) = lock(&self.offenders).get(&ip).copied()
            && strikes >= STRIKES
            && until > Instant::now()
        {
            return Err("this address sent too many refused requests; try again later");
        }
        {
            let mut per_ip = lock(&self.per_ip);
            let n = per_ip.entry(ip).or_default();
            if *n >= MAX_CONNECTIONS_PER_IP {
                return Err("too many tracker connections from this address");
            }
            *n += 1;
        }
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let out = Arc::new(Queue { conn: id, tx, queued: queued.clone(), gone: AtomicBool::new(false) });
        lock(&self.conns).insert(id, Conn { ip, out, joined: Vec::new() });
        Ok((id, Outgoing { rx, queued }))
    }

    /// The connection ended: it leaves every swarm it was in (a close is a `stopped`).
    pub fn disconnect(&self, conn: u64) {
        let Some(c) = lock(&self.conns).remove(&conn) else { return };
        c.out.gone.store(true, Ordering::Relaxed);
        {
            // An address with no connection left is forgotten: kept at zero, every address that
            // ever connected would stay in memory for good.
            let mut per_ip = lock(&self.per_ip);
            if let Some(n) = per_ip.get_mut(&c.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_ip.remove(&c.ip);
                }
            }
        }
        for (video, ih, peer) in c.joined {
            self.leave(video, &ih, &peer, conn);
        }
    }

    fn leave(&self, video: i64, ih: &str, peer: &str, conn: u64) {
        let Some(v) = lock(&self.videos).get(&video).cloned() else { return };
        let mut v = lock(&v);
        if let Some(swarm) = v.swarms.get_mut(ih) {
            if swarm.get(peer).is_some_and(|p| p.out.conn == conn) {
                swarm.remove(peer);
            }
            if swarm.is_empty() {
                v.swarms.remove(ih);
            }
        }
    }

    /// Queues `frame` for `conn`; false when that connection is gone or too slow. A connection
    /// whose queue would pass [`MAX_QUEUED_BYTES`] is dropped: its queue's sender goes, so the
    /// transport sees the end of the queue and closes the socket.
    fn send(&self, conn: u64, frame: &Value) -> bool {
        self.send_text(conn, frame.to_string())
    }

    fn send_text(&self, conn: u64, text: String) -> bool {
        let Some(out) = self.queue(conn) else { return false };
        self.push(&out, text)
    }

    /// The outgoing queue of `conn`, if it is still connected.
    fn queue(&self, conn: u64) -> Option<Arc<Queue>> {
        lock(&self.conns).get(&conn).map(|c| c.out.clone())
    }

    /// [`Tracker::send_text`] to a queue in hand.
    fn push(&self, out: &Queue, text: String) -> bool {
        if out.gone.load(Ordering::Relaxed) {
            return false;
        }
        if out.queued.load(Ordering::Relaxed) + text.len() <= MAX_QUEUED_BYTES {
            out.queued.fetch_add(text.len(), Ordering::Relaxed);
            return out.tx.send(text).is_ok();
        }
        tracing::debug!(conn = out.conn, "tracker peer too slow to read; dropped");
        self.disconnect(out.conn);
        false
    }

    fn strike(&self, conn: u64) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        let Some(ip) = lock(&self.conns).get(&conn).map(|c| c.ip) else { return };
        let mut offenders = lock(&self.offenders);
        if offenders.len() > 10_000 {
            let now = Instant::now();
            offenders.retain(|_, (_, until)| *until > now);
        }
        let e = offenders.entry(ip).or_insert((0, Instant::now()));
        e.0 += 1;
        e.1 = Instant::now() + BAN;
    }

    /// Queues a failure frame, counts a strike, and names the close.
    fn reject(&self, conn: u64, reason: &str, info_hash: Option<&str>) -> Close {
        self.send(conn, &failure(reason, info_hash));
        self.strike(conn);
        Close::Refused(reason.to_string())
    }

    fn refuse(&self, conn: u64, reason: &str, info_hash: Option<&str>) -> Result<(), Close> {
        Err(self.reject(conn, reason, info_hash))
    }

    async fn video_of(&self, ih: &str) -> Result<Option<i64>, ()> {
        if let Some(v) = lock(&self.known).get(ih).copied() {
            return Ok(Some(v));
        }
        let cell = lock(&self.lookups).entry(ih.to_string()).or_default().clone();
        let result = cell.get_or_try_init(|| (self.admit)(ih.to_string())).await.copied();
        // Done (or failed): later lookups start afresh, so a video published since is found.
        lock(&self.lookups).remove(ih);
        if let Ok(Some(v)) = result {
            let mut known = lock(&self.known);
            if known.len() > 100_000 {
                known.clear();
            }
            known.insert(ih.to_string(), v);
        }
        result
    }

    /// The video of `ih`, or the refusal the client gets (a strike only for a real unknown).
    async fn admitted(&self, conn: u64, ih: &str) -> Result<i64, Close> {
        match self.video_of(ih).await {
            Ok(Some(v)) => Ok(v),
            Ok(None) => {
                Err(self.reject(conn, "unknown info_hash: this tracker serves only this instance's videos", Some(ih)))
            }
            Err(()) => {
                self.send(conn, &failure("the tracker is busy; try again in a moment", Some(ih)));
                Err(Close::Refused("busy".into()))
            }
        }
    }

    fn random(&self) -> u64 {
        // xorshift: which peers get an offer needs spreading, not secrecy.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        x
    }

    /// Handles one text frame from `conn`. `Err` means the connection must be closed (a failure
    /// frame explaining why has been queued when the client could use one).
    pub async fn message(&self, conn: u64, text: &str) -> Result<(), Close> {
        self.counters.messages.fetch_add(1, Ordering::Relaxed);
        if text.len() > MAX_MESSAGE_BYTES {
            return self.refuse(conn, "message too large", None);
        }
        // Its own queue, taken once: the answer to an announce is queued without another lookup.
        let Some(me) = self.queue(conn) else { return Err(Close::TooSlow) };
        let Ok(Frame { fields: msg, offers }) = serde_json::from_str::<Frame>(text) else {
            return self.refuse(conn, "invalid JSON", None);
        };
        let result = match field(&msg, "action").as_deref() {
            Some("announce") => self.announce(&me, &msg, offers).await,
            Some("scrape") => self.scrape(conn, &msg).await,
            _ => self.refuse(conn, "invalid action", None),
        };
        if result.is_ok() && me.gone.load(Ordering::Relaxed) {
            return Err(Close::TooSlow);
        }
        result
    }

    async fn announce(&self, me: &Arc<Queue>, msg: &Fields<'_>, offers: Offers<'_>) -> Result<(), Close> {
        let conn = me.conn;
        let Some(ih) = field(msg, "info_hash").filter(|v| valid_id(v)) else {
            return self.refuse(conn, "invalid info_hash", None);
        };
        let ih = ih.as_ref();
        let Some(peer_id) = field(msg, "peer_id").filter(|v| valid_id(v)) else {
            return self.refuse(conn, "invalid peer_id", Some(ih));
        };
        let peer_id = peer_id.as_ref();
        let video = self.admitted(conn, ih).await?;
        let swarms = lock(&self.videos).entry(video).or_default().clone();

        // An answer goes to the one peer it is for, and nowhere else.
        if let Some(answer) = msg.get("answer") {
            let Some(to) = field(msg, "to_peer_id").filter(|v| valid_id(v)) else {
                return self.refuse(conn, "invalid to_peer_id", Some(ih));
            };
            let target = lock(&swarms).swarms.get(ih).and_then(|sw| sw.get(to.as_ref())).map(|p| p.out.clone());
            if let Some(target) = target {
                let offer_id = msg.get("offer_id").map_or("null", |r| r.get());
                let frame = format!(
                    r#"{{"action":"announce","answer":{},"offer_id":{offer_id},"peer_id":{},"info_hash":{}}}"#,
                    answer.get(),
                    quoted(peer_id),
                    quoted(ih)
                );
                if self.push(&target, frame) {
                    self.counters.relayed.fetch_add(1, Ordering::Relaxed);
                }
            }
            return Ok(());
        }

        let offers = match offers {
            Offers::Absent => Vec::new(),
            Offers::List(list) => list,
            Offers::Invalid => return self.refuse(conn, "invalid offers", Some(ih)),
        };
        if offers.len() > MAX_OFFERS {
            return self.refuse(conn, "too many offers", Some(ih));
        }
        let numwant = number(msg, "numwant").unwrap_or(50) as usize;
        let event = field(msg, "event");
        let event = event.as_deref();
        let seeder = event == Some("completed") || number(msg, "left") == Some(0);

        let (targets, complete, incomplete, joined) = {
            let mut v = lock(&swarms);
            let swarm = v.swarms.entry(ih.to_string()).or_default();
            if let Some(p) = swarm.get(peer_id)
                && p.out.conn != conn
            {
                drop(v);
                return self.refuse(conn, "peer_id already in use", Some(ih));
            }
            let mut joined = false;
            if event == Some("stopped") {
                swarm.remove(peer_id);
            } else if let Some(p) = swarm.get_mut(peer_id) {
                p.seen = Instant::now();
                p.seeder |= seeder;
            } else {
                swarm.insert(peer_id.to_string(), Peer { out: me.clone(), seen: Instant::now(), seeder });
                joined = true;
            }
            let others = if offers.is_empty() || numwant == 0 || event == Some("stopped") {
                Vec::new()
            } else {
                let mut others: Vec<&Arc<Queue>> = swarm.values().map(|p| &p.out).filter(|o| o.conn != conn).collect();
                let want = offers.len().min(numwant).min(others.len());
                for i in 0..want {
                    let j = i + (self.random() as usize) % (others.len() - i);
                    others.swap(i, j);
                }
                others.truncate(want);
                others.into_iter().cloned().collect::<Vec<Arc<Queue>>>()
            };
            let complete = swarm.values().filter(|p| p.seeder).count();
            let incomplete = swarm.len() - complete;
            if swarm.is_empty() {
                v.swarms.remove(ih);
            }
            (others, complete, incomplete, joined)
        };
        if joined && let Some(c) = lock(&self.conns).get_mut(&conn) {
            c.joined.push((video, ih.to_string(), peer_id.to_string()));
        }
        if event == Some("stopped") {
            return Ok(());
        }
        let (peer_id, ih) = (quoted(peer_id), quoted(ih));
        self.push(
            me,
            format!(
                r#"{{"action":"announce","interval":{INTERVAL_SECS},"info_hash":{ih},"complete":{complete},"incomplete":{incomplete}}}"#
            ),
        );
        for (target, offer) in targets.iter().zip(offers) {
            let Some(offer) = offer else { continue };
            let (Some(o), Some(offer_id)) = (offer.get("offer"), offer.get("offer_id").filter(|r| string(r).is_some()))
            else {
                continue;
            };
            let frame = format!(
                r#"{{"action":"announce","offer":{},"offer_id":{},"peer_id":{peer_id},"info_hash":{ih}}}"#,
                o.get(),
                offer_id.get()
            );
            if self.push(target, frame) {
                self.counters.relayed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    async fn scrape(&self, conn: u64, msg: &Fields<'_>) -> Result<(), Close> {
        let raw = msg.get("info_hash");
        let hashes: Vec<String> = match raw.and_then(string) {
            Some(one) => vec![one.into_owned()],
            None => match raw.map(|r| serde_json::from_str::<Vec<Value>>(r.get())) {
                Some(Ok(a)) if a.len() <= 50 => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                _ => return self.refuse(conn, "invalid info_hash", None),
            },
        };
        let mut files = Map::new();
        for ih in &hashes {
            if !valid_id(ih) {
                return self.refuse(conn, "invalid info_hash", None);
            }
            let video = self.admitted(conn, ih).await?;
            let swarms = lock(&self.videos).get(&video).cloned();
            let (complete, incomplete) = swarms
                .map(|v| {
                    let v = lock(&v);
                    v.swarms.get(ih).map_or((0, 0), |sw| {
                        let c = sw.values().filter(|p| p.seeder).count();
                        (c, sw.len() - c)
                    })
                })
                .unwrap_or((0, 0));
            files.insert(ih.clone(), json!({ "complete": complete, "incomplete": incomplete, "downloaded": 0 }));
        }
        self.send(conn, &json!({ "action": "scrape", "files": files }));
        Ok(())
    }

    /// Removes peers that stopped announcing, and empty swarms; run every few tens of seconds.
    pub fn expire(&self, ttl: Duration) -> usize {
        let now = Instant::now();
        let videos: Vec<(i64, Arc<Mutex<VideoSwarms>>)> =
            lock(&self.videos).iter().map(|(k, v)| (*k, v.clone())).collect();
        let mut removed = 0;
        let mut empty = Vec::new();
        for (id, v) in videos {
            let mut v = lock(&v);
            for swarm in v.swarms.values_mut() {
                let before = swarm.len();
                swarm.retain(|_, p| now.duration_since(p.seen) < ttl);
                removed += before - swarm.len();
            }
            v.swarms.retain(|_, s| !s.is_empty());
            if v.swarms.is_empty() {
                empty.push(id);
            }
        }
        let mut videos = lock(&self.videos);
        for id in empty {
            if videos.get(&id).is_some_and(|v| lock(v).swarms.is_empty()) {
                videos.remove(&id);
            }
        }
        removed
    }

    pub fn stats(&self) -> Stats {
        let videos: Vec<Arc<Mutex<VideoSwarms>>> = lock(&self.videos).values().cloned().collect();
        let (mut swarms, mut peers) = (0, 0);
        for v in videos {
            let v = lock(&v);
            swarms += v.swarms.len();
            peers += v.swarms.values().map(HashMap::len).sum::<usize>();
        }
        Stats {
            connections: lock(&self.conns).len(),
            swarms,
            peers,
            messages: self.counters.messages.load(Ordering::Relaxed),
            relayed: self.counters.relayed.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IH: &str = "aSRv0FSYl++hsdzyfZuz";

    fn tracker() -> Arc<Tracker> {
        Tracker::new(Arc::new(|ih: String| Box::pin(async move { Ok((ih == IH).then_some(7)) })))
    }

    fn peer(n: u8) -> String {
        format!("-PM0203-{:0>12}", n)
    }

    fn frames(out: &mut Outgoing) -> Vec<Value> {
        let mut v = Vec::new();
        while let Ok(f) = out.rx.try_recv() {
            out.sent(f.len());
            v.push(serde_json::from_str(&f).unwrap());
        }
        v
    }

    #[test]
    fn a_million_addresses_that_came_and_went_leave_nothing_behind() {
        let t = tracker();
        for n in 0..1_000_000u32 {
            let (conn, _out) = t.connect(IpAddr::from(n.to_be_bytes())).unwrap();
            t.disconnect(conn);
        }
        assert_eq!(lock(&t.per_ip).len(), 0);
        // The count still works for addresses that stay.
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<u64> = (0..MAX_CONNECTIONS_PER_IP).map(|_| t.connect(ip).unwrap().0).collect();
        assert!(t.connect(ip).is_err(), "the per-address limit holds");
        t.disconnect(held[0]);
        assert!(t.connect(ip).is_ok());
        assert_eq!(lock(&t.per_ip).len(), 1);
    }

    #[tokio::test]
    async fn offers_and_answers_are_relayed_between_peers_of_a_swarm() {
        let t = tracker();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (a, mut out_a) = t.connect(ip).unwrap();
        let (b, mut out_b) = t.connect(ip).unwrap();
        let announce = |p: &str, offers: usize| {
            let offers: Vec<Value> = (0..offers)
                .map(|i| json!({ "offer": { "type": "offer", "sdp": format!("sdp-{p}-{i}") }, "offer_id": format!("\u{8f}{:0>19}", i) }))
                .collect();
            json!({ "action": "announce", "info_hash": IH, "peer_id": p, "numwant": 5, "event": "started", "offers": offers })
                .to_string()
        };
        t.message(a, &announce(&peer(1), 5)).await.unwrap();
        let fa = frames(&mut out_a);
        assert_eq!(
            fa,
            [json!({ "action": "announce", "interval": 120, "info_hash": IH, "complete": 0, "incomplete": 1 })]
        );
        t.message(b, &announce(&peer(2), 5)).await.unwrap();
        assert_eq!(frames(&mut out_b)[0]["incomplete"], 2);
        // A got one of B's offers, with B's peer id and the offer id intact (binary string).
        let fa = frames(&mut out_a);
        assert_eq!(fa.len(), 1);
        assert_eq!(fa[0]["peer_id"], peer(2));
        assert_eq!(fa[0]["offer"]["type"], "offer");
        assert!(fa[0]["offer_id"].as_str().unwrap().starts_with('\u{8f}'));
        // A answers; only B gets it, with A's peer id.
        let answer = json!({ "action": "announce", "info_hash": IH, "peer_id": peer(1), "to_peer_id": peer(2),
                             "answer": { "type": "answer", "sdp": "x" }, "offer_id": fa[0]["offer_id"] });
        t.message(a, &answer.to_string()).await.unwrap();
        assert!(frames(&mut out_a).is_empty(), "no response to an answer");
        let fb = frames(&mut out_b);
        assert_eq!(fb.len(), 1);
        assert_eq!((fb[0]["peer_id"].as_str(), fb[0]["answer"]["sdp"].as_str()), (Some(peer(1).as_str()), Some("x")));
        assert_eq!(t.stats().peers, 2);
        // Closing is stopping.
        t.disconnect(a);
        assert_eq!(t.stats(), Stats { connections: 1, swarms: 1, peers: 1, ..t.stats() });
        t.message(
            b,
            &json!({ "action": "announce", "info_hash": IH, "peer_id": peer(2), "event": "stopped" }).to_string(),
        )
        .await
        .unwrap();
        assert_eq!(t.stats().peers, 0);
        assert_eq!(t.stats().swarms, 0);
    }

    #[tokio::test]
    async fn frames_are_relayed_as_sent_whatever_their_escapes() {
        let t = tracker();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (a, mut out_a) = t.connect(ip).unwrap();
        let (b, mut out_b) = t.connect(ip).unwrap();
        // Ids written with \u escapes (as some encoders do) are the same ids; an SDP's escapes and a
        // non-ASCII offer id reach the other peer exactly as sent; odd offers are no error.
        let escaped = |s: &str| s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect::<String>();
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=\"quoted\" \u{e9}\u{1F600}\\";
        let join = format!(
            r#"{{"action":"announce","info_hash":"{}","peer_id":"{}","event":"started"}}"#,
            escaped(IH),
            escaped(&peer(1))
        );
        t.message(a, &join).await.unwrap();
        assert_eq!(frames(&mut out_a)[0]["info_hash"], IH);
        let offer = json!({ "type": "offer", "sdp": sdp });
        let offers = json!([{ "offer": offer, "offer_id": "\u{ff}\u{80}id-000000000000000" }, 7, { "offer_id": 3, "offer": {} }]);
        let frame =
            json!({ "action": "announce", "info_hash": IH, "peer_id": peer(2), "numwant": 3, "offers": offers });
        t.message(b, &frame.to_string()).await.unwrap();
        let fa = frames(&mut out_a);
        assert_eq!(fa.len(), 1, "{fa:?}");
        assert_eq!(fa[0]["offer"], offer);
        assert_eq!(fa[0]["offer_id"], "\u{ff}\u{80}id-000000000000000");
        assert_eq!((fa[0]["peer_id"].as_str(), fa[0]["info_hash"].as_str()), (Some(peer(2).as_str()), Some(IH)));
        assert_eq!(frames(&mut out_b)[0]["incomplete"], 2);
        // numwant 0: nobody is offered anything.
        let frame =
            json!({ "action": "announce", "info_hash": IH, "peer_id": peer(2), "numwant": 0, "offers": offers });
        t.message(b, &frame.to_string()).await.unwrap();
        assert!(frames(&mut out_a).is_empty());
        // Not an object, or a field of the wrong type: refused.
        for bad in
            [r#"["announce"]"#, r#"{"action":"announce","info_hash":20}"#, r#"{"action":"announce","offers":{}}"#]
        {
            let (c, mut out_c) = t.connect(ip).unwrap();
            assert!(t.message(c, bad).await.is_err(), "{bad}");
            assert!(frames(&mut out_c)[0]["failure reason"].is_string());
        }
    }

    #[tokio::test]
    async fn unknown_hashes_and_bad_frames_are_refused_and_offenders_kept_out() {
        let t = tracker();
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        for bad in [
            json!({ "action": "announce", "info_hash": "unknown-hash-of-20ch", "peer_id": peer(1) }).to_string(),
            json!({ "action": "announce", "info_hash": "short", "peer_id": peer(1) }).to_string(),
            json!({ "action": "announce", "info_hash": IH, "peer_id": "x" }).to_string(),
            json!({ "action": "dance" }).to_string(),
            "not json".to_string(),
            "x".repeat(MAX_MESSAGE_BYTES + 1),
        ] {
            let (c, mut out) = t.connect(ip).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(t.message(c, &bad).await, Err(Close::Refused(_))), "{bad:.60}");
            let f = frames(&mut out);
            assert!(f[0]["failure reason"].is_string(), "{f:?}");
            t.disconnect(c);
            if t.connect(ip).is_err() {
                break;
            }
        }
        assert!(t.connect(ip).is_err(), "an address that keeps sending refused frames waits");
        assert!(t.connect("127.0.0.3".parse().unwrap()).is_ok(), "others are not affected");
    }

    #[tokio::test]
    async fn a_crowd_makes_one_lookup_and_a_busy_database_is_no_offence() {
        let calls = Arc::new(AtomicUsize::new(0));
        let busy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (c2, b2) = (calls.clone(), busy.clone());
        let t = Tracker::new(Arc::new(move |ih: String| {
            let (calls, busy) = (c2.clone(), b2.clone());
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                if busy.load(Ordering::SeqCst) { Err(()) } else { Ok((ih == IH).then_some(7)) }
            })
        }));
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        // The database is busy: every client is told to come back, none is struck.
        for n in 0..(STRIKES + 2) as u8 {
            let (c, mut out) = t.connect(ip).unwrap();
            let m = json!({ "action": "announce", "info_hash": IH, "peer_id": peer(n) }).to_string();
            assert!(t.message(c, &m).await.is_err());
            assert!(frames(&mut out)[0]["failure reason"].as_str().unwrap().contains("busy"));
            t.disconnect(c);
        }
        assert!(t.connect(ip).is_ok(), "no ban for our own trouble");
        // It is back: twenty peers joining at once cause one lookup.
        busy.store(false, Ordering::SeqCst);
        calls.store(0, Ordering::SeqCst);
        let mut handles = Vec::new();
        for n in 0..20u8 {
            let (c, out) = t.connect("127.0.0.10".parse().unwrap()).unwrap();
            let m = json!({ "action": "announce", "info_hash": IH, "peer_id": peer(n) }).to_string();
            let t = t.clone();
            handles.push(tokio::spawn(async move {
                let r = t.message(c, &m).await;
                drop(out);
                r
            }));
        }
        for h in handles {
            assert!(h.await.unwrap().is_ok());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(t.stats().peers, 20);
    }

    #[tokio::test]
    async fn limits_hold() {
        let t = tracker();
        let ip: IpAddr = "127.0.0.4".parse().unwrap();
        let (c, _out) = t.connect(ip).unwrap();
        let offers: Vec<Value> = (0..11).map(|i| json!({ "offer": {}, "offer_id": format!("{i:0>20}") })).collect();
        let msg = json!({ "action": "announce", "info_hash": IH, "peer_id": peer(1), "offers": offers });
        assert!(t.message(c, &msg.to_string()).await.is_err(), "11 offers");
        // A peer id belongs to the connection that announced it first.
        let (d, _o) = t.connect("127.0.0.5".parse().unwrap()).unwrap();
        let (e, _p) = t.connect("127.0.0.5".parse().unwrap()).unwrap();
        let m = json!({ "action": "announce", "info_hash": IH, "peer_id": peer(9) }).to_string();
        t.message(d, &m).await.unwrap();
        assert!(t.message(e, &m).await.is_err());
        // Connections per address.
        let many: Vec<_> =
            (0..MAX_CONNECTIONS_PER_IP).filter_map(|_| t.connect("127.0.0.6".parse().unwrap()).ok()).collect();
        assert_eq!(many.len(), MAX_CONNECTIONS_PER_IP);
        assert!(t.connect("127.0.0.6".parse().unwrap()).is_err());
    }

    #[tokio::test]
    async fn a_slow_reader_is_dropped_and_silent_peers_expire() {
        let t = tracker();
        let ip: IpAddr = "127.0.0.7".parse().unwrap();
        let (slow, _never_read) = t.connect(ip).unwrap();
        t.message(slow, &json!({ "action": "announce", "info_hash": IH, "peer_id": peer(1) }).to_string())
            .await
            .unwrap();
        // Another peer keeps sending it big offers; the slow one never reads.
        let (fast, mut out) = t.connect(ip).unwrap();
        let sdp = "s".repeat(30_000);
        let mut delivered = 0;
        for i in 0..20 {
            let offers = vec![json!({ "offer": { "type": "offer", "sdp": sdp }, "offer_id": format!("{i:0>20}") })];
            let m = json!({ "action": "announce", "info_hash": IH, "peer_id": peer(2), "offers": offers });
            t.message(fast, &m.to_string()).await.unwrap();
            frames(&mut out);
            delivered = t.stats().relayed;
        }
        assert!(delivered < 20, "the slow reader's queue stopped at {MAX_QUEUED_BYTES} bytes: {delivered}");
        assert!(!lock(&t.conns).contains_key(&slow), "and it was dropped");
        let mut never_read = _never_read;
        let mut drained = 0;
        while never_read.rx.try_recv().is_ok() {
            drained += 1;
        }
        assert!(drained > 0);
        assert!(never_read.rx.is_closed(), "its transport sees the queue end and closes the socket");
        assert_eq!(t.stats().peers, 1, "it left the swarm");
        // Peers that stop announcing expire.
        assert_eq!(t.expire(Duration::from_secs(3600)), 0);
        assert_eq!(t.expire(Duration::ZERO), 1);
        assert_eq!(t.stats().swarms, 0);
    }
}

#[cfg(test)]
mod props;
