//! Spans and transactions (PROTOCOL.md §6).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::breadcrumb::Breadcrumb;
use super::contexts::{self, Contexts};
use super::ids::{self, SpanId, TraceId};
use super::lenient::{self, Map, Values};
use super::opt_map::{EmptyMap, OptMap};
use super::sdk::ClientSdkInfo;
use super::timestamp::Timestamp;
use super::user::{Request, User};

/// Outcome of a span or transaction (PROTOCOL.md §6.3).
///
/// ```
/// use sentry_core::protocol::SpanStatus;
/// assert_eq!(SpanStatus::from_http_status(404), SpanStatus::NotFound);
/// assert_eq!("failure".parse::<SpanStatus>(), Ok(SpanStatus::InternalError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum SpanStatus {
    Ok,
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    InternalError,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

const STATUS_NAMES: &[(SpanStatus, &str)] = &[
    (SpanStatus::Ok, "ok"),
    (SpanStatus::Cancelled, "cancelled"),
    (SpanStatus::Unknown, "unknown"),
    (SpanStatus::InvalidArgument, "invalid_argument"),
    (SpanStatus::DeadlineExceeded, "deadline_exceeded"),
    (SpanStatus::NotFound, "not_found"),
    (SpanStatus::AlreadyExists, "already_exists"),
    (SpanStatus::PermissionDenied, "permission_denied"),
    (SpanStatus::ResourceExhausted, "resource_exhausted"),
    (SpanStatus::FailedPrecondition, "failed_precondition"),
    (SpanStatus::Aborted, "aborted"),
    (SpanStatus::OutOfRange, "out_of_range"),
    (SpanStatus::Unimplemented, "unimplemented"),
    (SpanStatus::InternalError, "internal_error"),
    (SpanStatus::Unavailable, "unavailable"),
    (SpanStatus::DataLoss, "data_loss"),
    (SpanStatus::Unauthenticated, "unauthenticated"),
];

impl SpanStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        STATUS_NAMES
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, n)| *n)
            .unwrap_or("unknown")
    }

    /// Maps an HTTP status code to a span status, as the Python SDK's
    /// `get_span_status_from_http_code` does except for 499 (`cancelled`
    /// here, as the other SDKs map it) and codes outside 100–599 (Python
    /// says `ok` below 400): 1xx–3xx `ok`; 401
    /// `unauthenticated`, 403 `permission_denied`, 404 `not_found`, 409
    /// `already_exists`, 413 `failed_precondition`, 429
    /// `resource_exhausted`, 499 `cancelled`, other 4xx
    /// `invalid_argument`; 501 `unimplemented`, 503 `unavailable`, 504
    /// `deadline_exceeded`, other 5xx `internal_error`; a code outside
    /// 100–599 (not an HTTP status) `unknown` (`unknown_error`).
    ///
    /// ```
    /// use sentry_core::protocol::SpanStatus;
    /// assert_eq!(SpanStatus::from_http_status(204), SpanStatus::Ok);
    /// assert_eq!(SpanStatus::from_http_status(413), SpanStatus::FailedPrecondition);
    /// assert_eq!(SpanStatus::from_http_status(418), SpanStatus::InvalidArgument);
    /// assert_eq!(SpanStatus::from_http_status(600), SpanStatus::Unknown);
    /// ```
    #[allow(clippy::match_overlapping_arm)] // specific codes first, then ranges
    pub fn from_http_status(code: u16) -> SpanStatus {
        match code {
            100..=399 => SpanStatus::Ok,
            400 => SpanStatus::InvalidArgument,
            401 => SpanStatus::Unauthenticated,
            403 => SpanStatus::PermissionDenied,
            404 => SpanStatus::NotFound,
            409 => SpanStatus::AlreadyExists,
            // Payload too large: the request cannot be served as it is.
            413 => SpanStatus::FailedPrecondition,
            429 => SpanStatus::ResourceExhausted,
            499 => SpanStatus::Cancelled,
            400..=499 => SpanStatus::InvalidArgument,
            501 => SpanStatus::Unimplemented,
            503 => SpanStatus::Unavailable,
            504 => SpanStatus::DeadlineExceeded,
            500..=599 => SpanStatus::InternalError,
            _ => SpanStatus::Unknown,
        }
    }
}

/// Error for an unknown span status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown span status {0:?}")]
pub struct UnknownSpanStatus(pub String);

