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

#[cfg(test)]
mod tests {
    #[test]
    fn formats_like_peertube() {
        assert_eq!(super::iso8601(1_795_584_670_012), "2026-11-25T05:31:10.012Z");
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000Z");
    }
}
