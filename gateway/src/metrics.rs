//! Service-quality measurements (BRIEF Q10, standard 7): every request's route, status
//! and time in histograms, exposed in Prometheus' text format and summed up in the
//! quality view against the standard's figures (response ≤ 3 s, error rate ≤ 0.01 %,
//! downtime ≤ 8 h a year, objections 100 % completed). Availability is measured from a
//! heartbeat the server writes to the database every minute, so it spans restarts.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// Upper bounds of the latency histogram's buckets, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0,
];

/// The standard's response-time ceiling (7.2).
pub const CEILING_SECONDS: f64 = 3.0;
/// The standard's error-rate ceiling (7.3): 0.01 %.
pub const MAX_ERROR_RATE: f64 = 0.0001;

#[derive(Clone, Debug, Default)]
struct Series {
    /// Requests by status class (2, 3, 4, 5).
    by_class: [u64; 6],
    /// Cumulative counts per bucket, then +Inf.
    buckets: [u64; BUCKETS.len() + 1],
    sum_seconds: f64,
}

impl Series {
    fn add(&mut self, status: u16, took: Duration) {
        let seconds = took.as_secs_f64();
        let class = usize::from(status / 100).min(5);
        self.by_class[class] += 1;
        let bucket = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket] += 1;
        self.sum_seconds += seconds;
    }
}

/// Request measurements of this process, by method, then route (so that recording a
/// request allocates nothing once its route has been seen).
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<String, BTreeMap<String, Series>>>,
}

impl Metrics {
    /// Records one request.
    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = series.get_mut(method).and_then(|r| r.get_mut(route)) {
            return s.add(status, took);
        }
        series
            .entry(method.to_owned())
            .or_default()
            .entry(route.to_owned())
            .or_default()
            .add(status, took);
    }

    fn totals(&self) -> Series {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = Series::default();
        for s in series.values().flat_map(BTreeMap::values) {
            for (t, v) in total.by_class.iter_mut().zip(s.by_class) {
                *t += v;
            }
            for (t, v) in total.buckets.iter_mut().zip(s.buckets) {
                *t += v;
            }
            total.sum_seconds += s.sum_seconds;
        }
        total
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn prometheus(&self, extra: &[(String, f64)]) -> String {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP creditpool_http_requests_total HTTP requests by route and status class.\n",
        );
        out.push_str("# TYPE creditpool_http_requests_total counter\n");
        let label = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        for (method, route, s) in series
            .iter()
            .flat_map(|(m, routes)| routes.iter().map(move |(r, s)| (m, r, s)))
        {
            for (class, n) in s.by_class.iter().enumerate().filter(|(_, n)| **n > 0) {
                out.push_str(&format!(
                    "creditpool_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{class}xx\"}} {n}\n",
                    label(method),
                    label(route)
                ));
            }
        }
        out.push_str("# HELP creditpool_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE creditpool_http_request_duration_seconds histogram\n");
        for (method, route, s) in series
            .iter()
            .flat_map(|(m, routes)| routes.iter().map(move |(r, s)| (m, r, s)))
        {
            let labels = format!("method=\"{}\",route=\"{}\"", label(method), label(route));
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i];
                out.push_str(&format!(
                    "creditpool_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}\n"
                ));
            }
            cumulative += s.buckets[BUCKETS.len()];
            out.push_str(&format!(
                "creditpool_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}\n"
            ));
            out.push_str(&format!(
                "creditpool_http_request_duration_seconds_sum{{{labels}}} {}\n",
                s.sum_seconds
            ));
            out.push_str(&format!(
                "creditpool_http_request_duration_seconds_count{{{labels}}} {cumulative}\n"
            ));
        }
        for (name, value) in extra {
            out.push_str(&format!("# TYPE {name} gauge\n{name} {value}\n"));
        }
        out
    }

    /// Response-time percentiles and error figures since the process started.
    pub fn summary(&self) -> Responses {
        let total = self.totals();
        let count: u64 = total.buckets.iter().sum();
        let percentile = |p: f64| -> Option<f64> {
            if count == 0 {
                return None;
            }
            let rank = (p * count as f64).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, n) in total.buckets.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    // The bucket's upper bound: a percentile is at most this.
                    return Some(BUCKETS.get(i).copied().unwrap_or(f64::INFINITY) * 1000.0);
                }
            }
            None
        };
        let within: u64 = total.buckets[..=BUCKETS
            .iter()
            .position(|b| *b == CEILING_SECONDS)
            .unwrap_or(0)]
            .iter()
            .sum();
        let errors = total.by_class[5];
        Responses {
            requests: count,
            p50_ms_at_most: percentile(0.50),
            p95_ms_at_most: percentile(0.95),
            p99_ms_at_most: percentile(0.99),
            ceiling_ms: CEILING_SECONDS * 1000.0,
            within_ceiling: (count > 0).then(|| within as f64 / count as f64),
            server_errors: errors,
            error_rate: (count > 0).then(|| errors as f64 / count as f64),
            max_error_rate: MAX_ERROR_RATE,
        }
    }
}

/// Response figures of the quality view.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Responses {
    /// Requests measured.
    pub requests: u64,
    /// Median response time (upper bound of its histogram bucket), ms.
    pub p50_ms_at_most: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms_at_most: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms_at_most: Option<f64>,
    /// The standard's ceiling, ms.
    pub ceiling_ms: f64,
    /// Share of requests answered within the ceiling.
    pub within_ceiling: Option<f64>,
    /// Answers with a 5xx status (the platform's errors; a refused bad request is not one).
    pub server_errors: u64,
    /// Server errors per request.
    pub error_rate: Option<f64>,
    /// The standard's ceiling.
    pub max_error_rate: f64,
}

pub use platform::uptime::{Availability, MAX_DOWNTIME_HOURS_PER_YEAR, availability, heartbeat};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_error_rate_come_from_the_histogram() {
        let m = Metrics::default();
        for _ in 0..98 {
            m.record("GET", "/a", 200, Duration::from_micros(800));
        }
        m.record("GET", "/a", 500, Duration::from_millis(40));
        m.record("POST", "/b", 422, Duration::from_secs(4));
        let s = m.summary();
        assert_eq!(s.requests, 100);
        assert_eq!(s.p50_ms_at_most, Some(1.0));
        assert_eq!(s.p99_ms_at_most, Some(50.0));
        assert_eq!(s.within_ceiling, Some(0.99));
        assert_eq!(
            s.server_errors, 1,
            "a 422 is the caller's error, not the service's"
        );
        assert_eq!(s.error_rate, Some(0.01));
        let text = m.prometheus(&[("creditpool_objections_overdue".into(), 2.0)]);
        assert!(text.contains(
            "creditpool_http_requests_total{method=\"GET\",route=\"/a\",status=\"5xx\"} 1"
        ));
        assert!(text.contains(
            "creditpool_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.001\"} 98"
        ));
        assert!(text.contains(
            "creditpool_http_request_duration_seconds_count{method=\"POST\",route=\"/b\"} 1"
        ));
        assert!(text.contains("creditpool_objections_overdue 2"));
    }
}
