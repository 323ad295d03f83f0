//! Property tests: master playlists are read back to compute the swarms' info hashes; whatever a
//! master says (a corrupted file, odd attribute lists, huge numbers), each variant gets one hash
//! of the tracker's size and nothing panics. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;

use super::*;
use crate::hls::{MasterEntry, master_playlist};

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

const REAL: &str = "#EXTM3U\n#EXT-X-VERSION:3\n\n\
    #EXT-X-STREAM-INF:BANDWIDTH=258124,RESOLUTION=426x240,FRAME-RATE=25,CODECS=\"avc1.640015,mp4a.40.2\"\na-240.m3u8\n\
    #EXT-X-STREAM-INF:BANDWIDTH=1258124,RESOLUTION=1280x720,FRAME-RATE=30,CODECS=\"avc1.64001f,mp4a.40.2\"\na-720.m3u8\n\
    #EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\na-0.m3u8\n";

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\n",
            "#EXT-X-STREAM-INF:",
            "BANDWIDTH=",
            "RESOLUTION=",
            "x",
            "FRAME-RATE=",
            "CODECS=",
            "VIDEO-RANGE=",
            "\"",
            ",",
            "=",
            "avc1.66.30",
            "avc1.4294967296.1",
            "1e308",
            "NaN",
            "-0",
            "inf",
            "18446744073709551616",
            "é",
            " ",
        ])
        .prop_map(String::from),
        "[0-9.]{1,25}",
        any::<char>().prop_map(String::from),
    ]
}

/// `base` with a few characters cut out and tokens put in at random places.
fn mutated(base: String) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<prop::sample::Index>(), 0usize..8, token()), 1..8).prop_map(move |edits| {
        let mut chars: Vec<char> = base.chars().collect();
        for (at, cut, insert) in edits {
            let i = at.index(chars.len() + 1);
            let end = (i + cut).min(chars.len());
            chars.splice(i..end, insert.chars());
        }
        chars.into_iter().collect()
    })
}

fn master_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(token(), 0..60).prop_map(|t| t.concat()),
        mutated(REAL.to_string()),
    ]
}

fn entries() -> impl Strategy<Value = Vec<MasterEntry>> {
    let video = ("avc1\\.[0-9a-f]{6}", prop::option::of(Just("mp4a.40.2")));
    let one =
        (any::<u32>().prop_map(|b| u64::from(b) + 1), 0u32..8000, 1u32..8000, 1u32..240, video, "[a-z0-9-]{1,20}")
            .prop_map(|(bandwidth, width, height, fps, (v, a), name)| MasterEntry {
                bandwidth,
                width,
                height,
                fps: f64::from(fps),
                codecs: if width == 0 { "mp4a.40.2".into() } else { a.map_or(v.clone(), |a| format!("{v},{a}")) },
                playlist: format!("{name}.m3u8"),
            });
    prop::collection::vec(one, 0..8)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_variant_of_any_master_gets_one_twenty_character_hash(text in master_text()) {
        let hashes = info_hashes("https://a.example/m.m3u8", &text);
        let variants = text.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF:")).count();
        prop_assert_eq!(hashes.len(), variants);
        for h in &hashes {
            // The tracker admits only 20-character ids.
            prop_assert!(h.len() == 20 && h.is_ascii(), "{h}");
        }
        prop_assert_eq!(&hashes, &info_hashes("https://a.example/m.m3u8", &text), "the same master, the same hashes");
    }

    #[test]
    fn the_master_we_write_reads_back_as_its_renditions(entries in entries()) {
        let read = variants(&master_playlist(&entries));
        prop_assert_eq!(read.len(), entries.len());
        for (v, e) in read.iter().zip(&entries) {
            prop_assert_eq!(v.bandwidth, e.bandwidth);
            prop_assert_eq!((v.width, v.height), if e.width == 0 { (0, 0) } else { (e.width, e.height) });
            let codec = e.codecs.split(',').next().filter(|c| c.starts_with("avc1"));
            prop_assert_eq!(v.video_codec.as_deref(), codec);
            let fps = (e.width != 0).then(|| e.fps.to_string());
            prop_assert_eq!(v.frame_rate.as_deref(), fps.as_deref());
        }
    }

    #[test]
    fn renditions_that_differ_get_different_hashes_and_so_do_masters_at_other_urls(
        entries in entries().prop_filter("two renditions", |e| e.len() >= 2),
    ) {
        let master = master_playlist(&entries);
        let here = info_hashes("https://a.example/m.m3u8", &master);
        let there = info_hashes("https://b.example/m.m3u8", &master);
        for (i, (a, b)) in here.iter().zip(&there).enumerate() {
            prop_assert_ne!(a, b, "the swarm id is part of every hash");
            for (j, other) in here.iter().enumerate().skip(i + 1) {
                let same = variants(&master)[i] == variants(&master)[j];
                prop_assert_eq!(same, a == other, "renditions {} and {}", i, j);
            }
        }
    }
}
