//! The figures `GET /metrics` shows that must be kept between scrapes: the HTTP request
//! counters and latencies. Everything else (data planes, snapshots, Lua, the database
//! pool) is read from its owner at scrape time, see `http/metrics.rs`.
//!
//! Each server has its own set (several run in one test process), so nothing is global.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One series per route template, never per raw path: ids in paths would make the label
/// set grow with every entity.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// The label of every per control plane series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControlPlaneLabels {
    pub control_plane_id: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to about 16 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Wait buckets from 0.1 ms to about 1.6 s: a pooled connection is usually at hand.
pub fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

/// Size buckets from 1 KiB to 64 MiB, by powers of four.
pub fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1024.0, 4.0, 9))
}

#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    duration: HistogramFamily<HttpLabels>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl HttpMetrics {
    pub fn observe(&self, labels: HttpLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.duration.get_or_create(&labels).observe(seconds);
    }

    /// Adds these metrics (shared, not copied) to a scrape's registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            self.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            self.duration.clone(),
        );
    }
}
