//! Exceptions and their mechanism.

use serde::{Deserialize, Serialize};

use super::lenient::{self, Map};
use super::stacktrace::{Stacktrace, ThreadId};

/// How an exception was caught.
///
/// ```
/// use sentry_core::protocol::Mechanism;
/// let m = Mechanism { ty: "panic".into(), handled: Some(false), ..Default::default() };
/// assert_eq!(serde_json::to_value(&m).unwrap()["type"], "panic");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Mechanism {
    /// e.g. `panic`, `generic`, `chained`.
    #[serde(rename = "type", default = "generic")]
    pub ty: String,
    /// Human readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Link to documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_link: Option<String>,
    /// `false` marks an unhandled exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<bool>,
    /// Type and value are meaningless (e.g. a signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<bool>,
    /// Where in the parent the exception came from (e.g. `__cause__`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether this is an exception group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_exception_group: Option<bool>,
    /// Position in the exception tree (root = 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<u64>,
    /// Parent in the exception tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<u64>,
    /// Arbitrary data.
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub data: Map,
    /// Everything else (e.g. `meta`).
    #[serde(flatten)]
    pub other: Map,
}

fn generic() -> String {
    "generic".to_owned()
}

/// One exception. In `Event::exception` they are ordered oldest first: the
/// root cause first, the exception that was reported last.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Exception {
    /// The exception type, e.g. `ValueError`.
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "lenient::null_default"
    )]
    pub ty: String,
    /// The message.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub value: Option<String>,
    /// Module of the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Where it was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
    /// The unsymbolicated stack trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_stacktrace: Option<Stacktrace>,
    /// The thread it was raised on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<ThreadId>,
    /// How it was caught.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<Mechanism>,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}
