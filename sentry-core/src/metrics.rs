//! Metrics (Sentry's trace metrics): counters, gauges and distributions,
//! each sample linked to the trace it was recorded in.
//!
//! On unless [`ClientOptions::enable_metrics`](crate::ClientOptions) is
//! turned off (as in the official Python SDK: nothing is sent until a
//! sample is recorded). Each sample gets the client's release, environment
//! and SDK as attributes and the scope's trace (and span, inside one);
//! `before_send_metric` may change or drop it. Samples are batched: sent
//! when 1000 are waiting (or about 1 MiB of them), every 5 s, and on flush
//! and close, one `trace_metric` envelope item per batch. Samples are sent
//! as recorded, not aggregated: the receiver (or Sentry) sums, averages
//! and takes percentiles.
//!
//! ```
//! use sentry_core::metrics;
//! use sentry_core::test::{metrics_of, with_captured_envelopes};
//!
//! let envelopes = with_captured_envelopes(|| {
//!     metrics::count("jobs.done", 1.0);
//!     metrics::gauge("queue.depth", 17.0);
//!     metrics::capture_metric(
//!         sentry_core::protocol::Metric::new(
//!             sentry_core::protocol::MetricType::Distribution,
//!             "db.query",
//!             12.5,
//!         )
//!         .with_unit("millisecond"),
//!     );
//! });
//! let samples = metrics_of(&envelopes);
//! assert_eq!(samples.len(), 3);
//! assert_eq!((samples[2]["name"].as_str(), samples[2]["unit"].as_str()), (Some("db.query"), Some("millisecond")));
//! ```

use crate::batcher::{attributes_size, Batchable, Batcher};
use crate::envelope::{EnvelopeError, EnvelopeItem};
use crate::hub::Hub;
use crate::protocol::{DataCategory, Metric, MetricType};

/// Records `metric` through the current hub's client (see the module
/// documentation). Without a client, or with metrics off, nothing happens.
pub fn capture_metric(metric: Metric) {
    if !crate::hub::any_client() {
        return;
    }
    Hub::with_current(|hub| hub.capture_metric(metric));
}

/// Adds `value` to counter `name` (`metrics::count("jobs.done", 1.0)`).
pub fn count(name: impl Into<String>, value: f64) {
    capture_metric(Metric::new(MetricType::Counter, name, value));
}

/// Sets gauge `name` to `value`.
pub fn gauge(name: impl Into<String>, value: f64) {
    capture_metric(Metric::new(MetricType::Gauge, name, value));
}

/// Records `value` in distribution `name`.
pub fn distribution(name: impl Into<String>, value: f64) {
    capture_metric(Metric::new(MetricType::Distribution, name, value));
}

impl Hub {
    /// Records `metric` through this hub's client, with its top scope's
    /// trace.
    pub fn capture_metric(&self, metric: Metric) {
        self.with_client_and_scope(|client, scope| client.capture_metric(metric, Some(scope)));
    }
}

/// The samples waiting to be sent (`enable_metrics`).
pub(crate) type MetricBatcher = Batcher<Metric>;

impl Batchable for Metric {
    const MAX_BATCH: usize = 1000;
    const THREAD: &'static str = "sentry-metric-batch";
    const CATEGORY: DataCategory = DataCategory::TraceMetric;

    /// The name, unit and attributes, and a fixed part for the rest
    /// (timestamp, type, value, ids, field names).
    fn estimated_size(&self) -> usize {
        const FIXED: usize = 160;
        FIXED
            + self.name.len()
            + self.unit.as_ref().map_or(0, String::len)
            + attributes_size(&self.attributes)
    }

    fn item(batch: &[Self]) -> Result<EnvelopeItem, EnvelopeError> {
        EnvelopeItem::trace_metrics(batch)
    }
}
