//! Property tests: the tracker takes text frames from any browser on the internet. Whatever they
//! hold (garbage, mangled announces, offers and answers, huge numbers, odd escapes), a frame is
//! handled or refused without a panic, everything queued to a peer is JSON, and the limits hold:
//! frame size, offers per announce, id lengths. Bounded: 256 cases of bounded size per property.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

const IH: &str = "aSRv0FSYl++hsdzyfZuz";
const OTHER_IH: &str = "bSRv0FSYl++hsdzyfZuz";

/// A tracker that admits two swarms of one video.
fn tracker() -> Arc<Tracker> {
    Tracker::new(Arc::new(|ih: String| Box::pin(async move { Ok((ih == IH || ih == OTHER_IH).then_some(7)) })))
}

fn run<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

fn peer(n: u8) -> String {
    format!("-PM0203-{n:0>12}")
}

/// Connections from distinct addresses, so that strikes and per-address limits never interfere.
fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

fn announce(peer_id: &str, offers: usize, numwant: u64) -> String {
    let offers: Vec<Value> = (0..offers)
        .map(|i| json!({ "offer": { "type": "offer", "sdp": format!("v=0\r\n{i}") }, "offer_id": format!("{i:0>20}") }))
        .collect();
    json!({ "action": "announce", "info_hash": IH, "peer_id": peer_id, "numwant": numwant, "event": "started",
            "uploaded": 0, "downloaded": 0, "offers": offers })
    .to_string()
}

/// Valid frames of every kind a client sends, for peers 1 to 3.
fn valid_frames() -> Vec<String> {
    let mut frames = vec![announce(&peer(1), 5, 5), announce(&peer(2), 1, 50), announce(&peer(3), 0, 0)];
    frames.push(
        json!({ "action": "announce", "info_hash": IH, "peer_id": peer(1), "to_peer_id": peer(2),
                "answer": { "type": "answer", "sdp": "v=0\r\n" }, "offer_id": "\u{8f}0000000000000000000" })
        .to_string(),
    );
    frames.push(json!({ "action": "announce", "info_hash": IH, "peer_id": peer(2), "event": "stopped" }).to_string());
    frames.push(json!({ "action": "announce", "info_hash": OTHER_IH, "peer_id": peer(3), "left": 0 }).to_string());
    frames.push(json!({ "action": "scrape", "info_hash": IH }).to_string());
    frames.push(json!({ "action": "scrape", "info_hash": [IH, OTHER_IH] }).to_string());
    frames
}

/// Pieces of broken frames: JSON punctuation, protocol words, ids of the wrong length or range,
/// numbers at the edges, escapes.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "\\",
            "\\u0000",
            "\\ud800",
            "null",
            "true",
            "-1",
            "1e999",
            "18446744073709551616",
            "\"action\"",
            "\"announce\"",
            "\"scrape\"",
            "\"offers\"",
            "\"answer\"",
            "\"info_hash\"",
            "\"peer_id\"",
            "\"to_peer_id\"",
            "\"numwant\"",
            "\"event\"",
            "\"stopped\"",
            "\"offer_id\"",
            IH,
            "\u{100}",
            "é",
        ])
        .prop_map(String::from),
        "[0-9]{1,25}",
        any::<char>().prop_map(String::from),
    ]
}

/// `base` with a few characters cut out and tokens put in at random places.
fn mutated(base: String) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<prop::sample::Index>(), 0usize..8, token()), 1..6).prop_map(move |edits| {
        let mut chars: Vec<char> = base.chars().collect();
        for (at, cut, insert) in edits {
            let i = at.index(chars.len() + 1);
            let end = (i + cut).min(chars.len());
            chars.splice(i..end, insert.chars());
        }
        chars.into_iter().collect()
    })
}

fn frame() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(token(), 0..40).prop_map(|t| t.concat()),
        prop::sample::select(valid_frames()),
        prop::sample::select(valid_frames()).prop_flat_map(mutated),
    ]
}

/// What holds after any frame: every frame queued anywhere is a JSON object, no queue is over its
/// bound, every peer in a swarm has valid ids and a live connection.
fn assert_invariants(t: &Tracker, outs: &mut [Outgoing]) {
    for out in outs.iter_mut() {
        assert!(out.queued.load(Ordering::Relaxed) <= MAX_QUEUED_BYTES);
        while let Ok(f) = out.rx.try_recv() {
            out.sent(f.len());
            let v: Value = serde_json::from_str(&f).unwrap_or_else(|e| panic!("{e}: {f}"));
            assert!(v.is_object(), "{f}");
        }
    }
    let conns = lock(&t.conns);
    for v in lock(&t.videos).values() {
        for (ih, swarm) in &lock(v).swarms {
            assert!(valid_id(ih), "{ih:?}");
            for (id, p) in swarm {
                assert!(valid_id(id), "{id:?}");
                assert!(conns.contains_key(&p.out.conn), "a peer of a closed connection stays: {id:?}");
                assert!(!p.out.gone.load(Ordering::Relaxed), "a peer's queue is closed: {id:?}");
            }
        }
    }
}

