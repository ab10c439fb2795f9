//! Structured logs: the lines of a `log` envelope item (PROTOCOL.md A.2).

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::ids::{SpanId, TraceId};
use super::timestamp::Timestamp;

/// One log line.
///
/// ```
/// use sentry_core::protocol::{Log, LogLevel};
/// let log = Log::new(LogLevel::Warn, "disk almost full").with_attribute("disk.free_mb", 120);
/// let json = serde_json::to_value(&log).unwrap();
/// assert_eq!(json["level"], "warn");
/// assert_eq!(json["severity_number"], 13);
/// assert_eq!(json["attributes"]["disk.free_mb"], serde_json::json!({"type": "integer", "value": 120}));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Log {
    /// When it was logged.
    pub timestamp: Timestamp,
    /// How severe.
    pub level: LogLevel,
    /// The message.
    pub body: String,
    /// The trace it belongs to (the client fills it from the scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The span it was logged in, if any (the client fills it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SpanId>,
    /// OpenTelemetry's severity number of `level`.
    pub severity_number: u8,
    /// Attributes (the client adds `sentry.release`, `sentry.environment`,
    /// `sentry.sdk.*` and others).
    pub attributes: BTreeMap<String, LogAttribute>,
}

impl Log {
    /// A line logged now at `level`.
    pub fn new(level: LogLevel, body: impl Into<String>) -> Self {
        Log {
            timestamp: Timestamp::now(),
            level,
            body: body.into(),
            trace_id: None,
            span_id: None,
            severity_number: level.severity_number(),
            attributes: BTreeMap::new(),
        }
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

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Finest detail.
    Trace,
    /// Debugging.
    Debug,
    /// Information.
    Info,
    /// Something unexpected.
    Warn,
    /// A failure.
    Error,
    /// A failure the program cannot go on after.
    Fatal,
}

impl LogLevel {
    /// OpenTelemetry's severity number (1, 5, 9, 13, 17, 21).
    pub fn severity_number(self) -> u8 {
        match self {
            LogLevel::Trace => 1,
            LogLevel::Debug => 5,
            LogLevel::Info => 9,
            LogLevel::Warn => 13,
            LogLevel::Error => 17,
            LogLevel::Fatal => 21,
        }
    }

    /// The level's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
        }
    }
}

/// An attribute value, written as `{"type", "value"}`: `string`,
/// `integer`, `double`, `boolean`, or `array` for a list whose items are
/// all strings, all integers, all doubles or all booleans (as the official
/// SDKs send lists). Other JSON (objects, mixed lists, null) is written as
/// a string of its JSON.
///
/// ```
/// use sentry_core::protocol::LogAttribute;
/// let typed = |v: serde_json::Value| serde_json::to_value(LogAttribute(v)).unwrap();
/// assert_eq!(typed(serde_json::json!(["a", "b"])), serde_json::json!({"type": "array", "value": ["a", "b"]}));
/// assert_eq!(typed(serde_json::json!([1, "b"])), serde_json::json!({"type": "string", "value": "[1,\"b\"]"}));
/// assert_eq!(typed(serde_json::json!(u64::MAX)), serde_json::json!({"type": "string", "value": "18446744073709551615"}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LogAttribute(pub Value);

/// The attribute type of a JSON scalar, if it is one.
fn scalar_type(value: &Value) -> Option<&'static str> {
    match value {
        Value::String(_) => Some("string"),
        Value::Bool(_) => Some("boolean"),
        Value::Number(n) if n.is_i64() => Some("integer"),
        // Integers are signed 64-bit in Sentry: a larger one is no scalar
        // of any type (a list holding it goes as text).
        Value::Number(n) if n.is_u64() => None,
        Value::Number(_) => Some("double"),
        _ => None,
    }
}

/// Whether `items` can be sent as an `array` attribute: all of one scalar
/// type (an empty list is one too).
fn is_typed_list(items: &[Value]) -> bool {
    match items.first().map(scalar_type) {
        None => true,
        Some(None) => false,
        Some(first) => items.iter().all(|v| scalar_type(v) == first),
    }
}

impl Serialize for LogAttribute {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        match &self.0 {
            Value::String(v) => {
                map.serialize_entry("type", "string")?;
                map.serialize_entry("value", v)?;
            }
            Value::Bool(v) => {
                map.serialize_entry("type", "boolean")?;
                map.serialize_entry("value", v)?;
            }
            Value::Number(n) if n.is_i64() => {
                map.serialize_entry("type", "integer")?;
                map.serialize_entry("value", n)?;
            }
            // Past `i64::MAX`: Sentry's integers are signed 64-bit, so the
            // exact digits go as text rather than a number it would refuse.
            Value::Number(n) if n.is_u64() => {
                map.serialize_entry("type", "string")?;
                map.serialize_entry("value", &n.to_string())?;
            }
            Value::Number(n) => {
                map.serialize_entry("type", "double")?;
                map.serialize_entry("value", n)?;
            }
            Value::Array(items) if is_typed_list(items) => {
                map.serialize_entry("type", "array")?;
                map.serialize_entry("value", items)?;
            }
            other => {
                map.serialize_entry("type", "string")?;
                map.serialize_entry("value", &other.to_string())?;
            }
        }
        map.end()
    }
}

impl<T: Into<Value>> From<T> for LogAttribute {
    fn from(value: T) -> Self {
        LogAttribute(value.into())
    }
}
