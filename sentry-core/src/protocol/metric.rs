//! Metric samples: the entries of a `trace_metric` envelope item (Sentry's
//! trace metrics: counters, gauges and distributions linked to the trace
//! they were recorded in).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{SpanId, TraceId};
use super::log::LogAttribute;
use super::timestamp::Timestamp;

/// One metric sample.
///
/// ```
/// use sentry_core::protocol::{Metric, MetricType};
/// let sample = Metric::new(MetricType::Distribution, "db.query", 12.5)
///     .with_unit("millisecond")
///     .with_attribute("table", "orders");
/// let json = serde_json::to_value(&sample).unwrap();
/// assert_eq!((json["type"].as_str(), json["value"].as_f64()), (Some("distribution"), Some(12.5)));
/// assert_eq!(json["attributes"]["table"], serde_json::json!({"type": "string", "value": "orders"}));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// When it was recorded.
    pub timestamp: Timestamp,
    /// The trace it belongs to (the client fills it from the scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The span it was recorded in, if any (the client fills it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
    /// The metric's name (`http.requests`).
    pub name: String,
    /// Counter, gauge or distribution.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// The sample: an increment, a level or a measurement.
    pub value: f64,
    /// Its unit (`millisecond`, `byte`, …), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Attributes (the client adds `sentry.release`, `sentry.environment`,
    /// `sentry.sdk.*` and others).
    pub attributes: BTreeMap<String, LogAttribute>,
}

impl Metric {
    /// A sample of metric `name` recorded now.
    pub fn new(kind: MetricType, name: impl Into<String>, value: f64) -> Self {
        Metric {
            timestamp: Timestamp::now(),
            trace_id: None,
            span_id: None,
            name: name.into(),
            kind,
            value,
            unit: None,
            attributes: BTreeMap::new(),
        }
    }

    /// Sets the unit.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Adds (or replaces) attribute `key`.
    pub fn with_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<LogAttribute>,
    ) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }
}

/// What a metric's samples mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// Increments, summed (requests served).
    Counter,
    /// Levels, of which the last counts (queue depth).
    Gauge,
    /// Measurements, whose spread counts (latencies).
    Distribution,
}
