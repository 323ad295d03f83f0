//! Prometheus metrics at `GET /metrics`: requests by method, route and status, and a latency
//! histogram by route. Routes are the matched patterns (`/api/v1/users/{id}`), never raw paths,
//! so the number of series stays bounded whatever clients request.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
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
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_string()).or_default();
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
        out.push_str("# HELP flotilla_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE flotilla_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "flotilla_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP flotilla_http_request_duration_seconds Time to answer HTTP requests, by route.\n");
        out.push_str("# TYPE flotilla_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let route = escape(route);
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
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Middleware: times each request and counts it under its matched route.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let resp = next.run(req).await;
    let route = route.as_deref().unwrap_or("unmatched");
    metrics.record(&method, route, resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_counters_and_histograms() {
        let m = super::Metrics::default();
        m.record("GET", "/api/v1/config", 200, 0.003);
        m.record("GET", "/api/v1/config", 200, 0.2);
        let text = m.render();
        assert!(
            text.contains("flotilla_http_requests_total{method=\"GET\",route=\"/api/v1/config\",status=\"200\"} 2")
        );
        assert!(
            text.contains("flotilla_http_request_duration_seconds_bucket{route=\"/api/v1/config\",le=\"0.005\"} 1")
        );
        assert!(text.contains("flotilla_http_request_duration_seconds_count{route=\"/api/v1/config\"} 2"));
    }
}