/// An announce's offers as the tracker read them before [`Frame`]: the frame's fields as text,
/// then `offers` read again as a list of objects, element by element when one is not. `None`
/// when the frame is not an object; `Err` when `offers` is not a list.
type Read = Option<Result<Vec<Option<Vec<(String, String)>>>, ()>>;

fn offers_in_two_passes(text: &str) -> Read {
    let msg = serde_json::from_str::<Fields>(text).ok()?;
    let owned = |f: Fields| f.0.iter().map(|(k, v)| (k.to_string(), v.get().to_string())).collect::<Vec<_>>();
    Some(match msg.get("offers") {
        None => Ok(Vec::new()),
        Some(raw) => match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
            Ok(a) => Ok(a.iter().map(|o| serde_json::from_str::<Fields>(o.get()).ok().map(owned)).collect()),
            Err(_) => Err(()),
        },
    })
}

fn offers_in_one_pass(text: &str) -> Read {
    let frame = serde_json::from_str::<Frame>(text).ok()?;
    let owned = |f: Fields| f.0.iter().map(|(k, v)| (k.to_string(), v.get().to_string())).collect::<Vec<_>>();
    Some(match frame.offers {
        Offers::Absent => Ok(Vec::new()),
        Offers::List(list) => Ok(list.into_iter().map(|o| o.map(owned)).collect()),
        Offers::Invalid => Err(()),
    })
}

