//! Timestamps: stored as milliseconds since the Unix epoch (the one integer type both SQLite and
//! PostgreSQL read back the same way), shown as PeerTube does: ISO 8601 UTC with milliseconds.

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-11-25T05:31:10.012Z`, the form every date in PeerTube's API takes.
pub fn iso8601(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Written digit by digit: a page of 25 videos writes about 80 dates, and `format!`'s padding
    // machinery was a few percent of a list's CPU time (issue 19's profile).
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return formatted(t);
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    for (at, width, n) in [
        (0, 4, year as u32),
        (5, 2, u8::from(t.month()) as u32),
        (8, 2, t.day() as u32),
        (11, 2, t.hour() as u32),
        (14, 2, t.minute() as u32),
        (17, 2, t.second() as u32),
        (20, 3, t.millisecond() as u32),
    ] {
        let mut n = n;
        for i in (at..at + width).rev() {
            text[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    String::from_utf8(text.to_vec()).unwrap_or_else(|_| formatted(t))
}

/// [`iso8601`] through `format!`, for years of other than four digits.
fn formatted(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// An RFC 3339 date (what ActivityPub dates are) as milliseconds since the epoch; `None` when it
/// is not one.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    if s.len() > 64 {
        return None;
    }
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_what_it_writes_and_refuses_the_rest() {
        assert_eq!(super::parse_iso8601("2026-11-25T05:31:10.012Z"), Some(1_795_584_670_012));
        assert_eq!(super::parse_iso8601("2026-11-25T06:31:10.012+01:00"), Some(1_795_584_670_012));
        for bad in ["", "tomorrow", "2026-13-01T00:00:00Z", "2026-11-25"] {
            assert_eq!(super::parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_like_peertube() {
        assert_eq!(super::iso8601(1_795_584_670_012), "2026-11-25T05:31:10.012Z");
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000Z");
        // Digit by digit, as `format!` writes them, across the range and at its edges.
        let mut ms: i64 = -62_135_596_800_000; // 0001-01-01
        let mut step: i64 = 1;
        while ms < 253_402_300_800_000 {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap();
            assert_eq!(super::iso8601(ms), super::formatted(t), "{ms}");
            ms += step;
            step = step * 3 + 7;
            if step > 1_000_000_000_000 {
                step = 1;
            }
        }
        assert_eq!(super::iso8601(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(super::iso8601(i64::MAX), "1970-01-01T00:00:00.000Z", "out of range: the epoch, as before");
    }
}
