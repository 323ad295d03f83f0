//! Property tests: media playlists are read back from disk to hash their segments; a truncated,
//! corrupted or hand-edited playlist must give ranges that can be read (or none), never a panic or
//! an arithmetic overflow. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;

use super::*;

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// A real media playlist as ffmpeg writes it for one rendition (single file, byte ranges).
const REAL: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n\
                    #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"a-240-fragmented.mp4\",BYTERANGE=\"1377@0\"\n\
                    #EXTINF:4.000000,\n#EXT-X-BYTERANGE:125452@1377\na-240-fragmented.mp4\n\
                    #EXTINF:4.000000,\n#EXT-X-BYTERANGE:130211@126829\na-240-fragmented.mp4\n\
                    #EXTINF:2.000000,\n#EXT-X-BYTERANGE:66764\na-240-fragmented.mp4\n#EXT-X-ENDLIST\n";

/// Pieces a broken playlist is made of, numbers at and past the edges of u64 included.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\n",
            "#EXT-X-BYTERANGE:",
            "@",
            "#EXTINF:4.0,",
            "a-240-fragmented.mp4",
            "#",
            " ",
            "\r\n",
            "-",
            "é",
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775808",
            "0",
            "1",
        ])
        .prop_map(String::from),
        "[0-9]{1,22}",
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

fn playlist_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(token(), 0..60).prop_map(|t| t.concat()),
        mutated(REAL.to_string()),
    ]
}

/// What every range read from any playlist satisfies: a non-empty span that fits in a file offset,
/// so `off + len - 1` (the last byte) is always computable, and a plain file name.
fn assert_readable(ranges: &[(String, u64, u64)]) {
    for (file, off, len) in ranges {
        assert!(*len > 0, "an empty segment: {file} {off}@{len}");
        assert!(off.checked_add(*len).is_some(), "a range past the end of any file: {len}@{off}");
        assert!(!file.is_empty() && !file.starts_with('#') && file.trim() == file, "{file:?}");
    }
}

/// One segment as a playlist may describe it: with its offset, or after the previous one.
#[derive(Debug, Clone)]
struct Segment {
    file: String,
    len: u64,
    off: Option<u64>,
}

fn segments() -> impl Strategy<Value = Vec<Segment>> {
    let one = ("[a-z0-9-]{1,20}\\.mp4", 1u64..1 << 40, prop::option::of(0u64..1 << 50))
        .prop_map(|(file, len, off)| Segment { file, len, off });
    prop::collection::vec(one, 0..20)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_playlist_text_gives_only_readable_ranges(text in playlist_text()) {
        assert_readable(&segment_ranges(&text));
    }

    #[test]
    fn byte_ranges_at_the_edges_of_u64_give_only_readable_ranges(
        ranges in prop::collection::vec((prop_oneof![any::<u64>(), u64::MAX - 2..=u64::MAX, 0u64..4], prop::option::of(prop_oneof![any::<u64>(), u64::MAX - 2..=u64::MAX])), 1..6),
    ) {
        let mut text = String::from("#EXTM3U\n");
        for (len, off) in &ranges {
            match off {
                Some(off) => text.push_str(&format!("#EXTINF:4.0,\n#EXT-X-BYTERANGE:{len}@{off}\nx.mp4\n")),
                None => text.push_str(&format!("#EXTINF:4.0,\n#EXT-X-BYTERANGE:{len}\nx.mp4\n")),
            }
        }
        let read = segment_ranges(&text);
        assert_readable(&read);
        prop_assert!(read.len() <= ranges.len());
    }

    #[test]
    fn a_written_playlist_reads_back_as_the_segments_it_lists(segs in segments(), crlf in any::<bool>()) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("#EXTM3U{nl}#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"1377@0\"{nl}");
        let mut expected = Vec::new();
        let mut next = 0u64;
        for s in &segs {
            let off = s.off.unwrap_or(next);
            match s.off {
                Some(o) => text.push_str(&format!("#EXTINF:4.0,{nl}#EXT-X-BYTERANGE:{}@{o}{nl}{}{nl}", s.len, s.file)),
                None => text.push_str(&format!("#EXTINF:4.0,{nl}#EXT-X-BYTERANGE:{}{nl}{}{nl}", s.len, s.file)),
            }
            expected.push((s.file.clone(), off, s.len));
            next = off + s.len;
        }
        text.push_str("#EXT-X-ENDLIST");
        prop_assert_eq!(segment_ranges(&text), expected);
    }
}
