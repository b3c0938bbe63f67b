//! Prometheus metrics, served at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub sandbox: String,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SandboxLabels {
    pub sandbox: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// Every metric the server keeps; cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub runs: Family<RunLabels, Counter>,
    pub duration: Family<SandboxLabels, Histogram>,
    pub in_flight: Gauge,
    pub queued: Gauge,
    pub rejected: Family<ReasonLabels, Counter>,
    pub warm: Family<SandboxLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("snipbox");
        let runs = Family::<RunLabels, Counter>::default();
        let duration = Family::<SandboxLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 12))
        });
        let in_flight = Gauge::default();
        let queued = Gauge::default();
        let rejected = Family::<ReasonLabels, Counter>::default();
        let warm = Family::<SandboxLabels, Gauge>::default();
        registry.register("runs", "Runs by sandbox and outcome", runs.clone());
        registry.register(
            "run_duration_seconds",
            "Wall time of runs",
            duration.clone(),
        );
        registry.register("runs_in_flight", "Runs executing now", in_flight.clone());
        registry.register(
            "queue_length",
            "Requests waiting for a run slot",
            queued.clone(),
        );
        registry.register(
            "rejected",
            "Requests refused before running",
            rejected.clone(),
        );
        registry.register(
            "warm_containers",
            "Started containers waiting for a run",
            warm.clone(),
        );
        Metrics {
            registry,
            runs,
            duration,
            in_flight,
            queued,
            rejected,
            warm,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Counts a request refused before running, by `reason`.
    pub fn reject(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub fn sandbox(name: &str) -> SandboxLabels {
        SandboxLabels {
            sandbox: name.to_string(),
        }
    }
}
