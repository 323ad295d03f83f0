//! Prometheus metrics at `GET /metrics`: requests by method, route and status, and a latency
//! histogram by route. Every label is one of a fixed set, so the number of series stays bounded
//! whatever clients request: routes are the matched patterns (`/api/v1/users/{id}`, or `unmatched`),
//! never raw paths; methods other than the seven we name are `OTHER` (any token is a valid HTTP
//! method, so a client could otherwise mint a series per request); statuses are our own. Players report their playback
//! (`POST /api/v1/metrics/playback`, PeerTube's fields): bytes from peers and over HTTP, bytes
//! uploaded to peers, errors, as instance-wide counters. What the origin itself answered for HLS
//! (segments, playlists, segment hashes) is counted by the server, so P2P offload can be read
//! without trusting players.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;

const BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By matched route (a bounded set: see the module's comment). Keyed by the route alone, so a
    /// request that finds its route allocates nothing; sorted when rendered.
    routes: HashMap<Box<str>, RouteStats>,
    playback: Playback,
    hls_bytes: HlsBytes,
    /// Body bytes answered from our mirrors of other servers' videos (`/static/redundancy/`).
    mirror_bytes: u64,
}

/// One route's counts by method and status (a handful each), and its latency.
#[derive(Default)]
struct RouteStats {
    requests: Vec<(&'static str, u16, u64)>,
    latency: Histogram,
}

/// What kind of file an answer on the HLS or mirror route carried, for the byte counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Served {
    Segment,
    Playlist,
    Hashes,
    Mirror,
}

impl Served {
    /// The kind of the file a request on `route` names (`path`'s last segment); `None` off those
    /// routes.
    fn of(route: &str, path: &str) -> Option<Served> {
        match route {
            MIRROR_ROUTE => Some(Served::Mirror),
            HLS_ROUTE => Some(match path.rsplit_once('.').map(|(_, ext)| ext) {
                // A video's fragmented MP4s; a live's MPEG-TS segments.
                Some("mp4" | "ts") => Served::Segment,
                Some("m3u8") => Served::Playlist,
                _ => Served::Hashes,
            }),
            _ => None,
        }
    }
}

/// Body bytes the origin answered on `/static/streaming-playlists/`, by kind of file.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct HlsBytes {
    pub segment: u64,
    pub playlist: u64,
    pub hashes: u64,
}

/// The route whose answers [`HlsBytes`] counts.
const HLS_ROUTE: &str = "/static/streaming-playlists/hls/{uuid}/{file}";
/// The route of our mirrors' files.
const MIRROR_ROUTE: &str = "/static/redundancy/hls/{uuid}/{file}";

/// Sums of what players reported.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Playback {
    pub reports: u64,
    pub p2p_bytes: u64,
    pub http_bytes: u64,
    pub uploaded_bytes: u64,
    pub errors: u64,
    pub resolution_changes: u64,
}