/// Offers of every odd shape: objects with escaped keys, nested lists, scalars, a repeated key.
fn odd_offers() -> Vec<String> {
    let sdp = r#"{"type":"offer","sdp":"v=0\r\na=\"x\" \u00e9"}"#;
    [
        format!(r#"[{{"offer":{sdp},"offer_id":"00000000000000000000"}}]"#),
        format!(r#"[{{"offer":{sdp},"offer_id":"1"}},7,"s",null,true,[1,[2]],{{}}]"#),
        format!(r#"[{{"\u006fffer":{sdp},"offer_id":"1"}},{{"offer":{sdp},"offer":1}}]"#),
        // An escape that is not text (a lone surrogate) in a key: that offer is skipped.
        format!(r#"[{{"\ud800offer":{sdp},"offer_id":"1"}},{{"offer":{sdp},"offer_id":"2"}}]"#),
        "{}".into(),
        "null".into(),
        "7".into(),
        r#""offers""#.into(),
        "[]".into(),
    ]
    .into_iter()
    // A repeated key counts as its last value.
    .map(|o| {
        format!(
            r#"{{"action":"announce","offers":[{{"offer":1,"offer_id":"first"}}],"info_hash":"{IH}","offers":{o}}}"#
        )
    })
    .collect()
}

proptest! {
    #![proptest_config(config())]

    /// Reading an announce's offers in the same pass as its other fields reads what the two
    /// passes before it read, whatever the frame holds.
    #[test]
    fn offers_read_in_one_pass_are_those_read_in_two(
        text in prop_oneof![
            frame(),
            prop::sample::select(odd_offers()),
            prop::sample::select(odd_offers()).prop_flat_map(mutated),
        ],
    ) {
        prop_assert_eq!(offers_in_one_pass(&text), offers_in_two_passes(&text), "{}", text);
    }

    /// Three connections take turns sending frames, each closed (as the transport does) when the
    /// tracker refuses a frame, and replaced by a new one.
    #[test]
    fn any_sequence_of_frames_is_handled_or_refused_and_the_state_stays_sound(
        frames in prop::collection::vec((0usize..3, frame()), 1..12),
    ) {
        run(async {
            let t = tracker();
            let mut next_ip = 0;
            let mut conns = Vec::new();
            let mut outs = Vec::new();
            for _ in 0..3 {
                next_ip += 1;
                let (c, out) = t.connect(ip(next_ip)).unwrap();
                conns.push(c);
                outs.push(out);
            }
            for (who, text) in &frames {
                let before = t.stats().relayed;
                let result = t.message(conns[*who], text).await;
                let relayed = t.stats().relayed - before;
                prop_assert!(relayed <= MAX_OFFERS as u64, "{relayed} frames relayed for one");
                match result {
                    Ok(()) => prop_assert!(text.len() <= MAX_MESSAGE_BYTES),
                    Err(Close::Refused(_)) => {
                        let mut refused = Vec::new();
                        while let Ok(f) = outs[*who].rx.try_recv() {
                            outs[*who].sent(f.len());
                            refused.push(serde_json::from_str::<Value>(&f).unwrap());
                        }
                        let told = refused.last().is_some_and(|f| f["failure reason"].is_string());
                        prop_assert!(told, "a refused client is told why: {refused:?}");
                        t.disconnect(conns[*who]);
                        next_ip += 1;
                        let (c, out) = t.connect(ip(next_ip)).unwrap();
                        conns[*who] = c;
                        outs[*who] = out;
                    }
                    Err(Close::TooSlow) => prop_assert!(false, "nobody is slow here"),
                }
                assert_invariants(&t, &mut outs);
            }
            Ok(())
        })?;
    }

    #[test]
    fn frames_over_the_size_limit_are_refused_whatever_they_hold(
        base in prop::sample::select(valid_frames()),
        extra in MAX_MESSAGE_BYTES..MAX_MESSAGE_BYTES + 64,
    ) {
        run(async {
            let t = tracker();
            let (c, mut out) = t.connect(ip(1)).unwrap();
            // A valid frame made too large by padding inside the JSON: still refused.
            let text = format!("{},\"pad\":\"{}\"}}", &base[..base.len() - 1], "x".repeat(extra));
            prop_assert!(matches!(t.message(c, &text).await, Err(Close::Refused(_))));
            prop_assert_eq!(t.stats().peers, 0);
            assert_invariants(&t, std::slice::from_mut(&mut out));
            Ok(())
        })?;
    }

    #[test]
    fn an_announce_relays_at_most_one_offer_per_other_peer_and_never_more_than_the_limit(
        offers in 0usize..2 * MAX_OFFERS,
        numwant in prop_oneof![0u64..20, Just(u64::MAX)],
        others in 0usize..12,
    ) {
        run(async {
            let t = tracker();
            let mut outs = Vec::new();
            for n in 0..others {
                let (c, out) = t.connect(ip(n as u32 + 10)).unwrap();
                t.message(c, &announce(&peer(n as u8 + 10), 0, 0)).await.unwrap();
                outs.push(out);
            }
            let (c, out) = t.connect(ip(1)).unwrap();
            let result = t.message(c, &announce(&peer(1), offers, numwant)).await;
            outs.push(out);
            if offers > MAX_OFFERS {
                prop_assert!(result.is_err(), "{offers} offers");
                prop_assert_eq!(t.stats().relayed, 0);
            } else {
                prop_assert!(result.is_ok());
                let want = offers.min(usize::try_from(numwant).unwrap_or(usize::MAX)).min(others);
                prop_assert_eq!(t.stats().relayed, want as u64);
                // Each chosen peer got exactly one offer, with the sender's peer id.
                let mut got = 0;
                for out in &mut outs[..others] {
                    let mut offers_here = 0;
                    while let Ok(f) = out.rx.try_recv() {
                        let v: Value = serde_json::from_str(&f).unwrap();
                        if v.get("offer").is_some() {
                            prop_assert_eq!(&v["peer_id"], &json!(peer(1)));
                            offers_here += 1;
                        }
                    }
                    prop_assert!(offers_here <= 1);
                    got += offers_here;
                }
                prop_assert_eq!(got, want);
            }
            Ok(())
        })?;
    }

    #[test]
    fn only_ids_of_twenty_characters_up_to_u_ff_are_accepted(
        info_hash in prop_oneof![Just(IH.to_string()), "[\\x00-\\xff]{20}", "\\PC{0,40}", "[\\x00-\\xff]{19,21}"],
        peer_id in prop_oneof![Just(peer(1)), "[\\x00-\\xff]{20}", "\\PC{0,40}", "[\\x00-\\xff]{19,21}"],
    ) {
        run(async {
            // Every well-formed hash is admitted here, so only the ids decide.
            let t = Tracker::new(Arc::new(|_| Box::pin(async { Ok(Some(7)) })));
            let (c, mut out) = t.connect(ip(1)).unwrap();
            let frame = json!({ "action": "announce", "info_hash": info_hash, "peer_id": peer_id }).to_string();
            let result = t.message(c, &frame).await;
            let valid = info_hash.chars().count() == 20
                && peer_id.chars().count() == 20
                && info_hash.chars().chain(peer_id.chars()).all(|c| u32::from(c) <= 0xff);
            prop_assert_eq!(result.is_ok(), valid, "{:?} {:?}", info_hash, peer_id);
            prop_assert_eq!(t.stats().peers, usize::from(valid));
            assert_invariants(&t, std::slice::from_mut(&mut out));
            Ok(())
        })?;
    }
}
