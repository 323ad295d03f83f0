//! Property tests: a rendition's init section comes from a remote runner as much as from our own
//! ffmpeg; cut, corrupted or hand-made boxes must give a codec string or an error, never a panic,
//! an overflow or a read past what holds them. Bounded: 256 cases of bounded size per property.

use proptest::prelude::*;

use super::tests::{moov_with, mp4_box};
use super::*;

fn config() -> ProptestConfig {
    // No persistence file: the suite writes nothing into the source tree.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// A real-shaped moov: an H.264 track and an AAC track.
fn real() -> Vec<u8> {
    let mut video = vec![0u8; 78];
    video.extend(mp4_box(b"avcC", &[1, 100, 0, 31, 0xff, 0xe1]));
    let mut audio = vec![0u8; 28];
    audio.extend(mp4_box(b"esds", &[0, 0, 0, 0, 0x03, 8, 0, 1, 0, 0x04, 3, 0x40, 0x15, 0]));
    let mut entries = mp4_box(b"avc1", &video);
    entries.extend(mp4_box(b"mp4a", &audio));
    moov_with(entries)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = codecs_in_moov(&bytes);
        let _ = boxes(&bytes);
        let _ = object_type(&bytes);
    }

    #[test]
    fn a_real_moov_cut_anywhere_is_read_or_refused(cut in 0usize..200) {
        let moov = real();
        let cut = cut.min(moov.len());
        let _ = codecs_in_moov(&moov[8..cut.max(8)]);
    }

    #[test]
    fn a_real_moov_with_bytes_changed_is_read_or_refused(
        changes in prop::collection::vec((0usize..200, any::<u8>()), 1..8)
    ) {
        let mut moov = real();
        for (at, b) in changes {
            let at = at % moov.len();
            moov[at] = b;
        }
        if let Ok(parts) = codecs_in_moov(&moov[8..]) {
            for p in parts {
                prop_assert!(p.starts_with("avc1.") || p == "mp4a.40.2", "{}", p);
            }
        }
    }
}

#[test]
fn the_real_shape_reads_as_expected() {
    assert_eq!(codecs_in_moov(&real()[8..]).unwrap(), ["avc1.64001f", "mp4a.40.2"]);
}
