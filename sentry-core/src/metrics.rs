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
use crate::protocol::{DataCategory, LogAttribute, Metric, MetricType, Unit};

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

/// A sample of counter `name`, recorded when it is dropped or
/// [captured](Sample::capture): `metrics::counter("jobs.done", 1).capture()`
/// (the official crate's form; [`count`] records at once).
pub fn counter(name: impl Into<String>, value: impl Into<f64>) -> Sample {
    Sample::new(MetricType::Counter, name.into(), value.into())
}

/// Sets gauge `name` to `value`, when the returned [`Sample`] is dropped
/// or captured: `metrics::gauge("queue.depth", 17.0);` records at once,
/// `metrics::gauge("queue.depth", 17).attribute("queue", "mail").capture()`
/// after its attributes.
pub fn gauge(name: impl Into<String>, value: impl Into<f64>) -> Sample {
    Sample::new(MetricType::Gauge, name.into(), value.into())
}

/// Records `value` in distribution `name`, when the returned [`Sample`] is
/// dropped or captured (see [`gauge`]).
pub fn distribution(name: impl Into<String>, value: impl Into<f64>) -> Sample {
    Sample::new(MetricType::Distribution, name.into(), value.into())
}

/// A metric sample being put together by [`counter`], [`gauge`] or
/// [`distribution`]. It is recorded once: by [`Sample::capture`], or when it
/// is dropped, so that neither the official crate's
/// `gauge(..).unit(..).capture()` nor this crate's earlier
/// `gauge(name, value);` loses it.
///
/// ```
/// use sentry_core::metrics;
/// use sentry_core::protocol::Unit;
/// use sentry_core::test::{metrics_of, with_captured_envelopes};
///
/// let envelopes = with_captured_envelopes(|| {
///     metrics::distribution("http.response_time", 187.5)
///         .unit(Unit::Millisecond)
///         .attribute("http.route", "/health")
///         .capture();
///     metrics::gauge("queue.depth", 42);
/// });
/// let samples = metrics_of(&envelopes);
/// assert_eq!(samples[0]["unit"], "millisecond");
/// assert_eq!(samples[0]["attributes"]["http.route"]["value"], "/health");
/// assert_eq!((samples[1]["name"].as_str(), samples[1]["value"].as_f64()), (Some("queue.depth"), Some(42.0)));
/// ```
#[derive(Debug)]
pub struct Sample {
    /// `None` once recorded.
    metric: Option<Metric>,
}

impl Sample {
    fn new(kind: MetricType, name: String, value: f64) -> Sample {
        Sample {
            metric: Some(Metric::new(kind, name, value)),
        }
    }

    /// Sets the unit (counters are unitless in Sentry).
    pub fn unit(mut self, unit: impl Into<Unit>) -> Sample {
        if let Some(metric) = &mut self.metric {
            metric.unit = Some(unit.into().as_str().to_owned());
        }
        self
    }

    /// Adds (or replaces) attribute `key`, to filter and group samples by.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<LogAttribute>) -> Sample {
        if let Some(metric) = &mut self.metric {
            metric.attributes.insert(key.into(), value.into());
        }
        self
    }

    /// Records the sample through the current hub's client.
    pub fn capture(mut self) {
        self.record();
    }

    fn record(&mut self) {
        if let Some(metric) = self.metric.take() {
            capture_metric(metric);
        }
    }
}

impl Drop for Sample {
    /// Records the sample, unless the thread is panicking: a sample dropped
    /// while unwinding was never finished (a panic in the middle of its
    /// builder chain) and is let go.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        self.record();
    }
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
