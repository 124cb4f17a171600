//! Prometheus text metrics, hand-written (a few atomics) rather than pulling a metrics
//! framework into a two-core build for five series.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::engine::{Evaluation, RuleStatus};
use crate::verifier::CacheStats;

/// Upper bounds (seconds) of the latency histogram.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    allowed: AtomicU64,
    denied: AtomicU64,
    bad_requests: AtomicU64,
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_micros: AtomicU64,
    pass: AtomicU64,
    fail: AtomicU64,
    skip: AtomicU64,
    error: AtomicU64,
}

impl Metrics {
    pub fn record(&self, ev: &Evaluation, took: Duration) {
        if ev.allowed {
            self.allowed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.denied.fetch_add(1, Ordering::Relaxed);
        }
        for r in &ev.results {
            let c = match r.status {
                RuleStatus::Pass => &self.pass,
                RuleStatus::Fail => &self.fail,
                RuleStatus::Skip => &self.skip,
                RuleStatus::Error => &self.error,
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                if let Some(c) = self.buckets.get(i) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn bad_request(&self) {
        self.bad_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, cache: &CacheStats, cached_verdicts: usize) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP sigil_admission_requests_total AdmissionReview requests answered."
        );
        let _ = writeln!(s, "# TYPE sigil_admission_requests_total counter");
        let _ = writeln!(
            s,
            "sigil_admission_requests_total{{result=\"allowed\"}} {}",
            g(&self.allowed)
        );
        let _ = writeln!(
            s,
            "sigil_admission_requests_total{{result=\"denied\"}} {}",
            g(&self.denied)
        );
        let _ = writeln!(
            s,
            "sigil_admission_requests_total{{result=\"bad_request\"}} {}",
            g(&self.bad_requests)
        );
        let _ = writeln!(
            s,
            "# HELP sigil_admission_request_duration_seconds Time to answer a review."
        );
        let _ = writeln!(
            s,
            "# TYPE sigil_admission_request_duration_seconds histogram"
        );
        for (i, b) in BUCKETS.iter().enumerate() {
            let v = self.buckets.get(i).map(g).unwrap_or(0);
            let _ = writeln!(
                s,
                "sigil_admission_request_duration_seconds_bucket{{le=\"{b}\"}} {v}"
            );
        }
        let _ = writeln!(
            s,
            "sigil_admission_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            g(&self.count)
        );
        let _ = writeln!(
            s,
            "sigil_admission_request_duration_seconds_sum {}",
            g(&self.sum_micros) as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "sigil_admission_request_duration_seconds_count {}",
            g(&self.count)
        );
        let _ = writeln!(
            s,
            "# HELP sigil_admission_verdicts_total Rule results per image."
        );
        let _ = writeln!(s, "# TYPE sigil_admission_verdicts_total counter");
        for (n, a) in [
            ("pass", &self.pass),
            ("fail", &self.fail),
            ("skip", &self.skip),
            ("error", &self.error),
        ] {
            let _ = writeln!(
                s,
                "sigil_admission_verdicts_total{{result=\"{n}\"}} {}",
                g(a)
            );
        }
        let _ = writeln!(
            s,
            "# HELP sigil_admission_cache_lookups_total Verdict cache lookups."
        );
        let _ = writeln!(s, "# TYPE sigil_admission_cache_lookups_total counter");
        let _ = writeln!(
            s,
            "sigil_admission_cache_lookups_total{{result=\"hit\"}} {}",
            g(&cache.hits)
        );
        let _ = writeln!(
            s,
            "sigil_admission_cache_lookups_total{{result=\"miss\"}} {}",
            g(&cache.misses)
        );
        let _ = writeln!(
            s,
            "sigil_admission_cache_lookups_total{{result=\"shared\"}} {}",
            g(&cache.shared)
        );
        let _ = writeln!(s, "# TYPE sigil_admission_cache_entries gauge");
        let _ = writeln!(s, "sigil_admission_cache_entries {cached_verdicts}");
        s
    }
}
