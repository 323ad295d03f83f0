//! Gzip for the text the server builds per request: API JSON, ActivityStreams documents, error
//! bodies and the client's page shell. A phone on a slow network waits for these before it can
//! draw anything, and JSON shrinks to a fifth. Files are not touched here: the client's files are
//! compressed at build time (`web.rs`), and videos, images and playlists go out as they are (their
//! byte counts and ranges must stay those of the file).

use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use std::io::Write;

/// Below this, gzip's header and the work cost more than the bytes saved.
const MIN_BYTES: u64 = 1024;
/// Above this, a body is a file or an export, not a page: left as it is rather than compressed
/// on a runtime thread.
const MAX_BYTES: u64 = 1 << 20;

/// Types built per request, all of them text that compresses well.
const TYPES: &[&str] = &[
    "application/json",
    "application/problem+json",
    "application/activity+json",
    "application/ld+json",
    "application/jrd+json",
    "application/xrd+xml",
    "text/html",
];

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not refused with `q=0`).
pub fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts
            .any(|p| p.replace(' ', "").strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn compressible(resp: &Response) -> bool {
    let h = resp.headers();
    // Checked on every answer, segments included: no allocation here.
    let type_ok = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|t| TYPES.iter().any(|known| known.eq_ignore_ascii_case(t)));
    type_ok
        && !h.contains_key(header::CONTENT_ENCODING)
        && !h.contains_key(header::CONTENT_RANGE)
        && resp.status().is_success()
        && resp.status() != axum::http::StatusCode::NO_CONTENT
}

/// Whether `req`'s answer may be compressed (asked for, and not a HEAD).
pub fn wanted(req: &Request) -> bool {
    accepts_gzip(req.headers()) && req.method() != Method::HEAD
}

/// Compresses `resp` when it is text built per request and `wanted` (see [`wanted`]); says
/// `Vary: Accept-Encoding` on every such answer. Called by the outermost middleware (`lib.rs`).
pub async fn gzip(wanted: bool, resp: Response) -> Response {
    let wants = wanted;
    if !compressible(&resp) {
        return resp;
    }
    // The answer depends on Accept-Encoding even for clients that did not send it: caches must know.
    let mut resp = resp;
    let varies = resp
        .headers()
        .get_all(header::VARY)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case("accept-encoding"))));
    if !varies {
        resp.headers_mut().append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    let size = resp.body().size_hint().exact();
    if !wants || !size.is_some_and(|n| (MIN_BYTES..=MAX_BYTES).contains(&n)) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // The size is exact and bounded, so this reads what is already in memory.
    let bytes = match to_bytes(body, MAX_BYTES as usize).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "a response body could not be read for compression");
            parts.headers.remove(header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::empty());
        }
    };
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::fast());
    let packed = enc.write_all(&bytes).and_then(|()| enc.finish());
    let Ok(packed) = packed else { return Response::from_parts(parts, Body::from(bytes)) };
    parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts.headers.remove(header::CONTENT_LENGTH);
    // Another representation of the same resource: a strong validator would claim byte equality.
    let weak = parts
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.starts_with('"'))
        .map(|t| format!("W/{t}"));
    if let Some(weak) = weak.and_then(|w| HeaderValue::from_str(&w).ok()) {
        parts.headers.insert(header::ETAG, weak);
    }
    Response::from_parts(parts, Body::from(packed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn reads_accept_encoding_as_clients_send_it() {
        assert!(accepts_gzip(&h("gzip, deflate, br, zstd")));
        assert!(accepts_gzip(&h("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(&h("*")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("gzip; q=0.0, br")));
        assert!(!accepts_gzip(&h("identity")));
        assert!(!accepts_gzip(&h("x-gzip-not")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