impl Metrics {
    /// Adds one player report.
    pub fn record_playback(&self, p: Playback) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let t = &mut m.playback;
        t.reports += 1;
        t.p2p_bytes += p.p2p_bytes;
        t.http_bytes += p.http_bytes;
        t.uploaded_bytes += p.uploaded_bytes;
        t.errors += p.errors;
        t.resolution_changes += p.resolution_changes;
    }

    pub fn playback(&self) -> Playback {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).playback
    }

    pub fn hls_bytes(&self) -> HlsBytes {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).hls_bytes
    }

    /// `served`: the kind and body length of an HLS or mirror file answer.
    fn record(&self, method: &'static str, route: &str, status: u16, secs: f64, served: Option<(Served, u64)>) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((kind, n)) = served {
            *match kind {
                Served::Segment => &mut m.hls_bytes.segment,
                Served::Playlist => &mut m.hls_bytes.playlist,
                Served::Hashes => &mut m.hls_bytes.hashes,
                Served::Mirror => &mut m.mirror_bytes,
            } += n;
        }
        let r = match m.routes.get_mut(route) {
            Some(r) => r,
            None => m.routes.entry(route.into()).or_default(),
        };
        match r.requests.iter_mut().find(|(me, st, _)| *me == method && *st == status) {
            Some((_, _, n)) => *n += 1,
            None => r.requests.push((method, status, 1)),
        }
        let h = &mut r.latency;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.buckets[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut routes: Vec<(&str, &RouteStats)> = m.routes.iter().map(|(k, v)| (&**k, v)).collect();
        routes.sort_unstable_by_key(|(route, _)| *route);
        let mut requests: Vec<(&str, &str, u16, u64)> =
            routes.iter().flat_map(|(route, r)| r.requests.iter().map(|&(me, st, n)| (me, *route, st, n))).collect();
        requests.sort_unstable();
        out.push_str("# HELP flotilla_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE flotilla_http_requests_total counter\n");
        for (method, route, status, n) in requests {
            let _ = writeln!(
                out,
                "flotilla_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP flotilla_http_request_duration_seconds Time to answer HTTP requests, by route.\n");
        out.push_str("# TYPE flotilla_http_request_duration_seconds histogram\n");
        for (route, r) in routes {
            let (route, h) = (escape(route), &r.latency);
            for (le, n) in BUCKETS.iter().zip(h.buckets) {
                let _ =
                    writeln!(out, "flotilla_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "flotilla_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "flotilla_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "flotilla_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        let p = m.playback;
        let _ = write!(
            out,
            "# HELP flotilla_playback_reports_total Playback reports sent by players.\n\
             # TYPE flotilla_playback_reports_total counter\nflotilla_playback_reports_total {}\n\
             # HELP flotilla_playback_downloaded_bytes_total Video bytes players downloaded, by source.\n\
             # TYPE flotilla_playback_downloaded_bytes_total counter\n\
             flotilla_playback_downloaded_bytes_total{{source=\"p2p\"}} {}\n\
             flotilla_playback_downloaded_bytes_total{{source=\"http\"}} {}\n\
             # HELP flotilla_playback_uploaded_bytes_total Video bytes players uploaded to other viewers.\n\
             # TYPE flotilla_playback_uploaded_bytes_total counter\nflotilla_playback_uploaded_bytes_total {}\n\
             # HELP flotilla_playback_errors_total Playback errors players reported.\n\
             # TYPE flotilla_playback_errors_total counter\nflotilla_playback_errors_total {}\n\
             # HELP flotilla_playback_resolution_changes_total Resolution switches players reported.\n\
             # TYPE flotilla_playback_resolution_changes_total counter\nflotilla_playback_resolution_changes_total {}\n",
            p.reports, p.p2p_bytes, p.http_bytes, p.uploaded_bytes, p.errors, p.resolution_changes
        );
        let b = m.hls_bytes;
        let _ = write!(
            out,
            "# HELP flotilla_hls_served_bytes_total Body bytes this server answered for HLS files, by kind.\n\
             # TYPE flotilla_hls_served_bytes_total counter\n\
             flotilla_hls_served_bytes_total{{kind=\"segment\"}} {}\n\
             flotilla_hls_served_bytes_total{{kind=\"playlist\"}} {}\n\
             flotilla_hls_served_bytes_total{{kind=\"hashes\"}} {}\n",
            b.segment, b.playlist, b.hashes
        );
        let _ = write!(
            out,
            "# HELP flotilla_mirror_served_bytes_total Body bytes this server answered from its mirrors of other servers' videos.\n\
             # TYPE flotilla_mirror_served_bytes_total counter\nflotilla_mirror_served_bytes_total {}\n",
            m.mirror_bytes
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The method's label: the ones our routes and CORS answer, else `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// A request's count, begun before it is handled and ended with its answer (by the outermost
/// middleware, `lib.rs`): the time to answer, under the matched route.
pub struct Track {
    start: Instant,
    method: &'static str,
    /// Shared (an `Arc<str>`): taking it allocates nothing.
    route: Option<MatchedPath>,
    served: Option<Served>,
}

impl Track {
    pub fn begin(req: &Request) -> Track {
        let route = req.extensions().get::<MatchedPath>().cloned();
        let served = route.as_ref().and_then(|r| Served::of(r.as_str(), req.uri().path()));
        Track { start: Instant::now(), method: method_label(req.method()), route, served }
    }

    /// Counts the answer; returns the seconds it took.
    pub fn end(self, metrics: &Metrics, resp: &Response) -> f64 {
        // What was promised (`Content-Length`): a viewer that hangs up early is still counted in
        // full, which errs on the side of showing less offload than there was.
        let served = self.served.filter(|_| resp.status().is_success()).map(|kind| {
            let len = resp.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
            (kind, len.and_then(|v| v.parse().ok()).unwrap_or(0))
        });
        let route = self.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let secs = self.start.elapsed().as_secs_f64();
        metrics.record(self.method, route, resp.status().as_u16(), secs, served);
        secs
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_counters_and_histograms() {
        let m = super::Metrics::default();
        m.record("GET", "/api/v1/config", 200, 0.003, None);
        m.record("GET", "/api/v1/config", 200, 0.2, None);
        let hls = |route: &str, file: &str, n: u64| {
            let kind = super::Served::of(route, &format!("/static/x/hls/u/{file}")).unwrap();
            m.record("GET", route, 200, 0.001, Some((kind, n)));
        };
        hls(super::HLS_ROUTE, "a-360-fragmented.mp4", 1000);
        hls(super::HLS_ROUTE, "a-master.m3u8", 30);
        hls(super::HLS_ROUTE, "0-000003.ts", 200);
        hls(super::HLS_ROUTE, "a-segments-sha256.json", 7);
        hls(super::MIRROR_ROUTE, "a-360-fragmented.mp4", 500);
        assert_eq!(super::Served::of("/api/v1/videos", "/api/v1/videos"), None);
        assert_eq!(m.hls_bytes(), super::HlsBytes { segment: 1200, playlist: 30, hashes: 7 });
        let text = m.render();
        assert!(text.contains("flotilla_hls_served_bytes_total{kind=\"segment\"} 1200"), "{text}");
        assert!(text.contains("flotilla_mirror_served_bytes_total 500\n"), "{text}");
        assert!(
            text.contains("flotilla_http_requests_total{method=\"GET\",route=\"/api/v1/config\",status=\"200\"} 2")
        );
        assert!(
            text.contains("flotilla_http_request_duration_seconds_bucket{route=\"/api/v1/config\",le=\"0.005\"} 1")
        );
        assert!(text.contains("flotilla_http_request_duration_seconds_count{route=\"/api/v1/config\"} 2"));
    }

    #[test]
    fn a_million_invented_methods_are_one_series() {
        let m = super::Metrics::default();
        for n in 0..1_000_000 {
            let method = axum::http::Method::from_bytes(format!("X{n}").as_bytes()).unwrap();
            m.record(super::method_label(&method), "unmatched", 405, 0.001, None);
        }
        m.record(super::method_label(&axum::http::Method::PATCH), "unmatched", 405, 0.001, None);
        let inner = m.inner.lock().unwrap();
        assert_eq!(inner.routes.len(), 1);
        assert_eq!(
            inner.routes["unmatched"].requests,
            [("OTHER", 405, 1_000_000), ("PATCH", 405, 1)],
            "OTHER and PATCH"
        );
    }
}

/// `POST /api/v1/metrics/playback`, PeerTube's body: what one player downloaded and uploaded since
/// its last report.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackReport {
    player_mode: Option<String>,
    video_id: Option<serde_json::Value>,
    #[serde(rename = "downloadedBytesP2P")]
    downloaded_bytes_p2p: Option<i64>,
    #[serde(rename = "downloadedBytesHTTP")]
    downloaded_bytes_http: Option<i64>,
    #[serde(rename = "uploadedBytesP2P")]
    uploaded_bytes_p2p: Option<i64>,
    errors: Option<i64>,
    resolution_changes: Option<i64>,
}

pub async fn post_playback(
    axum::Extension(metrics): axum::Extension<Arc<Metrics>>,
    crate::extract::Body(r): crate::extract::Body<PlaybackReport>,
) -> Result<axum::http::StatusCode, crate::ApiError> {
    if r.video_id.is_none() {
        return Err(crate::ApiError::invalid("videoId", "videoId is required"));
    }
    if r.player_mode.as_deref().is_some_and(|m| !matches!(m, "p2p-media-loader" | "web-video")) {
        return Err(crate::ApiError::invalid("playerMode", "playerMode must be p2p-media-loader or web-video"));
    }
    // One report covers a few seconds of one viewer: anything past 1 GB is not a real player.
    let count = |field: &str, v: Option<i64>| -> Result<u64, crate::ApiError> {
        match v.unwrap_or(0) {
            n @ 0..=1_000_000_000 => Ok(n as u64),
            _ => Err(crate::ApiError::invalid(field, format!("{field} must be between 0 and 1000000000"))),
        }
    };
    metrics.record_playback(Playback {
        reports: 1,
        p2p_bytes: count("downloadedBytesP2P", r.downloaded_bytes_p2p)?,
        http_bytes: count("downloadedBytesHTTP", r.downloaded_bytes_http)?,
        uploaded_bytes: count("uploadedBytesP2P", r.uploaded_bytes_p2p)?,
        errors: count("errors", r.errors)?,
        resolution_changes: count("resolutionChanges", r.resolution_changes)?,
    });
    Ok(axum::http::StatusCode::NO_CONTENT)
}
