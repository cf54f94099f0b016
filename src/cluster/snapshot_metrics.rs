//! Per control plane figures of config snapshots and their pushes, for `/metrics`:
//! snapshots built, their build time and gzipped size, and the push latency. Kept here
//! between scrapes; a deleted control plane's series go with it.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use uuid::Uuid;

use crate::metrics::{ControlPlaneLabels, latency_histogram, size_histogram};

type Histograms = Family<ControlPlaneLabels, Histogram, fn() -> Histogram>;

pub struct SnapshotMetrics {
    built: Family<ControlPlaneLabels, Counter>,
    build_seconds: Histograms,
    bytes: Histograms,
    push_seconds: Histograms,
    /// Heap kept for each control plane's incremental export between changes.
    state_bytes: Family<ControlPlaneLabels, Gauge>,
    /// Every control plane's snapshots together, for tests and benchmarks.
    total_built: AtomicU64,
}

impl Default for SnapshotMetrics {
    fn default() -> Self {
        SnapshotMetrics {
            built: Family::default(),
            build_seconds: Family::new_with_constructor(latency_histogram),
            bytes: Family::new_with_constructor(size_histogram),
            push_seconds: Family::new_with_constructor(latency_histogram),
            state_bytes: Family::default(),
            total_built: AtomicU64::new(0),
        }
    }
}

fn labels(control_plane: Uuid) -> ControlPlaneLabels {
    ControlPlaneLabels {
        control_plane_id: control_plane.to_string(),
    }
}

impl SnapshotMetrics {
    /// A snapshot of `control_plane` was built in `seconds`, `bytes` long gzipped.
    pub fn built(&self, control_plane: Uuid, seconds: f64, bytes: usize) {
        let labels = labels(control_plane);
        self.built.get_or_create(&labels).inc();
        self.build_seconds.get_or_create(&labels).observe(seconds);
        self.bytes.get_or_create(&labels).observe(bytes as f64);
        self.total_built.fetch_add(1, Ordering::Relaxed);
    }

    /// The heap `control_plane`'s kept export holds now.
    pub fn state_bytes(&self, control_plane: Uuid, bytes: usize) {
        self.state_bytes
            .get_or_create(&labels(control_plane))
            .set(bytes as i64);
    }

    /// The push latencies of `control_plane`, for a session to keep: it observes each
    /// change it writes without building the label again.
    pub fn push_histogram(&self, control_plane: Uuid) -> Histogram {
        self.push_seconds
            .get_or_create(&labels(control_plane))
            .clone()
    }

    /// The control plane is gone: so are its series.
    pub fn forget(&self, control_plane: Uuid) {
        let labels = labels(control_plane);
        self.built.remove(&labels);
        self.build_seconds.remove(&labels);
        self.bytes.remove(&labels);
        self.push_seconds.remove(&labels);
        self.state_bytes.remove(&labels);
    }

    pub fn total_built(&self) -> u64 {
        self.total_built.load(Ordering::Relaxed)
    }

    /// Adds these metrics (shared, not copied) to a scrape's registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "config_snapshots_built",
            "Config snapshots built for data planes since start, by control plane",
            self.built.clone(),
        );
        registry.register(
            "config_snapshot_build_duration_seconds",
            "Time to export and build a config snapshot, by control plane",
            self.build_seconds.clone(),
        );
        registry.register(
            "config_snapshot_bytes",
            "Size of each config snapshot built, gzipped as data planes receive it, by \
             control plane",
            self.bytes.clone(),
        );
        registry.register(
            "config_push_latency_seconds",
            "Time from a config change committed on this node (or its notification arriving \
             from another node) to its reconfigure frame written to a data plane, by control \
             plane",
            self.push_seconds.clone(),
        );
        registry.register(
            "config_export_state_bytes",
            "Heap held between changes by the incremental config export (cached JSON, hash \
             inputs and compressed chunks), by control plane",
            self.state_bytes.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(metrics: &SnapshotMetrics) -> String {
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn series_are_per_control_plane_and_go_with_it() {
        let metrics = SnapshotMetrics::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        metrics.built(a, 0.01, 2048);
        metrics.built(a, 0.01, 2048);
        metrics.built(b, 0.01, 100);
        metrics.push_histogram(b).observe(0.002);
        metrics.state_bytes(a, 12345);
        let text = scrape(&metrics);
        assert!(
            text.contains(&format!(
                "config_export_state_bytes{{control_plane_id=\"{a}\"}} 12345"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "config_snapshots_built_total{{control_plane_id=\"{a}\"}} 2"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "config_snapshot_bytes_sum{{control_plane_id=\"{a}\"}} 4096"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "config_push_latency_seconds_count{{control_plane_id=\"{b}\"}} 1"
            )),
            "{text}"
        );
        assert_eq!(metrics.total_built(), 3);
        metrics.forget(a);
        let text = scrape(&metrics);
        assert!(!text.contains(&a.to_string()), "{text}");
        assert!(text.contains(&b.to_string()), "{text}");
    }
}
