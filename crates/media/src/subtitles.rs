//! Captions in, WebVTT out: an uploaded (or fetched) WebVTT or SubRip file is parsed into cues and
//! written again as a WebVTT of our own. What we write is only what we understood — timings and
//! the cue text with `<b>`, `<i>`, `<u>` kept and every other tag dropped — so scripts, styles,
//! regions, notes and markup a player might read as HTML never pass through. Bounded: at most
//! [`MAX_CUES`] cues of [`MAX_CUE_CHARS`] characters each.

use crate::Error;

pub const MAX_CUES: usize = 20_000;
pub const MAX_CUE_CHARS: usize = 1_000;
/// Longer than any video we accept (`upload.max_duration_secs` is far less).
const MAX_MS: u64 = 100 * 3600 * 1000;

#[derive(Debug, PartialEq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Rejected(msg.into())
}

/// `hh:mm:ss.ttt`, `mm:ss.ttt` (WebVTT) or `hh:mm:ss,ttt` (SubRip).
fn timestamp(s: &str) -> Option<u64> {
    let s = s.trim();
    let (clock, frac) = s.split_once(['.', ','])?;
    if frac.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let num = |p: &str| {
        (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
    };
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (num(h)?, num(m)?, num(s)?),
        [m, s] => (0, num(m)?, num(s)?),
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    let ms = ((h * 60 + m) * 60 + sec) * 1000 + frac.parse::<u64>().ok()?;
    (ms <= MAX_MS).then_some(ms)
}

fn write_timestamp(out: &mut String, ms: u64) {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    out.push_str(&format!("{h:02}:{:02}:{:02}.{:03}", rest / 60_000, (rest / 1000) % 60, rest % 1000));
}

/// The cue text kept: `<b>`, `<i>`, `<u>` and their ends (no attributes), other tags dropped with
/// their text kept, `&` and a `<` that opens no tag escaped, `-->` never (it would end the cue's
/// text early in any parser).
fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('&') {
            let entity = rest[1..].find(';').filter(|n| *n <= 6).map(|n| &rest[..n + 2]);
            match entity {
                Some(e) if matches!(e, "&amp;" | "&lt;" | "&gt;" | "&nbsp;" | "&lrm;" | "&rlm;") => {
                    out.push_str(e);
                    rest = &rest[e.len()..];
                }
                _ => {
                    out.push_str("&amp;");
                    rest = &rest[1..];
                }
            }
            continue;
        }
        // A tag starts with a letter, `/` or a digit (an inner timestamp) and ends on its line.
        let opens = rest[1..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '/');
        match rest.find('>').filter(|end| opens && !rest[1..*end].contains(['<', '\n'])) {
            Some(end) => {
                let tag = &rest[1..end];
                if matches!(tag, "b" | "i" | "u" | "/b" | "/i" | "/u") {
                    out.push('<');
                    out.push_str(tag);
                    out.push('>');
                }
                rest = &rest[end + 1..];
            }
            None => {
                out.push_str("&lt;");
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    let out = out.replace("-->", "--&gt;");
    out.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

/// Parses a WebVTT or SubRip file into cues; refuses what is not one of them or passes the bounds.
pub fn parse(input: &[u8]) -> Result<Vec<Cue>, Error> {
    let text = std::str::from_utf8(input).map_err(|_| bad("the caption file is not UTF-8 text"))?;
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n").replace('\r', "\n");
    if text.contains('\0') {
        return Err(bad("the caption file holds a NUL byte: it is not a text file"));
    }
    let vtt = text.starts_with("WEBVTT") && text[6..].chars().next().is_none_or(|c| c == ' ' || c == '\t' || c == '\n');
    let mut cues = Vec::new();
    for (n, block) in text.split("\n\n").enumerate() {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() || (vtt && n == 0) {
            continue;
        }
        let first = lines[0].trim_start();
        if vtt && (first.starts_with("NOTE") || first.starts_with("STYLE") || first.starts_with("REGION")) {
            continue;
        }
        // An identifier (WebVTT) or the cue's number (SubRip) may come before the timing line.
        let Some(t) = lines.iter().take(2).position(|l| l.contains("-->")) else {
            return Err(bad(format!("caption block {} has no timing line ('start --> end')", n + 1)));
        };
        let (start, end) = lines[t].split_once("-->").expect("contains -->");
        // WebVTT cue settings (position, alignment) follow the end time: not kept.
        let end = end.split_whitespace().next().unwrap_or("");
        let (Some(start_ms), Some(end_ms)) = (timestamp(start), timestamp(end)) else {
            return Err(bad(format!("caption block {} has an invalid timing line: '{}'", n + 1, lines[t].trim())));
        };
        if end_ms < start_ms {
            return Err(bad(format!("caption block {} ends before it starts", n + 1)));
        }
        let raw = lines[t + 1..].join("\n");
        if raw.chars().count() > MAX_CUE_CHARS {
            return Err(bad(format!("caption block {} is longer than {MAX_CUE_CHARS} characters", n + 1)));
        }
        let text = clean_text(&raw);
        if text.is_empty() {
            continue;
        }
        cues.push(Cue { start_ms, end_ms, text });
        if cues.len() > MAX_CUES {
            return Err(bad(format!("the caption file has more than {MAX_CUES} cues")));
        }
    }
    if cues.is_empty() {
        return Err(bad("the caption file has no caption in it (WebVTT or SubRip expected)"));
    }
    Ok(cues)
}

/// Writes cues as WebVTT.
pub fn write_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        write_timestamp(&mut out, c.start_ms);
        out.push_str(" --> ");
        write_timestamp(&mut out, c.end_ms);
        out.push('\n');
        out.push_str(&c.text);
        out.push_str("\n\n");
    }
    out
}

/// A caption file of ours from what was sent: [`parse`] then [`write_vtt`].
pub fn to_vtt(input: &[u8]) -> Result<String, Error> {
    Ok(write_vtt(&parse(input)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subrip_becomes_webvtt() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>there</i>\r\n\r\n2\r\n00:01:02,003 --> 00:01:04,000\r\nTwo\r\nlines\r\n";
        assert_eq!(
            to_vtt(srt.as_bytes()).unwrap(),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello <i>there</i>\n\n00:01:02.003 --> 00:01:04.000\nTwo\nlines\n\n"
        );
    }

    #[test]
    fn webvtt_keeps_its_cues_and_loses_the_rest() {
        let vtt = "\u{feff}WEBVTT - title\n\nSTYLE\n::cue { background: url(x) }\n\nNOTE a note\n\nintro\n01:02.500 --> 01:03.000 align:start position:10%\n<v Bob>Hi</v> <c.yellow>you</c> & me <b>bold</b>\n";
        assert_eq!(
            to_vtt(vtt.as_bytes()).unwrap(),
            "WEBVTT\n\n00:01:02.500 --> 00:01:03.000\nHi you &amp; me <b>bold</b>\n\n"
        );
    }

    #[test]
    fn markup_and_scripts_are_dropped() {
        let vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<script>alert(1)</script><img src=x onerror=alert(1)> a < b --> c &lt;ok&gt; &bogus;\n";
        let out = to_vtt(vtt.as_bytes()).unwrap();
        assert_eq!(
            out,
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nalert(1) a &lt; b --&gt; c &lt;ok&gt; &amp;bogus;\n\n"
        );
        assert!(!out.contains("<script") && !out.contains("<img"));
    }

    #[test]
    fn what_is_not_a_caption_file_is_refused() {
        for (input, why) in [
            (&b"\xff\xfe\x00"[..], "UTF-8"),
            (b"just some text", "timing"),
            (b"WEBVTT\n\n", "no caption"),
            (b"WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nbackwards\n", "ends before"),
            (b"WEBVTT\n\n00:99:00.000 --> 01:00:00.000\nx\n", "invalid timing"),
            (b"1\n00:00:01 --> 00:00:02\nno millis\n", "invalid timing"),
        ] {
            let e = to_vtt(input).unwrap_err().to_string();
            assert!(e.contains(why), "{e} should say {why}");
        }
        let huge = format!("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{}\n", "x".repeat(MAX_CUE_CHARS + 1));
        assert!(to_vtt(huge.as_bytes()).unwrap_err().to_string().contains("longer than"));
        let mut many = String::from("WEBVTT\n\n");
        for _ in 0..=MAX_CUES {
            many.push_str("00:00:00.000 --> 00:00:01.000\nx\n\n");
        }
        assert!(to_vtt(many.as_bytes()).unwrap_err().to_string().contains("more than"));
    }
}