impl FromStr for SpanStatus {
    type Err = UnknownSpanStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let alias = match s {
            "success" => Some(SpanStatus::Ok),
            "unknown_error" => Some(SpanStatus::Unknown),
            "failure" => Some(SpanStatus::InternalError),
            _ => None,
        };
        alias
            .or_else(|| {
                STATUS_NAMES
                    .iter()
                    .find(|(_, n)| *n == s)
                    .map(|(st, _)| *st)
            })
            .ok_or_else(|| UnknownSpanStatus(s.to_owned()))
    }
}

impl fmt::Display for SpanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SpanStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SpanStatus {
    /// Unknown names read as [`SpanStatus::Unknown`] rather than failing the
    /// whole span.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Ok(s.parse().unwrap_or(SpanStatus::Unknown))
    }
}

/// A span inside a transaction.
///
/// `op` and `description` are `Cow<'static, str>`, so spans named by string
/// literals (the usual case) cost no allocation:
///
/// ```
/// use sentry_core::protocol::Span;
/// let span = Span { op: Some("db.query".into()), description: Some(format!("SELECT {}", 1).into()), ..Default::default() };
/// assert_eq!(span.op.as_deref(), Some("db.query"));
/// assert_eq!(serde_json::to_value(&span).unwrap()["description"], "SELECT 1");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Span {
    /// The trace it belongs to.
    #[serde(default)]
    pub trace_id: TraceId,
    /// This span.
    #[serde(default)]
    pub span_id: SpanId,
    /// The parent span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// Operation, e.g. `db.query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Cow<'static, str>>,
    /// Description, e.g. the SQL text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'static, str>>,
    /// Outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SpanStatus>,
    /// Start time.
    #[serde(default)]
    pub start_timestamp: Timestamp,
    /// End time (`None` while running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Tags (an [`OptMap`]: nothing allocated or dropped while empty).
    #[serde(
        default,
        skip_serializing_if = "opt_map_empty",
        deserialize_with = "opt_string_map"
    )]
    pub tags: OptMap<BTreeMap<String, String>>,
    /// Data (an [`OptMap`]).
    #[serde(
        default,
        skip_serializing_if = "opt_map_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub data: OptMap<Map>,
    /// Origin, e.g. `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Everything else the SDK sent (an [`OptMap`]).
    #[serde(flatten)]
    pub other: OptMap<Map>,
}

fn opt_map_empty<M: EmptyMap>(m: &OptMap<M>) -> bool {
    m.is_empty_map()
}

fn opt_string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<OptMap<BTreeMap<String, String>>, D::Error> {
    lenient::string_map(d).map(OptMap::from)
}

fn transaction_type() -> Cow<'static, str> {
    Cow::Borrowed("transaction")
}

/// A transaction: a root span with its child spans, sent as its own item.
///
/// ```
/// use sentry_core::protocol::Transaction;
/// let t = Transaction { name: Some("GET /".into()), ..Default::default() };
/// let v = serde_json::to_value(&t).unwrap();
/// assert_eq!(v["type"], "transaction");
/// assert_eq!(v["transaction"], "GET /");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Event id (32 hex).
    #[serde(default = "Uuid::new_v4", with = "ids::uuid_simple")]
    pub event_id: Uuid,
    /// Always `transaction`.
    #[serde(rename = "type", default = "transaction_type")]
    pub ty: Cow<'static, str>,
    /// The transaction name.
    #[serde(
        rename = "transaction",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Cow<'static, str>>,
    /// Release.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_cow_string"
    )]
    pub release: Option<Cow<'static, str>>,
    /// Environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Cow<'static, str>>,
    /// Platform.
    #[serde(default = "default_platform")]
    pub platform: Cow<'static, str>,
    /// User.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// Request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Tags.
    #[serde(
        default,
        skip_serializing_if = "lenient::map_empty",
        deserialize_with = "lenient::string_map"
    )]
    pub tags: BTreeMap<String, String>,
    /// Extra data.
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub extra: Map,
    /// SDK info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<ClientSdkInfo>,
    /// Start time.
    #[serde(default)]
    pub start_timestamp: Timestamp,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Child spans.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub spans: Vec<Span>,
    /// Contexts; `trace` holds the root span.
    #[serde(
        default,
        skip_serializing_if = "lenient::map_empty",
        deserialize_with = "contexts::deserialize_contexts"
    )]
    pub contexts: Contexts,
    /// Breadcrumbs.
    #[serde(
        default,
        skip_serializing_if = "lenient::values_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub breadcrumbs: Values<Breadcrumb>,
    /// Measurements (`{name: {value, unit}}`).
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub measurements: Map,
    /// How the name was chosen (`transaction_info.source`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "transaction_info_lenient"
    )]
    pub transaction_info: Option<TransactionInfo>,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

