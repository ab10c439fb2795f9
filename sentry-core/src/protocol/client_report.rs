//! Client reports: what the SDK dropped and why (PROTOCOL.md §8).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::timestamp::Timestamp;

macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum $name { $($var,)* Other(String) }

        impl $name {
            /// The wire name.
            pub fn as_str(&self) -> &str {
                match self { $($name::$var => $s,)* $name::Other(s) => s }
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s { $($s => $name::$var,)* other => $name::Other(other.to_owned()) }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::from(std::borrow::Cow::<str>::deserialize(d)?.as_ref()))
            }
        }
    };
}

open_enum!(
    /// Why something was dropped. Open-ended: unknown reasons are kept.
    DiscardReason {
        QueueOverflow = "queue_overflow",
        CacheOverflow = "cache_overflow",
        BufferOverflow = "buffer_overflow",
        RatelimitBackoff = "ratelimit_backoff",
        NetworkError = "network_error",
        SampleRate = "sample_rate",
        BeforeSend = "before_send",
        EventProcessor = "event_processor",
        SendError = "send_error",
        InternalSdkError = "internal_sdk_error",
        CallbackError = "callback_error",
        InsufficientData = "insufficient_data",
        Backpressure = "backpressure",
    }
);

open_enum!(
    /// A data category (PROTOCOL.md §2.4).
    DataCategory {
        Default = "default",
        Error = "error",
        Transaction = "transaction",
        Security = "security",
        Attachment = "attachment",
        Session = "session",
        Profile = "profile",
        Replay = "replay",
        Monitor = "monitor",
        Span = "span",
        Feedback = "feedback",
        LogItem = "log_item",
        LogByte = "log_byte",
        TraceMetric = "trace_metric",
        TraceMetricByte = "trace_metric_byte",
        Internal = "internal",
    }
);

/// One count of dropped items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscardedEvent {
    /// Why.
    pub reason: DiscardReason,
    /// What kind of data.
    pub category: DataCategory,
    /// How many.
    pub quantity: u64,
}

/// A `client_report` item.
///
/// ```
/// use sentry_core::protocol::{ClientReport, DiscardedEvent, DiscardReason, DataCategory};
/// let r = ClientReport { discarded_events: vec![DiscardedEvent {
///     reason: DiscardReason::SampleRate, category: DataCategory::Error, quantity: 3 }], ..Default::default() };
/// let v = serde_json::to_value(&r).unwrap();
/// assert_eq!(v["discarded_events"][0]["reason"], "sample_rate");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// When the report was made.
    #[serde(default = "Timestamp::now")]
    pub timestamp: Timestamp,
    /// The counts.
    #[serde(default)]
    pub discarded_events: Vec<DiscardedEvent>,
}

impl Default for ClientReport {
    fn default() -> Self {
        ClientReport {
            timestamp: Timestamp::now(),
            discarded_events: Vec::new(),
        }
    }
}
