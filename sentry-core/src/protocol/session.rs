//! Release health: session updates and aggregates (PROTOCOL.md §7).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::lenient::{self, Map};
use super::timestamp::Timestamp;

/// State of a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum SessionStatus {
    /// Running (the only non-terminal state).
    #[default]
    Ok,
    /// Ended normally.
    Exited,
    /// Ended in a crash.
    Crashed,
    /// Ended without being closed (e.g. killed).
    Abnormal,
    /// Ended with errors (Relay extension).
    Errored,
    /// Ended with an unhandled error (Relay extension).
    Unhandled,
    /// A status this SDK does not know, kept as sent.
    Unknown(String),
}

impl SessionStatus {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            SessionStatus::Ok => "ok",
            SessionStatus::Exited => "exited",
            SessionStatus::Crashed => "crashed",
            SessionStatus::Abnormal => "abnormal",
            SessionStatus::Errored => "errored",
            SessionStatus::Unhandled => "unhandled",
            SessionStatus::Unknown(s) => s,
        }
    }

    /// Whether no further updates may follow.
    pub fn is_terminal(&self) -> bool {
        *self != SessionStatus::Ok
    }
}

impl From<&str> for SessionStatus {
    fn from(s: &str) -> Self {
        match s {
            "ok" => SessionStatus::Ok,
            "exited" => SessionStatus::Exited,
            "crashed" => SessionStatus::Crashed,
            "abnormal" => SessionStatus::Abnormal,
            "errored" => SessionStatus::Errored,
            "unhandled" => SessionStatus::Unhandled,
            other => SessionStatus::Unknown(other.to_owned()),
        }
    }
}

impl Serialize for SessionStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SessionStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SessionStatus::from(
            std::borrow::Cow::<str>::deserialize(d)?.as_ref(),
        ))
    }
}

/// Release and environment of a session (`attrs`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionAttributes {
    /// Release (required by receivers).
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub release: String,
    /// Environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Client IP or `{{auto}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// User agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map,
}

/// One session update (`session` item).
///
/// ```
/// use sentry_core::protocol::{SessionUpdate, SessionStatus};
/// let s: SessionUpdate = serde_json::from_str(
///     r#"{"sid":"7c7b6585-f901-4351-bf8d-02711b721929","started":"2020-02-07T14:16:00Z",
///         "status":"exited","init":true,"attrs":{"release":"app@1.0.0"}}"#).unwrap();
/// assert_eq!(s.status, SessionStatus::Exited);
/// assert!(s.init);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionUpdate {
    /// Session id.
    #[serde(default = "Uuid::new_v4")]
    pub sid: Uuid,
    /// Distinct user or device id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub did: Option<String>,
    /// Logical clock; higher wins.
    #[serde(default)]
    pub seq: u64,
    /// `true` on the first update of a session.
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub init: bool,
    /// When the session started (written as RFC 3339: Relay reads only
    /// that form here).
    #[serde(serialize_with = "super::timestamp::serialize_rfc3339")]
    pub started: Timestamp,
    /// Time of this update (RFC 3339 too).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::timestamp::serialize_opt_rfc3339"
    )]
    pub timestamp: Option<Timestamp>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Status.
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub status: SessionStatus,
    /// Errors seen.
    #[serde(default, deserialize_with = "lenient::null_default")]
    pub errors: u64,
    /// `none`, `anr_foreground`, `anr_background`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abnormal_mechanism: Option<String>,
    /// Release and environment.
    #[serde(default)]
    pub attrs: SessionAttributes,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map,
}

/// One bucket of pre-aggregated sessions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionAggregateItem {
    /// The minute the sessions started in (written as RFC 3339).
    #[serde(serialize_with = "super::timestamp::serialize_rfc3339")]
    pub started: Timestamp,
    /// Distinct id, when aggregated per user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub did: Option<String>,
    /// Ended cleanly with no errors.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exited: u32,
    /// Ended with errors.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errored: u32,
    /// Ended abnormally.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub abnormal: u32,
    /// Crashed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub crashed: u32,
    /// Ended with an unhandled error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unhandled: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl SessionAggregateItem {
    /// Total sessions in this bucket.
    pub fn total(&self) -> u64 {
        [
            self.exited,
            self.errored,
            self.abnormal,
            self.crashed,
            self.unhandled,
        ]
        .iter()
        .map(|n| u64::from(*n))
        .sum()
    }
}

/// Pre-aggregated sessions (`sessions` item).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionAggregates {
    /// The buckets.
    #[serde(default)]
    pub aggregates: Vec<SessionAggregateItem>,
    /// Release and environment.
    #[serde(default)]
    pub attrs: SessionAttributes,
}
