//! Request counts and latencies in the Prometheus text exposition format (version 0.0.4),
//! served at `/metrics`.
//!
//! Hand-written rather than built on the `prometheus` or `metrics` crates: two metric families
//! with a fixed label set are a few dozen lines, and those crates would add more to the build
//! than the whole registry.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// The endpoint family of a request, the `route` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteKind {
    Base,
    Catalog,
    Tags,
    Manifest,
    Blob,
    Upload,
    Referrers,
    Metrics,
    Other,
}

impl RouteKind {
    /// Classifies a request path (cheaply: the label need not validate the path).
    pub fn of(path: &str) -> RouteKind {
        if path == "/metrics" {
            RouteKind::Metrics
        } else if path == "/v2" || path == "/v2/" {
            RouteKind::Base
        } else if !path.starts_with("/v2/") {
            RouteKind::Other
        } else if path == "/v2/_catalog" {
            RouteKind::Catalog
        } else if path.ends_with("/tags/list") {
            RouteKind::Tags
        } else if path.contains("/blobs/uploads") {
            RouteKind::Upload
        } else if path.contains("/manifests/") {
            RouteKind::Manifest
        } else if path.contains("/referrers/") {
            RouteKind::Referrers
        } else if path.contains("/blobs/") {
            RouteKind::Blob
        } else {
            RouteKind::Other
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            RouteKind::Base => "base",
            RouteKind::Catalog => "catalog",
            RouteKind::Tags => "tags",
            RouteKind::Manifest => "manifest",
            RouteKind::Blob => "blob",
            RouteKind::Upload => "upload",
            RouteKind::Referrers => "referrers",
            RouteKind::Metrics => "metrics",
            RouteKind::Other => "other",
        }
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, RouteKind, u16), u64>,
    latency: BTreeMap<(&'static str, RouteKind), Histogram>,
}

/// The registry's metrics.
#[derive(Debug, Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    /// Records one finished request.
    pub fn record(&self, method: &Method, route: RouteKind, status: u16, elapsed: Duration) {
        // A fixed label set (no allocation per request, bounded cardinality).
        let method = match *method {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::PUT => "PUT",
            Method::POST => "POST",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            _ => "OTHER",
        };
        let Ok(mut m) = self.0.lock() else {
            return;
        };
        *m.requests.entry((method, route, status)).or_default() += 1;
        let h = m.latency.entry((method, route)).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                if let Some(b) = h.buckets.get_mut(i) {
                    *b += 1;
                }
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The exposition text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let Ok(m) = self.0.lock() else {
            return out;
        };
        out.push_str(
            "# HELP sigil_registry_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE sigil_registry_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "sigil_registry_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                route.as_str()
            );
        }
        out.push_str("# HELP sigil_registry_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE sigil_registry_request_duration_seconds histogram\n");
        for ((method, route), h) in &m.latency {
            let labels = format!("method=\"{method}\",route=\"{}\"", route.as_str());
            for (le, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "sigil_registry_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "sigil_registry_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "sigil_registry_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "sigil_registry_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }

    /// The `/metrics` response.
    pub fn render(&self) -> Response {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            self.text(),
        )
            .into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.record(
            &Method::GET,
            RouteKind::of("/v2/a/manifests/v1"),
            200,
            Duration::from_micros(700),
        );
        m.record(
            &Method::GET,
            RouteKind::of("/v2/a/manifests/v1"),
            404,
            Duration::from_millis(3),
        );
        let t = m.text();
        assert!(t.contains(
            "sigil_registry_requests_total{method=\"GET\",route=\"manifest\",status=\"200\"} 1"
        ));
        assert!(t.contains("route=\"manifest\",le=\"0.0005\"} 0"));
        assert!(t.contains("route=\"manifest\",le=\"0.001\"} 1"));
        assert!(t.contains("route=\"manifest\",le=\"+Inf\"} 2"));
    }
}