/// The `transaction_info` of a transaction: where its name comes from.
///
/// ```
/// use sentry_core::protocol::{Transaction, TransactionInfo};
/// let t = Transaction {
///     transaction_info: Some(TransactionInfo::with_source("route")),
///     ..Default::default()
/// };
/// let v = serde_json::to_value(&t).unwrap();
/// assert_eq!(v["transaction_info"]["source"], "route");
/// let back: Transaction = serde_json::from_value(v).unwrap();
/// assert_eq!(back.transaction_info.unwrap().source.as_deref(), Some("route"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TransactionInfo {
    /// `custom`, `url`, `route`, `view`, `component` or `task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Cow<'static, str>>,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

impl TransactionInfo {
    /// Info with only a source (a string literal costs no allocation).
    pub fn with_source(source: impl Into<Cow<'static, str>>) -> Self {
        TransactionInfo {
            source: Some(source.into()),
            other: Map::new(),
        }
    }
}

/// `transaction_info` as the SDK sent it: an object is kept (a `source`
/// that is not a string stays in `other`), anything else reads as `None`
/// rather than failing the whole transaction.
fn transaction_info_lenient<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<TransactionInfo>, D::Error> {
    let serde_json::Value::Object(mut other) = serde_json::Value::deserialize(d)? else {
        return Ok(None);
    };
    let source = match other.remove("source") {
        Some(serde_json::Value::String(s)) => Some(Cow::Owned(s)),
        Some(v) => {
            other.insert("source".to_owned(), v);
            None
        }
        None => None,
    };
    Ok(Some(TransactionInfo { source, other }))
}

fn default_platform() -> Cow<'static, str> {
    Cow::Borrowed("other")
}

impl Default for Transaction {
    fn default() -> Self {
        Transaction {
            event_id: super::new_uuid(),
            ty: transaction_type(),
            name: None,
            release: None,
            environment: None,
            platform: Cow::Borrowed("native"),
            user: None,
            request: None,
            tags: BTreeMap::new(),
            extra: Map::new(),
            sdk: None,
            start_timestamp: Timestamp::now(),
            timestamp: None,
            spans: Vec::new(),
            contexts: Contexts::new(),
            breadcrumbs: Values::new(),
            measurements: Map::new(),
            transaction_info: None,
            other: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_codes_map_to_span_statuses() {
        let cases = [
            (100, SpanStatus::Ok),
            (200, SpanStatus::Ok),
            (302, SpanStatus::Ok),
            (400, SpanStatus::InvalidArgument),
            (401, SpanStatus::Unauthenticated),
            (403, SpanStatus::PermissionDenied),
            (404, SpanStatus::NotFound),
            (409, SpanStatus::AlreadyExists),
            (413, SpanStatus::FailedPrecondition),
            (422, SpanStatus::InvalidArgument),
            (429, SpanStatus::ResourceExhausted),
            (500, SpanStatus::InternalError),
            (501, SpanStatus::Unimplemented),
            (503, SpanStatus::Unavailable),
            (504, SpanStatus::DeadlineExceeded),
            (599, SpanStatus::InternalError),
            (0, SpanStatus::Unknown),
            (99, SpanStatus::Unknown),
            (600, SpanStatus::Unknown),
            (999, SpanStatus::Unknown),
        ];
        for (code, status) in cases {
            assert_eq!(SpanStatus::from_http_status(code), status, "{code}");
        }
        // `unknown` is the wire name of `unknown_error`.
        assert_eq!("unknown_error".parse(), Ok(SpanStatus::Unknown));
        assert_eq!(SpanStatus::Unknown.as_str(), "unknown");
    }

    #[test]
    fn a_span_with_misplaced_dashes_in_its_ids_does_not_parse() {
        let span = |trace_id: &str, span_id: &str| {
            serde_json::from_value::<Span>(serde_json::json!({
                "trace_id": trace_id,
                "span_id": span_id,
                "start_timestamp": 1.0,
                "timestamp": 2.0,
            }))
        };
        let ok = span("771a43a4-1926-42f0-b136-d5159a501700", "b0e6f15b45c36b12")
            .expect("the UUID form of a trace id");
        assert_eq!(ok.trace_id.to_string(), "771a43a4192642f0b136d5159a501700");
        assert!(span("771a43a4192642f0b136d5159a501700", "b0e6-f15b45c36b12").is_err());
        assert!(span("771a43a4192642f0b136-d5159a501700", "b0e6f15b45c36b12").is_err());
    }
}
